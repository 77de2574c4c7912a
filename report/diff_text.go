package report

import (
	"fmt"
	"io"
	"strings"
)

// RenderDiff writes the diff report r to w in format f: text, yaml or
// json.
func RenderDiff(w io.Writer, r *DiffReport, f Format) error {
	switch f {
	case JSON, YAML:
		return Encode(w, r, f)
	case Text:
		return writeDiffText(w, r)
	}
	return fmt.Errorf("diff writes %s, not %s", strings.Join(FormatNames(VerbDiff), ", "), f)
}

// writeDiffText prints the report for people: per object, the changed
// functions with their first difference, then the line-shift-only,
// added and removed ones, and a summary line.
func writeDiffText(w io.Writer, r *DiffReport) error {
	bw := &errWriter{w: w}
	for i, d := range r.Objects {
		if i > 0 {
			bw.printf("\n")
		}
		switch d.Status {
		case ObjectAdded:
			bw.printf("%s: only in the patched tree (%d functions, all added)\n", d.Path, len(d.Added))
		case ObjectRemoved:
			bw.printf("%s: only in the original tree (%d functions, all removed)\n", d.Path, len(d.Removed))
		default:
			bw.printf("%s: %d changed, %d line-shift only, %d added, %d removed, %d unchanged\n",
				d.Path, len(d.Changed), len(d.LineShiftOnly), len(d.Added), len(d.Removed), d.Unchanged)
		}
		if len(d.Changed) > 0 {
			bw.printf("  changed (the livepatch must replace each):\n")
			for _, c := range d.Changed {
				bw.printf("    %s%s\n", diffFuncName(c.Function), changeWhy(c))
				if f := c.First; f != nil {
					bw.printf("      orig     %s+%#x: %s\n", f.Piece, f.Offset, f.Orig)
					bw.printf("      patched  %s+%#x: %s\n", f.Piece, f.PatchedOffset, f.Patched)
				}
			}
		}
		if len(d.LineShiftOnly) > 0 {
			bw.printf("  line-shift only (only __LINE__ numbers moved; same behaviour):\n")
			for _, c := range d.LineShiftOnly {
				var ls []string
				for _, l := range c.LineShifts {
					h := ""
					if l.Heuristic {
						h = " (heuristic: no line table; feeds " + l.Callee + ")"
					}
					ls = append(ls, fmt.Sprintf("%s+%#x %s %d->%d%s", l.Piece, l.Offset, l.Where, l.Orig, l.Patched, h))
				}
				bw.printf("    %s: %s\n", diffFuncName(c.Function), strings.Join(ls, ", "))
			}
		}
		if d.Status == ObjectCompared || len(d.Added)+len(d.Removed) <= 50 {
			if len(d.Added) > 0 {
				bw.printf("  added:\n")
				for _, f := range d.Added {
					bw.printf("    %s\n", diffFuncName(f))
				}
			}
			if len(d.Removed) > 0 {
				bw.printf("  removed:\n")
				for _, f := range d.Removed {
					bw.printf("    %s\n", diffFuncName(f))
				}
			}
		}
		if len(d.Renames) > 0 {
			bw.printf("  renamed (correlated; references count as equal):\n")
			for _, rn := range d.Renames {
				bw.printf("    %s -> %s\n", rn.Orig, rn.Patched)
			}
		}
		for _, n := range d.Notes {
			bw.printf("  note: %s\n", n)
		}
	}
	sm := r.Summary
	if len(r.Objects) > 0 {
		bw.printf("\n")
	}
	objs := diffPlural(sm.Objects, "object") + " compared"
	if r.Trees {
		objs += fmt.Sprintf(", %d added, %d removed", sm.AddedObjects, sm.RemovedObjects)
	}
	bw.printf("%s: %s changed, %d line-shift only, %d added, %d removed, %d unchanged\n",
		objs, diffPlural(sm.Changed, "function"), sm.LineShiftOnly, sm.Added, sm.Removed, sm.Unchanged)
	return bw.err
}

func diffPlural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func diffFuncName(f Function) string {
	s := f.Name
	if f.Sympos > 0 {
		s += fmt.Sprintf(" (old_sympos %d)", f.Sympos)
	}
	return s
}

func changeWhy(c Change) string {
	switch c.Reason {
	case ReasonImmediate:
		return " [an immediate operand changed, not a __LINE__ shift]"
	case ReasonCold:
		return " [its cold pieces differ]"
	case ReasonTable:
		return " [an entry of a table about its code differs]"
	case ReasonUnreadable:
		return " [code unreadable on one side]"
	}
	return ""
}

// printf writes to the errWriter unless a write failed already.
func (e *errWriter) printf(format string, a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, a...)
	}
}
