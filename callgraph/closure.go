package callgraph

import (
	"sort"

	"github.com/dominikbraun/graph"

	"github.com/klp-audit/klp-audit/ipadump"
)

// Reached is one function that carries the code of a queried function.
type Reached struct {
	ID    NodeID
	Depth int // hops from the nearest start node; 0 for a start node
	// Chain is the shortest path of edges from a start node to ID: the
	// reason this function contains the changed code. Empty for a start.
	Chain []Edge
	// InCycle marks nodes on a cycle of the impact graph (recursive
	// inlining, a part inlined back into its parent).
	InCycle bool
}

// Impact is the answer to "which functions contain the code of these".
type Impact struct {
	Starts []NodeID
	// Nodes are sorted by TU, depth and name.
	Nodes []Reached
	// Edges are every edge between reached nodes, sorted: the impact
	// subgraph, of which each Chain is one path.
	Edges []Edge
}

// Impacted returns every node whose code contains the code of a start
// node, transitively through inlining and every clone kind. Traversal is
// breadth-first, so each node's Chain is a shortest reason; cycles end it.
func (g *Graph) Impacted(starts ...NodeID) *Impact {
	const none = -1
	parent := map[int32]int32{} // node -> edge index it was reached by
	depth := map[int32]int{}
	var queue []int32
	res := &Impact{}
	for _, s := range starts {
		i, ok := g.lookup(s)
		if !ok {
			continue
		}
		if _, dup := depth[i]; dup {
			continue
		}
		res.Starts = append(res.Starts, s)
		parent[i] = none
		depth[i] = 0
		queue = append(queue, i)
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, e := range g.out[n] {
			to := g.edges[e].to
			if _, seen := depth[to]; seen {
				continue
			}
			parent[to] = e
			depth[to] = depth[n] + 1
			queue = append(queue, to)
		}
	}
	sub := graph.New(func(id NodeID) NodeID { return id }, graph.Directed())
	for n := range depth {
		_ = sub.AddVertex(g.nodes[n].ID)
	}
	for n := range depth {
		for _, e := range g.out[n] {
			if _, ok := depth[g.edges[e].to]; !ok {
				continue
			}
			ed := g.edge(e)
			res.Edges = append(res.Edges, ed)
			// Parallel edges of other kinds between the same pair are
			// kept in Edges; the subgraph needs one.
			_ = sub.AddEdge(ed.From, ed.To)
		}
	}
	cyclic := map[NodeID]bool{}
	if sccs, err := graph.StronglyConnectedComponents(sub); err == nil {
		for _, c := range sccs {
			if len(c) > 1 {
				for _, id := range c {
					cyclic[id] = true
				}
			}
		}
	}
	// A node inlined into itself is recursive inlining: a cycle. A
	// same-named copy (an LTO ltrans materialisation) is not.
	for _, e := range res.Edges {
		if e.From == e.To && e.Kind == ipadump.Inline {
			cyclic[e.From] = true
		}
	}
	for n, d := range depth {
		r := Reached{ID: g.nodes[n].ID, Depth: d, InCycle: cyclic[g.nodes[n].ID]}
		for at := n; parent[at] != none; {
			e := parent[at]
			r.Chain = append(r.Chain, g.edge(e))
			at = g.edges[e].from
		}
		for i, j := 0, len(r.Chain)-1; i < j; i, j = i+1, j-1 {
			r.Chain[i], r.Chain[j] = r.Chain[j], r.Chain[i]
		}
		res.Nodes = append(res.Nodes, r)
	}
	sort.Slice(res.Nodes, func(i, j int) bool {
		a, b := res.Nodes[i], res.Nodes[j]
		if a.ID.TU != b.ID.TU {
			return a.ID.TU < b.ID.TU
		}
		if a.Depth != b.Depth {
			return a.Depth < b.Depth
		}
		return a.ID.Name < b.ID.Name
	})
	sort.Slice(res.Edges, func(i, j int) bool {
		a, b := res.Edges[i], res.Edges[j]
		if a.From != b.From {
			return less(a.From, b.From)
		}
		return lessEdge(a, b)
	})
	return res
}
