package driver

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/index"
	"github.com/klp-audit/klp-audit/internal/par"
	"github.com/klp-audit/klp-audit/internal/progress"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/livepatch"
	"github.com/klp-audit/klp-audit/object"
)

// The persistent index (klp-audit index). A build's evidence that every
// query would otherwise read again (the walk of the tree, every dump's
// records, every object's symbols, refs and compile flags, which objects
// define and call which names) is kept in one file outside the tree
// (package index). A session whose index is present opens it, stats
// every file it names (and every directory of the build, for files added
// or removed), and takes from it what is fresh (same size and mtime);
// what changed is read from the build as without an index, so answers
// are the same. Each answer says it came from the index, and which files
// were read again.

// IndexOff is the --index value that turns the index off.
const IndexOff = "off"

// nameBuckets is the number of buckets of the name index: a lookup
// checks and reads one bucket.
const nameBuckets = 4096

// IndexPath returns the index file of the builds o names: o.Index, or
// the default one under the user's cache directory
// ($XDG_CACHE_HOME/klp-audit/index/HASH, ~/.cache when unset), named by
// a hash of the builds' absolute paths. "" when the index is off.
func IndexPath(o Options) (string, error) {
	if o.Index == IndexOff {
		return "", nil
	}
	if o.Index != "" {
		return o.Index, nil
	}
	abs, err := absBuilds(o.Builds)
	if err != nil {
		return "", err
	}
	dir := os.Getenv("XDG_CACHE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory for the index (set XDG_CACHE_HOME, or give --index FILE): %w", err)
		}
		dir = filepath.Join(home, ".cache")
	}
	h := sha256.Sum256([]byte(strings.Join(abs, "\x00")))
	return filepath.Join(dir, "klp-audit", "index", hex.EncodeToString(h[:12])), nil
}

func absBuilds(builds []string) ([]string, error) {
	out := make([]string, len(builds))
	for i, b := range builds {
		a, err := filepath.Abs(b)
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// IndexReport is what building an index did.
type IndexReport struct {
	Path             string
	Dumps, Objects   int
	DumpsRead        int // read from the build (new or changed); the rest came from the old index
	ObjectsRead      int
	DumpsNotHeld     int // dumps with problems, read again by every query
	ObjectsHeld      int // the units' objects, read
	ObjectsNotHeld   int // units' objects that could not be read
	Size             int64
	OldIndexProblems string // why an old index at Path was not used, if it was not
}

// statOf returns a file's Stat; false when it cannot be stat'ed.
func statOf(path string) (index.Stat, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return index.Stat{}, false
	}
	return index.Stat{Size: st.Size, MtimeNs: st.Mtim.Sec*1e9 + st.Mtim.Nsec}, true
}

// BuildIndex writes the index of the build o names (at IndexPath(o)),
// reading only the dumps and objects that changed since the index there
// was written, when there is one.
func BuildIndex(o Options) (*IndexReport, error) {
	if len(o.Builds) == 0 {
		return nil, Inputf("no build given: use --build DIR (a kernel tree built with KCFLAGS=-fdump-ipa-clones)")
	}
	if len(o.DumpLists) > 0 {
		return nil, Inputf("the index is of build directories (--build); --dumps-from lists are read as they are")
	}
	path, err := IndexPath(o)
	if err != nil {
		return nil, inputErr(err)
	}
	if path == "" {
		return nil, Inputf("--index off: no index to build")
	}
	rep := &IndexReport{Path: path}
	var old *indexFile
	if _, err := os.Stat(path); err == nil {
		old, err = openIndexFile(path)
		if err != nil {
			rep.OldIndexProblems = err.Error()
		}
	}
	defer old.close()

	ev := &Session{opts: o}
	tree, derr := ipadump.DiscoverTree(ipadump.DiscoverOptions{}, o.Builds...)
	ev.dumps, ev.objects = tree.Dumps, tree.Objects
	ev.dumps, _ = conflictingDumps(ev.dumps)
	toc := &index.TOC{Builds: o.Builds, Skipped: tree.Skipped, Rediscover: derr != nil}
	toc.Abs, _ = absBuilds(o.Builds)
	toc.StripPrefixes = append(append([]string(nil), o.StripPrefixes...), sourcePrefixes(o)...)
	ev.opts.StripPrefixes = toc.StripPrefixes
	units, notes := ev.orphanUnits()
	for _, u := range units {
		toc.Orphans = append(toc.Orphans, index.ObjectUnit{TU: u.TU, Object: u.Object})
	}
	toc.OrphanNotes = notes
	// Every directory, with its .mod files (livepatch.Objects lists
	// them): WalkDir stats a directory before it lists it, so a .mod
	// file added in between changes the mtime the index keeps.
	for _, root := range o.Builds {
		at := map[string]int{}
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			// Any entry so named, as the directory's listing has it.
			if p != root && strings.HasSuffix(d.Name(), ".mod") {
				if i, ok := at[filepath.Dir(p)]; ok {
					toc.Dirs[i].Mods = append(toc.Dirs[i].Mods, d.Name())
				}
			}
			// The kbuild lists the objects' Link are read from, stat'ed
			// before they are read (one that cannot be is never fresh).
			if p != root && isKbuildList(d.Name()) {
				st, ok := statOf(p)
				if !ok {
					st = index.Stat{Size: -1, MtimeNs: -1}
				}
				toc.Kbuild = append(toc.Kbuild, index.KbuildFile{Path: p, Stat: st})
			}
			if !d.IsDir() {
				return nil
			}
			if st, ok := statOf(p); ok {
				at[p] = len(toc.Dirs)
				toc.Dirs = append(toc.Dirs, index.Dir{Path: p, MtimeNs: st.MtimeNs})
			}
			return nil
		})
	}

	sort.Slice(toc.Kbuild, func(i, j int) bool { return toc.Kbuild[i].Path < toc.Kbuild[j].Path })
	klp := livepatch.NewObjects(o.Builds)

	w, err := index.Create(path)
	if err != nil {
		return nil, fmt.Errorf("writing the index %s: %w", path, err)
	}
	workers := max(2, runtime.GOMAXPROCS(0))

	// Dumps: records, counts and the names they hold.
	type dumpOut struct {
		e     index.DumpEntry
		blob  []byte
		table []byte // the graph of the dump alone
		names []string
		read  bool
	}
	douts := make([]dumpOut, len(tree.Dumps))
	dbar := progress.New(len(tree.Dumps), "indexing the dumps")
	par.Each(len(tree.Dumps), workers, func(i int) {
		defer dbar.Add(1)
		d := tree.Dumps[i]
		out := &douts[i]
		out.e.Dump = d
		out.e.ObjectKey = objectKey(d.Object)
		st, ok := statOf(d.Path)
		if !ok {
			return
		}
		out.e.Stat = st
		// An unchanged dump's blobs are the old index's, checked; its
		// table gives the names it holds.
		var tab *callgraph.DumpTable
		if old != nil && old.sameStrip(toc.StripPrefixes) {
			if j, ok := old.dumpAt[d.Path]; ok && old.toc.Dumps[j].Stat == st && old.toc.Dumps[j].Held && old.toc.Dumps[j].HasTable {
				oe := old.toc.Dumps[j]
				b, err := old.f.Blob(oe.Blob)
				tb, terr := old.f.Blob(oe.Table)
				if err == nil && terr == nil {
					if t, err := index.DecodeTable(tb, b, d.TU, d.Kind.LTO()); err == nil {
						tab, out.blob, out.table = t, b, tb
					}
				}
			}
		}
		if tab == nil {
			out.read = true
			recs, errs := readDumpRecords(d.Path, toc.StripPrefixes)
			if errs > 0 {
				return
			}
			tab = callgraph.TableOf(d, recs)
			out.blob, out.table = index.EncodeDump(recs, tab)
		}
		out.e.Held = true
		out.e.Records, out.e.Clones, out.e.Removes = tab.Records, tab.Clones, tab.Removes
		// The table's nodes are the names the records hold (an original,
		// or a clone), each once, in the records' order.
		out.names = make([]string, len(tab.Nodes))
		for k := range tab.Nodes {
			out.names[k] = tab.Nodes[k].ID.Name
		}
	})

	// Objects: images, compile units, defined names and external calls.
	type objOut struct {
		e           index.ObjectEntry
		image, unit []byte
		defs        []string
		calls       []index.Call // Obj unset
		callNames   []string
		addrs       []index.Call // Obj unset
		addrNames   []string
		read        bool
	}
	// Only the units' objects are read: the others (objects ld -r made
	// of several units, host programs) are no unit of any answer, and
	// are only stat'ed, for freshness.
	unitObj := map[string]bool{}
	for _, d := range ev.dumps {
		unitObj[d.Object] = true
	}
	for _, u := range units {
		unitObj[u.Object] = true
	}
	dbar.Done()
	oouts := make([]objOut, len(tree.Objects))
	obar := progress.New(len(tree.Objects), "indexing the objects")
	defer obar.Done()
	par.Each(len(tree.Objects), workers, func(i int) {
		defer obar.Add(1)
		p := tree.Objects[i]
		out := &oouts[i]
		out.e.Path = p
		st, ok := statOf(p)
		if !ok || !unitObj[p] {
			out.e.Stat = st
			return
		}
		out.e.Stat = st
		if l, ok := klp.Linkage(p); ok {
			out.e.HasLink, out.e.Link = true, index.Link{Module: l.Module, NotLinked: l.NotLinked}
		}
		var im *object.Image
		if old != nil {
			if j, ok := old.objAt[p]; ok && old.toc.Objects[j].Stat == st {
				oe := old.toc.Objects[j]
				if oe.Held {
					if b, err := old.f.Blob(oe.Image); err == nil {
						if m, err := index.DecodeImage(b, p); err == nil {
							im, out.image = m, b
						}
					}
				}
				if oe.HasUnits {
					if b, err := old.f.Blob(oe.Units); err == nil {
						out.unit = b
					}
				}
				if im != nil && (out.unit != nil || !oe.HasUnits) {
					out.e.HasUnits = out.unit != nil
					goto names
				}
				im, out.image, out.unit = nil, nil, nil
			}
		}
		out.read = true
		if f, err := object.Open(p); err == nil {
			m := f.Image()
			im = &m
			out.image = index.EncodeImage(im)
		}
		if us, err := dwarfinfo.Producers(p); err == nil && len(us) > 0 {
			var ius []index.Unit
			for _, u := range us {
				if u.From == dwarfinfo.FromLTOOptions {
					ius = nil
					break
				}
				ius = append(ius, index.Unit{Name: u.Name, CompDir: u.CompDir, Producer: u.Producer, From: u.From})
			}
			if ius != nil {
				out.unit = index.EncodeUnits(ius)
			}
		}
		out.e.HasUnits = out.unit != nil
	names:
		if im == nil {
			return
		}
		out.e.Held = true
		f := object.FromImage(*im)
		seen := map[string]bool{}
		for _, fn := range f.Funcs {
			if !seen[fn.Name] {
				seen[fn.Name] = true
				out.defs = append(out.defs, fn.Name)
			}
		}
		for j, ref := range f.Refs {
			if (ref.Kind == object.Call || ref.Kind == object.TailCall) && len(f.Lookup(ref.To)) == 0 {
				out.calls = append(out.calls, index.Call{Ref: j})
				out.callNames = append(out.callNames, ref.To)
			}
			if (ref.Kind == object.AddrRef || ref.Kind == object.DataRef) && len(f.Lookup(ref.To)) == 0 {
				out.addrs = append(out.addrs, index.Call{Ref: j})
				out.addrNames = append(out.addrNames, ref.To)
			}
		}
		for k, n := range f.ExternAddrs {
			out.addrs = append(out.addrs, index.Call{Ref: len(f.Refs) + k})
			out.addrNames = append(out.addrNames, n)
		}
	})

	// The blobs, in order, then the name index and the table of contents.
	names := map[string]*index.Name{}
	entry := func(n string) *index.Name {
		e := names[n]
		if e == nil {
			e = &index.Name{Name: n}
			names[n] = e
		}
		return e
	}
	for i := range douts {
		out := &douts[i]
		if out.read {
			rep.DumpsRead++
		}
		if out.e.Held {
			out.e.Blob = w.Add(out.blob)
			out.e.Table, out.e.HasTable = w.Add(out.table), true
			for _, n := range out.names {
				e := entry(n)
				e.Dumps = append(e.Dumps, i)
			}
		} else {
			rep.DumpsNotHeld++
		}
		toc.Dumps = append(toc.Dumps, out.e)
		*out = dumpOut{e: out.e}
	}
	for i := range oouts {
		out := &oouts[i]
		if out.read {
			rep.ObjectsRead++
		}
		if out.e.Held {
			rep.ObjectsHeld++
			out.e.Image = w.Add(out.image)
			for _, n := range out.defs {
				e := entry(n)
				e.Defs = append(e.Defs, i)
			}
			for j, c := range out.calls {
				e := entry(out.callNames[j])
				e.Calls = append(e.Calls, index.Call{Obj: i, Ref: c.Ref})
			}
			for j, c := range out.addrs {
				e := entry(out.addrNames[j])
				e.Addrs = append(e.Addrs, index.Call{Obj: i, Ref: c.Ref})
			}
		} else if unitObj[out.e.Path] {
			rep.ObjectsNotHeld++
		}
		if out.e.HasUnits {
			out.e.Units = w.Add(out.unit)
		}
		toc.Objects = append(toc.Objects, out.e)
		*out = objOut{}
	}
	buckets := make([][]index.Name, nameBuckets)
	for n, e := range names {
		b := index.Bucket(n, nameBuckets)
		buckets[b] = append(buckets[b], *e)
	}
	for _, b := range buckets {
		toc.Buckets = append(toc.Buckets, w.Add(index.EncodeBucket(b)))
	}
	rep.Dumps, rep.Objects = len(toc.Dumps), len(toc.Objects)
	old.close()
	if err := w.Commit(index.EncodeTOC(toc)); err != nil {
		return nil, fmt.Errorf("writing the index %s: %w", path, err)
	}
	if st, err := os.Stat(path); err == nil {
		rep.Size = st.Size()
	}
	return rep, nil
}

// isKbuildList reports whether a file so named is a kbuild list that
// says which image links an object (livepatch.Objects): a module's .mod
// file, or a directory's built-in.a or lib.a archive.
func isKbuildList(name string) bool {
	return strings.HasSuffix(name, ".mod") || name == "built-in.a" || name == "lib.a"
}

// readDumpRecords reads a dump's records as Load does; it returns how
// many problems it met (a dump with problems is not held).
func readDumpRecords(path string, strip []string) ([]ipadump.Record, int) {
	f, err := ipadump.OpenDump(path)
	if err != nil {
		return nil, 1
	}
	defer f.Close()
	rd := ipadump.NewReader(f.Reader(), path)
	rd.StripPrefixes(strip)
	var recs []ipadump.Record
	errs := 0
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs++
			continue
		}
		recs = append(recs, rec)
	}
	return recs, errs
}

// indexFile is an open index with its table of contents decoded.
type indexFile struct {
	f      *index.File
	toc    *index.TOC
	dumpAt map[string]int
	objAt  map[string]int
}

// openIndexFile opens and checks the index at path.
func openIndexFile(path string) (*indexFile, error) {
	f, err := index.Open(path)
	if err != nil {
		return nil, err
	}
	toc, err := index.DecodeTOC(f.TOC())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	x := &indexFile{f: f, toc: toc, dumpAt: make(map[string]int, len(toc.Dumps)), objAt: make(map[string]int, len(toc.Objects))}
	for i, d := range toc.Dumps {
		x.dumpAt[d.Dump.Path] = i
	}
	for i, o := range toc.Objects {
		x.objAt[o.Path] = i
	}
	return x, nil
}

func (x *indexFile) close() {
	if x != nil {
		x.f.Close()
	}
}

func (x *indexFile) sameStrip(strip []string) bool {
	return strings.Join(x.toc.StripPrefixes, "\x00") == strings.Join(strip, "\x00")
}

// indexView is a session's use of an index: which of its files are
// fresh, and the stores the graph, the object cache and the rules read
// through.
type indexView struct {
	x         *indexFile
	path      string
	freshDump []bool
	freshObj  []bool
	// freshKbuild says every kbuild list the index names is unchanged:
	// its objects' Link hold (with the object's own freshness).
	freshKbuild bool
	// pass, when set, is the stat pass still running while the view
	// takes every file for unchanged (see Session.settled).
	pass *statPass
	// rediscovered says the build's directories changed since the index
	// was built: it was walked again.
	rediscovered bool
	// stale are the indexed files that changed or vanished, and added
	// the files the index does not have.
	stale, added []string
	// tuObj maps a unit to its object's index entry; objTU the reverse
	// ("" for an object of no unit).
	tuObj map[string]int
	objTU []string

	mu     sync.Mutex
	dirAt  map[string]int          // directory -> its entry in the TOC
	named  map[string]map[int]bool // names searched -> the dumps naming them
	lookup map[string]index.Name
	// reread counts the objects opened from the build, not the index.
	reread atomic.Int64
	// checkC is the dump checks kept beside the index (indexchecks.go).
	checkC *checkCache
}

// openIndexView opens the index of the builds o names for a session,
// when there is one: nil and a note when it cannot be used (refused,
// or of other builds), nil and "" when there is none.
func openIndexView(o Options) (*indexView, string) {
	if len(o.Builds) == 0 || len(o.DumpLists) > 0 {
		return nil, ""
	}
	path, err := IndexPath(o)
	if err != nil || path == "" {
		return nil, ""
	}
	if _, err := os.Stat(path); err != nil && o.Index == "" {
		return nil, "" // no default index: nothing to say
	}
	x, err := openIndexFile(path)
	if err != nil {
		return nil, "index " + path + " not used (" + err.Error() + "): answered from the build; run klp-audit index to rebuild it"
	}
	abs, _ := absBuilds(o.Builds)
	strip := append(append([]string(nil), o.StripPrefixes...), sourcePrefixes(o)...)
	if strings.Join(abs, "\x00") != strings.Join(x.toc.Abs, "\x00") || !x.sameStrip(strip) {
		x.close()
		return nil, "index " + path + " not used: it is of other build directories or --strip-prefix values; answered from the build"
	}
	v := &indexView{x: x, path: path, named: map[string]map[int]bool{}, lookup: map[string]index.Name{}}
	if !o.settleLater {
		pass := newStatPass(x, 0)
		pass.run()
		v.apply(pass)
		return v, ""
	}
	// Every file taken for unchanged while the pass runs (settled), on
	// one goroutine: the query keeps the other cores, and helps the pass
	// finish when it is done first.
	pass := newStatPass(x, 1)
	v.pass = pass
	go pass.run()
	v.freshDump, v.freshObj = make([]bool, len(x.toc.Dumps)), make([]bool, len(x.toc.Objects))
	for i := range v.freshDump {
		v.freshDump[i] = true
	}
	for i := range v.freshObj {
		v.freshObj[i] = true
	}
	v.rediscovered = x.toc.Rediscover
	v.freshKbuild = !v.rediscovered
	return v, ""
}

// statPass is the stat of every file and directory an index names: which
// are unchanged since it was built.
type statPass struct {
	// settled is Session.settled's answer, worked out once the pass is
	// done.
	settledOnce sync.Once
	settled     bool

	freshDump, freshObj []bool
	dirChanged          bool
	kbuildChanged       bool
	workers             int           // goroutines that stat; 0: one per core
	done                chan struct{} // closed once every file is stat'ed

	x          *indexFile
	n          int          // files and directories to stat
	next, left atomic.Int64 // the next to take, and how many are not done
	dirC, kbC  atomic.Bool
}

// statChunk is how many files a goroutine of the pass takes at once.
const statChunk = 64

// newStatPass returns the pass over x's files, not started.
func newStatPass(x *indexFile, workers int) *statPass {
	t := x.toc
	p := &statPass{x: x, workers: workers, done: make(chan struct{}),
		freshDump: make([]bool, len(t.Dumps)), freshObj: make([]bool, len(t.Objects))}
	p.n = len(t.Dumps) + len(t.Objects) + len(t.Dirs) + len(t.Kbuild)
	p.left.Store(int64(p.n))
	if p.n == 0 {
		close(p.done)
	}
	return p
}

// run stats every file and directory the index names, in parallel: stat
// is a system call, and the page cache makes it the CPU's work (about
// 2 µs each), so a few goroutines take work in chunks. It returns when
// every one is stat'ed.
func (p *statPass) run() {
	workers := p.workers
	if workers == 0 {
		workers = max(2, runtime.GOMAXPROCS(0))
	}
	for range workers - 1 {
		go p.work()
	}
	p.wait()
}

// wait takes chunks of the pass until none is left, then waits for
// those others took: a query done before the pass helps it finish.
func (p *statPass) wait() {
	p.work()
	<-p.done
}

// work stats chunks of the pass until none is left; whoever finishes the
// last one closes done.
func (p *statPass) work() {
	for {
		lo := int(p.next.Add(statChunk)) - statChunk
		if lo >= p.n {
			return
		}
		hi := min(lo+statChunk, p.n)
		for i := lo; i < hi; i++ {
			p.one(i)
		}
		if p.left.Add(int64(lo-hi)) == 0 {
			p.dirChanged, p.kbuildChanged = p.dirC.Load(), p.kbC.Load()
			close(p.done)
		}
	}
}

// one stats the i'th file or directory: the dumps, the objects, the
// directories, then the kbuild lists.
func (p *statPass) one(i int) {
	t := p.x.toc
	nd, no, ndir := len(t.Dumps), len(t.Objects), len(t.Dirs)
	switch {
	case i < nd:
		st, ok := statOf(t.Dumps[i].Dump.Path)
		p.freshDump[i] = ok && st == t.Dumps[i].Stat
	case i < nd+no:
		e := &t.Objects[i-nd]
		st, ok := statOf(e.Path)
		p.freshObj[i-nd] = ok && st == e.Stat
	case i < nd+no+ndir:
		d := &t.Dirs[i-nd-no]
		if st, ok := statOf(d.Path); !ok || st.MtimeNs != d.MtimeNs {
			p.dirC.Store(true)
		}
	default:
		k := &t.Kbuild[i-nd-no-ndir]
		if st, ok := statOf(k.Path); !ok || st != k.Stat {
			p.kbC.Store(true)
		}
	}
}

// apply makes v's freshness the pass's.
func (v *indexView) apply(p *statPass) {
	t := v.x.toc
	v.freshDump, v.freshObj = p.freshDump, p.freshObj
	v.rediscovered = p.dirChanged || t.Rediscover
	v.freshKbuild = !v.rediscovered && !p.kbuildChanged
	for i, f := range v.freshDump {
		if !f {
			v.stale = append(v.stale, t.Dumps[i].Dump.Path)
		}
	}
	for i, f := range v.freshObj {
		if !f {
			v.stale = append(v.stale, t.Objects[i].Path)
		}
	}
}

// settled waits for the session's stat pass, when its index view took
// every file for unchanged while the pass ran (Options.settleLater), and
// reports whether the pass found them so: the answer given over the view
// is then the one a view knowing the stats gives. False says a file
// changed: the answer must be dropped, and asked again with
// settleLater off. True without an index, or a view that waited.
func (ev *Session) settled() bool {
	v := ev.index
	if v == nil || v.pass == nil {
		return true
	}
	v.pass.wait()
	p := v.pass
	p.settledOnce.Do(func() {
		p.settled = !p.dirChanged && !p.kbuildChanged && !slices.Contains(p.freshDump, false) && !slices.Contains(p.freshObj, false)
	})
	return p.settled
}

// discover returns the build's tree: the index's when no directory
// changed since it was built, else a new walk (whose new files are read
// from the build).
func (v *indexView) discover(o Options) (ipadump.Tree, error) {
	t := v.x.toc
	if !v.rediscovered {
		tr := ipadump.Tree{Skipped: t.Skipped, Dumps: make([]ipadump.Dump, 0, len(t.Dumps)), Objects: make([]string, 0, len(t.Objects))}
		for _, d := range t.Dumps {
			tr.Dumps = append(tr.Dumps, d.Dump)
		}
		for _, ob := range t.Objects {
			tr.Objects = append(tr.Objects, ob.Path)
		}
		// HasObject may have changed (an object built, or removed).
		for i := range tr.Dumps {
			d := &tr.Dumps[i]
			if j, ok := v.x.objAt[d.Object]; ok {
				if !d.HasObject || !v.freshObj[j] {
					_, err := os.Stat(d.Object)
					d.HasObject = err == nil
				}
			} else if d.HasObject {
				_, err := os.Stat(d.Object)
				d.HasObject = err == nil
			}
		}
		return tr, nil
	}
	tr, err := ipadump.DiscoverTree(ipadump.DiscoverOptions{}, o.Builds...)
	for _, d := range tr.Dumps {
		if _, ok := v.x.dumpAt[d.Path]; !ok {
			v.added = append(v.added, d.Path)
		}
	}
	for _, p := range tr.Objects {
		if _, ok := v.x.objAt[p]; !ok {
			v.added = append(v.added, p)
		}
	}
	return tr, err
}

// objectKeyOf returns objectKey, from the index when the build's tree
// is the index's (its symbolic links are the same: changing one changes
// its directory).
func (ev *Session) objectKeyOf() func(string) string {
	v := ev.index
	if v == nil {
		return objectKeyer(ev.objects)
	}
	if v.rediscovered {
		return objectKeyer(nil)
	}
	keys := make(map[string]string, len(v.x.toc.Dumps))
	for _, d := range v.x.toc.Dumps {
		if d.ObjectKey != "" {
			keys[d.Dump.Object] = d.ObjectKey
		}
	}
	return func(p string) string {
		if k, ok := keys[p]; ok {
			return k
		}
		return objectKey(p)
	}
}

// orphans returns the index's units without a dump, when the tree is the
// index's and their objects are fresh.
func (v *indexView) orphans() ([]callgraph.ObjectUnit, []string, bool) {
	if v.rediscovered {
		return nil, nil, false
	}
	var us []callgraph.ObjectUnit
	for _, u := range v.x.toc.Orphans {
		j, ok := v.x.objAt[u.Object]
		if !ok || !v.freshObj[j] {
			return nil, nil, false
		}
		us = append(us, callgraph.ObjectUnit{TU: u.TU, Object: u.Object})
	}
	return us, v.x.toc.OrphanNotes, true
}

// setUnits tells the view which object each unit of the session has.
func (v *indexView) setUnits(ev *Session) {
	v.tuObj, v.objTU = make(map[string]int, len(ev.dumps)+len(ev.units)), make([]string, len(v.x.toc.Objects))
	add := func(tu, obj string) {
		if j, ok := v.x.objAt[obj]; ok {
			if _, dup := v.tuObj[tu]; !dup {
				v.tuObj[tu] = j
				v.objTU[j] = tu
			}
		}
	}
	for _, d := range ev.dumps {
		add(d.TU, d.Object)
	}
	for _, u := range ev.units {
		add(u.TU, u.Object)
	}
}

// unitOf returns the unit of the index's j'th object, "" for none.
func (v *indexView) unitOf(j int) string {
	if j < 0 || j >= len(v.objTU) {
		return ""
	}
	return v.objTU[j]
}

// modsIn returns the names of directory dir's .mod files from the
// index, when no directory of the build changed since it was built;
// false when the index cannot tell (livepatch.Objects then lists dir).
func (v *indexView) modsIn(dir string) ([]string, bool) {
	if v.rediscovered {
		return nil, false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.dirAt == nil {
		v.dirAt = make(map[string]int, len(v.x.toc.Dirs))
		for i, d := range v.x.toc.Dirs {
			v.dirAt[d.Path] = i
		}
	}
	i, ok := v.dirAt[dir]
	if !ok {
		return nil, false
	}
	return v.x.toc.Dirs[i].Mods, true
}

// linkage is livepatch.Objects' answer for object obj from the index,
// when it holds it fresh: the object and every kbuild list unchanged.
func (v *indexView) linkage(obj string) (livepatch.Linkage, bool) {
	j, ok := v.x.objAt[obj]
	if !ok || !v.freshKbuild || !v.freshObj[j] || !v.x.toc.Objects[j].HasLink {
		return livepatch.Linkage{}, false
	}
	l := v.x.toc.Objects[j].Link
	return livepatch.Linkage{Module: l.Module, NotLinked: l.NotLinked}, true
}

// dumpEntry returns d's entry when the index holds it fresh.
func (v *indexView) dumpEntry(d ipadump.Dump) (int, bool) {
	i, ok := v.x.dumpAt[d.Path]
	if !ok || !v.freshDump[i] {
		return 0, false
	}
	e := &v.x.toc.Dumps[i]
	return i, e.Held && e.Dump.TU == d.TU && e.Dump.Kind == d.Kind
}

// Records implements callgraph.DumpStore.
func (v *indexView) Records(d ipadump.Dump) ([]ipadump.Record, bool) {
	i, ok := v.dumpEntry(d)
	if !ok {
		return nil, false
	}
	b, err := v.x.f.Blob(v.x.toc.Dumps[i].Blob)
	if err != nil {
		return nil, false
	}
	recs, err := index.DecodeRecords(b, d.Path)
	return recs, err == nil
}

// Table implements callgraph.TableStore.
func (v *indexView) Table(d ipadump.Dump) (*callgraph.DumpTable, bool) {
	i, ok := v.dumpEntry(d)
	if !ok || !v.x.toc.Dumps[i].HasTable {
		return nil, false
	}
	e := &v.x.toc.Dumps[i]
	b, err := v.x.f.Blob(e.Table)
	if err != nil {
		return nil, false
	}
	rb, err := v.x.f.Blob(e.Blob)
	if err != nil {
		return nil, false
	}
	t, err := index.DecodeTable(b, rb, d.TU, d.Kind.LTO())
	return t, err == nil
}

// Counts implements callgraph.DumpStore.
func (v *indexView) Counts(d ipadump.Dump, names []string) (int, int, int, bool, bool) {
	i, ok := v.dumpEntry(d)
	if !ok {
		return 0, 0, 0, false, false
	}
	named := false
	for _, n := range names {
		ds, ok := v.dumpsNaming(n)
		if !ok {
			return 0, 0, 0, false, false
		}
		named = named || ds[i]
	}
	e := &v.x.toc.Dumps[i]
	return e.Records, e.Clones, e.Removes, named, true
}

// name returns the name index's entry of n; false when the index cannot
// be read there.
func (v *indexView) name(n string) (index.Name, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.lookup[n]; ok {
		return e, true
	}
	bs := v.x.toc.Buckets
	if len(bs) == 0 {
		return index.Name{}, false
	}
	b, err := v.x.f.Blob(bs[index.Bucket(n, len(bs))])
	if err != nil {
		return index.Name{}, false
	}
	e, _, err := index.LookupBucket(b, n)
	if err != nil {
		return index.Name{}, false
	}
	v.lookup[n] = e
	return e, true
}

func (v *indexView) dumpsNaming(n string) (map[int]bool, bool) {
	v.mu.Lock()
	ds, ok := v.named[n]
	v.mu.Unlock()
	if ok {
		return ds, true
	}
	e, ok := v.name(n)
	if !ok {
		return nil, false
	}
	ds = map[int]bool{}
	for _, i := range e.Dumps {
		ds[i] = true
	}
	v.mu.Lock()
	v.named[n] = ds
	v.mu.Unlock()
	return ds, true
}

// open reads an object for the session's cache: from the index when it
// holds it fresh, else from the build (counted in reread).
func (v *indexView) open(path string) (*object.File, error) {
	if j, ok := v.x.objAt[path]; ok && v.freshObj[j] && v.x.toc.Objects[j].Held {
		if b, err := v.x.f.Blob(v.x.toc.Objects[j].Image); err == nil {
			if im, err := index.DecodeImage(b, path); err == nil {
				return object.FromImage(*im), nil
			}
		}
	}
	v.reread.Add(1)
	return openObject(path)
}

// Units implements callgraph.ObjectStore.
func (v *indexView) Units(tu string) ([]dwarfinfo.Unit, bool) {
	j, ok := v.tuObj[tu]
	if !ok || !v.freshObj[j] || !v.x.toc.Objects[j].HasUnits {
		return nil, false
	}
	b, err := v.x.f.Blob(v.x.toc.Objects[j].Units)
	if err != nil {
		return nil, false
	}
	us, err := index.DecodeUnits(b)
	if err != nil {
		return nil, false
	}
	out := make([]dwarfinfo.Unit, len(us))
	for i, u := range us {
		out[i] = dwarfinfo.Unit{Name: u.Name, CompDir: u.CompDir, Producer: u.Producer, Flags: dwarfinfo.ParseProducer(u.Producer), From: u.From}
	}
	return out, true
}

// Covers implements callgraph.ObjectStore.
func (v *indexView) Covers(tu string) bool {
	j, ok := v.tuObj[tu]
	if !ok || !v.freshObj[j] || !v.x.toc.Objects[j].Held {
		return false
	}
	// The name index must be readable too.
	for _, b := range v.x.toc.Buckets {
		_ = b
		return true
	}
	return false
}

// CallsTo implements callgraph.ObjectStore.
func (v *indexView) CallsTo(name string) []callgraph.UnitCall {
	e, ok := v.name(name)
	if !ok {
		return nil
	}
	var out []callgraph.UnitCall
	for _, c := range e.Calls {
		if tu := v.unitOf(c.Obj); tu != "" {
			out = append(out, callgraph.UnitCall{TU: tu, Ref: c.Ref})
		}
	}
	return out
}

// AddrsTo implements callgraph.ObjectStore.
func (v *indexView) AddrsTo(name string) []callgraph.UnitCall {
	e, ok := v.name(name)
	if !ok {
		return nil
	}
	var out []callgraph.UnitCall
	for _, c := range e.Addrs {
		if tu := v.unitOf(c.Obj); tu != "" {
			out = append(out, callgraph.UnitCall{TU: tu, Ref: c.Ref})
		}
	}
	return out
}

// defining is Session.defining from the index: the fresh objects it
// holds from its name index, the others read by name.
func (v *indexView) defining(paths []string, name string) ([]string, error) {
	e, ok := v.name(name)
	if !ok {
		return callgraph.ObjectsDefining(paths, name, 0)
	}
	defs := map[int]bool{}
	for _, i := range e.Defs {
		defs[i] = true
	}
	var live []string
	var out []string
	for _, p := range paths {
		j, ok := v.x.objAt[p]
		if ok && v.freshObj[j] && v.x.toc.Objects[j].Held {
			continue
		}
		live = append(live, p)
	}
	liveDefs, err := callgraph.ObjectsDefining(live, name, 0)
	isLive := map[string]bool{}
	for _, p := range liveDefs {
		isLive[p] = true
	}
	for _, p := range paths {
		j, ok := v.x.objAt[p]
		if ok && v.freshObj[j] && v.x.toc.Objects[j].Held && defs[j] || isLive[p] {
			out = append(out, p)
		}
	}
	return out, err
}

// indexNotePrefix starts the note an answer from an index carries.
const indexNotePrefix = "answered from the index "

// note says the answer came from the index, and what was read from the
// build instead.
func (v *indexView) note() string {
	s := indexNotePrefix + v.path
	var parts []string
	if v.rediscovered {
		parts = append(parts, "the build's directories changed since it was built, so the build was walked again")
	}
	if len(v.stale) > 0 {
		parts = append(parts, fmt.Sprintf("%s changed since it was built and were read from the build (%s)", plural(len(v.stale), "file", "files"), examples(v.stale)))
	}
	if len(v.added) > 0 {
		parts = append(parts, fmt.Sprintf("%s it does not hold were read from the build (%s)", plural(len(v.added), "new file", "new files"), examples(v.added)))
	}
	if len(parts) == 0 {
		return s + " (every file it names is unchanged)"
	}
	return s + ": " + strings.Join(parts, "; ") + "; run klp-audit index to refresh it"
}

// examples names the first three of xs, sorted, and how many more there
// are.
func examples(xs []string) string {
	s := append([]string(nil), xs...)
	sort.Strings(s)
	out := strings.Join(s[:min(3, len(s))], ", ")
	if len(s) > 3 {
		out += fmt.Sprintf(" and %d more", len(s)-3)
	}
	return out
}

// addIndexNote adds to a's result the note that it came from the index
// (or why the index was not used).
func (ev *Session) addIndexNote(a *Answer) {
	if a == nil || a.Result == nil {
		return
	}
	n := ev.indexNote
	if ev.index != nil {
		n = ev.index.note()
	}
	if n == "" {
		return
	}
	for _, x := range a.Result.Notes {
		if x == n {
			return
		}
	}
	a.Result.Notes = append(a.Result.Notes, n)
}

// useIndex opens the session's index, when there is one (see
// openIndexView), and returns the build's tree from it or from a walk.
func (ev *Session) discover(o Options) (ipadump.Tree, error) {
	ev.index, ev.indexNote = openIndexView(o)
	if ev.index == nil {
		// ev.pre's reads overlap the walk; with an index there is
		// nothing for them to do.
		return ipadump.DiscoverTree(ipadump.DiscoverOptions{Visit: ev.pre.Visit}, o.Builds...)
	}
	ev.pre = nil
	return ev.index.discover(o)
}

// orphanUnitsIndexed is orphanUnits, from the index when it holds them.
func (ev *Session) orphanUnitsIndexed() ([]callgraph.ObjectUnit, []string) {
	if ev.index != nil {
		if us, notes, ok := ev.index.orphans(); ok {
			return us, notes
		}
	}
	return ev.orphanUnits()
}

// dumpStore returns the session's dump store (nil without an index).
func (ev *Session) dumpStore() callgraph.DumpStore {
	if ev.index == nil {
		return nil
	}
	return ev.index
}

// indexedObjects sets up the object cache over the index.
func (ev *Session) indexedObjects() *callgraph.Objects {
	v := ev.index
	v.setUnits(ev)
	objs := callgraph.NewObjects(ev.graph, v.open)
	objs.SetStore(v)
	return objs
}
