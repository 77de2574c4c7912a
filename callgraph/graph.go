package callgraph

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/klp-audit/klp-audit/ipadump"
)

// NodeID identifies a function in one translation unit.
type NodeID struct {
	Name string // assembler name
	TU   string // translation unit (object path, or LTO program)
}

func (id NodeID) String() string { return id.Name + " (" + id.TU + ")" }

// EdgeKind is the transformation an edge records. It is the dump's
// transformation: Inline, ConstProp, ISRA, Part, SimdClone, Null or Unknown.
type EdgeKind = ipadump.Transform

// Node is a function in one translation unit.
type Node struct {
	ID NodeID
	// File, Line and Col locate the declaration, as the first dump line
	// naming the node gave it.
	File      string
	Line, Col int
	// Files lists the distinct declaration files seen for the node when
	// there is more than one; nil otherwise. More than one happens in LTO
	// programs (same-named statics of two source files): the node then
	// stands for several functions.
	Files []string
	// CloneOf lists the transformations by which GCC created this node as a
	// copy of another function (constprop, isra, ...). Empty for functions
	// written in the source. An "inlining to" edge never changes it.
	CloneOf []EdgeKind
	// Removed says the dumps record the removal of every copy of the node
	// they mention. Dumps omit many removals; only the object's symbol
	// table says what exists.
	Removed bool
	// LTO marks nodes of a link-time optimised program.
	LTO bool
}

// Edge says that To contains the code of From.
type Edge struct {
	From, To NodeID
	Kind     EdgeKind
	Unknown  string      // the raw suffix when Kind is Unknown
	Evidence ipadump.Pos // the first dump line recording the edge
	Count    int         // how many dump lines record it
}

// edge is the compact form of an Edge kept for the whole build.
type edge struct {
	from, to   int32
	kind       EdgeKind
	count      int32
	dump, line int32 // first evidence: g.dumps[dump], line
	raw        string
}

// edge returns the public form of edge e.
func (g *Graph) edge(e int32) Edge {
	ed := &g.edges[e]
	return Edge{
		From: g.nodes[ed.from].ID, To: g.nodes[ed.to].ID, Kind: ed.kind, Unknown: ed.raw,
		Evidence: ipadump.Pos{Dump: g.dumps[ed.dump], Line: int(ed.line)}, Count: int(ed.count),
	}
}

// TU describes one translation unit and the evidence read for it.
type TU struct {
	Name      string
	Dumps     []string // dump files read
	Object    string   // paired object or program path
	HasObject bool
	LTO       bool
}

// Graph is the clone graph of a whole build. Nodes are kept in flat
// slices with integer ids; the zero value is not usable: see Builder.
// A graph LoadPartial returned reads units in as questions need them; a
// Graph is safe for concurrent use either way.
type Graph struct {
	// mu guards the node and edge tables below (not tus and tuIdx,
	// which are complete from the start) while units are read in. Public
	// methods take it; the unexported helpers expect it held, and
	// nothing that holds it calls a method that takes it.
	mu      sync.RWMutex
	partial *partial // nil when every unit is read

	nodes  []Node
	index  map[string]map[string]int32 // TU -> name -> node
	byName map[string][]int32
	edges  []edge
	dumps  []string  // dump paths, indexed by edge.dump
	out    [][]int32 // edge indices by From node
	in     [][]int32 // edge indices by To node
	tus    []TU
	tuIdx  map[string]int
	stats  Stats
}

// Stats counts what the graph was built from.
type Stats struct {
	Dumps   int
	Records int
	Clones  int // clone records
	Removes int // removal records
}

// Stats returns the input counts (for a partial graph, Load's: every
// dump is counted when first searched).
func (g *Graph) Stats() Stats {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.stats
}

func (g *Graph) lookup(id NodeID) (int32, bool) {
	i, ok := g.index[id.TU][id.Name]
	return i, ok
}

// DeclFiles returns every declaration file of the node: File, or Files
// when there are several.
func (n *Node) DeclFiles() []string {
	if n.Files != nil {
		return n.Files
	}
	return []string{n.File}
}

// Len returns the number of nodes.
func (g *Graph) Len() int {
	g.ensureAll()
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.nodes)
}

// NumEdges returns the number of distinct edges.
func (g *Graph) NumEdges() int {
	g.ensureAll()
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.edges)
}

// Node returns the node with the given id. The node must not be changed.
func (g *Graph) Node(id NodeID) (*Node, bool) {
	g.ensure(id.TU)
	g.mu.RLock()
	defer g.mu.RUnlock()
	i, ok := g.lookup(id)
	if !ok {
		return nil, false
	}
	// Reading units in may move the table; a node itself never changes
	// once its unit is read, so the pointer stays good.
	return &g.nodes[i], true
}

// Lookup returns every node named name, in all translation units, sorted by TU.
func (g *Graph) Lookup(name string) []NodeID {
	g.ensureName(name)
	g.mu.RLock()
	defer g.mu.RUnlock()
	idx := g.byName[name]
	out := make([]NodeID, len(idx))
	for i, n := range idx {
		out[i] = g.nodes[n].ID
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TU < out[j].TU })
	return out
}

// Names returns every distinct function name, sorted.
func (g *Graph) Names() []string {
	g.ensureAll()
	g.mu.RLock()
	out := make([]string, 0, len(g.byName))
	for n := range g.byName {
		out = append(out, n)
	}
	g.mu.RUnlock()
	sort.Strings(out)
	return out
}

// TUs returns the translation units of the build, sorted by name: every
// unit given to Load or LoadPartial (a partial graph's units not read
// yet included).
func (g *Graph) TUs() []TU { return g.tus }

// TU returns the translation unit named name.
func (g *Graph) TU(name string) (TU, bool) {
	i, ok := g.tuIdx[name]
	if !ok {
		return TU{}, false
	}
	return g.tus[i], true
}

// Out returns the edges leaving id: the functions that contain id's code.
func (g *Graph) Out(id NodeID) []Edge { return g.edgesOf(id, true) }

// In returns the edges entering id: the functions whose code id contains.
func (g *Graph) In(id NodeID) []Edge { return g.edgesOf(id, false) }

func (g *Graph) edgesOf(id NodeID, out bool) []Edge {
	g.ensure(id.TU)
	g.mu.RLock()
	defer g.mu.RUnlock()
	i, ok := g.lookup(id)
	if !ok {
		return nil
	}
	adj := g.in
	if out {
		adj = g.out
	}
	edges := make([]Edge, len(adj[i]))
	for k, e := range adj[i] {
		edges[k] = g.edge(e)
	}
	return edges
}

// String returns a sorted, deterministic dump of the graph for golden tests.
func (g *Graph) String() string {
	g.ensureAll()
	g.mu.RLock()
	defer g.mu.RUnlock()
	var b strings.Builder
	ids := make([]int, len(g.nodes))
	for i := range ids {
		ids[i] = i
	}
	sort.Slice(ids, func(i, j int) bool { return less(g.nodes[ids[i]].ID, g.nodes[ids[j]].ID) })
	for _, i := range ids {
		n := &g.nodes[i]
		fmt.Fprintf(&b, "node %s %s:%d:%d", n.ID, n.File, n.Line, n.Col)
		for _, k := range n.CloneOf {
			fmt.Fprintf(&b, " clone-of:%s", kindName(k, ""))
		}
		if n.Removed {
			b.WriteString(" removed")
		}
		if n.LTO {
			b.WriteString(" lto")
		}
		b.WriteByte('\n')
		for _, e := range g.out[i] {
			ed := g.edge(e)
			fmt.Fprintf(&b, "  -%s-> %s  [%s x%d]\n", kindName(ed.Kind, ed.Unknown), ed.To, ed.Evidence, ed.Count)
		}
	}
	return b.String()
}

func less(a, b NodeID) bool {
	if a.TU != b.TU {
		return a.TU < b.TU
	}
	return a.Name < b.Name
}

func lessEdge(a, b Edge) bool {
	if a.To != b.To {
		return less(a.To, b.To)
	}
	return a.Kind < b.Kind
}

// KindName returns the name used for an edge kind in output: "inlined",
// "constprop", "isra", "part", "simdclone", "copy" for GCC's "(null)", and
// the raw suffix for unknown kinds.
func KindName(k EdgeKind, raw string) string { return kindName(k, raw) }

func kindName(k EdgeKind, raw string) string {
	switch k {
	case ipadump.Inline:
		return "inlined"
	case ipadump.Null:
		return "copy"
	case ipadump.Unknown:
		if raw == "" {
			return "unknown"
		}
		return "unknown:" + raw
	}
	return k.String()
}
