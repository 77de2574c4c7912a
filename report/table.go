package report

import (
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
)

// renderTable writes one row per entry, sorted by translation unit, depth
// and name. The problems of an incomplete result come first, as in the
// text output. This is the only file that imports tablewriter, whose v0
// and v1 APIs differ; go.mod pins v0.0.5.
func renderTable(w io.Writer, r *Result) error {
	if r == nil {
		return errNilResult
	}
	ew := &errWriter{w: w}
	var b strings.Builder
	writeProblems(&b, r)
	if _, err := io.WriteString(ew, b.String()); err != nil {
		return err
	}

	objects := false
	for _, e := range r.Entries {
		objects = objects || e.Emitted != ""
	}
	header := []string{"Translation unit", "Function", "Source", "Depth", "Reached via", "Removed"}
	align := []int{
		tablewriter.ALIGN_LEFT, tablewriter.ALIGN_LEFT, tablewriter.ALIGN_LEFT,
		tablewriter.ALIGN_RIGHT, tablewriter.ALIGN_LEFT, tablewriter.ALIGN_LEFT,
	}
	if objects {
		header = append(header, "Emitted", "Symbol")
		align = append(align, tablewriter.ALIGN_LEFT, tablewriter.ALIGN_LEFT)
	}
	t := tablewriter.NewWriter(ew)
	t.SetHeader(header)
	t.SetAutoFormatHeaders(false)
	t.SetAutoWrapText(false)
	t.SetHeaderAlignment(tablewriter.ALIGN_LEFT)
	t.SetColumnAlignment(align)
	for _, e := range sortedEntries(r.Entries) {
		removed := ""
		if e.RemovedInDump {
			removed = "yes"
		}
		row := []string{
			Printable(tuName(e.TU)),
			displayName(e.Name),
			Printable(source(e)),
			strconv.Itoa(e.Depth),
			Printable(reachedVia(e)),
			removed,
		}
		if objects {
			row = append(row, Printable(e.Emitted), Printable(bindings(e)))
		}
		t.Append(row)
	}
	t.Render()
	renderTargetsTable(ew, r.Targets)
	return ew.err
}

// renderTargetsTable writes the safety rules' targets, when they ran, as a
// second table: one row per target, must first, then conditional (whose
// Why is the condition), then review and ignored ones.
func renderTargetsTable(w io.Writer, targets []Target) {
	if len(targets) == 0 {
		return
	}
	ts := append([]Target(nil), targets...)
	sortTargets(ts)
	tier := func(t Target) int {
		switch {
		case t.IgnoredBecause != "":
			return 3
		case t.Severity == SeverityConditional:
			return 1
		case t.Severity == SeverityReview:
			return 2
		}
		return 0
	}
	sort.SliceStable(ts, func(i, j int) bool { return tier(ts[i]) < tier(ts[j]) })
	_, _ = io.WriteString(w, "\n")
	t := tablewriter.NewWriter(w)
	t.SetHeader([]string{"klp_object", "Translation unit", "Target", "Binding", "Severity", "Rule", "Why"})
	t.SetAutoFormatHeaders(false)
	t.SetAutoWrapText(false)
	t.SetHeaderAlignment(tablewriter.ALIGN_LEFT)
	t.SetAlignment(tablewriter.ALIGN_LEFT)
	for _, tg := range ts {
		sev := tg.Severity
		why := ""
		if len(tg.Chain) > 0 {
			last := tg.Chain[len(tg.Chain)-1]
			why = last.How + " " + last.From
		}
		if tg.Note != "" {
			why = strings.TrimSpace(why + "; " + tg.Note)
			why = strings.TrimPrefix(why, "; ")
		}
		if tg.IgnoredBecause != "" {
			sev = "ignored"
			why = "ignored by the policy: " + tg.IgnoredBecause
		}
		t.Append([]string{Printable(tg.KLPObject), Printable(tuName(tg.TU)), displayName(tg.Name), Printable(tg.Binding),
			Printable(sev), Printable(tg.Rule), Printable(why)})
	}
	t.Render()
}

// bindings lists an entry's symbols with their binding, e.g. "local",
// or "global _ZGVbN4v_sq" when the symbol's name differs from the entry's.
func bindings(e Entry) string {
	var out []string
	for _, s := range e.Symbols {
		b := s.Binding
		if s.Name != e.Name {
			b += " " + s.Name
		}
		if len(s.Cold) > 0 {
			b += " +" + strings.Join(s.Cold, " +")
		}
		out = append(out, b)
	}
	return strings.Join(out, ", ")
}

// reachedVia says how an entry got the code and from which function, e.g.
// "inlined from css_put".
func reachedVia(e Entry) string {
	how, p := howOf(e), parentOf(e)
	switch {
	case e.Depth == 0 || p == "":
		return how
	case how == "":
		return "from " + p
	}
	return how + " from " + p
}
