package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// renderDOT writes the impact graph as Graphviz DOT: one cluster per
// translation unit, one node per entry labelled with its name and source
// position, one edge per distinct transformation in r.Edges labelled with
// how it was made. The queried function is filled and bold, functions the
// dump records as removed are dashed, and functions an edge names but the
// entries do not are dotted. Every list is sorted, so the same result
// always gives the same bytes (unlike dominikbraun/graph/draw, which
// ranges over a map).
func renderDOT(w io.Writer, r *Result) error {
	if r == nil {
		return errNilResult
	}
	g := newDOTGraph(r)
	var b strings.Builder
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
		attrs := []string{}
		if e.How != "" {
			attrs = append(attrs, "label="+dotQuote(e.How))
		}
		if e.Rule != "" {
			// A step of the safety rules, from a target's chain.
			attrs = append(attrs, "style=dashed")
		}
		if len(attrs) == 0 {
			fmt.Fprintf(&b, "  %s -> %s;\n", dotQuote(from), dotQuote(to))
		} else {
			fmt.Fprintf(&b, "  %s -> %s [%s];\n", dotQuote(from), dotQuote(to), strings.Join(attrs, ", "))
		}
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

type dotKey struct{ tu, name string }

type dotNode struct {
	id       string
	entry    Entry
	unlisted bool // named by an edge only
	// severity is the node's tier when it is a target of the safety
	// rules (must, conditional, review, or "ignored"), else empty.
	severity string
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
	if n.unlisted && n.severity == "" {
		marks = append(marks, "not in entries")
		style = append(style, "dotted")
	}
	switch n.severity {
	case "":
	case SeverityConditional:
		// A conditional target: replaced only if its condition holds.
		marks = append(marks, "conditional target")
		style = append(style, "dashed")
	default:
		marks = append(marks, n.severity+" target")
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
	if len(marks) > 0 {
		label = append(label, "["+strings.Join(marks, ", ")+"]")
	}
	attrs := []string{"label=" + dotQuoteLines(label)}
	if len(style) > 0 {
		attrs = append(attrs, "style="+dotQuote(strings.Join(style, ",")))
	}
	if n.entry.Depth == 0 && !n.unlisted {
		attrs = append(attrs, `fillcolor="lightyellow"`)
	}
	return strings.Join(attrs, ", ")
}

type dotGraph struct {
	nodes map[dotKey]*dotNode
	tus   []string
	byTU  map[string][]*dotNode
	edges []Step
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
	// the same function give several dump lines but one arrow. The
	// targets of the safety rules follow, each with the last step of its
	// chain (a call, for the callers a rule added), so a target outside
	// the entries hangs off the function it was reached from.
	type edgeKey struct{ tu, from, to, how string }
	seen := map[edgeKey]bool{}
	edges := append([]Step(nil), r.Edges...)
	severity := map[dotKey]string{}
	for _, t := range r.Targets {
		sev := t.Severity
		if t.IgnoredBecause != "" {
			sev = "ignored"
		}
		severity[dotKey{t.TU, t.Name}] = sev
	}
	for _, t := range r.Targets {
		n := len(t.Chain)
		if n == 0 || t.Chain[n-1].Rule == "" || t.Chain[n-1].Rule == "containment" {
			continue // containment steps are among the edges already
		}
		st := t.Chain[n-1]
		from := dotKey{t.TU, st.From}
		if _, ok := g.nodes[from]; !ok && severity[from] == "" {
			continue // reached from another unit: no node of this cluster
		}
		edges = append(edges, Step{From: st.From, To: t.Name, TU: t.TU, How: st.Rule, Rule: st.Rule})
	}
	for _, s := range edges {
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

	for k, sev := range severity {
		if n, ok := g.nodes[k]; ok {
			n.severity = sev
		} else {
			g.nodes[k] = &dotNode{entry: Entry{Name: k.name, TU: k.tu}, unlisted: true, severity: sev}
		}
	}
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
