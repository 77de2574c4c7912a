package callgraph

import (
	"cmp"
	"slices"
	"sort"

	"github.com/klp-audit/klp-audit/ipadump"
)

// Builder turns dump records into a Graph. Nodes and edges are only ever
// created through getOrCreate and addEdge, so merging happens in one place.
type Builder struct {
	g       *Graph
	edgeIdx map[edgeKey]int32
	dumpIdx map[string]int32
	// copies holds, for the dump being added, each (node, order) seen and
	// whether it was removed; state accumulates per node over all dumps.
	copies map[copyKey]uint8
	state  []uint8
	// fixedTUs says the unit table was declared whole before any dump
	// was added (LoadPartial): AddDump leaves it alone.
	fixedTUs bool
	// nodesDone and edgesDone count the nodes and edges finish has
	// settled: a partial graph is finished again after each unit read.
	nodesDone, edgesDone int
	// tables are the nodes and edges AddTable added since the last
	// finish, in order: finished already, finish skips them.
	tables []tableSpan
	// paths backs the first dump path of each unit (growTUs).
	paths []string
	// noByName leaves the graph's index by name empty (TableOf, whose
	// graph is only read for its tables).
	noByName bool
}

type edgeKey struct {
	from, to int32
	kind     EdgeKind
	raw      string
}

// copyKey is one copy of a node in one dump: GCC's order numbers tell the
// copies apart (a recursive-inlining copy of walk is "walk" again).
type copyKey struct{ node, order int32 }

const (
	copySeen    = 1
	copyRemoved = 2
)

// maxSizeHint is the largest dump size NewBuilderSize preallocates for:
// four times kernel/ and mm/ (16 MiB of dumps), about 30 MB of tables.
const maxSizeHint = 64 << 20

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder { return NewBuilderSize(0) }

// NewBuilderSize returns an empty Builder sized for dumps of about the
// given total size in bytes, so that its tables do not regrow while
// loading (a kernel has about one node per 350 bytes of dump). The size
// is a hint taken from file sizes, which a sparse or hostile file can make
// anything: beyond maxSizeHint the tables start at that size and grow.
func NewBuilderSize(dumpBytes int64) *Builder { return newBuilder(dumpBytes, 0, 0) }

// newBuilder is NewBuilderSize, the tables sized also for tables of
// tableNodes nodes and tableEdges edges (AddTable), which need no map
// of edges.
func newBuilder(dumpBytes int64, tableNodes, tableEdges int) *Builder {
	dumpBytes = min(max(dumpBytes, 0), maxSizeHint)
	nodes := int(dumpBytes / 350)
	edges := int(dumpBytes / 200)
	tableNodes, tableEdges = min(tableNodes, maxSizeHint/350), min(tableEdges, maxSizeHint/200)
	return &Builder{
		g: &Graph{
			nodes:  make([]Node, 0, nodes+tableNodes),
			index:  make(map[string]map[string]int32),
			byName: make(map[string][]int32, nodes/2+tableNodes),
			tuIdx:  make(map[string]int),
			edges:  make([]edge, 0, edges+tableEdges),
			out:    make([][]int32, 0, nodes+tableNodes),
			in:     make([][]int32, 0, nodes+tableNodes),
		},
		edgeIdx: make(map[edgeKey]int32, edges),
		copies:  make(map[copyKey]uint8),
		dumpIdx: make(map[string]int32),
		state:   make([]uint8, 0, nodes+tableNodes),
	}
}

// addDumpFile adds d's unit (unless the units are fixed) and d's path,
// once, and returns the path's index.
func (b *Builder) addDumpFile(d ipadump.Dump) int32 {
	if !b.fixedTUs {
		b.addTU(d)
	}
	di, ok := b.dumpIdx[d.Path]
	if !ok {
		di = int32(len(b.g.dumps))
		b.dumpIdx[d.Path] = di
		b.g.dumps = append(b.g.dumps, d.Path)
	}
	return di
}

// AddDump adds the records read from one dump. Records must come from d.
func (b *Builder) AddDump(d ipadump.Dump, recs []ipadump.Record) {
	g := b.g
	g.stats.Dumps++
	di := b.addDumpFile(d)
	lto := d.Kind.LTO()
	names := g.index[d.TU]
	if names == nil {
		names = make(map[string]int32, len(recs))
		g.index[d.TU] = names
	}
	clear(b.copies)
	for i := range recs {
		r := &recs[i]
		g.stats.Records++
		from := b.getOrCreate(names, r.Orig, d.TU, lto)
		if r.Kind == ipadump.Removal {
			g.stats.Removes++
			b.copies[copyKey{from, int32(r.Orig.Order)}] |= copySeen | copyRemoved
			continue
		}
		b.copies[copyKey{from, int32(r.Orig.Order)}] |= copySeen
		g.stats.Clones++
		to := b.getOrCreate(names, r.Clone, d.TU, lto)
		b.copies[copyKey{to, int32(r.Clone.Order)}] |= copySeen
		b.addEdge(from, to, di, r)
	}
	// Orders are numbers of one dump: settle this dump's copies now.
	for k, v := range b.copies {
		if v&copyRemoved != 0 {
			b.state[k.node] |= 2
		} else {
			b.state[k.node] |= 1
		}
	}
}

// addTU records dump d in the table of units: the unit is described by
// the first of its dumps added.
func (b *Builder) addTU(d ipadump.Dump) {
	g := b.g
	ti, ok := g.tuIdx[d.TU]
	if !ok {
		ti = len(g.tus)
		g.tuIdx[d.TU] = ti
		g.tus = append(g.tus, TU{Name: d.TU, Object: d.Object, HasObject: d.HasObject, LTO: d.Kind.LTO()})
	}
	t := &g.tus[ti]
	if t.Dumps == nil && len(b.paths) < cap(b.paths) {
		// One array for the first dumps of all units; a second dump
		// of a unit moves its list out.
		b.paths = append(b.paths, d.Path)
		k := len(b.paths)
		t.Dumps = b.paths[k-1 : k : k]
		return
	}
	t.Dumps = append(t.Dumps, d.Path)
}

// growTUs makes room for n more units.
func (b *Builder) growTUs(n int) {
	g := b.g
	g.tus = slices.Grow(g.tus, n)
	if len(g.tuIdx) == 0 {
		g.tuIdx = make(map[string]int, n)
	}
	b.paths = make([]string, 0, n)
}

// getOrCreate returns the node named d.Name in tu, whose name index is
// names, creating it on first sight.
func (b *Builder) getOrCreate(names map[string]int32, d ipadump.Decl, tu string, lto bool) int32 {
	g := b.g
	if i, ok := names[d.Name]; ok {
		n := &g.nodes[i]
		if d.File != n.File && !contains(n.Files, d.File) {
			if n.Files == nil {
				n.Files = []string{n.File}
			}
			n.Files = append(n.Files, d.File)
		}
		return i
	}
	i := int32(len(g.nodes))
	g.nodes = append(g.nodes, Node{ID: NodeID{Name: d.Name, TU: tu}, File: d.File, Line: d.Line, Col: d.Col, LTO: lto})
	b.state = append(b.state, 0)
	names[d.Name] = i
	if !b.noByName {
		g.byName[d.Name] = append(g.byName[d.Name], i)
	}
	return i
}

func (b *Builder) addEdge(from, to, dump int32, r *ipadump.Record) {
	g := b.g
	k := edgeKey{from, to, r.Transform, r.Suffix}
	if e, ok := b.edgeIdx[k]; ok {
		g.edges[e].count++
		return
	}
	b.edgeIdx[k] = int32(len(g.edges))
	g.edges = append(g.edges, edge{
		from: from, to: to, kind: r.Transform, raw: r.Suffix,
		dump: dump, line: int32(r.Pos.Line), count: 1,
	})
	// A clone line makes To a copy of From; a later "inlining to" line
	// naming To again (GCC re-registers clones that way) does not undo it.
	if r.Transform != ipadump.Inline && from != to {
		n := &g.nodes[to]
		if !containsKind(n.CloneOf, r.Transform) {
			n.CloneOf = append(n.CloneOf, r.Transform)
		}
	}
}

// Graph finishes the build and returns the graph. The Builder must not be
// used afterwards.
func (b *Builder) Graph() *Graph {
	g := b.g
	b.finish()
	b.sortTUs()
	b.g, b.copies, b.edgeIdx, b.state = nil, nil, nil, nil
	return g
}

// finish settles the nodes and edges added since the last finish: each
// node's removal and clone kinds, and the sorted adjacency. Edges join
// nodes of one unit and a unit is added at once, so a finished node
// never gets a new edge.
func (b *Builder) finish() {
	g := b.g
	nodes := b.unfinished(b.nodesDone, len(g.nodes), func(s tableSpan) (int, int) { return s.nodeLo, s.nodeHi })
	edges := b.unfinished(b.edgesDone, len(g.edges), func(s tableSpan) (int, int) { return s.edgeLo, s.edgeHi })
	// Removal: a node is removed when every copy the dumps mention is
	// (state bit 0: some copy kept, bit 1: some copy removed).
	for _, r := range nodes {
		for i := r[0]; i < r[1]; i++ {
			n := &g.nodes[i]
			n.Removed = b.state[i] == 2
			if len(n.CloneOf) == 0 {
				// A clone whose creating line is in no dump read (e.g. only
				// its inlining is recorded): its name still says what it is.
				if _, kinds, last := ipadump.CloneName(n.ID.Name); last {
					n.CloneOf = []EdgeKind{kinds[len(kinds)-1]}
				}
			}
			sort.Strings(n.Files)
		}
	}
	// Deterministic adjacency: by target, then kind.
	for len(g.out) < len(g.nodes) {
		g.out = append(g.out, nil)
		g.in = append(g.in, nil)
	}
	var old []int32 // finished nodes given an edge: none when units come whole
	for _, r := range edges {
		for e := r[0]; e < r[1]; e++ {
			ed := &g.edges[e]
			g.out[ed.from] = append(g.out[ed.from], int32(e))
			g.in[ed.to] = append(g.in[ed.to], int32(e))
			for _, n := range [2]int32{ed.from, ed.to} {
				if int(n) < b.nodesDone && !slices.Contains(old, n) {
					old = append(old, n)
				}
			}
		}
	}
	sortAdj := func(i int32) {
		sortEdges(g, g.out[i], func(e *edge) int32 { return e.to })
		sortEdges(g, g.in[i], func(e *edge) int32 { return e.from })
	}
	for _, r := range nodes {
		for i := r[0]; i < r[1]; i++ {
			sortAdj(int32(i))
		}
	}
	for _, i := range old {
		sortAdj(i)
	}
	b.nodesDone, b.edgesDone = len(g.nodes), len(g.edges)
	b.tables = b.tables[:0]
}

// unfinished returns the ranges of [from, to) that AddTable did not add
// (span gives a table's range), in order.
func (b *Builder) unfinished(from, to int, span func(tableSpan) (int, int)) [][2]int {
	var out [][2]int
	for _, s := range b.tables {
		lo, hi := span(s)
		if lo > from {
			out = append(out, [2]int{from, lo})
		}
		from = max(from, hi)
	}
	if from < to {
		out = append(out, [2]int{from, to})
	}
	return out
}

// sortTUs sorts the unit table by name, and each unit's dumps.
func (b *Builder) sortTUs() {
	g := b.g
	sort.Slice(g.tus, func(i, j int) bool { return g.tus[i].Name < g.tus[j].Name })
	for i, t := range g.tus {
		g.tuIdx[t.Name] = i
		sort.Strings(g.tus[i].Dumps)
	}
}

// sortEdges orders edge indices by the node key picks (by TU, then name),
// then kind, so traversal and output never depend on input order.
func sortEdges(g *Graph, idx []int32, key func(*edge) int32) {
	if len(idx) < 2 {
		return
	}
	slices.SortFunc(idx, func(i, j int32) int {
		a, b := &g.edges[i], &g.edges[j]
		ka, kb := key(a), key(b)
		if ka != kb {
			if c := cmp.Compare(g.nodes[ka].ID.TU, g.nodes[kb].ID.TU); c != 0 {
				return c
			}
			return cmp.Compare(g.nodes[ka].ID.Name, g.nodes[kb].ID.Name)
		}
		return cmp.Compare(a.kind, b.kind)
	})
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func containsKind(xs []EdgeKind, k EdgeKind) bool {
	for _, x := range xs {
		if x == k {
			return true
		}
	}
	return false
}
