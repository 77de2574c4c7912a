package ipadump

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/klp-audit/klp-audit/internal/safeio"
)

// DumpKind says which compilation step wrote a dump.
type DumpKind uint8

const (
	// UnitDump is written when one translation unit is compiled
	// (mm/oom_kill.c.000i.ipa-clones beside mm/oom_kill.o).
	UnitDump DumpKind = iota + 1
	// WPADump holds the whole-program (LTO) decisions of a link
	// (vmlinux.wpa.000i.ipa-clones); its edges cross translation units.
	WPADump
	// LTransDump is written by one LTO partition (prog.ltrans0.ltrans.000i.ipa-clones).
	LTransDump
)

func (k DumpKind) String() string {
	switch k {
	case UnitDump:
		return "unit"
	case WPADump:
		return "lto-wpa"
	case LTransDump:
		return "lto-ltrans"
	}
	return fmt.Sprintf("DumpKind(%d)", uint8(k))
}

// LTO reports whether the dump comes from a link-time optimisation step.
func (k DumpKind) LTO() bool { return k == WPADump || k == LTransDump }

// Dump is one dump file found in a build, paired with the object it
// describes.
type Dump struct {
	Path string   // the dump file, as it can be opened
	Kind DumpKind //
	// TU names the translation unit: the object path relative to the
	// build directory ("mm/oom_kill.o"). For LTO dumps it is the linked
	// program ("vmlinux"), shared by its wpa and ltrans dumps. When several
	// build directories are combined, TU starts with the directory.
	TU string
	// Object is the path of the paired object (or linked program), as it
	// can be opened; HasObject says whether it exists.
	Object    string
	HasObject bool
}

// A dump is named STEM.NNNi.ipa-clones: STEM is the output's stem plus
// the source's extension (mm/oom_kill.c), PROG.wpa for a link's
// whole-program dump and PROG.ltransN.ltrans for a partition's. These
// are read by hand, as the regular expressions ^(.+)\.[0-9]+i\.ipa-clones$,
// ^(.+)\.wpa$ and ^(.+)\.ltrans[0-9]+\.ltrans$ would (no part of a name
// holds a newline): the walk tests every file's name.

// IsDumpName reports whether a file name has the form of an ipa-clones dump.
func IsDumpName(name string) bool {
	_, ok := dumpStem(name)
	return ok
}

// dumpStem returns STEM of a dump's name or path.
func dumpStem(p string) (string, bool) {
	s, ok := strings.CutSuffix(p, "i.ipa-clones")
	if !ok {
		return "", false
	}
	s, ok = cutDigits(s)
	if !ok {
		return "", false
	}
	s, ok = strings.CutSuffix(s, ".")
	if !ok || s == "" || strings.IndexByte(p, '\n') >= 0 {
		return "", false
	}
	return s, true
}

// cutDigits cuts the digits that end s, one at least.
func cutDigits(s string) (string, bool) {
	i := len(s)
	for i > 0 && s[i-1]-'0' <= 9 {
		i--
	}
	return s[:i], i < len(s)
}

// classify derives kind and object path from a dump path.
func classify(p string) (kind DumpKind, object string, ok bool) {
	stem, ok := dumpStem(p)
	if !ok {
		return 0, "", false
	}
	if s, ok := strings.CutSuffix(stem, ".ltrans"); ok {
		if s, ok = cutDigits(s); ok {
			if s, ok = strings.CutSuffix(s, ".ltrans"); ok && s != "" {
				return LTransDump, s, true
			}
		}
	}
	if s, ok := strings.CutSuffix(stem, ".wpa"); ok && s != "" {
		return WPADump, s, true
	}
	// x.c.000i.ipa-clones describes x.o: the dump is named after the
	// output's stem plus the source's extension.
	if ext := filepath.Ext(stem); ext != "" && !strings.Contains(ext, "/") {
		stem = strings.TrimSuffix(stem, ext)
	}
	return UnitDump, stem + ".o", true
}

// UnitObject returns the name of the object a unit's dump named name
// describes (x.c.000i.ipa-clones: x.o, in the same directory); false for
// an LTO dump's name or no dump's.
func UnitObject(name string) (string, bool) {
	kind, obj, ok := classify(name)
	if !ok || kind != UnitDump {
		return "", false
	}
	return obj, true
}

// Discover walks each build directory and returns every dump found, sorted
// by TU and path. Symbolic links (to directories or dumps) inside the
// build directory are followed once, after the real tree, so a dump
// reachable both directly and through a link is reported under its real
// path and paired with its real object; loops and files reached twice are
// skipped. Links that lead out of every build directory are not followed
// (see [DiscoverTree]). Directories that cannot be read are reported in the
// returned error (an ErrorList) while the walk goes on.
func Discover(roots ...string) ([]Dump, error) {
	ds, _, err := DiscoverBuild(roots...)
	return ds, err
}

// DiscoverBuild is Discover that also returns every object file (*.o)
// under the roots, sorted, in the same walk: objects no dump is paired
// with are evidence too (a unit built without -fdump-ipa-clones).
func DiscoverBuild(roots ...string) ([]Dump, []string, error) {
	t, err := DiscoverTree(DiscoverOptions{}, roots...)
	return t.Dumps, t.Objects, err
}

// DiscoverOptions tune DiscoverTree.
type DiscoverOptions struct {
	// FollowOutside follows symbolic links that lead out of every build
	// directory. Off by default: a link to "/" inside a build must not
	// make klp-audit walk the whole filesystem and read foreign dumps.
	FollowOutside bool
	// Visit, when set, is called for every directory of the real tree
	// (reached without a symbolic link) that holds dumps or objects,
	// while the walk holds it open, from the walk's goroutines: it may
	// read the files there, opening each through Dir.Open, as the walk
	// goes on. What it reads is its own business: the walk's answer is
	// the same without it.
	Visit func(d *Dir)
}

// Dir is a directory the walk lists, for DiscoverOptions.Visit.
type Dir struct {
	Path string
	// Dumps and Objects are the names of the regular files there named
	// like a dump and like an object, in the order listed.
	Dumps, Objects []string
	h              dirHandle
}

// Open opens the file name of d as safeio.OpenRaw opens its path with
// limit (see safeio.OpenRawAt): only that one name is looked up, and a
// symbolic link there is refused, not followed.
func (d *Dir) Open(name string, limit int64) (*safeio.RawFile, error) {
	return d.h.open(name, filepath.Join(d.Path, name), limit)
}

// Tree is what DiscoverTree found under the build directories.
type Tree struct {
	Dumps   []Dump
	Objects []string // every *.o, sorted
	// Skipped are the symbolic links to directories or dumps that were not
	// followed because they lead out of every build directory, sorted by
	// path. They are notes for the user, not errors: kbuild's O= builds
	// hold a "source" link to the source tree.
	Skipped []SkippedLink
}

// SkippedLink is a symbolic link discovery did not follow.
type SkippedLink struct {
	Path   string // the link, under a build directory
	Target string // where it resolves to
}

func (l SkippedLink) String() string {
	return l.Path + ": symbolic link to " + l.Target + " (outside the build directories) not followed"
}

// DiscoverTree is DiscoverBuild with options, also reporting the symbolic
// links it did not follow.
func DiscoverTree(opt DiscoverOptions, roots ...string) (Tree, error) {
	var errs ErrorList
	var t Tree
	seen := map[fileID]bool{}
	var realRoots []string
	for _, root := range roots {
		if r, err := filepath.EvalSymlinks(root); err == nil {
			if a, err := filepath.Abs(r); err == nil {
				realRoots = append(realRoots, a)
			}
		}
	}
	for _, root := range roots {
		st, err := os.Stat(root)
		if err != nil {
			errs.Add(fmt.Errorf("build directory %s: %w", root, err))
			continue
		}
		if !st.IsDir() {
			errs.Add(fmt.Errorf("build directory %s: not a directory", root))
			continue
		}
		prefix := ""
		if len(roots) > 1 {
			prefix = filepath.Clean(root)
		}
		w := walker{root: root, seen: seen, errs: &errs, realRoots: realRoots, followOutside: opt.FollowOutside,
			skippedIDs: map[fileID]bool{}, visit: opt.Visit}
		w.run(root, st)
		t.Objects = append(t.Objects, w.objects...)
		t.Skipped = append(t.Skipped, w.skipped...)
		// The objects the walk met exist; any other is looked for.
		objects := make(map[string]bool, len(w.objects))
		for _, o := range w.objects {
			objects[o] = true
		}
		for _, p := range w.found {
			d := Dump{Path: p}
			var obj string
			d.Kind, obj, _ = classify(p)
			d.Object = obj
			rel, err := filepath.Rel(root, obj)
			if err != nil {
				rel = obj
			}
			d.TU = filepath.ToSlash(filepath.Join(prefix, rel))
			if d.HasObject = objects[obj]; !d.HasObject {
				_, err = os.Stat(obj)
				d.HasObject = err == nil
			}
			t.Dumps = append(t.Dumps, d)
		}
	}
	sortDumps(t.Dumps)
	sort.Strings(t.Objects)
	sort.Slice(t.Skipped, func(i, j int) bool { return t.Skipped[i].Path < t.Skipped[j].Path })
	return t, errs.Err()
}

// Limits of the files this package reads; beyond them a file is an input
// error, never an allocation. Real dumps are a few KiB to a few MiB per
// unit (kernel/ and mm/ together: 16 MiB); LTO whole-program dumps of a
// large kernel reach a few hundred MiB.
const (
	MaxDumpSize = 2 << 30  // one dump
	MaxListSize = 64 << 20 // a --dumps-from list
	MaxListLine = 16 << 10 // one path in a list (PATH_MAX is 4 KiB)
)

// OpenDump opens a dump for reading: a regular file (never a FIFO or a
// device) of at most MaxDumpSize bytes. Read it through Reader, which
// stops at the size the file had when it was opened.
func OpenDump(path string) (*safeio.File, error) {
	return safeio.OpenLimit(path, MaxDumpSize)
}

// DumpsFromFile reads the list of dump paths in the file list (see
// DumpsFromList). Relative paths are taken relative to the list's own
// directory, so a list works from wherever klp-audit runs; the TU of a
// dump is its object's path as the list spells it. The list must be a
// regular file of at most MaxListSize bytes: an error opening it is
// returned as is, problems with its lines in an ErrorList.
func DumpsFromFile(list string) ([]Dump, error) {
	f, err := safeio.OpenLimit(list, MaxListSize)
	if err != nil {
		return nil, fmt.Errorf("dump list: %w", err)
	}
	defer f.Close()
	return dumpsFromList(f.Reader(), list, filepath.Dir(list))
}

// DumpsFromList reads a list of dump paths, one per line (the input of
// kgraft-analysis-tool); blank lines and lines starting with '#' are
// skipped. Relative paths are taken relative to the current directory (r
// has no directory of its own; [DumpsFromFile] resolves them against the
// list's). A line naming no regular dump file gives a positioned error and
// the rest is read. Lines longer than MaxListLine are errors.
func DumpsFromList(r io.Reader, listName string) ([]Dump, error) {
	return dumpsFromList(r, listName, "")
}

func dumpsFromList(r io.Reader, listName, base string) ([]Dump, error) {
	var errs ErrorList
	var out []Dump
	lr := safeio.NewLineReader(r, listName, MaxListLine)
	for {
		b, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			pe := &ParseError{Dump: listName, Line: lr.Line(), Err: err, Want: "a readable file"}
			var le *safeio.LineError
			if errors.As(err, &le) {
				pe.Line, pe.Err = le.Line, le.Err
				if errors.Is(err, safeio.ErrLineTooLong) {
					pe.Want = "a path shorter than 16 KiB"
				}
			}
			errs.Add(pe)
			continue
		}
		s := strings.TrimSpace(string(b))
		n := lr.Line()
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		kind, obj, ok := classify(s)
		if !ok {
			errs.Add(&ParseError{Dump: listName, Line: n, Text: s, Err: errors.New("not an ipa-clones dump name"),
				Want: "a path ending in .NNNi.ipa-clones"})
			continue
		}
		p, objPath := s, obj
		if base != "" && !filepath.IsAbs(s) {
			p, objPath = filepath.Join(base, s), filepath.Join(base, obj)
		}
		st, err := os.Stat(p)
		if err != nil {
			errs.Add(&ParseError{Dump: listName, Line: n, Text: s, Err: err, Want: "an existing dump file"})
			continue
		}
		if !st.Mode().IsRegular() {
			errs.Add(&ParseError{Dump: listName, Line: n, Text: s, Err: &safeio.NotRegularError{Path: p, What: safeio.What(st.Mode())},
				Want: "a regular dump file"})
			continue
		}
		_, oerr := os.Stat(objPath)
		out = append(out, Dump{Path: p, Kind: kind, TU: filepath.ToSlash(filepath.Clean(obj)), Object: objPath, HasObject: oerr == nil})
	}
	sortDumps(out)
	return out, errs.Err()
}

func sortDumps(ds []Dump) {
	sort.Slice(ds, func(i, j int) bool {
		if ds[i].TU != ds[j].TU {
			return ds[i].TU < ds[j].TU
		}
		return ds[i].Path < ds[j].Path
	})
}

type fileID struct{ dev, ino uint64 }

func idOf(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), uint64(st.Ino)}, true
}

type walker struct {
	root string
	seen map[fileID]bool
	// realRoots are the build directories with links resolved, absolute;
	// links leading out of all of them are skipped unless followOutside.
	realRoots     []string
	followOutside bool
	skipped       []SkippedLink
	skippedIDs    map[fileID]bool
	errs          *ErrorList
	found         []string
	links         []link // symbolic links met, followed after the real tree

	mu   sync.Mutex    // guards errs, links and cands during the tree walk
	sem  chan struct{} // bounds the directories read at once
	cand []candidate   // dumps met in the real tree, before dedup
	// objects are the *.o files met in the real tree.
	objects []string
	visit   func(*Dir) // DiscoverOptions.Visit
}

// candidate is a dump met in the real tree, with its file identity.
type candidate struct {
	path string
	id   fileID
	ok   bool
}

// link is a symbolic link to a directory or a dump, with its target's info.
type link struct {
	path string
	fi   fs.FileInfo
}

// walkers is how many directories are read at once: directory reads wait
// on the disk, so a cold tree is listed faster with several in flight.
const walkers = 8

// run walks the real tree under root, then the links met, in the order met
// (links found inside linked directories go last).
func (w *walker) run(root string, fi fs.FileInfo) {
	w.sem = make(chan struct{}, walkers)
	w.walk(root, fi)
	for len(w.links) > 0 {
		l := w.links[0]
		w.links = w.links[1:]
		if l.fi.IsDir() {
			w.walk(l.path, l.fi)
		} else if w.firstVisit(l.fi) {
			w.found = append(w.found, l.path)
		}
	}
}

// firstVisit marks fi seen and reports whether it had not been seen.
func (w *walker) firstVisit(fi fs.FileInfo) bool {
	id, ok := idOf(fi)
	if !ok {
		return true
	}
	if w.seen[id] {
		return false
	}
	w.seen[id] = true
	return true
}

// walk lists the tree under dir, reading directories concurrently; fi is
// dir's FileInfo when dir was reached through a symbolic link (or is a
// root). The dumps found are added to w.found in path order, each file once.
func (w *walker) walk(dir string, fi fs.FileInfo) {
	if fi != nil && !w.firstVisit(fi) {
		return
	}
	var wg sync.WaitGroup
	nlinks := len(w.links)
	if h, err := openDir(noDir, dir, dir); err != nil {
		w.mu.Lock()
		w.errs.Add(fmt.Errorf("reading build directory: %w", err))
		w.mu.Unlock()
	} else {
		w.walkDir(dir, h, &wg)
	}
	wg.Wait()
	// Links are followed in the order met, which concurrency shuffled.
	met := w.links[nlinks:]
	sort.Slice(met, func(i, j int) bool { return met[i].path < met[j].path })
	sort.Slice(w.cand, func(i, j int) bool { return w.cand[i].path < w.cand[j].path })
	for _, c := range w.cand {
		if c.ok {
			if w.seen[c.id] {
				continue // a hard link to a dump already found
			}
			w.seen[c.id] = true
		}
		w.found = append(w.found, c.path)
	}
	w.cand = w.cand[:0]
}

// inside resolves the link p and reports whether it leads into one of the
// build directories (always true with followOutside).
func (w *walker) inside(p string) (string, bool) {
	target, err := filepath.EvalSymlinks(p)
	if err == nil {
		target, err = filepath.Abs(target)
	}
	if err != nil {
		return p, w.followOutside // it resolved for Stat: a race; follow only if told
	}
	if w.followOutside {
		return target, true
	}
	for _, r := range w.realRoots {
		if target == r || r == "/" || strings.HasPrefix(target, r+string(filepath.Separator)) {
			return target, true
		}
	}
	return target, false
}

// notRegular reports a dump or object path that is no regular file (a
// FIFO, a device, a directory): its evidence is missing, and reading it
// would block or never end.
func (w *walker) notRegular(p string, m fs.FileMode) {
	what := "ipa-clones dump"
	if !IsDumpName(filepath.Base(p)) {
		what = "object"
	}
	w.mu.Lock()
	w.errs.Add(&FileError{Path: p, Err: fmt.Errorf("%s not read: %w", what, &safeio.NotRegularError{Path: p, What: safeio.What(m)})})
	w.mu.Unlock()
}

// direntBufs hold the raw entries listDir reads.
var direntBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// walkDir lists the directory dir, open as h, and walks its
// subdirectories; it closes h.
func (w *walker) walkDir(dir string, h dirHandle, wg *sync.WaitGroup) {
	var subdirs, objects []string
	var cands []candidate
	var visit *Dir
	if w.visit != nil {
		visit = &Dir{Path: dir, h: h}
	}
	buf := direntBufs.Get().(*[]byte)
	err := h.list(dir, *buf, func(name []byte, typ fs.FileMode) {
		// Most entries are sources, headers and kbuild's files: they
		// are passed over on their name and type alone.
		dump := bytes.HasSuffix(name, dumpSuffix) && IsDumpName(string(name))
		obj := bytes.HasSuffix(name, []byte(".o"))
		switch {
		case typ&fs.ModeSymlink != 0:
			w.symlink(filepath.Join(dir, string(name)), dump, obj)
		case !typ.IsRegular() && dump, !typ.IsRegular() && !typ.IsDir() && obj:
			w.notRegular(filepath.Join(dir, string(name)), typ)
		case typ.IsDir():
			if string(name) == ".git" {
				return
			}
			subdirs = append(subdirs, string(name))
		case typ.IsRegular() && obj:
			objects = append(objects, filepath.Join(dir, string(name)))
			if visit != nil {
				visit.Objects = append(visit.Objects, string(name))
			}
		case typ.IsRegular() && dump:
			c := candidate{path: filepath.Join(dir, string(name))}
			c.id, c.ok = h.lstatID(string(name), c.path)
			cands = append(cands, c)
			if visit != nil {
				visit.Dumps = append(visit.Dumps, string(name))
			}
		}
	})
	direntBufs.Put(buf)
	if visit != nil && (len(visit.Dumps) > 0 || len(visit.Objects) > 0) {
		w.visit(visit)
	}
	if err != nil || len(objects) > 0 || len(cands) > 0 {
		w.mu.Lock()
		if err != nil {
			w.errs.Add(fmt.Errorf("reading build directory: %w", err))
		}
		w.objects = append(w.objects, objects...)
		w.cand = append(w.cand, cands...)
		w.mu.Unlock()
	}
	for _, name := range subdirs {
		// Without symbolic links directories form a tree: only
		// directories reached through a link can be met twice.
		p := filepath.Join(dir, name)
		sub, err := openDir(h, name, p)
		if err != nil {
			w.mu.Lock()
			w.errs.Add(fmt.Errorf("reading build directory: %w", err))
			w.mu.Unlock()
			continue
		}
		select {
		case w.sem <- struct{}{}:
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.walkDir(p, sub, wg)
				<-w.sem
			}()
		default:
			w.walkDir(p, sub, wg)
		}
	}
	h.close()
}

// dumpSuffix ends every dump's name.
var dumpSuffix = []byte("i.ipa-clones")

// symlink handles the symbolic link p met in the real tree, named like a
// dump or an object or not.
func (w *walker) symlink(p string, dump, obj bool) {
	st, err := os.Stat(p)
	if err != nil {
		return // dangling link: kbuild leaves some (source links)
	}
	if !st.Mode().IsRegular() && !st.IsDir() && (dump || obj) {
		w.notRegular(p, st.Mode())
		return
	}
	if !st.IsDir() && !(st.Mode().IsRegular() && dump) {
		return
	}
	if target, inside := w.inside(p); !inside {
		// A link met again through an alias directory is reported
		// once, under the first path met.
		var id fileID
		var ok bool
		if li, err := os.Lstat(p); err == nil {
			id, ok = idOf(li)
		}
		w.mu.Lock()
		if !ok || !w.skippedIDs[id] {
			if ok {
				w.skippedIDs[id] = true
			}
			w.skipped = append(w.skipped, SkippedLink{Path: p, Target: target})
		}
		w.mu.Unlock()
		return
	}
	w.mu.Lock()
	w.links = append(w.links, link{p, st})
	w.mu.Unlock()
}
