package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/klp-audit/klp-audit/internal/driver"
	"github.com/klp-audit/klp-audit/objdiff"
	"github.com/klp-audit/klp-audit/report"
)

// DiffOptions are the inputs of "klp-audit diff".
type DiffOptions struct {
	Streams *Streams
	Orig    string
	Patched string
	Format  string
	// ExitCode makes differences exit with status 1, as git diff
	// --exit-code does.
	ExitCode bool
	// Jobs is how many object pairs a tree comparison reads at once
	// (0: one per CPU).
	Jobs int
}

// errDiffers is returned under --exit-code when a function changed,
// appeared or disappeared. It wraps errIncomplete only to share its exit
// status, 1, and Main's silence: the report was printed, nothing is wrong.
var errDiffers = fmt.Errorf("functions differ: %w", errIncomplete)

func newDiffCmd(s *Streams, runF func(*DiffOptions) error) *cobra.Command {
	opts := &DiffOptions{Streams: s}
	cmd := &cobra.Command{
		Use:   "diff ORIG PATCHED",
		Short: "Compare original and patched objects function by function",
		Long: `Compare the original and the patched build of the same code, function by
function, and list which functions changed, which were added and which were
removed. Every changed function must be replaced by the livepatch (a
klp_func per function, old_sympos telling same-named static functions
apart); added functions are new code it carries; removed ones were called by
code that changed. This is the check after building: GCC's inlining, cloning
and inter-procedural analyses move with every change (a helper inlined into
its callers, a caller that relied on a callee being pure), so a function the
source patch never touched can change, and only comparing the objects shows
it.

ORIG and PATCHED are two objects (.o, .ko, vmlinux.o) or two build trees;
trees pair their *.o and *.ko files by relative path (kbuild's *.mod.o and
temporary files are skipped), and an object only one tree has is an added or
removed object.

Code is compared instruction by instruction, taken symbolically:
  - a relocated field counts by what it names: a call to the same function
    is equal wherever each side put it; a section symbol plus addend is the
    function or data it lands in, plus an offset; a string literal
    (.rodata.str*) counts by its content, so a string that only moved is
    equal and a changed one is not;
  - calls and jumps the assembler resolved itself (a local function in the
    same .text, without -ffunction-sections) count by their target function
    and offset, not by their displacement;
  - a function's cold piece (foo.cold) is compared as part of foo;
  - WARN/BUG entries (__bug_table), static keys (__jump_table), exception
    fixups, alternatives and static calls attached to a function count too.
A function whose only differences are line numbers (a __LINE__ immediate
that moved with its line, which the DWARF line table shows, or the line of a
WARN/BUG in __bug_table) is reported as "line-shift only", apart from the
changed ones: lines inserted above it moved it, its behaviour is the same.

For each changed function the first differing instruction is shown on both
sides, disassembled in GNU syntax with symbolic targets, with its offset.

Exit status:
  0  the objects were compared, with or without differences
  1  with --exit-code: a function changed, was added or was removed, or a
     data object differs
  2  usage or input error: an unreadable file, not an ELF object, a file
     compared with a directory, or objects of a tree that could not be read
  3  the report could not be written (stdout closed, disk full)`,
		Example: `  # Which functions must the livepatch replace after fixing mm/memblock.c?
  klp-audit diff orig/mm/memblock.o patched/mm/memblock.o

  # Two kernel build trees (kbuild output), as JSON
  klp-audit diff --format json ~/linux-orig ~/linux-patched

  # In a script: fail when anything but line numbers changed
  klp-audit diff --exit-code orig.o patched.o >/dev/null || echo "livepatch needed"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("diff needs two arguments, ORIG and PATCHED (objects or build trees), got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := report.ParseFormatOf(report.VerbDiff, opts.Format); err != nil {
				return err
			}
			if opts.Jobs < 0 {
				return fmt.Errorf("--jobs must be 0 or more, got %d", opts.Jobs)
			}
			opts.Orig, opts.Patched = args[0], args[1]
			if runF != nil {
				return runF(opts)
			}
			return runDiff(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Format, "format", "text", "output `FORMAT`: text, yaml or json")
	fl.BoolVar(&opts.ExitCode, "exit-code", false, "exit with status 1 when a function changed, was added or was removed")
	fl.IntVar(&opts.Jobs, "jobs", 0, "compare `N` object pairs at once in tree mode (0: one per CPU)")
	_ = cmd.RegisterFlagCompletionFunc("format", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return report.FormatNames(report.VerbDiff), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func runDiff(opts *DiffOptions) error {
	rep, err := driver.Diff(opts.Orig, opts.Patched, opts.Jobs)
	if err != nil {
		return err
	}
	format, _ := report.ParseFormatOf(report.VerbDiff, opts.Format)
	if format == report.Text {
		err = writeDiffText(opts.Streams.Out, rep)
	} else {
		err = report.Encode(opts.Streams.Out, rep, format)
	}
	if err != nil {
		return err
	}
	if err := driver.DiffProblems(rep); err != nil {
		return err
	}
	if opts.ExitCode && rep.Summary.Differs() {
		return errDiffers
	}
	return nil
}

// writeDiffText prints the report for people: per object, the changed
// functions with their first difference, then the line-shift-only,
// added and removed ones, and a summary line.
func writeDiffText(w io.Writer, r *objdiff.Report) error {
	bw := &errWriter{w: w}
	for i, d := range r.Objects {
		if i > 0 {
			bw.printf("\n")
		}
		switch d.Status {
		case objdiff.ObjectAdded:
			bw.printf("%s: only in the patched tree (%d functions, all added)\n", d.Path, len(d.Added))
		case objdiff.ObjectRemoved:
			bw.printf("%s: only in the original tree (%d functions, all removed)\n", d.Path, len(d.Removed))
		default:
			bw.printf("%s: %d changed, %d line-shift only, %d added, %d removed, %d unchanged\n",
				d.Path, len(d.Changed), len(d.LineShiftOnly), len(d.Added), len(d.Removed), d.Unchanged)
		}
		if len(d.Changed) > 0 {
			bw.printf("  changed (the livepatch must replace each):\n")
			for _, c := range d.Changed {
				bw.printf("    %s%s\n", funcName(c.Function), changeWhy(c))
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
				bw.printf("    %s: %s\n", funcName(c.Function), strings.Join(ls, ", "))
			}
		}
		if d.Status == objdiff.ObjectCompared || len(d.Added)+len(d.Removed) <= 50 {
			if len(d.Added) > 0 {
				bw.printf("  added:\n")
				for _, f := range d.Added {
					bw.printf("    %s\n", funcName(f))
				}
			}
			if len(d.Removed) > 0 {
				bw.printf("  removed:\n")
				for _, f := range d.Removed {
					bw.printf("    %s\n", funcName(f))
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

func funcName(f objdiff.Function) string {
	s := f.Name
	if f.Sympos > 0 {
		s += fmt.Sprintf(" (old_sympos %d)", f.Sympos)
	}
	return s
}

func changeWhy(c objdiff.Change) string {
	switch c.Reason {
	case objdiff.ReasonImmediate:
		return " [an immediate operand changed, not a __LINE__ shift]"
	case objdiff.ReasonCold:
		return " [its cold pieces differ]"
	case objdiff.ReasonTable:
		return " [an entry of a table about its code differs]"
	case objdiff.ReasonUnreadable:
		return " [code unreadable on one side]"
	}
	return ""
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, a...)
	}
}
