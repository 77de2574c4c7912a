package driver

import (
	"bytes"
	"io"
	"runtime"
	"sort"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/internal/par"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/report"
)

// allFunctionsBatch is how many units AllFunctions answers for at once:
// their graphs and answers are all that is held.
const allFunctionsBatch = 64

// AllFunctions answers, from the dumps alone, for every function of every
// unit with a dump, what kgraft-analysis-tool prints for every symbol:
// the functions holding its code, as a tree (report.FunctionLine: the
// entries of "impacted --func F --tu TU --dumps-only", each naming the
// function it got the code from instead of repeating the whole chain).
// Each is written to w as one line of JSON (JSON Lines), units in order,
// functions by name. Units are read one
// batch at a time (clones and inlining never leave a unit), so memory
// stays that of a batch; with an index their records come from it. It
// returns how many answers it wrote.
func AllFunctions(o Options, w io.Writer) (int, error) {
	s, err := load(o, true, nil)
	if err != nil {
		return 0, err
	}
	byTU := map[string][]ipadump.Dump{}
	var tus []string
	for _, d := range s.dumps {
		if byTU[d.TU] == nil {
			tus = append(tus, d.TU)
		}
		byTU[d.TU] = append(byTU[d.TU], d)
	}
	lopts := callgraph.LoadOptions{StripPrefixes: s.opts.StripPrefixes, Dumps: s.dumpStore(), Workers: 1}
	n := 0
	outs := make([]bytes.Buffer, allFunctionsBatch)
	counts := make([]int, allFunctionsBatch)
	for start := 0; start < len(tus); start += allFunctionsBatch {
		batch := tus[start:min(start+allFunctionsBatch, len(tus))]
		par.Each(len(batch), max(2, runtime.GOMAXPROCS(0)), func(i int) {
			outs[i].Reset()
			counts[i] = answerUnit(byTU[batch[i]], lopts, &outs[i])
		})
		for i := range batch {
			if _, err := w.Write(outs[i].Bytes()); err != nil {
				return n, err
			}
			n += counts[i]
		}
	}
	return n, nil
}

// answerUnit writes the answer for every function of one unit. The
// closure of each is g.Impacted's (breadth first over the unit's edges,
// in their order, so each holder's From is the one Impacted's chain
// gives), with the unit's adjacency and cycles found once for all its
// functions rather than once per function.
func answerUnit(dumps []ipadump.Dump, lopts callgraph.LoadOptions, w *bytes.Buffer) int {
	g, _ := callgraph.Load(dumps, lopts) // the load's problems are the session's
	tu := dumps[0].TU
	paths := make([]string, len(dumps))
	dumpIdx := map[string]int{}
	for i, d := range dumps {
		paths[i] = d.Path
		dumpIdx[d.Path] = i
	}
	names := g.Names()
	num := make(map[string]int, len(names))
	for i, n := range names {
		num[n] = i
	}
	nodes := make([]*callgraph.Node, len(names))
	adj := make([][]callgraph.Edge, len(names))
	cyc := make([]bool, len(names))
	for i, n := range names {
		id := callgraph.NodeID{Name: n, TU: tu}
		nodes[i], _ = g.Node(id)
		adj[i] = g.Out(id)
		for _, e := range adj[i] {
			if e.From == e.To && e.Kind == ipadump.Inline {
				cyc[i] = true
			}
		}
	}
	for _, c := range sccs(len(names), func(i int) []int {
		out := make([]int, 0, len(adj[i]))
		for _, e := range adj[i] {
			out = append(out, num[e.To.Name])
		}
		return out
	}) {
		if len(c) > 1 {
			for _, i := range c {
				cyc[i] = true
			}
		}
	}
	n := 0
	depth := make([]int, len(names))
	via := make([]int, len(names)) // the edge index in adj[parent]
	parent := make([]int, len(names))
	for i := range depth {
		depth[i] = -1
	}
	var reached []int
	for start, name := range names {
		node := nodes[start]
		if node == nil {
			continue
		}
		l := report.FunctionLine{SchemaVersion: report.SchemaVersion, Function: name, TU: tu, SourceFile: node.File,
			SourceLine: node.Line, Removed: node.Removed, Dumps: paths, Holding: []report.Holder{}}
		reached = append(reached[:0], start)
		depth[start] = 0
		for q := 0; q < len(reached); q++ {
			x := reached[q]
			for k, e := range adj[x] {
				to := num[e.To.Name]
				if depth[to] >= 0 {
					continue
				}
				depth[to], parent[to], via[to] = depth[x]+1, x, k
				reached = append(reached, to)
			}
		}
		hs := reached[1:]
		sort.Slice(hs, func(a, b int) bool {
			if depth[hs[a]] != depth[hs[b]] {
				return depth[hs[a]] < depth[hs[b]]
			}
			return names[hs[a]] < names[hs[b]]
		})
		for _, r := range hs {
			e := adj[parent[r]][via[r]]
			h := report.Holder{Name: names[r], From: e.From.Name, How: callgraph.KindName(e.Kind, e.Unknown),
				Depth: depth[r], DumpLine: e.Evidence.Line, Dump: dumpIdx[e.Evidence.Dump], InCycle: cyc[r]}
			if nodes[r] != nil {
				h.Removed = nodes[r].Removed
			}
			l.Holding = append(l.Holding, h)
		}
		for _, r := range reached {
			depth[r] = -1
		}
		if err := report.RenderFunctionLine(w, &l); err == nil {
			n++
		}
	}
	return n
}

// sccs returns the strongly connected components of the graph of n
// vertices whose successors succ gives (Tarjan's algorithm, iterative).
func sccs(n int, succ func(int) []int) [][]int {
	index := make([]int, n)
	low := make([]int, n)
	on := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var out [][]int
	next := 0
	type frame struct {
		v, i int
		s    []int
	}
	for root := 0; root < n; root++ {
		if index[root] >= 0 {
			continue
		}
		frames := []frame{{v: root, s: succ(root)}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		on[root] = true
		for len(frames) > 0 {
			f := &frames[len(frames)-1]
			if f.i < len(f.s) {
				w := f.s[f.i]
				f.i++
				if index[w] < 0 {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					on[w] = true
					frames = append(frames, frame{v: w, s: succ(w)})
				} else if on[w] {
					low[f.v] = min(low[f.v], index[w])
				}
				continue
			}
			v := f.v
			frames = frames[:len(frames)-1]
			if len(frames) > 0 {
				p := frames[len(frames)-1].v
				low[p] = min(low[p], low[v])
			}
			if low[v] == index[v] {
				var c []int
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					on[w] = false
					c = append(c, w)
					if w == v {
						break
					}
				}
				out = append(out, c)
			}
		}
	}
	return out
}
