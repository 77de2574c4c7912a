package callgraph

import (
	"github.com/klp-audit/klp-audit/ipadump"
)

// TableVersion numbers what TableOf makes of a dump's records. Raise it
// whenever the Builder's graph of the same records changes (Removed,
// CloneOf, edge kinds, order): an index keeping tables of another
// version is refused (index.Version) and built again, never read.
const TableVersion = 1

// DumpTable is the finished graph of one dump read alone: its nodes and
// edges in the order a Builder creates them, each node's edges in the
// graph's order, and the dump's record counts. A unit whose only dump is
// d is the graph TableOf(d, recs) holds, so the persistent index keeps it
// and a Builder adds it (AddTable) in place of the records, without
// AddDump's maps and finish's sorting.
type DumpTable struct {
	// Nodes are the unit's nodes; ID.TU and LTO are the dump's, set by
	// whoever reads the table for a dump (they are not kept).
	Nodes []Node
	Edges []TableEdge
	// Out and In list each node's edges (indexes into Edges), in the
	// order Graph.Out and Graph.In give them.
	Out, In                  [][]int32
	Records, Clones, Removes int
}

// TableEdge is an edge of a DumpTable: From and To index its Nodes, Line
// is the dump line of its first evidence, Count how many lines record it.
type TableEdge struct {
	From, To    int32
	Kind        EdgeKind
	Raw         string // the raw suffix when Kind is Unknown
	Line, Count int32
}

// TableOf returns the graph of dump d read alone from its records recs.
func TableOf(d ipadump.Dump, recs []ipadump.Record) *DumpTable {
	b := NewBuilderSize(int64(len(recs)) * 128)
	b.fixedTUs, b.noByName = true, true
	b.AddDump(d, recs)
	b.finish()
	g := b.g
	t := &DumpTable{Nodes: g.nodes, Edges: make([]TableEdge, len(g.edges)), Out: g.out, In: g.in,
		Records: g.stats.Records, Clones: g.stats.Clones, Removes: g.stats.Removes}
	for i, e := range g.edges {
		t.Edges[i] = TableEdge{From: e.from, To: e.to, Kind: e.kind, Raw: e.raw, Line: e.line, Count: e.count}
	}
	return t
}

// tableSpan is the nodes and edges AddTable added: finished already.
type tableSpan struct{ nodeLo, nodeHi, edgeLo, edgeHi int }

// AddTable adds dump d by its table t (TableOf(d, recs) for d's records,
// with ID.TU and LTO d's): the graph is the one AddDump(d, recs) builds
// when d is its unit's only dump. It returns false, adding nothing, when
// the unit already has nodes (another dump of it was added): add the
// records then.
func (b *Builder) AddTable(d ipadump.Dump, t *DumpTable) bool {
	g := b.g
	if _, ok := g.index[d.TU]; ok {
		return false
	}
	g.stats.Dumps++
	g.stats.Records += t.Records
	g.stats.Clones += t.Clones
	g.stats.Removes += t.Removes
	di := b.addDumpFile(d)
	base, ebase := int32(len(g.nodes)), int32(len(g.edges))
	names := make(map[string]int32, len(t.Nodes))
	g.index[d.TU] = names
	// A name's first node takes a one-element slice of one array.
	firsts := make([]int32, len(t.Nodes))
	g.nodes = append(g.nodes, t.Nodes...)
	for i := range t.Nodes {
		n := base + int32(i)
		name := t.Nodes[i].ID.Name
		names[name] = n
		if l, ok := g.byName[name]; ok {
			g.byName[name] = append(l, n)
		} else {
			firsts[i] = n
			g.byName[name] = firsts[i : i+1 : i+1]
		}
	}
	b.state = append(b.state, make([]uint8, len(t.Nodes))...)
	for _, e := range t.Edges {
		g.edges = append(g.edges, edge{from: base + e.From, to: base + e.To, kind: e.Kind, raw: e.Raw,
			dump: di, line: e.Line, count: e.Count})
	}
	// Nodes added before and not finished yet get their lists in finish.
	for len(g.out) < int(base) {
		g.out = append(g.out, nil)
		g.in = append(g.in, nil)
	}
	adj := make([]int32, 0, 2*len(t.Edges))
	lists := func(ls [][]int32, into [][]int32) [][]int32 {
		for _, l := range ls {
			var s []int32
			if len(l) > 0 {
				lo := len(adj)
				for _, e := range l {
					adj = append(adj, ebase+e)
				}
				s = adj[lo:len(adj):len(adj)]
			}
			into = append(into, s)
		}
		return into
	}
	g.out = lists(t.Out, g.out)
	g.in = lists(t.In, g.in)
	b.tables = append(b.tables, tableSpan{int(base), len(g.nodes), int(ebase), len(g.edges)})
	return true
}
