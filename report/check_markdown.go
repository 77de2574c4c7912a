package report

import (
	"fmt"
	"io"
	"strings"
)

// checkStatus is the one status word of a verdict: PASS for complete,
// FAIL for a livepatch that lacks targets or a fix it cannot carry,
// INCOMPLETE when evidence was missing, UNKNOWN for anything else.
func checkStatus(verdict string) string {
	switch verdict {
	case "complete":
		return "PASS"
	case "unresolved", "missing", "data-change":
		return "FAIL"
	case "incomplete":
		return "INCOMPLETE"
	}
	return "UNKNOWN"
}

// verdictText says a verdict in a sentence.
func verdictText(verdict string) string {
	switch verdict {
	case "complete":
		return "the livepatch replaces every function the fix makes it replace"
	case "unresolved":
		return "the kernel would refuse the livepatch: a klp_func does not resolve to one function of its klp_object"
	case "missing":
		return "the livepatch does not replace every function the fix makes it replace"
	case "data-change":
		return "the fix changes data that replacing functions cannot carry"
	case "incomplete":
		return "evidence was missing, so completeness cannot be shown"
	}
	return "unknown verdict"
}

// renderCheckMarkdown writes r as a summary fit for a review comment:
// the verdict, the missing targets as a table, then review targets, data
// changes, build truth, counts of covered and extra functions, problems.
func renderCheckMarkdown(w io.Writer, r *CheckResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## klp-audit check: %s\n\n", checkStatus(r.Verdict))
	fmt.Fprintf(&b, "**%s** (verdict `%s`): %s.\n\n", checkStatus(r.Verdict), mdCodeText(orNone(r.Verdict)), verdictText(r.Verdict))

	var in []string
	if r.Inputs.Diff != "" {
		in = append(in, "diff "+mdCode(r.Inputs.Diff))
	}
	switch {
	case r.Inputs.Livepatch != "":
		in = append(in, "livepatch "+mdCode(r.Inputs.Livepatch))
	case r.Inputs.Funcs != "":
		in = append(in, "functions "+mdCode(r.Inputs.Funcs))
	}
	if r.Inputs.Policy != "" {
		in = append(in, "policy "+mdCode(r.Inputs.Policy))
	}
	if len(in) > 0 {
		b.WriteString("Checked " + strings.Join(in, ", ") + ".\n\n")
	}

	if un := sortedUnresolved(r.Unresolved); len(un) > 0 {
		fmt.Fprintf(&b, "### Unresolved klp_funcs (%d)\n\nThe kernel would refuse to load the livepatch.\n\n", len(un))
		for _, u := range un {
			b.WriteString("- " + mdFunc(u.LivepatchFunc) + ": " + mdText(u.Reason) + "\n")
		}
		b.WriteString("\n")
	}

	missing := sortedCheckTargets(r.Missing)
	fmt.Fprintf(&b, "### Missing targets (%d)\n\n", len(missing))
	if len(missing) == 0 {
		b.WriteString("None.\n\n")
	} else {
		writeMDTargets(&b, missing)
	}

	if cond := sortedCheckTargets(r.Conditional); len(cond) > 0 {
		fmt.Fprintf(&b, "### Conditional (%d)\n\nNot replaced; each is needed only if the fix changes what it assumed (the condition in Why). They do not fail the check.\n\n", len(cond))
		writeMDTargets(&b, cond)
	}

	if review := sortedCheckTargets(r.Review); len(review) > 0 {
		fmt.Fprintf(&b, "### Review (%d)\n\nNot replaced; a reviewer must decide whether the livepatch needs them.\n\n", len(review))
		writeMDTargets(&b, review)
	}

	if data := dataHunks(r); len(data) > 0 {
		fmt.Fprintf(&b, "### Data changes (%d)\n\nReplacing functions cannot carry these hunks.\n\n", len(data))
		for _, h := range data {
			b.WriteString("- " + mdCode(orUnknownFile(position(h.File, h.Line))))
			if h.Lines > 0 {
				b.WriteString(" (" + plural(h.Lines, "line", "lines") + ")")
			}
			if h.Note != "" {
				b.WriteString(": " + mdText(h.Note))
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}

	if bt := r.BuildTruth; bt != nil && (len(bt.Unreplaced) > 0 || len(bt.Unchanged) > 0) {
		b.WriteString("### Build truth\n\n")
		for _, f := range sortedLivepatchFuncs(bt.Unreplaced) {
			b.WriteString("- changed between the builds but not replaced: " + mdFunc(f) + "\n")
		}
		for _, f := range sortedLivepatchFuncs(bt.Unchanged) {
			b.WriteString("- replaced but unchanged between the builds: " + mdFunc(f) + "\n")
		}
		b.WriteString("\n")
	}

	fmt.Fprintf(&b, "Covered: %d. Extra: %d", len(r.Covered), len(r.Extra))
	if len(r.Extra) > 0 {
		var names []string
		for _, f := range sortedLivepatchFuncs(r.Extra) {
			names = append(names, mdFunc(f))
		}
		b.WriteString(" (replaced, but no rule asks for them: " + strings.Join(names, ", ") + ")")
	}
	b.WriteString(".\n\n")

	if ps := sortedProblems(r.Problems); len(ps) > 0 {
		fmt.Fprintf(&b, "### Problems (%d)\n\n", len(ps))
		for _, p := range ps {
			b.WriteString("- ")
			if pos := position(p.File, p.Line); pos != "" {
				b.WriteString(mdCode(pos) + ": ")
			}
			b.WriteString(mdText(orNone(p.Message)) + "\n")
		}
		b.WriteString("\n")
	}

	tool := orUnnamed(r.Tool.Name)
	if r.Tool.Version != "" {
		tool += " " + r.Tool.Version
	}
	fmt.Fprintf(&b, "<sub>%s, check schema %d</sub>\n", mdText(tool), r.SchemaVersion)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMDTargets(b *strings.Builder, ts []CheckTarget) {
	b.WriteString("| Function | klp_object | Rule | Why |\n")
	b.WriteString("| --- | --- | --- | --- |\n")
	for _, t := range ts {
		name := mdCode(targetName(t))
		if t.TU != "" {
			name += " (" + mdCell(t.TU) + ")"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", name, mdCell(klpObjectOf(t)), mdCell(orNone(t.Rule)), mdCell(whyText(t, false)))
	}
	b.WriteString("\n")
}

func mdFunc(f LivepatchFunc) string {
	s := mdCode(funcName(f))
	if f.Object != "" {
		s += " in " + mdText(f.Object)
	}
	return s
}

// mdCode writes s as inline code, safe inside a table cell: newlines
// become spaces, pipes are escaped, and the fence is longer than any run
// of backticks in s.
func mdCode(s string) string {
	s = mdCodeText(s)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

func mdCodeText(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	return strings.ReplaceAll(s, "|", `\|`)
}

// mdText escapes s as markdown text on one line.
func mdText(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune("\\`*_[]<>|#", c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// mdCell is mdText for a table cell.
func mdCell(s string) string { return mdText(s) }

// klpObjectOf names a target's klp_object, or says it is unknown (the
// build is not a kernel tree).
func klpObjectOf(t CheckTarget) string {
	if t.KLPObject == "" {
		return "(klp_object unknown)"
	}
	return t.KLPObject
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func orUnknownFile(s string) string {
	if s == "" {
		return "(unknown file)"
	}
	return s
}

// writeTextOffsets lists the hunks found away from their header's
// position, numbered per file in the diff's order as patch(1) numbers
// them: "mm/oom_kill.c:172: hunk #1 applied at offset 12 lines".
func writeTextOffsets(b *strings.Builder, hs []Hunk) {
	var lines []string
	n := map[string]int{}
	for _, h := range hs {
		n[h.File]++
		if h.Offset == 0 && h.Fuzz == 0 {
			continue
		}
		l := fmt.Sprintf("  %s: hunk #%d applied at offset %d line", orUnknownFile(position(h.File, h.Line)), n[h.File], h.Offset)
		if h.Offset != 1 && h.Offset != -1 {
			l += "s"
		}
		if h.Fuzz > 0 {
			l += fmt.Sprintf(" with fuzz %d", h.Fuzz)
		}
		lines = append(lines, l+"\n")
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "\nhunks applied at an offset (%d), located by their context as patch(1) locates them\n", len(lines))
	for _, l := range lines {
		b.WriteString(l)
	}
}

// renderCheckText writes r for a terminal: the verdict, then each
// non-empty list with one line per item and its reason indented below.
func renderCheckText(w io.Writer, r *CheckResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "verdict: %s (%s): %s\n", orNone(r.Verdict), checkStatus(r.Verdict), verdictText(r.Verdict))
	if r.Inputs.Diff != "" {
		fmt.Fprintf(&b, "diff: %s\n", r.Inputs.Diff)
	}
	if r.Inputs.Livepatch != "" {
		fmt.Fprintf(&b, "livepatch: %s\n", r.Inputs.Livepatch)
	}
	if r.Inputs.Funcs != "" {
		fmt.Fprintf(&b, "functions: %s\n", r.Inputs.Funcs)
	}
	writeTextOffsets(&b, r.Hunks)
	if ps := sortedProblems(r.Problems); len(ps) > 0 {
		fmt.Fprintf(&b, "\nproblems (%d): the answer may be incomplete\n", len(ps))
		for _, p := range ps {
			pos := position(p.File, p.Line)
			if pos != "" {
				pos += ": "
			}
			fmt.Fprintf(&b, "  %s%s\n", pos, oneLine(orNone(p.Message)))
		}
	}
	if un := sortedUnresolved(r.Unresolved); len(un) > 0 {
		fmt.Fprintf(&b, "\nunresolved (%d): the kernel would refuse the livepatch\n", len(un))
		for _, u := range un {
			fmt.Fprintf(&b, "  %s %s", orUnknown(u.Object), oneLine(funcName(u.LivepatchFunc)))
			if pos := position(u.File, u.Line); pos != "" {
				b.WriteString(" at " + pos)
			}
			fmt.Fprintf(&b, "\n    %s\n", oneLine(u.Reason))
		}
	}
	writeTextTargets(&b, "missing", sortedCheckTargets(r.Missing))
	writeTextTargets(&b, "conditional, needed only if the fix changes what each assumed", sortedCheckTargets(r.Conditional))
	writeTextTargets(&b, "review", sortedCheckTargets(r.Review))
	if data := dataHunks(r); len(data) > 0 {
		fmt.Fprintf(&b, "\ndata changes (%d): not carried by replacing functions\n", len(data))
		for _, h := range data {
			fmt.Fprintf(&b, "  %s", orUnknownFile(position(h.File, h.Line)))
			if h.Note != "" {
				fmt.Fprintf(&b, ": %s", oneLine(h.Note))
			}
			b.WriteString("\n")
		}
	}
	if bt := r.BuildTruth; bt != nil {
		writeTextFuncs(&b, "changed between the builds, not replaced", bt.Unreplaced)
		writeTextFuncs(&b, "replaced, unchanged between the builds", bt.Unchanged)
	}
	writeTextFuncs(&b, "extra", r.Extra)
	writeTextRebuild(&b, r.Rebuild)
	fmt.Fprintf(&b, "\ncovered: %d, missing: %d", len(r.Covered), len(r.Missing))
	if len(r.Conditional) > 0 {
		fmt.Fprintf(&b, ", conditional: %d", len(r.Conditional))
	}
	fmt.Fprintf(&b, ", review: %d, extra: %d\n", len(r.Review), len(r.Extra))
	_, err := io.WriteString(w, b.String())
	return err
}

func writeTextTargets(b *strings.Builder, what string, ts []CheckTarget) {
	if len(ts) == 0 {
		return
	}
	fmt.Fprintf(b, "\n%s (%d):\n", what, len(ts))
	for _, t := range ts {
		fmt.Fprintf(b, "  %s %s", klpObjectOf(t), oneLine(targetName(t)))
		if t.TU != "" {
			fmt.Fprintf(b, " [%s]", oneLine(t.TU))
		}
		b.WriteString("\n    " + oneLine(targetWhy(t)) + "\n")
	}
}

func writeTextFuncs(b *strings.Builder, what string, fs []LivepatchFunc) {
	if len(fs) == 0 {
		return
	}
	fmt.Fprintf(b, "\n%s (%d):\n", what, len(fs))
	for _, f := range sortedLivepatchFuncs(fs) {
		fmt.Fprintf(b, "  %s %s", orUnknown(f.Object), oneLine(funcName(f)))
		if pos := position(f.File, f.Line); pos != "" {
			b.WriteString(" at " + pos)
		}
		b.WriteString("\n")
	}
}

// oneLine keeps a name or message on one line: newlines are written as \n.
func oneLine(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}
