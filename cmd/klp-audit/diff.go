package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/klp-audit/klp-audit/internal/driver"
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
	_ = cmd.RegisterFlagCompletionFunc("format", formatCompletion(report.VerbDiff))
	return cmd
}

func runDiff(opts *DiffOptions) error {
	rep, err := driver.Diff(opts.Orig, opts.Patched, opts.Jobs)
	if err != nil {
		return err
	}
	format, _ := report.ParseFormatOf(report.VerbDiff, opts.Format)
	if err := report.RenderDiff(opts.Streams.Out, rep, format); err != nil {
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
