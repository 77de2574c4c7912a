package rules_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/rules"
)

// TestContainmentChainsLinear: the containment steps of every function on
// an 8,000-edge linear inline chain take memory linear in the chain (a
// copied chain per function took gigabytes), and each equals the
// function's own chain in the graph.
func TestContainmentChainsLinear(t *testing.T) {
	const n = 8000
	b := callgraph.NewBuilder()
	var recs []ipadump.Record
	dump := "x.c.000i.ipa-clones"
	for i := 0; i < n; i++ {
		recs = append(recs, ipadump.Record{Kind: ipadump.Clone, Transform: ipadump.Inline,
			Pos:   ipadump.Pos{Dump: dump, Line: i + 1},
			Orig:  ipadump.Decl{Name: fmt.Sprint("f", i), Order: i + 1, File: "x.c", Line: i + 1},
			Clone: ipadump.Decl{Name: fmt.Sprint("f", i+1), Order: i + 2, File: "x.c", Line: i + 2}})
	}
	// A branch: f0 is also inlined into g, so f0's chain is shared twice.
	recs = append(recs, ipadump.Record{Kind: ipadump.Clone, Transform: ipadump.Inline,
		Pos:  ipadump.Pos{Dump: dump, Line: n + 1},
		Orig: ipadump.Decl{Name: "f0", Order: 1, File: "x.c"}, Clone: ipadump.Decl{Name: "g", Order: n + 5, File: "x.c"}})
	b.AddDump(ipadump.Dump{Path: dump, Kind: ipadump.UnitDump, TU: "x.o"}, recs)
	g := b.Graph()
	imp := g.Impacted(callgraph.NodeID{Name: "f0", TU: "x.o"})
	var chains [][]rules.Step
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	chains = rules.ContainmentChains(imp, rules.Must)
	runtime.ReadMemStats(&after)
	if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 200 {
		t.Fatalf("chains of %d functions allocated %d MB, want < 200", len(imp.Nodes), mb)
	}
	// Every chain equals the graph's (checked on a sample: all would
	// be quadratic time).
	for i, r := range imp.Nodes {
		if i%500 != 0 && r.ID.Name != "g" && i != len(imp.Nodes)-1 {
			continue
		}
		want := r.Chain.Edges()
		got := chains[i]
		if len(got) != len(want) || cap(got) != len(got) {
			t.Fatalf("%v: %d steps (cap %d), want %d", r.ID, len(got), cap(got), len(want))
		}
		for j, e := range want {
			s := got[j]
			if s.From != e.From.Name || s.To != e.To.Name || s.TU != e.From.TU || s.How != "inlined" ||
				s.Rule != rules.Containment || s.Evidence != e.Evidence.String() {
				t.Fatalf("%v: step %d %+v, want %+v", r.ID, j, s, e)
			}
		}
	}
	// Appending to a handed-out chain never touches another's steps.
	for i, r := range imp.Nodes {
		if r.ID.Name == "f1" {
			_ = append(chains[i], rules.Step{From: "x"})
		}
	}
	for i, r := range imp.Nodes {
		if r.ID.Name == "f2" && (len(chains[i]) != 2 || strings.Contains(chains[i][1].From, "x")) {
			t.Fatalf("f2's chain %+v", chains[i])
		}
	}
}
