package callgraph

import (
	"bytes"
	"slices"
	"sort"
	"sync"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/ipadump"
)

// A question about a function F needs only the units whose dumps name F:
// edges join nodes of one unit (an LTO program's whole-program and
// partition dumps are one unit), so F's closure never leaves them. Every
// other unit is read the first time a question needs it: the rules'
// callers in other objects, say, whose clone kinds and inlining then
// matter. A graph so read answers every question as Load's does.

// partial is the state of a graph whose units are read on demand.
type partial struct {
	// mu serialises reading units in; it is taken before Graph.mu, and
	// never while Graph.mu is held.
	mu  sync.Mutex
	b   *Builder
	opt LoadOptions
	// pending holds the dumps of the units not read yet, in load order.
	pending map[string][]ipadump.Dump
	// searched are the names whose units are all read.
	searched map[string]bool
	// stats are Load's, counted by the first scan of every dump.
	stats Stats
	// known are the errors returned so far, by text; late are the errors
	// met reading units in after LoadPartial returned and not among them
	// (a dump that changed in between).
	known map[string]bool
	late  ipadump.ErrorList
}

// LoadPartial is Load for questions about the functions names. Every
// dump is searched for each name as a whole field (";name;", see
// ipadump.ScanDump, at memory speed) and its lines checked without
// parsing; only the units whose dumps name one of them are parsed and
// built, in parallel. Any other unit is read the first time a question
// needs it (Node, Out, In, Impacted, Lookup of another name, ...); Names,
// Suggest, Len, NumEdges and String read them all. So every answer, and
// TUs, Stats and the error, are those Load gives for the same dumps:
// the error holds every dump's problems (a dump whose lines are not all
// plainly records is parsed for them), and units without a dump
// (opt.ObjectUnits) are read from their DWARF at once, as Load does.
//
// Units read after LoadPartial returned may meet errors it did not
// return (a dump changed in between): see LateErr.
func LoadPartial(dumps []ipadump.Dump, names []string, opt LoadOptions) (*Graph, error) {
	needles := make([][]byte, len(names))
	for i, n := range names {
		needles[i] = ipadump.NameNeedle(n)
	}
	scans := scanDumps(dumps, needles, opt)
	var errs ipadump.ErrorList
	var st Stats
	selected := map[string]bool{}
	hint, tabNodes, tabEdges := 0, 0, 0
	for i := range dumps {
		sc := &scans[i]
		errs = append(errs, sc.errs...)
		st.Dumps++
		st.Records += sc.records
		st.Clones += sc.clones
		st.Removes += sc.removes
		if sc.found {
			selected[dumps[i].TU] = true
			if sc.table != nil {
				tabNodes += len(sc.table.Nodes)
				tabEdges += len(sc.table.Edges)
			} else {
				hint += sc.records
			}
		}
	}
	b := newBuilder(int64(hint)*128, tabNodes, tabEdges)
	b.growTUs(len(dumps) + len(opt.ObjectUnits))
	for _, d := range dumps {
		b.addTU(d)
	}
	type unit struct {
		u  ObjectUnit
		in *dwarfinfo.Inlining
	}
	var units []unit
	for _, u := range opt.ObjectUnits {
		in, err := readObjectUnit(u)
		if err != nil {
			errs.Add(err)
			continue
		}
		b.addTU(objectUnitDump(u.TU, u.Object))
		units = append(units, unit{u, in})
	}
	b.sortTUs()
	b.fixedTUs = true
	perTU := map[string]int{}
	for _, d := range dumps {
		if selected[d.TU] {
			perTU[d.TU]++
		}
	}
	p := &partial{b: b, opt: opt, pending: make(map[string][]ipadump.Dump, len(dumps)), searched: map[string]bool{}, known: map[string]bool{}}
	rd := newReader(opt)
	for i, d := range dumps {
		if !selected[d.TU] {
			p.pending[d.TU] = append(p.pending[d.TU], d)
			continue
		}
		if t := scans[i].table; t != nil && perTU[d.TU] == 1 && b.AddTable(d, t) {
			continue
		}
		recs := scans[i].recs
		if !scans[i].found || recs == nil && scans[i].table != nil {
			// Another dump of a unit that names one: an LTO program's
			// partitions, or two dumps of one object. Its problems, if
			// any, came with its scan.
			var again ipadump.ErrorList
			recs, again = readDumpVia(opt, rd, d)
			errs = append(errs, newErrors(errs, again)...)
		}
		b.AddDump(d, recs)
	}
	before := b.g.stats
	for _, u := range units {
		b.AddObjectInlining(u.u.TU, u.u.Object, u.in)
	}
	st.Dumps += b.g.stats.Dumps - before.Dumps
	st.Records += b.g.stats.Records - before.Records
	st.Clones += b.g.stats.Clones - before.Clones
	st.Removes += b.g.stats.Removes - before.Removes
	b.finish()
	g := b.g
	g.stats, p.stats = st, st
	for _, n := range names {
		p.searched[n] = true
	}
	errs.Sort()
	for _, e := range errs {
		p.known[e.Error()] = true
	}
	if len(p.pending) > 0 {
		g.partial = p
	}
	return g, errs.Err()
}

// newErrors returns the errors of more whose text is not among have's.
func newErrors(have, more ipadump.ErrorList) ipadump.ErrorList {
	var out ipadump.ErrorList
	for _, e := range more {
		dup := false
		for _, h := range have {
			if h.Error() == e.Error() {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out
}

// scanned is what the scan of one dump found.
type scanned struct {
	found bool             // the dump names one of the needles
	recs  []ipadump.Record // its records, when found
	table *DumpTable       // or its table (the store's), when found
	errs  ipadump.ErrorList
	// records, clones and removes count its records as the Reader reads
	// them.
	records, clones, removes int
}

// scanDumps searches every dump for the needles in parallel. A dump
// that names one is parsed (its records kept), and so is one whose lines
// are not all plainly records (for its errors and counts) or that could
// not be scanned (its error is then the Reader's).
func scanDumps(dumps []ipadump.Dump, needles [][]byte, opt LoadOptions) []scanned {
	out := make([]scanned, len(dumps))
	// The dumps the store holds that name no needle are answered here,
	// from its counts: handing each to a worker would cost more.
	todo := make([]int, 0, len(dumps))
	if opt.Dumps != nil {
		names := storeNames(needles)
		for i := range dumps {
			if r, ok := countStored(opt, dumps[i], names); ok && !r.found {
				out[i] = r
				continue
			}
			todo = append(todo, i)
		}
	} else {
		for i := range dumps {
			todo = append(todo, i)
		}
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < opt.workers(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rd := newReader(opt)
			var buf []byte
			for i := range jobs {
				if r, ok := scanStored(opt, dumps[i], needles); ok {
					out[i] = r
					continue
				}
				if r, ok := opt.Prescan.parsedFor(dumps[i], needles, opt.StripPrefixes); ok {
					out[i] = r
					continue
				}
				if sc, ok := opt.Prescan.scan(dumps[i].Path, needles); ok {
					out[i] = scanResult(rd, dumps[i].Path, needles, sc, nil)
					continue
				}
				out[i], buf = scanOne(rd, dumps[i].Path, needles, buf)
			}
		}()
	}
	for _, i := range todo {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return out
}

func scanOne(rd *ipadump.Reader, path string, needles [][]byte, buf []byte) (scanned, []byte) {
	sc, buf, err := ipadump.ScanDump(path, needles, buf)
	return scanResult(rd, path, needles, sc, err), buf
}

// scanResult is scanOne's answer from ScanDump's.
func scanResult(rd *ipadump.Reader, path string, needles [][]byte, sc ipadump.Scan, err error) scanned {
	found := false
	for _, f := range sc.Found {
		found = found || f
	}
	if err == nil && sc.Clean && !found {
		return scanned{records: sc.Records, clones: sc.Clones, removes: sc.Removals}
	}
	var r scanned
	if err == nil && sc.Data != nil {
		r.recs, r.errs = parseDump(rd, bytes.NewReader(sc.Data), int64(len(sc.Data)), path)
	} else {
		r.recs, r.errs = readDump(rd, path)
	}
	for _, rec := range r.recs {
		r.records++
		if rec.Kind == ipadump.Removal {
			r.removes++
		} else {
			r.clones++
		}
	}
	if err != nil {
		// Unscanned: whether it names a needle is what its records say.
		found = namesAny(r.recs, needles)
	}
	if found {
		r.found = true
	} else {
		r.recs = nil
	}
	return r
}

// scanStored is scanOne for a dump the store holds: its counts, and its
// records when it names a needle.
func scanStored(opt LoadOptions, d ipadump.Dump, needles [][]byte) (scanned, bool) {
	if opt.Dumps == nil {
		return scanned{}, false
	}
	r, ok := countStored(opt, d, storeNames(needles))
	if !ok {
		return scanned{}, false
	}
	if r.found {
		if r.table, ok = opt.table(d); ok {
			return r, true
		}
		if r.recs, ok = opt.Dumps.Records(d); !ok {
			return scanned{}, false
		}
	}
	return r, true
}

// countStored is scanStored without the records: found says d names one
// of names.
func countStored(opt LoadOptions, d ipadump.Dump, names []string) (scanned, bool) {
	if opt.Dumps == nil {
		return scanned{}, false
	}
	rs, cs, rm, named, ok := opt.Dumps.Counts(d, names)
	if !ok {
		return scanned{}, false
	}
	return scanned{records: rs, clones: cs, removes: rm, found: named}, true
}

// storeNames returns the names the needles (";name;") search for.
func storeNames(needles [][]byte) []string {
	names := make([]string, len(needles))
	for i, n := range needles {
		names[i] = string(n[1 : len(n)-1])
	}
	return names
}

// namesAny reports whether a record names a needle (";name;").
func namesAny(recs []ipadump.Record, needles [][]byte) bool {
	for _, n := range needles {
		name := string(n[1 : len(n)-1])
		for i := range recs {
			if recs[i].Orig.Name == name || recs[i].Clone.Name == name && recs[i].Kind == ipadump.Clone {
				return true
			}
		}
	}
	return false
}

// ensure reads in the units tus that are not read yet.
func (g *Graph) ensure(tus ...string) {
	p := g.partial
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.load(g, tus)
}

// ensureAll reads in every unit not read yet.
func (g *Graph) ensureAll() {
	p := g.partial
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	tus := make([]string, 0, len(p.pending))
	for tu := range p.pending {
		tus = append(tus, tu)
	}
	sort.Strings(tus)
	p.load(g, tus)
}

// ensureName reads in every unit whose dumps name name.
func (g *Graph) ensureName(name string) { g.Want(name) }

// Want reads in, on a graph read for some functions only (LoadPartial),
// every unit whose dumps name one of names, in one search of the dumps
// not read yet: a caller about to ask for several functions (check, for
// each function a fix changes) searches once, not once for each.
func (g *Graph) Want(names ...string) {
	p := g.partial
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var needles [][]byte
	var asked []string
	for _, n := range names {
		if !p.searched[n] && !slices.Contains(asked, n) {
			asked = append(asked, n)
			needles = append(needles, ipadump.NameNeedle(n))
		}
	}
	if len(needles) == 0 {
		return
	}
	var ds []ipadump.Dump
	tus := make([]string, 0, len(p.pending))
	for tu := range p.pending {
		tus = append(tus, tu)
	}
	sort.Strings(tus)
	for _, tu := range tus {
		ds = append(ds, p.pending[tu]...)
	}
	found := make([]bool, len(ds))
	stored := storeNames(needles) // for the store's counts
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < p.opt.workers(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for i := range jobs {
				// Only whether it names one: load reads the units.
				if r, ok := countStored(p.opt, ds[i], stored); ok {
					found[i] = r.found
					continue
				}
				var sc ipadump.Scan
				var err error
				sc, buf, err = ipadump.ScanDump(ds[i].Path, needles, buf)
				// A dump that cannot be searched may name one: read its
				// unit (reading it reports the error, once).
				found[i] = err != nil || slices.Contains(sc.Found, true)
			}
		}()
	}
	for i := range ds {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	var want []string
	for i, d := range ds {
		if found[i] && (len(want) == 0 || want[len(want)-1] != d.TU) {
			want = append(want, d.TU)
		}
	}
	p.load(g, want)
	for _, n := range asked {
		p.searched[n] = true
	}
}

// load reads in the pending units among tus; p.mu is held.
func (p *partial) load(g *Graph, tus []string) {
	var ds []ipadump.Dump
	for _, tu := range tus {
		if d, ok := p.pending[tu]; ok {
			ds = append(ds, d...)
			delete(p.pending, tu)
		}
	}
	if len(ds) == 0 {
		return
	}
	g.mu.Lock()
	errs := addDumps(p.b, ds, p.opt)
	p.b.finish()
	g.stats = p.stats
	g.mu.Unlock()
	for _, e := range errs {
		if !p.known[e.Error()] {
			p.known[e.Error()] = true
			p.late = append(p.late, e)
		}
	}
}

// LateErr returns the problems met reading units in on demand that the
// load did not return (a dump changed since it was first read), sorted;
// nil when there are none. A caller must then treat answers as
// incomplete, as for the load's own error.
func (g *Graph) LateErr() error {
	p := g.partial
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	l := append(ipadump.ErrorList(nil), p.late...)
	l.Sort()
	return l.Err()
}

// Unread reports how many units are not read yet (0 for a graph Load
// built, or one whose units have all been read).
func (g *Graph) Unread() int {
	p := g.partial
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}
