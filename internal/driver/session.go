package driver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"time"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/internal/safeio"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/livepatch"
	"github.com/klp-audit/klp-audit/object"
	"github.com/klp-audit/klp-audit/report"
)

// Options say where a build's evidence is. Every verb that reads a build
// takes them.
type Options struct {
	Builds        []string
	DumpLists     []string
	StripPrefixes []string
	// Source is the kernel source tree of the builds (--source), for an
	// O= build whose own "source" link and Makefile do not name one that
	// is there; "" finds it from each build.
	Source string
	// DWARFInlining is kept for the --dwarf-inlining flag: the inlining
	// of objects without a dump is always taken from their DWARF.
	DWARFInlining bool
	// Index is the index file of the build (klp-audit index): "" for
	// the default one, used when present; IndexOff for none.
	Index string
	// settleLater lets a session take the index's files for unchanged
	// while they are stat'ed, if its caller checks Session.settled
	// before giving an answer (index.go).
	settleLater bool
}

// Session is a build's evidence, read once and shared by every query of
// one run: the containment graph of its dumps, its objects (opened on
// demand, once each), the problems found reading them and the inputs.
type Session struct {
	opts    Options
	graph   *callgraph.Graph
	objs    *callgraph.Objects // opened on demand, shared by every query
	dumps   []ipadump.Dump
	objects []string // every *.o under the build directories
	// units are the objects without a dump read as units from their
	// DWARF (those whose DWARF could not be read are problems).
	units    []callgraph.ObjectUnit
	problems []report.Problem
	// notes are facts of the build every answer says (symbolic links
	// out of the build directories that were not followed).
	notes  []string
	inputs report.Inputs
	// klp says which klp_object each object belongs to; shared by every
	// query.
	klp *livepatch.Objects
	// checks caches the check of each unit's dump against its object.
	checks *dumpChecks
	// defs indexes the function symbols of the units' objects (those
	// without a dump, read from DWARF, included): read once, on first
	// need, for every query of the session.
	defs *callgraph.Definers
	// keepCode reads the objects with their code (for --explain's call
	// sites); set before the object cache is made.
	keepCode bool
	// lean says the graph was read for some functions only (loadFor):
	// other units are read on demand, and the functions the objects
	// define are looked up by name, not indexed whole.
	lean bool
	// pre is the lean load's reads of dumps and objects during the walk
	// of the build (nil: none).
	pre *callgraph.Prescan
	// index is the build's index, when one is used; indexNote says why
	// one was not (see index.go).
	index     *indexView
	indexNote string
}

// openObject reads an object for the session's cache; onLoad, when set,
// is told of every Load. Tests count with them.
var (
	openObject     = object.Open
	openObjectCode = object.OpenCode
	onLoad         func(Options)
)

// Load discovers and reads the dumps of the build o names. Errors that
// leave nothing to answer from are returned as *InputError; problems that
// only make answers incomplete are kept and reported with every answer.
func Load(o Options) (*Session, error) { return load(o, false, nil) }

// load is Load; with lean, only the units whose dumps name one of names
// are read at once (see loadFor).
func load(o Options, lean bool, names []string) (*Session, error) {
	if onLoad != nil {
		onLoad(o)
	}
	ev, err := loadOnce(o, lean, names)
	if err != nil && o.settleLater {
		// Said only once the index's files are known unchanged.
		o.settleLater = false
		return loadOnce(o, lean, names)
	}
	return ev, err
}

// loadOnce is load.
func loadOnce(o Options, lean bool, names []string) (*Session, error) {
	if len(o.Builds) == 0 && len(o.DumpLists) == 0 {
		return nil, Inputf("no build given: use --build DIR (a kernel tree built with KCFLAGS=-fdump-ipa-clones) or --dumps-from FILE")
	}
	ev := &Session{opts: o, lean: lean}
	if lean {
		defer sparseGC()()
	}
	ev.inputs.Builds = o.Builds
	ev.inputs.DumpLists = o.DumpLists
	var errs ipadump.ErrorList
	t0 := time.Now()
	// An O= build's source paths lose its source tree's prefix, as
	// --strip-prefix would, so they read as an in-tree build's do.
	strip := append(append([]string(nil), o.StripPrefixes...), sourcePrefixes(o)...)
	if lean && len(names) > 0 {
		ev.pre = callgraph.NewPrescan(names, len(names) == 1)
		ev.pre.ParseFound(strip)
	}
	if len(o.Builds) > 0 {
		t, err := ev.discover(o)
		addErrs(&errs, err)
		ev.dumps = append(ev.dumps, t.Dumps...)
		ev.objects = t.Objects
		for _, l := range t.Skipped {
			if !isSourceLink(o.Builds, l.Path) {
				ev.notes = append(ev.notes, l.String())
			}
		}
	}
	for _, l := range o.DumpLists {
		ds, lines, err := dumpsFromFile(l)
		if err != nil {
			return nil, err
		}
		ev.dumps = append(ev.dumps, ds...)
		addErrs(&errs, lines)
	}
	var dup []report.Problem
	ev.dumps, dup = conflictingDumpsBy(ev.dumps, ev.objectKeyOf())
	t0 = phase("load: the build's files found", t0)
	// Objects with no dump beside them: their inlining comes from their
	// DWARF, or the answer is incomplete naming them.
	units, notes := ev.orphanUnitsIndexed()
	t0 = phase("load: objects without a dump", t0)
	ev.notes = append(ev.notes, notes...)
	if len(ev.dumps) == 0 && len(units) == 0 {
		msg := "no *.ipa-clones dumps found in " + strings.Join(append(append([]string{}, o.Builds...), o.DumpLists...), ", ") +
			": build the kernel with KCFLAGS=-fdump-ipa-clones (kbuild leaves mm/oom_kill.c.000i.ipa-clones beside mm/oom_kill.o)"
		if len(errs) > 0 {
			msg += "\n" + joinErrs(errs)
		}
		return nil, Inputf("%s", msg)
	}
	ev.opts.StripPrefixes = strip
	lopts := callgraph.LoadOptions{StripPrefixes: ev.opts.StripPrefixes, ObjectUnits: units, Dumps: ev.dumpStore(), Prescan: ev.pre}
	var g *callgraph.Graph
	var err error
	if lean {
		g, err = callgraph.LoadPartial(ev.dumps, names, lopts)
	} else {
		g, err = callgraph.Load(ev.dumps, lopts)
	}
	addErrs(&errs, err)
	phase("load: the dumps searched and read", t0)
	ev.graph = g
	for _, u := range units {
		if _, ok := g.TU(u.TU); ok {
			ev.units = append(ev.units, u)
		}
	}
	st := g.Stats()
	ev.inputs.Dumps = st.Dumps
	ev.inputs.TUs = len(g.TUs())
	ev.inputs.Records = st.Records
	for _, e := range errs {
		ev.problems = append(ev.problems, problemOf(e))
	}
	ev.problems = append(ev.problems, dup...)
	return ev, nil
}

func addErrs(l *ipadump.ErrorList, err error) {
	if err == nil {
		return
	}
	var el ipadump.ErrorList
	if errors.As(err, &el) {
		*l = append(*l, el...)
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		*l = append(*l, j.Unwrap()...)
		return
	}
	l.Add(err)
}

func joinErrs(errs []error) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = "  " + e.Error()
	}
	return strings.Join(s, "\n")
}

func problemOf(err error) report.Problem {
	var pe *ipadump.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		if pe.Text != "" {
			msg += fmt.Sprintf(" in %q", pe.Text)
		}
		if pe.Want != "" {
			msg += ", want " + pe.Want
		}
		return report.Problem{File: pe.Dump, Line: pe.Line, Kind: report.KindInput, Message: msg}
	}
	return report.Problem{File: errorPath(err), Kind: report.KindInput, Message: err.Error()}
}

// errorPath returns the file an error is about, "" when none is known.
func errorPath(err error) string {
	var fe *ipadump.FileError
	var nr *safeio.NotRegularError
	var tl *safeio.TooLargeError
	var perr *os.PathError
	switch {
	case errors.As(err, &fe):
		return fe.Path
	case errors.As(err, &nr):
		return nr.Path
	case errors.As(err, &tl):
		return tl.Path
	case errors.As(err, &perr):
		return perr.Path
	}
	return ""
}

// objectsWithoutDump returns the objects under the build directories that
// no dump is paired with, as units named like discovered ones.
func objectsWithoutDump(roots, objects []string, dumps []ipadump.Dump) []callgraph.ObjectUnit {
	paired := map[string]bool{}
	for _, d := range dumps {
		paired[filepath.Clean(d.Object)] = true
	}
	var out []callgraph.ObjectUnit
	for _, p := range objects {
		if strings.HasSuffix(p, ".mod.o") || paired[filepath.Clean(p)] {
			continue
		}
		tu := filepath.ToSlash(p)
		for _, root := range roots {
			if rel, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(rel, "..") {
				tu = filepath.ToSlash(rel)
				if len(roots) > 1 {
					tu = filepath.ToSlash(filepath.Join(root, rel))
				}
				break
			}
		}
		out = append(out, callgraph.ObjectUnit{TU: tu, Object: p})
	}
	return out
}

// objectCache returns the build's object cache, created on first use.
func (ev *Session) objectCache() *callgraph.Objects {
	if ev.objs == nil && ev.index != nil && !ev.keepCode {
		ev.objs = ev.indexedObjects()
	}
	if ev.objs == nil {
		open := openObject
		if ev.keepCode {
			open = openObjectCode
		}
		ev.objs = callgraph.NewObjects(ev.graph, open)
	}
	return ev.objs
}

// definers returns the index of the functions the dumps' objects define.
func (ev *Session) definers() *callgraph.Definers {
	if ev.defs == nil {
		ev.defs = callgraph.NewDefiners(ev.objectsOf(), 0, false)
	}
	return ev.defs
}

// klpObjects returns the klp_object oracle of the build, created on
// first use.
func (ev *Session) klpObjects() *livepatch.Objects {
	if ev.klp == nil {
		ev.klp = livepatch.NewObjects(ev.opts.Builds)
		if ev.index != nil && !ev.index.rediscovered {
			ev.klp.SetModLister(ev.index.modsIn)
			ev.klp.SetKnownLinkage(ev.index.linkage)
		}
	}
	return ev.klp
}

// forQuery returns a copy of ev for one query: the graph and the object
// cache are shared, the problems list is the query's own, so problems one
// query finds do not leak into the next.
func (ev *Session) forQuery() *Session {
	q := *ev
	q.objectCache() // create the caches in ev's copy before sharing them
	q.klpObjects()
	if !q.lean {
		q.definers()
	}
	if q.checks == nil {
		q.checks = &dumpChecks{units: map[string]*dumpCheckEntry{}}
	}
	ev.objs, ev.klp, ev.defs, ev.checks = q.objs, q.klp, q.defs, q.checks
	q.problems = append([]report.Problem(nil), ev.problems...)
	return &q
}

// objectsOf returns the objects paired with the dumps that exist on disk,
// one per translation unit, and those of the units read from DWARF.
func (ev *Session) objectsOf() []string {
	seen := make(map[string]bool, len(ev.dumps)+len(ev.units))
	out := make([]string, 0, len(ev.dumps)+len(ev.units))
	for _, d := range ev.dumps {
		if d.HasObject && !seen[d.Object] {
			seen[d.Object] = true
			out = append(out, d.Object)
		}
	}
	for _, u := range ev.units {
		if !seen[u.Object] {
			seen[u.Object] = true
			out = append(out, u.Object)
		}
	}
	return out
}

// tuOfObject returns the TU whose object path is obj.
func (ev *Session) tuOfObject(obj string) string {
	for _, d := range ev.dumps {
		if d.Object == obj {
			return d.TU
		}
	}
	if u, ok := ev.objectUnitOf(obj); ok {
		return u.TU
	}
	return filepath.ToSlash(obj)
}

// dumpsFromFile reads a --dumps-from list: relative paths are the list's
// directory's. A list that cannot be opened is an input error (fatal); a
// line naming no dump is a problem of the answer (lines).
func dumpsFromFile(list string) (ds []ipadump.Dump, lines, fatal error) {
	ds, err := ipadump.DumpsFromFile(list)
	var el ipadump.ErrorList
	if err != nil && !errors.As(err, &el) {
		return nil, nil, inputErr(err)
	}
	return ds, err, nil
}

// plural says "1 problem" or "2 problems".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// A query allocates some tens of MB over a live heap of a few (names,
// nodes, edges: pointers to mark), and at the default GOGC spent a fifth
// to a third of its CPU collecting. sparseGC turns the collector off
// until the heap reaches offGCLimit; after that first collection it runs
// at leanGCPercent, and as before once a collection finds more than
// sparseHeapMax bytes live (a function that most units name: the load
// reads nearly every dump), so that a large heap is never let grow
// fivefold.
const (
	offGCLimit    = 128 << 20
	leanGCPercent = 400
	sparseHeapMax = 48 << 20
)

var gcState struct {
	sync.Mutex
	users  int
	old    int   // the percent to restore
	oldLim int64 // the memory limit to restore
	set    bool  // the settings are sparseGC's
}

// SparseGC is sparseGC for a caller whose work goes on after a query
// returns (the CLI writing its answer, which allocates as much again):
// the collector stays sparse until the function it returns is called.
func SparseGC() (restore func()) { return sparseGC() }

// sparseGC sets the collector as said above, unless GOGC says otherwise,
// until the function it returns is called: queries running at once share
// the setting, and the last one restores it.
func sparseGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	gcState.Lock()
	if gcState.users == 0 {
		gcState.old = debug.SetGCPercent(-1)
		gcState.oldLim = debug.SetMemoryLimit(-1)
		debug.SetMemoryLimit(min(gcState.oldLim, offGCLimit))
		gcState.set = true
		watchHeap()
	}
	gcState.users++
	gcState.Unlock()
	return func() {
		gcState.Lock()
		if gcState.users--; gcState.users == 0 && gcState.set {
			resetGC()
		}
		gcState.Unlock()
	}
}

// resetGC puts back the settings sparseGC found; gcState is held.
func resetGC() {
	debug.SetGCPercent(gcState.old)
	debug.SetMemoryLimit(gcState.oldLim)
	gcState.set = false
}

// gcSentinel is garbage whose finalizer runs after the collection that
// finds it: watchHeap looks at the live heap then.
type gcSentinel struct{ _ *int }

// watchHeap, after each collection while sparseGC's settings are in
// force, puts the settings back once more than sparseHeapMax bytes are
// live, and otherwise collects at leanGCPercent with the memory limit
// found before.
func watchHeap() {
	runtime.SetFinalizer(&gcSentinel{}, func(*gcSentinel) {
		gcState.Lock()
		defer gcState.Unlock()
		if !gcState.set {
			return
		}
		live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(live)
		if live[0].Value.Kind() == metrics.KindUint64 && live[0].Value.Uint64() > sparseHeapMax {
			resetGC()
			return
		}
		debug.SetGCPercent(leanGCPercent)
		debug.SetMemoryLimit(gcState.oldLim)
		watchHeap()
	})
}
