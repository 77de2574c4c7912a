package report

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The impact graph of the HTML report, drawn as SVG without Graphviz: a
// node is a function in one translation unit (an entry of the answer, a
// changed function, a target, or a function on a target's reason chain),
// an edge a step that carried code or made a target. The layout is a
// simple layered one: one horizontal lane per translation unit, one
// column per depth from the changed function (the same columns in every
// lane, so an edge always runs left to right unless it closes a cycle),
// and within a column the nodes ordered by the rows of their
// predecessors, then by name. Every list is sorted, so the same answer
// always gives the same drawing, whatever order it was given in.

// Geometry of the drawing, in SVG user units (pixels).
const (
	svgPad      = 12 // around the drawing
	svgCharW    = 7  // advance of one monospace character at 12px
	svgLabelMax = 44 // longest label shown; longer ones end in "…"
	svgNodeMinW = 96 // narrowest node
	svgNodeH    = 36 // node height: two lines of text
	svgRowH     = 50 // node height plus the gap to the next row
	svgColGap   = 64 // between columns, where the edges run
	svgLaneHead = 24 // lane title
	svgLanePad  = 24 // below a lane's last row, room for the loops of cycles
)

type gKey struct{ tu, name string }

// gTarget is what the graph needs of a target: which node it is, how it
// is styled and where its reason chain is shown.
type gTarget struct {
	name, tu string
	severity string
	ignored  bool
	// status is check's word for the target: "missing", "review" or
	// "covered"; empty for impacted.
	status string
	anchor string // id of its reason chain in the page
	chain  []Step
}

type gNode struct {
	key   gKey
	entry *Entry
	// changed: the queried function (depth 0) or a function the fix
	// changes. inEntries: an entry of the answer. notPatchable: the rules
	// found it cannot be patched (its callers are replaced instead).
	changed, inEntries, notPatchable bool
	target                           *gTarget
	depth                            int // -1 until known
	col, row                         int
	x, y, w                          int
	id                               string
}

type gEdge struct {
	from, to  *gNode
	how, rule string
	evidence  []string
}

// gLane is one translation unit's band of the drawing.
type gLane struct {
	tu    string
	nodes []*gNode // by column, then row
	y, h  int
}

type edgeKey struct {
	from, to  *gNode
	how, rule string
}

type impactGraph struct {
	byKey  map[gKey]*gNode
	byEdge map[edgeKey]*gEdge
	nodes  []*gNode
	edges  []*gEdge
	lanes  []*gLane
	w, h   int
}

func newImpactGraph() *impactGraph {
	return &impactGraph{byKey: map[gKey]*gNode{}, byEdge: map[edgeKey]*gEdge{}}
}

// node returns the node of name in unit tu, creating it when absent.
func (g *impactGraph) node(tu, name string) *gNode {
	k := gKey{tu, name}
	if n, ok := g.byKey[k]; ok {
		return n
	}
	n := &gNode{key: k, depth: -1}
	g.byKey[k] = n
	g.nodes = append(g.nodes, n)
	return n
}

// addEntries adds the entries of an impacted answer (the first of
// duplicates wins) and the edges of its impact graph.
func (g *impactGraph) addEntries(entries []Entry, edges []Step) {
	for _, e := range sortedEntries(entries) {
		if _, ok := g.byKey[gKey{e.TU, e.Name}]; ok {
			continue
		}
		n := g.node(e.TU, e.Name)
		e := e
		n.entry, n.inEntries = &e, true
		n.depth = max(e.Depth, 0)
		n.changed = e.Depth == 0
	}
	for _, s := range edges {
		g.edge(g.node(s.TU, s.From), g.node(s.TU, s.To), s)
	}
}

// addChanged adds a function the fix changes, in unit tu.
func (g *impactGraph) addChanged(tu, name string) {
	n := g.node(tu, name)
	n.changed, n.depth = true, 0
}

// addTarget adds a target and the nodes and edges of its reason chain. A
// step names the unit of its To; its From is in the unit of the step
// before, or, for the first step, in the step's unit when the function is
// known there, else in the unit of the one changed function of that name
// (the rules' caller steps cross units).
func (g *impactGraph) addTarget(t *gTarget) {
	prevTU := ""
	for i, s := range t.chain {
		fromTU := s.TU
		if i > 0 {
			fromTU = prevTU
		} else if _, ok := g.byKey[gKey{s.TU, s.From}]; !ok {
			if n := g.changedNamed(s.From); n != nil {
				fromTU = n.key.tu
			}
		}
		toTU := s.TU
		if toTU == "" && i == len(t.chain)-1 && s.To == t.name {
			toTU = t.tu
		}
		g.edge(g.node(fromTU, s.From), g.node(toTU, s.To), s)
		prevTU = toTU
	}
	n := g.node(t.tu, t.name)
	if n.target == nil {
		n.target = t
	}
}

// changedNamed is the changed function called name when exactly one
// unit has it.
func (g *impactGraph) changedNamed(name string) *gNode {
	var found *gNode
	for _, n := range g.nodes {
		if n.changed && n.key.name == name {
			if found != nil {
				return nil
			}
			found = n
		}
	}
	return found
}

// edge adds one arrow per distinct (from, to, how, rule): several dump
// lines or call sites for the same step are one arrow with all their
// evidence. A containment step of a reason chain is the impact graph's
// edge.
func (g *impactGraph) edge(from, to *gNode, s Step) {
	if s.Rule == "containment" {
		s.Rule = "" // the dump's own transformation, as in the impact graph
	}
	k := edgeKey{from, to, s.How, s.Rule}
	e := g.byEdge[k]
	if e == nil {
		e = &gEdge{from: from, to: to, how: s.How, rule: s.Rule}
		g.byEdge[k] = e
		g.edges = append(g.edges, e)
	}
	if s.Evidence != "" && !slices.Contains(e.evidence, s.Evidence) {
		e.evidence = append(e.evidence, s.Evidence)
	}
}

func keyLess(a, b gKey) bool {
	if a.tu != b.tu {
		return a.tu < b.tu
	}
	return a.name < b.name
}

// layout places every node and fixes the drawing's size.
func (g *impactGraph) layout() {
	sort.Slice(g.nodes, func(i, j int) bool { return keyLess(g.nodes[i].key, g.nodes[j].key) })
	for _, e := range g.edges {
		sort.Strings(e.evidence)
	}
	sort.Slice(g.edges, func(i, j int) bool {
		a, b := g.edges[i], g.edges[j]
		switch {
		case a.from.key != b.from.key:
			return keyLess(a.from.key, b.from.key)
		case a.to.key != b.to.key:
			return keyLess(a.to.key, b.to.key)
		case a.how != b.how:
			return a.how < b.how
		}
		return a.rule < b.rule
	})
	g.depths()

	// Columns: the distinct depths, so no column is empty.
	var depths []int
	seen := map[int]bool{}
	for _, n := range g.nodes {
		if !seen[n.depth] {
			seen[n.depth] = true
			depths = append(depths, n.depth)
		}
	}
	sort.Ints(depths)
	colOf := map[int]int{}
	for i, d := range depths {
		colOf[d] = i
	}
	colW := make([]int, len(depths))
	for _, n := range g.nodes {
		n.col = colOf[n.depth]
		l1, l2 := nodeLabel(n)
		n.w = max(svgNodeMinW, textWidth(max(utf8.RuneCountInString(l1), utf8.RuneCountInString(l2)))+2*svgCharW)
		colW[n.col] = max(colW[n.col], n.w)
	}
	colX := make([]int, len(depths))
	x := svgPad
	for i, w := range colW {
		colX[i] = x
		x += w + svgColGap
	}
	g.w = max(x-svgColGap+svgPad, 2*svgPad+svgNodeMinW)

	preds := map[*gNode][]*gNode{}
	for _, e := range g.edges {
		preds[e.to] = append(preds[e.to], e.from)
	}
	byLane := map[string]*gLane{}
	for _, n := range g.nodes {
		l := byLane[n.key.tu]
		if l == nil {
			l = &gLane{tu: n.key.tu}
			byLane[n.key.tu] = l
			g.lanes = append(g.lanes, l)
		}
		l.nodes = append(l.nodes, n)
	}
	y := svgPad
	for _, l := range g.lanes {
		rows := l.order(preds)
		l.y = y
		l.h = svgLaneHead + rows*svgRowH + svgLanePad - (svgRowH - svgNodeH)
		for _, n := range l.nodes {
			n.x = colX[n.col]
			n.y = y + svgLaneHead + n.row*svgRowH
		}
		y += l.h + svgPad
	}
	g.h = max(y, 2*svgPad+svgNodeH)
	i := 0
	for _, l := range g.lanes {
		for _, n := range l.nodes {
			i++
			n.id = "n" + strconv.Itoa(i)
		}
	}
}

// depths gives every node a depth: entries and changed functions have
// theirs; others are one more than their nearest predecessor's. A node
// nothing with a depth reaches starts a column 0 of its own: first those
// without predecessors, then (for a loop of such nodes) the first by
// unit and name.
func (g *impactGraph) depths() {
	hasPred := map[*gNode]bool{}
	for _, e := range g.edges {
		if e.from != e.to {
			hasPred[e.to] = true
		}
	}
	for {
		g.relax()
		var unknown []*gNode
		for _, n := range g.nodes {
			if n.depth < 0 {
				unknown = append(unknown, n)
			}
		}
		if len(unknown) == 0 {
			return
		}
		roots := 0
		for _, n := range unknown {
			if !hasPred[n] {
				n.depth = 0
				roots++
			}
		}
		if roots == 0 {
			unknown[0].depth = 0 // g.nodes is sorted by key
		}
	}
}

// relax lowers the depth of every node without a fixed one to one more
// than its shallowest predecessor's, until nothing changes.
func (g *impactGraph) relax() {
	for changed := true; changed; {
		changed = false
		for _, e := range g.edges {
			if e.from.depth < 0 || e.to.inEntries || e.to.changed {
				continue
			}
			if d := e.from.depth + 1; e.to.depth < 0 || d < e.to.depth {
				e.to.depth = d
				changed = true
			}
		}
	}
}

// order sorts a lane's nodes into rows, column by column: a node's rank
// is the mean row of its predecessors in earlier columns of the lane,
// nodes without one come after, and names break ties. It returns the
// number of rows of its tallest column.
func (l *gLane) order(preds map[*gNode][]*gNode) int {
	byCol := map[int][]*gNode{}
	var cols []int
	for _, n := range l.nodes {
		if byCol[n.col] == nil {
			cols = append(cols, n.col)
		}
		byCol[n.col] = append(byCol[n.col], n)
	}
	sort.Ints(cols)
	placed := map[*gNode]bool{}
	rows := 1
	l.nodes = l.nodes[:0]
	for _, c := range cols {
		ns := byCol[c]
		rank := map[*gNode]int{} // mean row × 1000, or -1
		for _, n := range ns {
			sum, k := 0, 0
			for _, p := range preds[n] {
				if placed[p] && p.col < n.col {
					sum += p.row
					k++
				}
			}
			rank[n] = -1
			if k > 0 {
				rank[n] = sum * 1000 / k
			}
		}
		sort.SliceStable(ns, func(i, j int) bool {
			a, b := ns[i], ns[j]
			ra, rb := rank[a], rank[b]
			if (ra < 0) != (rb < 0) {
				return ra >= 0
			}
			if ra != rb {
				return ra < rb
			}
			return keyLess(a.key, b.key)
		})
		for i, n := range ns {
			n.row = i
			placed[n] = true
		}
		rows = max(rows, len(ns))
		l.nodes = append(l.nodes, ns...)
	}
	return rows
}

// nodeLabel is a node's two lines of text: its name (shortened to
// svgLabelMax characters) and what it is.
func nodeLabel(n *gNode) (string, string) {
	return shorten(displayName(n.key.name), svgLabelMax), shorten(nodeStatus(n), svgLabelMax)
}

// textWidth is the width of n characters of 12px monospace text, with
// room for fonts a little wider than DejaVu Sans Mono (7.2px).
func textWidth(n int) int { return n * 15 / 2 }

func shorten(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return string(r[:limit-1]) + "…"
}

// nodeStatus says in a few words what a node is, most important first.
func nodeStatus(n *gNode) string {
	var parts []string
	if n.changed {
		parts = append(parts, "changed")
	}
	switch t := n.target; {
	case t == nil:
	case t.ignored:
		parts = append(parts, "ignored")
	case t.status == "covered":
		parts = append(parts, "replaced")
	case t.status == "missing":
		parts = append(parts, "MISSING "+orNone(t.severity))
	default:
		parts = append(parts, orNone(t.severity))
	}
	if t := n.target; t != nil && len(t.chain) > 0 && t.chain[len(t.chain)-1].Rule != "" {
		parts = append(parts, t.chain[len(t.chain)-1].Rule)
	}
	if n.notPatchable {
		parts = append(parts, "not patchable")
	}
	if e := n.entry; e != nil {
		switch e.Emitted {
		case "no":
			parts = append(parts, "not emitted")
		case "unknown":
			parts = append(parts, "emission unknown")
		}
		if len(parts) == 0 {
			parts = append(parts, howOf(*e))
		}
	}
	if len(parts) == 0 {
		if n.target == nil && !n.inEntries && !n.changed {
			return "on a reason chain"
		}
		return ""
	}
	return Printable(strings.Join(parts, " · "))
}

// nodeClasses are a node's CSS classes: "node", then one per style that
// applies. Severities outside the known words get "sev-other".
func nodeClasses(n *gNode) string {
	c := []string{"node"}
	if n.changed {
		c = append(c, "changed")
	}
	if t := n.target; t != nil {
		c = append(c, "target", sevClass(t.severity))
		if t.ignored {
			c = append(c, "ignored")
		}
		if t.status != "" {
			c = append(c, t.status)
		}
	}
	if n.notPatchable {
		c = append(c, "not-patchable")
	}
	if e := n.entry; e != nil {
		switch e.Emitted {
		case "no":
			c = append(c, "not-emitted")
		case "unknown":
			c = append(c, "emission-unknown")
		}
		if e.RemovedInDump {
			c = append(c, "removed")
		}
	}
	if !n.inEntries {
		c = append(c, "off-entries")
	}
	return strings.Join(c, " ")
}

func sevClass(sev string) string {
	switch sev {
	case "must", "review", "conditional":
		return "sev-" + sev
	}
	return "sev-other"
}

// nodeTitle is a node's tooltip: every fact the drawing abbreviates.
func nodeTitle(n *gNode) string {
	lines := []string{displayName(n.key.name), "unit: " + Printable(tuName(n.key.tu))}
	if e := n.entry; e != nil {
		if s := source(*e); s != "" {
			lines = append(lines, "source: "+Printable(s))
		}
		lines = append(lines, "depth "+strconv.Itoa(e.Depth)+", reached: "+Printable(howOf(*e)))
		if e.Emitted != "" {
			l := "emitted: " + Printable(e.Emitted)
			if e.WhyNotEmitted != "" {
				l += " (" + Printable(e.WhyNotEmitted) + ")"
			}
			lines = append(lines, l)
		}
		if e.RemovedInDump {
			lines = append(lines, "removed in dump")
		}
	}
	if n.changed && n.entry == nil {
		lines = append(lines, "changed by the fix")
	}
	if t := n.target; t != nil {
		l := "target: " + Printable(orNone(t.severity))
		if t.status != "" {
			l += ", " + t.status
		}
		if t.ignored {
			l += ", ignored by the policy"
		}
		lines = append(lines, l)
	}
	if n.notPatchable {
		lines = append(lines, "not patchable: its callers are replaced instead")
	}
	if !n.inEntries && n.entry == nil && !n.changed {
		lines = append(lines, "not an entry of the impact graph: reached by a rule's step")
	}
	return strings.Join(lines, "\n")
}

// edgeClass styles an edge by what made it: GCC inlining, a GCC clone, a
// rule's step over the object call graph.
func edgeClass(e *gEdge) string {
	switch {
	case e.rule != "" && e.rule != "containment":
		return "edge rule"
	case e.how == "inlined":
		return "edge inline"
	}
	return "edge clone"
}

func edgeTitle(e *gEdge) string {
	var b strings.Builder
	b.WriteString(displayName(e.from.key.name) + " → " + displayName(e.to.key.name))
	var what []string
	if e.how != "" {
		what = append(what, Printable(e.how))
	}
	if e.rule != "" {
		what = append(what, "rule "+Printable(e.rule))
	}
	if len(what) > 0 {
		b.WriteString(" (" + strings.Join(what, ", ") + ")")
	}
	for _, ev := range e.evidence {
		b.WriteString("\n" + Printable(ev))
	}
	return b.String()
}

// edgePath draws an edge: a curve from the right side of its source to
// the left side of its destination when that lies in a later column; an
// arc out to the right between two nodes of one column; a loop below
// both nodes back to an earlier column (a cycle); a small loop on the
// right for a node that reaches itself.
func edgePath(e *gEdge) string {
	f, t := e.from, e.to
	fy, ty := f.y+svgNodeH/2, t.y+svgNodeH/2
	switch {
	case f == t:
		x := f.x + f.w
		return pathf("M", x, fy-8, "C", x+34, fy-30, x+34, fy+30, x+4, fy+10)
	case t.col > f.col:
		x1, x2 := f.x+f.w, t.x-4
		dx := (x2 - x1) / 2
		return pathf("M", x1, fy, "C", x1+dx, fy, x2-dx, ty, x2, ty)
	}
	if t.col == f.col {
		x1, x2 := f.x+f.w, t.x+t.w+4
		out := max(x1, x2) + svgColGap/2
		return pathf("M", x1, fy, "C", out, fy, out, ty, x2, ty)
	}
	x1, x2 := f.x+f.w/2, t.x+t.w/2
	y1, y2 := f.y+svgNodeH, t.y+svgNodeH+4
	dip := max(y1, y2) + svgRowH/2
	return pathf("M", x1, y1, "C", x1, dip, x2, dip, x2, y2)
}

// pathf writes path data: letters as they are, numbers in decimal.
func pathf(parts ...any) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch v := p.(type) {
		case string:
			b.WriteString(v)
		case int:
			b.WriteString(strconv.Itoa(v))
		}
	}
	return b.String()
}
