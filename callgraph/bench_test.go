package callgraph

import (
	"os"
	"strings"
	"testing"

	"github.com/dominikbraun/graph"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/ipadump"
)

func kernelDumps(tb testing.TB) []ipadump.Dump {
	dir := fixture.KernelTree(tb)
	all, err := ipadump.Discover(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var ds []ipadump.Dump
	for _, d := range all {
		if strings.HasPrefix(d.TU, "kernel/") || strings.HasPrefix(d.TU, "mm/") {
			ds = append(ds, d)
		}
	}
	return ds
}

func dumpBytes(ds []ipadump.Dump) int64 {
	var n int64
	for _, d := range ds {
		if st, err := os.Stat(d.Path); err == nil {
			n += st.Size()
		}
	}
	return n
}

// BenchmarkLoadKernel loads the dumps of kernel/ and mm/ into the graph.
func BenchmarkLoadKernel(b *testing.B) {
	ds := kernelDumps(b)
	b.SetBytes(dumpBytes(ds))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(ds, LoadOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImpactedKernel answers impacted for percpu_ref_put_many on a
// loaded kernel graph.
func BenchmarkImpactedKernel(b *testing.B) {
	g, err := Load(kernelDumps(b), LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ids := g.Lookup("percpu_ref_put_many")
	b.ReportAllocs()
	for b.Loop() {
		g.Impacted(ids...)
	}
}

// BenchmarkDominikbraunKernel measures what the whole-build graph would
// cost as a github.com/dominikbraun/graph: the reason Graph keeps its own
// flat index and uses that library only for a query's impact subgraph.
func BenchmarkDominikbraunKernel(b *testing.B) {
	g, err := Load(kernelDumps(b), LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		dg := graph.New(func(id NodeID) NodeID { return id }, graph.Directed())
		for i := range g.nodes {
			_ = dg.AddVertex(g.nodes[i].ID)
		}
		for _, e := range g.edges {
			_ = dg.AddEdge(g.nodes[e.from].ID, g.nodes[e.to].ID)
		}
		if _, err := dg.AdjacencyMap(); err != nil {
			b.Fatal(err)
		}
	}
}
