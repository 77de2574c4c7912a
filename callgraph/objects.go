package callgraph

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/klp-audit/klp-audit/internal/par"
	"github.com/klp-audit/klp-audit/internal/progress"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/object"
)

// Emission says whether a node exists as a symbol of its object: a
// function the running kernel has and a livepatch can replace.
type Emission uint8

const (
	// EmissionUnknown: the object is missing or unreadable; nothing is known.
	EmissionUnknown Emission = iota
	// Emitted: the object has a symbol holding the node's code.
	Emitted
	// NotEmitted: the object has no such symbol: the node was inlined
	// everywhere, replaced by its clones, or removed.
	NotEmitted
)

func (e Emission) String() string {
	switch e {
	case Emitted:
		return "emitted"
	case NotEmitted:
		return "not emitted"
	}
	return "unknown"
}

// Evidence is what a node's object says of it.
type Evidence struct {
	Emission Emission
	Object   string // the object file read, or that could not be read
	// Symbols hold the node's code: normally one; the vector-ABI
	// variants for a simd clone (any of them may be the one); the
	// privatised name for an LTO local (foo.lto_priv.0).
	Symbols []object.Func
	// Why explains NotEmitted and EmissionUnknown.
	Why string
	// Callers are the object call graph's references to the symbols.
	Callers []object.Ref
}

// Objects opens translation units' objects on demand, once each, and
// maps graph nodes to their symbols. It is safe for concurrent use.
type Objects struct {
	g     *Graph
	open  func(path string) (*object.File, error)
	mu    sync.Mutex
	files map[string]*objEntry // by TU
	store ObjectStore          // see SetStore
}

type objEntry struct {
	once sync.Once
	f    *object.File
	err  error
}

// NewObjects returns an object cache for g's translation units that opens
// files with open (object.Open when nil).
func NewObjects(g *Graph, open func(string) (*object.File, error)) *Objects {
	if open == nil {
		open = object.Open
	}
	o := &Objects{g: g, open: open, files: map[string]*objEntry{}}
	// Until a persistent index is set (SetStore), the search for callers
	// in other objects reads the symbol tables and opens only the objects
	// that name what is searched.
	o.store = NewSymbolStore(o)
	return o
}

// PreloadStore starts reading, in the background, what the search for
// callers in other objects reads first (every unit's symbol table, for a
// build without an index): a query about to run the rules calls it
// while it reads its answer's objects.
func (o *Objects) PreloadStore() {
	if s, ok := o.store.(*SymbolStore); ok {
		go s.load()
	}
}

// File returns the object of translation unit tu.
func (o *Objects) File(tu string) (*object.File, error) {
	t, ok := o.g.TU(tu)
	if !ok {
		return nil, fmt.Errorf("no translation unit %s", tu)
	}
	if !t.HasObject {
		return nil, fmt.Errorf("%s: object not found beside its dump", t.Object)
	}
	o.mu.Lock()
	e := o.files[tu]
	if e == nil {
		e = &objEntry{}
		o.files[tu] = e
	}
	o.mu.Unlock()
	e.once.Do(func() { e.f, e.err = o.open(t.Object) })
	return e.f, e.err
}

// Prefetch opens the objects of the given units in parallel.
func (o *Objects) Prefetch(tus []string, workers int) {
	o.prefetch(tus, workers, nil)
}

// prefetch is Prefetch that calls done (when set) after each object.
func (o *Objects) prefetch(tus []string, workers int, done func()) {
	if workers <= 0 {
		workers = 4
	}
	par.Each(len(tus), workers, func(i int) {
		_, _ = o.File(tus[i])
		if done != nil {
			done()
		}
	})
}

// PrefetchShown is Prefetch with a progress bar on a terminal saying
// what the objects are read for, when they are many (a search of the
// whole build).
func (o *Objects) PrefetchShown(tus []string, what string) {
	if len(tus) < 200 {
		o.Prefetch(tus, 0)
		return
	}
	bar := progress.New(len(tus), what)
	defer bar.Done()
	o.prefetch(tus, 0, func() { bar.Add(1) })
}

var (
	simdRE    = regexp.MustCompile(`^(.+)\.simdclone\.([0-9]+)$`)
	vecABIRE  = regexp.MustCompile(`^_ZGV([a-z])([NM])`)
	ltoPrivRE = regexp.MustCompile(`\.lto_priv\.[0-9]+`)
)

// Evidence maps node id to its symbols in its unit's object.
func (o *Objects) Evidence(id NodeID) Evidence {
	t, _ := o.g.TU(id.TU)
	ev := Evidence{Object: t.Object}
	f, err := o.File(id.TU)
	if err != nil {
		ev.Why = err.Error()
		return ev
	}
	syms := symbolsFor(f, id.Name)
	if len(syms) == 0 {
		ev.Emission = NotEmitted
		ev.Why = notEmittedWhy(o.g, id)
		return ev
	}
	ev.Emission = Emitted
	for _, s := range syms {
		ev.Symbols = append(ev.Symbols, *s)
		ev.Callers = append(ev.Callers, f.Callers(s.Name)...)
	}
	sort.Slice(ev.Callers, func(i, j int) bool {
		a, b := ev.Callers[i], ev.Callers[j]
		if a.From != b.From {
			return a.From < b.From
		}
		return a.Site < b.Site
	})
	return ev
}

// symbolsFor finds the symbols that hold the code of the dump node name:
// the same name; for sq.simdclone.N the vector-ABI variants _ZGV*_sq; for
// an LTO local the privatised foo.lto_priv.N (or a clone of it).
func symbolsFor(f *object.File, name string) []*object.Func {
	if s := f.Lookup(name); len(s) > 0 {
		return s
	}
	var out []*object.Func
	if m := simdRE.FindStringSubmatch(name); m != nil {
		return simdVariant(f, m[1], m[2])
	}
	for i := range f.Funcs {
		fn := &f.Funcs[i]
		if strings.Contains(fn.Name, ".lto_priv.") && ltoPrivRE.ReplaceAllString(fn.Name, "") == name {
			out = append(out, fn)
		}
	}
	return out
}

// simdVariant returns the vector-ABI symbol of base.simdclone.N. GCC's
// expand_simd_clones creates the clones ISA by ISA, for each first the
// unmasked (N) and then the masked (M) variant, and numbers them in that
// order; Vector-ABI names spell the ISA as a letter that sorts the same way
// (x86: b, c, d, e). When the object's variants cannot be numbered that way
// (not all emitted, unknown mangling), every variant is returned: any may
// hold the code.
func simdVariant(f *object.File, base, num string) []*object.Func {
	var vs []*object.Func
	for i := range f.Funcs {
		fn := &f.Funcs[i]
		if strings.HasPrefix(fn.Name, "_ZGV") && strings.HasSuffix(fn.Name, "_"+base) {
			vs = append(vs, fn)
		}
	}
	key := func(fn *object.Func) string {
		m := vecABIRE.FindStringSubmatch(fn.Name)
		if m == nil {
			return ""
		}
		return m[1] + map[string]string{"N": "0", "M": "1"}[m[2]]
	}
	sort.SliceStable(vs, func(i, j int) bool { return key(vs[i]) < key(vs[j]) })
	n, err := strconv.Atoi(num)
	for _, v := range vs {
		if key(v) == "" {
			return vs
		}
	}
	if err != nil || n >= len(vs) || len(vs) != simdClones(f, base) {
		return vs
	}
	return vs[n : n+1]
}

// simdClones counts the vector-ABI variants GCC numbered for base: one
// per distinct ISA letter and mask, which is what the object must hold
// for the numbering to be trusted.
func simdClones(f *object.File, base string) int {
	seen := map[string]bool{}
	for i := range f.Funcs {
		name := f.Funcs[i].Name
		if m := vecABIRE.FindStringSubmatch(name); m != nil && strings.HasSuffix(name, "_"+base) {
			seen[m[1]+m[2]] = true
		}
	}
	return len(seen)
}

// notEmittedWhy explains, from the dump, why a node has no symbol.
func notEmittedWhy(g *Graph, id NodeID) string {
	out := g.Out(id)
	var inl, clones []string
	for _, e := range out {
		if e.To == id {
			continue
		}
		if e.Kind == ipadump.Inline {
			inl = append(inl, e.To.Name)
		} else {
			clones = append(clones, e.To.Name)
		}
	}
	switch {
	case len(clones) > 0 && len(inl) > 0:
		return fmt.Sprintf("replaced by its clones (%s) and inlined into %s", strings.Join(clones, ", "), functions(len(inl)))
	case len(clones) > 0:
		return "replaced by its clones: " + strings.Join(clones, ", ")
	case len(inl) > 0:
		return fmt.Sprintf("inlined everywhere (into %s)", functions(len(inl)))
	}
	if n, ok := g.Node(id); ok && n.Removed {
		return "removed by the compiler"
	}
	return "no symbol of this name in the object"
}

func functions(n int) string {
	if n == 1 {
		return "1 function"
	}
	return strconv.Itoa(n) + " functions"
}
