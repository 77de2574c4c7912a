package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
)

// renderTable writes the must-patch set first, one row per target
// (klp_object, function, unit, rule, severity), then the functions on the
// reason chains that are not targets, then one row per entry (where the
// code went), sorted by translation unit, depth and name. The problems of
// an incomplete result come first, as in the text output; when the rules
// did not run a line says there is no must-patch set. This is the only
// file that imports tablewriter, whose v0 and v1 APIs differ; go.mod pins
// v0.0.5.
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
	if r.Targets == nil && r.Explained == nil && r.Policy == "" {
		io.WriteString(ew, "No must-patch set: the safety rules did not run (--no-rules or --dumps-only); the rows below are the functions carrying the code, not the functions to replace.\n\n")
	} else {
		writeTargetTable(ew, r)
		io.WriteString(ew, "\nFunctions carrying the code of "+Printable(r.Query.Function)+":\n")
	}

	objects := false
	for _, e := range r.Entries {
		objects = objects || e.Emitted != ""
	}
	header := []string{"Translation unit", "Function", "Source", "Depth", "Relation", "Removed"}
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
	return ew.err
}

// writeTargetTable writes the rules' targets, must first, then
// conditional (the reason holds the condition), then review, then those
// the policy ignored, each group sorted by klp_object, unit
// and name; then the functions the rules explained as no target.
func writeTargetTable(w io.Writer, r *Result) {
	var must, conditional, review, ignored []Target
	for _, t := range r.Targets {
		switch {
		case t.IgnoredBecause != "":
			ignored = append(ignored, t)
		case t.Severity == SeverityConditional:
			conditional = append(conditional, t)
		case t.Severity == SeverityReview:
			review = append(review, t)
		default:
			must = append(must, t)
		}
	}
	head := fmt.Sprintf("The livepatch must replace %s", plural(len(must), "function", "functions"))
	if len(conditional) > 0 {
		head += fmt.Sprintf(", %d more only if the fix changes what they assumed of it (conditional)", len(conditional))
	}
	if len(review) > 0 {
		head += fmt.Sprintf(", and a reviewer decide on %d more", len(review))
	}
	if r.Policy != "" {
		head += fmt.Sprintf(" (policy: %s)", Printable(r.Policy))
	}
	io.WriteString(w, head+":\n")
	sympos := false
	for _, t := range r.Targets {
		sympos = sympos || t.OldSympos != nil
	}
	header := []string{"klp_object", "Function", "Translation unit", "Rule", "Severity", "Binding"}
	if sympos {
		header = append(header, "old_sympos")
	}
	header = append(header, "Reason")
	t := newTable(w, header)
	for _, g := range [][]Target{sortTargets(must), sortTargets(conditional), sortTargets(review), sortTargets(ignored)} {
		for _, tg := range g {
			sev := tg.Severity
			reason := ""
			if len(tg.Chain) > 0 {
				reason = Predicate(tg.Chain[len(tg.Chain)-1])
			}
			if tg.IgnoredBecause != "" {
				sev = "ignored"
				reason = Printable(tg.IgnoredBecause)
			} else if tg.Note != "" {
				reason += " (" + Printable(tg.Note) + ")"
			}
			ko := Printable(tg.KLPObject)
			if ko == "" {
				ko = "-" // not a kernel tree: unknown
			}
			row := []string{ko, displayName(tg.Name), Printable(tuName(tg.TU)), Printable(tg.Rule), Printable(sev), Printable(tg.Binding)}
			if sympos {
				sp := ""
				if tg.OldSympos != nil {
					sp = strconv.Itoa(*tg.OldSympos)
				}
				row = append(row, sp)
			}
			t.Append(append(row, strings.TrimSpace(reason)))
		}
	}
	t.Render()
	if len(r.Explained) > 0 {
		io.WriteString(w, "\nNot targets:\n")
		t := newTable(w, []string{"Function", "Translation unit", "Rule", "Why"})
		for _, e := range r.Explained {
			t.Append([]string{displayName(e.Name), Printable(tuName(e.TU)), Printable(e.Rule), Printable(e.Why)})
		}
		t.Render()
	}
	for _, n := range r.Notes {
		io.WriteString(w, "note: "+Printable(n)+"\n")
	}
}

// sortTargets sorts ts in place by klp_object, unit and name, and
// returns it.
func sortTargets(ts []Target) []Target {
	sort.SliceStable(ts, func(i, j int) bool {
		if ts[i].KLPObject != ts[j].KLPObject {
			return ts[i].KLPObject < ts[j].KLPObject
		}
		if ts[i].TU != ts[j].TU {
			return ts[i].TU < ts[j].TU
		}
		return ts[i].Name < ts[j].Name
	})
	return ts
}

func newTable(w io.Writer, header []string) *tablewriter.Table {
	t := tablewriter.NewWriter(w)
	t.SetHeader(header)
	t.SetAutoFormatHeaders(false)
	t.SetAutoWrapText(false)
	t.SetHeaderAlignment(tablewriter.ALIGN_LEFT)
	t.SetAlignment(tablewriter.ALIGN_LEFT)
	return t
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

// reachedVia says, from the entry's side, how it got the code and from
// which function, e.g. "holds the inlined code of css_put".
func reachedVia(e Entry) string {
	if e.Depth == 0 || len(e.Chain) == 0 || parentOf(e) == "" {
		return howOf(e)
	}
	return Predicate(e.Chain[len(e.Chain)-1])
}
