package report

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// renderDOT writes the impact graph as Graphviz DOT: one cluster per
// translation unit, one node per entry labelled with its name and source
// position, one edge per distinct transformation in r.Edges labelled with
// how it was made, said from the side of the function holding the code
// (the arrow is drawn from it: dir=back). The queried function is filled and bold, functions the
// dump records as removed are dashed, and functions an edge names but the
// entries do not are dotted. The rules' targets are filled red (must),
// pale and dashed (conditional), orange (review) or grey (ignored by the
// policy) and labelled with their rule; a target no entry holds (a caller replaced for a notrace
// function) is added with the last step of its chain as a red edge.
// Comment lines at the top say what the picture cannot show. Every list
// is sorted, so the same result always gives the same bytes (unlike
// dominikbraun/graph/draw, which ranges over a map).
func renderDOT(w io.Writer, r *Result) error {
	if r == nil {
		return errNilResult
	}
	g := newDOTGraph(r)
	var b strings.Builder
	writeDOTHeader(&b, r)
	b.WriteString("digraph impacted {\n")
	fmt.Fprintf(&b, "  label=%s;\n", dotQuote(dotTitle(r)))
	b.WriteString("  labelloc=t;\n")
	b.WriteString("  node [shape=box, fontname=\"monospace\"];\n")
	b.WriteString("  edge [fontname=\"monospace\"];\n")
	for ci, tu := range g.tus {
		fmt.Fprintf(&b, "  subgraph cluster_%d {\n", ci)
		fmt.Fprintf(&b, "    label=%s;\n", dotQuote(tuName(tu)))
		for _, n := range g.byTU[tu] {
			fmt.Fprintf(&b, "    %s [%s];\n", dotQuote(n.id), n.attrs())
		}
		b.WriteString("  }\n")
	}
	for _, e := range g.edges {
		from := g.nodes[dotKey{e.TU, e.From}].id
		to := g.nodes[dotKey{e.TU, e.To}].id
		if e.How == "" {
			fmt.Fprintf(&b, "  %s -> %s [dir=back];\n", dotQuote(from), dotQuote(to))
		} else {
			fmt.Fprintf(&b, "  %s -> %s [label=%s, dir=back];\n", dotQuote(from), dotQuote(to), dotQuote(edgeRelation(e)))
		}
	}
	for _, e := range g.ruleEdges {
		fmt.Fprintf(&b, "  %s -> %s [label=%s, dir=back, color=\"red\", fontcolor=\"red\", style=\"dashed\"];\n",
			dotQuote(g.nodes[e.from].id), dotQuote(g.nodes[e.to].id), dotQuote(edgeRelation(e.step)))
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// dotTitle is the graph's label: the query, and a warning when the
// evidence was incomplete, so a picture of a partial answer says so.
func dotTitle(r *Result) string {
	t := "functions carrying the code of " + r.Query.Function
	if r.Query.Function == "" {
		t = "functions carrying the queried code"
	}
	if !r.Complete {
		t += "\nINCOMPLETE: evidence was missing or unreadable (" +
			plural(len(r.Problems), "problem", "problems") + "); this is a lower bound"
	}
	return t
}

// writeDOTHeader writes comment lines before the graph: the verdict, the
// must-patch set's size and what a picture cannot show.
func writeDOTHeader(b *strings.Builder, r *Result) {
	if r.Complete {
		b.WriteString("// klp-audit impacted: complete\n")
	} else {
		fmt.Fprintf(b, "// klp-audit impacted: INCOMPLETE (%s; see --format text): the targets are a lower bound\n",
			plural(len(r.Problems), "problem", "problems"))
		for _, p := range r.Problems {
			b.WriteString("//   " + strings.ReplaceAll(p.String(), "\n", " ") + "\n")
		}
	}
	if r.Targets == nil && r.Explained == nil && r.Policy == "" {
		b.WriteString("// no must-patch set: the safety rules did not run (--no-rules or --dumps-only)\n")
	} else {
		must, conditional, review := 0, 0, 0
		for _, t := range r.Targets {
			switch {
			case t.IgnoredBecause != "":
			case t.Severity == SeverityConditional:
				conditional++
			case t.Severity == SeverityReview:
				review++
			default:
				must++
			}
		}
		fmt.Fprintf(b, "// must-patch set: %d must (filled red), %d conditional (pale, dashed), %d review (filled orange); ignored by the policy: grey\n", must, conditional, review)
	}
	b.WriteString("// each arrow points from a function to the one whose code it holds or relies on, and its label says how (\"css_put -> percpu_ref_put_many: holds the inlined code of\")\n")
	b.WriteString("// not shown: each target's full reason chain and evidence, old_sympos, the notes and the functions explained as no target (--format text or yaml)\n")
}

type dotKey struct{ tu, name string }

type dotNode struct {
	id       string
	entry    Entry
	unlisted bool // named by an edge only
	target   *Target
}

// dotRuleEdge is the last step of a target's chain.
type dotRuleEdge struct {
	from, to dotKey
	how      string
	step     Step
}

func (n *dotNode) attrs() string {
	name := n.entry.Name
	if name == "" {
		name = "(no name)"
	}
	label := []string{name}
	if s := source(n.entry); s != "" {
		label = append(label, s)
	}
	var marks, style []string
	if n.entry.Depth == 0 && !n.unlisted {
		style = append(style, "filled", "bold")
	}
	if n.entry.RemovedInDump {
		marks = append(marks, "removed in dump")
		style = append(style, "dashed")
	}
	if n.unlisted && n.target == nil {
		marks = append(marks, "not in entries")
		style = append(style, "dotted")
	}
	if n.entry.InCycle {
		marks = append(marks, "cycle")
	}
	if n.entry.NotInDump {
		marks = append(marks, "not in dump")
	}
	if n.entry.LTO {
		marks = append(marks, "lto")
	}
	fill := ""
	if t := n.target; t != nil {
		switch {
		case t.IgnoredBecause != "":
			marks = append(marks, "ignored: "+t.Rule)
			fill = "lightgrey"
		case t.Severity == SeverityConditional:
			// Replaced only if its condition holds: dashed, pale.
			marks = append(marks, "conditional: "+t.Rule)
			fill = "mistyrose"
			style = append(style, "dashed")
		case t.Severity == SeverityReview:
			marks = append(marks, "review: "+t.Rule)
			fill = "orange"
		default:
			marks = append(marks, "must: "+t.Rule)
			fill = "salmon"
		}
		if !slices.Contains(style, "filled") {
			style = append(style, "filled")
		}
	} else if n.entry.Depth == 0 && !n.unlisted {
		fill = "lightyellow"
	}
	if len(marks) > 0 {
		label = append(label, "["+strings.Join(marks, ", ")+"]")
	}
	attrs := []string{"label=" + dotQuoteLines(label)}
	if len(style) > 0 {
		attrs = append(attrs, "style="+dotQuote(strings.Join(style, ",")))
	}
	if fill != "" {
		attrs = append(attrs, "fillcolor="+dotQuote(fill))
	}
	return strings.Join(attrs, ", ")
}

type dotGraph struct {
	nodes     map[dotKey]*dotNode
	tus       []string
	byTU      map[string][]*dotNode
	edges     []Step
	ruleEdges []dotRuleEdge
}

func newDOTGraph(r *Result) *dotGraph {
	g := &dotGraph{nodes: map[dotKey]*dotNode{}, byTU: map[string][]*dotNode{}}
	for _, e := range sortedEntries(r.Entries) {
		k := dotKey{e.TU, e.Name}
		if _, ok := g.nodes[k]; !ok { // the first of duplicates wins
			g.nodes[k] = &dotNode{entry: e}
		}
	}

	// One edge per distinct transformation: several call sites inlining
	// the same function give several dump lines but one arrow.
	type edgeKey struct{ tu, from, to, how string }
	seen := map[edgeKey]bool{}
	for _, s := range r.Edges {
		k := edgeKey{s.TU, s.From, s.To, s.How}
		if seen[k] {
			continue
		}
		seen[k] = true
		g.edges = append(g.edges, s)
		for _, name := range []string{s.From, s.To} {
			if _, ok := g.nodes[dotKey{s.TU, name}]; !ok {
				g.nodes[dotKey{s.TU, name}] = &dotNode{entry: Entry{Name: name, TU: s.TU}, unlisted: true}
			}
		}
	}
	g.addTargets(r.Targets)
	sort.Slice(g.edges, func(i, j int) bool {
		a, b := g.edges[i], g.edges[j]
		switch {
		case a.TU != b.TU:
			return a.TU < b.TU
		case a.From != b.From:
			return a.From < b.From
		case a.To != b.To:
			return a.To < b.To
		}
		return a.How < b.How
	})

	keys := make([]dotKey, 0, len(g.nodes))
	for k := range g.nodes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].tu != keys[j].tu {
			return keys[i].tu < keys[j].tu
		}
		return keys[i].name < keys[j].name
	})
	// Node ids read "tu:name". Names could in principle contain ':', so
	// two keys may give the same id; later ones get a "#n" suffix.
	used := map[string]bool{}
	for _, k := range keys {
		n := g.nodes[k]
		id := k.tu + ":" + k.name
		for i := 2; used[id]; i++ {
			id = k.tu + ":" + k.name + "#" + strconv.Itoa(i)
		}
		used[id] = true
		n.id = id
		if len(g.byTU[k.tu]) == 0 {
			g.tus = append(g.tus, k.tu)
		}
		g.byTU[k.tu] = append(g.byTU[k.tu], n)
	}
	return g
}

// addTargets marks the targets' nodes, adding those no entry holds with
// the last step of their chain.
func (g *dotGraph) addTargets(ts []Target) {
	type ruleKey struct {
		from, to dotKey
		how      string
	}
	seen := map[ruleKey]bool{}
	for i := range ts {
		t := &ts[i]
		k := dotKey{t.TU, t.Name}
		n, ok := g.nodes[k]
		if !ok {
			n = &dotNode{entry: Entry{Name: t.Name, TU: t.TU, SourceFile: t.SourceFile, SourceLine: t.SourceLine}, unlisted: true}
			g.nodes[k] = n
		}
		n.target = t
		if len(t.Chain) == 0 {
			continue
		}
		last := t.Chain[len(t.Chain)-1]
		if last.To != t.Name || last.From == t.Name {
			continue
		}
		from := g.findNode(last.From, last.TU, t.Chain)
		rk := ruleKey{from, k, last.How}
		if seen[rk] {
			continue
		}
		seen[rk] = true
		g.ruleEdges = append(g.ruleEdges, dotRuleEdge{from: from, to: k, how: last.How, step: last})
	}
	sort.Slice(g.ruleEdges, func(i, j int) bool {
		a, b := g.ruleEdges[i], g.ruleEdges[j]
		switch {
		case a.to != b.to:
			return a.to.tu < b.to.tu || a.to.tu == b.to.tu && a.to.name < b.to.name
		case a.from != b.from:
			return a.from.tu < b.from.tu || a.from.tu == b.from.tu && a.from.name < b.from.name
		}
		return a.how < b.how
	})
}

// findNode returns the node of the function a chain step comes from: in
// the step's unit, else in the unit the chain's step before reached it,
// else the only node of that name; failing those, a new node in the
// step's unit.
func (g *dotGraph) findNode(name, tu string, chain []Step) dotKey {
	if _, ok := g.nodes[dotKey{tu, name}]; ok {
		return dotKey{tu, name}
	}
	for i := len(chain) - 2; i >= 0; i-- {
		if chain[i].To == name {
			if _, ok := g.nodes[dotKey{chain[i].TU, name}]; ok {
				return dotKey{chain[i].TU, name}
			}
		}
	}
	var only []dotKey
	for k := range g.nodes {
		if k.name == name {
			only = append(only, k)
		}
	}
	if len(only) == 1 {
		return only[0]
	}
	k := dotKey{tu, name}
	g.nodes[k] = &dotNode{entry: Entry{Name: name, TU: tu}, unlisted: true}
	return k
}

// dotQuote makes s a DOT double-quoted string: quotes and backslashes are
// escaped, a newline becomes \n and other control characters are written
// out as \uXXXX text, so nothing in a name can end the string early or
// break the line.
func dotQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case unicode.IsControl(c):
			fmt.Fprintf(&b, `\\u%04x`, c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// dotQuoteLines quotes label lines joined by DOT's centred line break.
func dotQuoteLines(lines []string) string {
	return dotQuote(strings.Join(lines, "\n"))
}
