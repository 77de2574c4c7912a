package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// renderText writes what a person reads at a glance: a warning block for
// an incomplete result, a headline, then per translation unit the tree of
// transformations that carried the queried function's code, rebuilt from
// each entry's chain.
func renderText(w io.Writer, r *Result) error {
	if r == nil {
		return errNilResult
	}
	var b strings.Builder
	writeProblems(&b, r)
	writeHeadline(&b, r)

	entries := sortedEntries(r.Entries)
	for start := 0; start < len(entries); {
		end := start + 1
		for end < len(entries) && entries[end].TU == entries[start].TU {
			end++
		}
		b.WriteString("\n" + Printable(tuName(entries[start].TU)) + "\n")
		writeTree(&b, entries[start:end])
		start = end
	}
	writeTargets(&b, r)
	writeTextRebuild(&b, r.Rebuild)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTargets writes the must-patch set of the safety rules: per
// klp_object and translation unit, each function with its severity, rule,
// binding and the last step of its reason; then the functions the policy
// ignored, and the notes.
func writeTargets(b *strings.Builder, r *Result) {
	if r.Targets == nil && r.Explained == nil && r.Policy == "" {
		return
	}
	var must, cond, review, ignored []Target
	for _, t := range r.Targets {
		switch {
		case t.IgnoredBecause != "":
			ignored = append(ignored, t)
		case t.Severity == SeverityReview:
			review = append(review, t)
		case t.Severity == SeverityConditional:
			cond = append(cond, t)
		default:
			must = append(must, t)
		}
	}
	fmt.Fprintf(b, "\nThe livepatch must replace %s", plural(len(must), "function", "functions"))
	if len(cond) > 0 {
		fmt.Fprintf(b, ", %d more only if your fix changes what they assumed", len(cond))
	}
	if len(review) > 0 {
		fmt.Fprintf(b, ", and a reviewer decide on %d more", len(review))
	}
	if r.Policy != "" {
		fmt.Fprintf(b, " (policy: %s)", Printable(r.Policy))
	}
	b.WriteString(":\n")
	writeTargetGroup(b, must)
	if len(cond) > 0 {
		b.WriteString("\nConditional (replace each only if its condition holds for your fix; klp-audit cannot tell before the fix is compiled):\n")
		writeConditionalGroup(b, cond)
	}
	if len(review) > 0 {
		b.WriteString("\nReview:\n")
		writeTargetGroup(b, review)
	}
	if len(ignored) > 0 {
		b.WriteString("\nIgnored by the policy:\n")
		for _, t := range ignored {
			fmt.Fprintf(b, "  %s (%s): %s\n", displayName(t.Name), Printable(tuName(t.TU)), Printable(t.IgnoredBecause))
		}
	}
	if len(r.Explained) > 0 {
		b.WriteString("\nNot targets:\n")
		for _, e := range r.Explained {
			fmt.Fprintf(b, "  %s (%s): %s\n", displayName(e.Name), Printable(tuName(e.TU)), Printable(e.Why))
		}
	}
	for _, n := range r.Notes {
		b.WriteString("\nnote: " + Printable(n) + "\n")
	}
}

// writeConditionalGroup writes conditional targets as writeTargetGroup
// does, each with its condition on a line of its own.
func writeConditionalGroup(b *strings.Builder, ts []Target) {
	sortTargets(ts)
	group := ""
	for _, t := range ts {
		group = writeGroupHead(b, t, group)
		b.WriteString(targetLine(t, false) + "\n")
		if t.Note != "" {
			b.WriteString("      " + Printable(t.Note) + "\n")
		}
	}
}

func writeTargetGroup(b *strings.Builder, ts []Target) {
	sortTargets(ts)
	group := ""
	for _, t := range ts {
		group = writeGroupHead(b, t, group)
		b.WriteString(targetLine(t, true) + "\n")
	}
}

// writeGroupHead starts the klp_object and unit group of t when it
// differs from group, and returns t's.
func writeGroupHead(b *strings.Builder, t Target, group string) string {
	g := Printable(tuName(t.TU))
	if t.KLPObject != "" {
		g = Printable(t.KLPObject) + "  " + g
	}
	if g != group {
		b.WriteString("  " + g + "\n")
	}
	return g
}

// targetLine is a target's line: name, binding, old_sympos, rule and the
// last step of its chain, and its note when note is set.
func targetLine(t Target, note bool) string {
	line := "    " + displayName(t.Name) + "  [" + Printable(t.Binding)
	if t.OldSympos != nil {
		line += fmt.Sprintf(", old_sympos %d", *t.OldSympos)
	}
	line += "]  " + Printable(t.Rule)
	if len(t.Chain) > 0 {
		line += ": " + Predicate(t.Chain[len(t.Chain)-1])
	}
	if note && t.Note != "" {
		line += "  (" + Printable(t.Note) + ")"
	}
	return line
}

// writeHeadline writes e.g.
// "percpu_ref_put_many: 12 functions in 3 translation units carry its code".
func writeHeadline(b *strings.Builder, r *Result) {
	fn := Printable(r.Query.Function)
	if fn == "" {
		fn = "(no function given)"
	}
	if len(r.Entries) == 0 {
		if r.Complete {
			fmt.Fprintf(b, "%s: no function found carrying its code\n", fn)
		} else {
			fmt.Fprintf(b, "%s: no function found carrying its code, but the evidence is incomplete\n", fn)
		}
		return
	}
	tus := map[string]bool{}
	removed := 0
	for _, e := range r.Entries {
		tus[e.TU] = true
		if e.RemovedInDump {
			removed++
		}
	}
	atLeast := ""
	if !r.Complete {
		atLeast = "at least "
	}
	verb := "carry"
	if len(r.Entries) == 1 {
		verb = "carries"
	}
	fmt.Fprintf(b, "%s: %s%s in %s %s its code\n", fn, atLeast,
		plural(len(r.Entries), "function", "functions"),
		plural(len(tus), "translation unit", "translation units"), verb)
	emitted, notEmitted, unlinked, unknown, objects := 0, 0, 0, 0, false
	for _, e := range r.Entries {
		switch e.Emitted {
		case "":
			continue
		case "yes":
			emitted++
		case "no":
			if strings.Contains(e.WhyNotEmitted, WhyNotLinked) {
				unlinked++
			} else {
				notEmitted++
			}
		default:
			unknown++
		}
		objects = true
	}
	switch {
	case objects:
		verb := "exist"
		if emitted == 1 {
			verb = "exists"
		}
		fmt.Fprintf(b, "%s %s as symbols a livepatch can replace; %d not emitted (inlined or replaced by clones)",
			plural(emitted, "function", "functions"), verb, notEmitted)
		if unlinked > 0 {
			fmt.Fprintf(b, "; %d in objects linked into neither vmlinux nor a module (no livepatch target)", unlinked)
		}
		if unknown > 0 {
			fmt.Fprintf(b, "; %d unknown (object not read)", unknown)
		}
		b.WriteString("\n")
	case removed > 0:
		fmt.Fprintf(b, "%s removed in dump: no symbol of their own, patched through the functions they were inlined into\n",
			plural(removed, "function", "functions"))
	}
}

// symbolMarks describes an emitted entry's symbols: binding, cold pieces,
// folded aliases and a missing ftrace entry.
func symbolMarks(e Entry) []string {
	var marks []string
	for _, s := range e.Symbols {
		m := "[" + Printable(s.Binding)
		if s.Name != e.Name {
			m += " " + displayName(s.Name)
		}
		m += "]"
		marks = append(marks, m)
		if len(s.Cold) > 0 {
			marks = append(marks, "[+"+Printable(strings.Join(s.Cold, " +"))+"]")
		}
		if len(s.Aliases) > 0 {
			marks = append(marks, "[same body as "+Printable(strings.Join(s.Aliases, ", "))+"]")
		}
	}
	return marks
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// writeTree writes the entries of one translation unit, sorted by depth
// and name, as an indented tree. An entry's parent is the From of the last
// step of its chain, looked up by name within the unit. Depth-0 entries,
// entries without a chain and entries whose parent is not listed are
// roots; entries whose parents form a loop are shown from the first of
// them, marked as a cycle. Every entry is written exactly once.
func writeTree(b *strings.Builder, entries []Entry) {
	byName := make(map[string]int, len(entries))
	for i, e := range entries {
		if _, ok := byName[e.Name]; !ok {
			byName[e.Name] = i
		}
	}
	parent := make([]int, len(entries))
	children := make([][]int, len(entries))
	for i, e := range entries {
		parent[i] = -1
		if e.Depth == 0 || len(e.Chain) == 0 {
			continue
		}
		if p, ok := byName[parentOf(e)]; ok && p != i {
			parent[i] = p
			children[p] = append(children[p], i)
		}
	}
	for _, c := range children {
		sort.SliceStable(c, func(i, j int) bool {
			if entries[c[i]].Name != entries[c[j]].Name {
				return entries[c[i]].Name < entries[c[j]].Name
			}
			return c[i] < c[j]
		})
	}

	t := treeWriter{b: b, entries: entries, byName: byName, children: children, seen: make([]bool, len(entries))}
	for i := range entries {
		if parent[i] < 0 {
			t.root(i, false)
		}
	}
	// Whatever is left hangs off a loop of parents that no root reaches.
	for i := range entries {
		if !t.seen[i] {
			t.root(i, true)
		}
	}
}

type treeWriter struct {
	b        *strings.Builder
	entries  []Entry
	byName   map[string]int
	children [][]int
	seen     []bool
}

func (t *treeWriter) root(i int, brokenCycle bool) {
	t.seen[i] = true
	e := t.entries[i]
	t.b.WriteString("  " + displayName(e.Name))
	var extra []string
	p := parentOf(e)
	_, listed := t.byName[p]
	switch {
	case brokenCycle || (e.Depth != 0 && p == e.Name):
		if !e.InCycle {
			extra = append(extra, "[cycle]")
		}
	case e.Depth != 0 && p != "" && !listed:
		extra = append(extra, "["+Predicate(e.Chain[len(e.Chain)-1])+", not listed]")
	}
	t.details(e, extra)
	t.kids(i, "  ", 0)
}

// maxIndent is the deepest level the tree indents: deeper children stay
// at that column, their depth written out, so a chain of thousands of
// inlinings prints in linear space.
const maxIndent = 24

func (t *treeWriter) kids(i int, prefix string, level int) {
	var todo []int
	for _, c := range t.children[i] {
		if !t.seen[c] {
			todo = append(todo, c)
		}
	}
	for n, c := range todo {
		if t.seen[c] {
			continue
		}
		t.seen[c] = true
		branch, next := "├─ ", "│  "
		if n == len(todo)-1 {
			branch, next = "└─ ", "   "
		}
		e := t.entries[c]
		if level >= maxIndent {
			branch = fmt.Sprintf("%s(depth %d) ", branch, e.Depth)
			next = ""
		}
		t.b.WriteString(prefix + branch + childLabel(e))
		t.details(e, nil)
		t.kids(c, prefix+next, level+1)
	}
}

// childLabel names a child of the tree and says, from its side, how it
// got its parent's code: "css_put (holds its inlined code)".
func childLabel(e Entry) string {
	if len(e.Chain) == 0 {
		return displayName(e.Name)
	}
	return displayName(e.Name) + " (" + treeRelation(e.Chain[len(e.Chain)-1]) + ")"
}

// details ends an entry's line with its source position and markers.
func (t *treeWriter) details(e Entry, extra []string) {
	if s := source(e); s != "" {
		t.b.WriteString("  " + Printable(s))
	}
	var marks []string
	switch e.Emitted {
	case "":
		if e.RemovedInDump {
			marks = append(marks, "[removed in dump]")
		}
	case "yes":
		marks = append(marks, symbolMarks(e)...)
		if e.RemovedInDump {
			marks = append(marks, "[removed in dump, yet emitted]")
		}
	case "no":
		marks = append(marks, "[not emitted: "+Printable(e.WhyNotEmitted)+"]")
	default:
		marks = append(marks, "[object not read: emission unknown]")
	}
	if e.InCycle {
		marks = append(marks, "[cycle]")
	}
	if e.NotInDump {
		marks = append(marks, "[not in dump]")
	}
	if e.LTO {
		marks = append(marks, "[lto]")
	}
	marks = append(marks, extra...)
	if len(marks) > 0 {
		t.b.WriteString("  " + strings.Join(marks, " "))
	}
	t.b.WriteString("\n")
}
