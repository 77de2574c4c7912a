package callgraph

import (
	"slices"
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
	// Its length is Depth.
	Chain Chain
	// Parent is the index in Impact.Nodes of the node Via comes from, the
	// previous node on Chain; -1 for a start. Parents form a tree: a
	// consumer building something per chain can share it with the parent's.
	Parent int
	// Via is the last edge of Chain; zero for a start.
	Via Edge
	// InCycle marks nodes on a cycle of the impact graph (recursive
	// inlining, a part inlined back into its parent).
	InCycle bool
}

// Chain is the reason path of one reached node, ranged over as
//
//	for i, e := range r.Chain { ... } // i = 0 is the step from the start
//
// The traversal keeps one edge per reached node (a predecessor tree), and a
// Chain walks it on demand: an impact of n nodes takes memory linear in n
// however long its chains, where a copied path per node took quadratic
// memory (a linear inline chain of 8,000 edges needed more than 23 GB).
// Consumers that keep every chain whole pay that cost themselves.
type Chain func(yield func(int, Edge) bool)

// Edges returns the chain's edges, from the start node on.
func (c Chain) Edges() []Edge {
	var out []Edge
	if c == nil {
		return nil
	}
	for _, e := range c {
		out = append(out, e)
	}
	return out
}

// noChain is the chain of a start node.
func noChain(func(int, Edge) bool) {}

// chainOf returns the chain of node n in the predecessor tree parent
// (node -> the edge that reached it, none for a start).
func (g *Graph) chainOf(parent map[int32]int32, n int32) Chain {
	if parent[n] < 0 {
		return noChain
	}
	return func(yield func(int, Edge) bool) {
		// The edges are read under the lock, and yielded without it:
		// the consumer may ask the graph more.
		g.mu.RLock()
		var path []Edge
		for at := n; parent[at] >= 0; at = g.edges[parent[at]].from {
			path = append(path, g.edge(parent[at]))
		}
		g.mu.RUnlock()
		for i := range path {
			if !yield(i, path[len(path)-1-i]) {
				return
			}
		}
	}
}

// Chains builds, for every node of imp, a slice of step(e) for each edge
// e of its Chain, in order (nil for a start). A node's slice extends its
// parent's: the first child to extend it does so in the parent's array, so
// a linear chain of n edges takes O(n) memory where copying each path took
// O(n²) (a branch copies the parent's steps once). The slices returned are
// clipped: appending to one copies it and never overwrites another's.
func Chains[T any](imp *Impact, step func(Edge) T) [][]T {
	order := make([]int, len(imp.Nodes))
	for i := range order {
		order[i] = i
	}
	// Parents before children: a parent is one hop closer to a start.
	sort.SliceStable(order, func(a, b int) bool { return imp.Nodes[order[a]].Depth < imp.Nodes[order[b]].Depth })
	grown := make([][]T, len(imp.Nodes)) // unclipped, for the first child
	extended := make([]bool, len(imp.Nodes))
	out := make([][]T, len(imp.Nodes))
	for _, i := range order {
		p := imp.Nodes[i].Parent
		if p < 0 {
			continue
		}
		s := step(imp.Nodes[i].Via)
		if !extended[p] {
			extended[p] = true
			grown[i] = append(grown[p], s)
		} else {
			grown[i] = append(append(make([]T, 0, len(grown[p])+1), grown[p]...), s)
		}
		out[i] = slices.Clip(grown[i])
	}
	return out
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
	// Edges never leave a unit: the starts' units hold the answer.
	tus := make([]string, len(starts))
	for i, s := range starts {
		tus[i] = s.TU
	}
	g.ensure(tus...)
	g.mu.RLock()
	defer g.mu.RUnlock()
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
		r := Reached{ID: g.nodes[n].ID, Depth: d, InCycle: cyclic[g.nodes[n].ID],
			Chain: g.chainOf(parent, n), Parent: int(n)}
		if e := parent[n]; e != none {
			r.Via = g.edge(e)
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
	// Parent held the parent's node index until the sort placed it.
	at := make(map[int32]int, len(res.Nodes))
	for i := range res.Nodes {
		at[int32(res.Nodes[i].Parent)] = i
	}
	for i := range res.Nodes {
		r := &res.Nodes[i]
		if r.Depth == 0 {
			r.Parent = -1
		} else {
			r.Parent = at[g.edges[parent[int32(r.Parent)]].from]
		}
	}
	sort.Slice(res.Edges, func(i, j int) bool {
		a, b := res.Edges[i], res.Edges[j]
		if a.From != b.From {
			return less(a.From, b.From)
		}
		return lessEdge(a, b)
	})
	return res
}
