package callgraph

import (
	"fmt"
	"sort"
	"strings"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/ipadump"
)

// InlinePair is one inlining: Inlined's code sits in the symbol Into.
type InlinePair struct {
	Inlined string `json:"inlined" yaml:"inlined"`
	Into    string `json:"into" yaml:"into"`
}

// InliningCheck compares where DWARF says code was inlined
// (DW_TAG_inlined_subroutine) with the dump's "inlining to" records.
type InliningCheck struct {
	TU      string `json:"translation_unit" yaml:"translation_unit"`
	Object  string `json:"object" yaml:"object"`
	Checked int    `json:"checked" yaml:"checked"`
	// NotInDump: DWARF shows Inlined's code in Into, but the clone graph
	// has no path from Inlined to Into: an answer from the dump alone
	// would miss Into.
	NotInDump []InlinePair `json:"not_in_dump" yaml:"not_in_dump"`
	// NotInDWARF: the dump records Inlined inlined into Into, a symbol of
	// the object, but Into's DWARF has no inlined copy of it: the copy was
	// optimised away after inlining, or DWARF is incomplete.
	NotInDWARF []InlinePair `json:"not_in_dwarf" yaml:"not_in_dwarf"`
}

// baseName strips GCC's clone suffixes: DWARF names an inlined clone by
// its origin (foo for foo.constprop.0).
func baseName(name string) string {
	for {
		i := strings.LastIndex(name, ".")
		if i < 0 {
			return name
		}
		rest := name[:i]
		j := strings.LastIndex(rest, ".")
		if j < 0 {
			return name
		}
		switch rest[j+1:] {
		case "constprop", "isra", "part", "cold", "simdclone", "lto_priv":
			name = rest[:j]
		default:
			return name
		}
	}
}

// CompareInlining checks the dump of unit tu against the DWARF of its
// object, both ways.
func (o *Objects) CompareInlining(tu string) (*InliningCheck, error) {
	t, ok := o.g.TU(tu)
	if !ok || !t.HasObject {
		return nil, fmt.Errorf("%s: no object to read", tu)
	}
	in, err := dwarfinfo.Inlines(t.Object)
	if err != nil {
		return nil, err
	}
	return o.compareInlining(tu, t.Object, in), nil
}

// compareInlining is CompareInlining over the DWARF already read.
func (o *Objects) compareInlining(tu, object string, in *dwarfinfo.Inlining) *InliningCheck {
	c := &InliningCheck{TU: tu, Object: object}
	reach := map[string]map[string]bool{}
	reached := func(x string) map[string]bool {
		if r, ok := reach[x]; ok {
			return r
		}
		r := o.g.reachIn(tu, x)
		reach[x] = r
		return r
	}
	inDWARF := map[string]map[string]bool{} // symbol -> base names inlined in it
	for _, f := range in.Funcs {
		if f.NoSymbol {
			continue
		}
		set := map[string]bool{}
		for _, il := range f.Inlined {
			set[baseName(il.Name)] = true
			c.Checked++
			r := reached(il.Name)
			if !r[f.Symbol] && !holdsAny(r, f.Symbol, f.Pieces) {
				c.NotInDump = append(c.NotInDump, InlinePair{il.Name, f.Symbol})
			}
		}
		inDWARF[f.Symbol] = set
		for _, a := range f.Aliases {
			inDWARF[a] = set
		}
	}
	for _, e := range o.g.edgesOfTU(tu) {
		if e.Kind != ipadump.Inline || e.From.Name == e.To.Name {
			continue
		}
		set, emitted := inDWARF[e.To.Name]
		if !emitted {
			continue // not a symbol: inlined further, checked there
		}
		if !set[baseName(e.From.Name)] {
			c.NotInDWARF = append(c.NotInDWARF, InlinePair{e.From.Name, e.To.Name})
		}
	}
	sortPairs(c.NotInDump)
	sortPairs(c.NotInDWARF)
	return c
}

func holdsAny(r map[string]bool, sym string, pieces []string) bool {
	for _, p := range pieces {
		if r[p] {
			return true
		}
	}
	return false
}

func sortPairs(ps []InlinePair) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Into != ps[j].Into {
			return ps[i].Into < ps[j].Into
		}
		return ps[i].Inlined < ps[j].Inlined
	})
}

// reachIn returns the names of the nodes of unit tu that hold x's code:
// x itself and every node its out-edges lead to, transitively (the
// nodes Impacted lists for x's copy in tu, without the chains).
func (g *Graph) reachIn(tu, x string) map[string]bool {
	g.ensure(tu)
	g.mu.RLock()
	defer g.mu.RUnlock()
	r := map[string]bool{x: true}
	start, ok := g.lookup(NodeID{Name: x, TU: tu})
	if !ok {
		return r
	}
	seen := map[int32]bool{start: true}
	stack := []int32{start}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		r[g.nodes[i].ID.Name] = true
		for _, e := range g.out[i] {
			if to := g.edges[e].to; !seen[to] {
				seen[to] = true
				stack = append(stack, to)
			}
		}
	}
	return r
}

// edgesOfTU returns the edges between nodes of unit tu.
func (g *Graph) edgesOfTU(tu string) []Edge {
	g.ensure(tu)
	g.mu.RLock()
	defer g.mu.RUnlock()
	var out []Edge
	for _, i := range g.index[tu] {
		for _, e := range g.out[i] {
			out = append(out, g.edge(e))
		}
	}
	return out
}

// objectUnitDump is the dump a unit without one is added as: its DWARF.
func objectUnitDump(tu, object string) ipadump.Dump {
	return ipadump.Dump{Path: object + " (DWARF)", Kind: ipadump.UnitDump, TU: tu, Object: object, HasObject: true}
}

// AddObjectInlining adds a unit that has no dump, taking its inlining from
// its object's DWARF: one "inlining to" edge per inlined copy, from the
// inlined function to the symbol whose code holds it, citing the object.
// A clone's code (big.constprop.0, whose DWARF origin is big) gets one
// edge from its origin, of the kind its name's first suffix says.
// This is how a clang build, or a gcc build without -fdump-ipa-clones, gets
// a clone graph; DWARF shows clones only by their symbols' names and does
// not say which copies were made and then inlined away, so such a graph
// is weaker than a dump's.
func (b *Builder) AddObjectInlining(tu, object string, in *dwarfinfo.Inlining) {
	d := objectUnitDump(tu, object)
	var recs []ipadump.Record
	for _, f := range in.Funcs {
		if f.NoSymbol {
			continue
		}
		if base, kinds, _ := ipadump.CloneName(f.Symbol); len(kinds) > 0 && f.Origin != "" && f.Origin != f.Symbol && base == f.Origin {
			recs = append(recs, ipadump.Record{
				Kind: ipadump.Clone, Transform: kinds[0],
				Orig:  ipadump.Decl{Name: f.Origin},
				Clone: ipadump.Decl{Name: f.Symbol},
				Pos:   ipadump.Pos{Dump: object, DWARF: true},
			})
		}
		for _, il := range f.Inlined {
			recs = append(recs, ipadump.Record{
				Kind: ipadump.Clone, Transform: ipadump.Inline,
				Orig:  ipadump.Decl{Name: il.Name, File: il.DeclFile, Line: il.DeclLine},
				Clone: ipadump.Decl{Name: f.Symbol},
				Pos:   ipadump.Pos{Dump: object, Line: il.Line, DWARF: true},
			})
		}
	}
	b.AddDump(d, recs)
}
