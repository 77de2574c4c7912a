package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/klp-audit/klp-audit/internal/driver"
	"github.com/klp-audit/klp-audit/report"
)

// CheckOptions are the inputs of "klp-audit check".
type CheckOptions struct {
	Streams *Streams
	driver.Options
	Diff      string
	Livepatch string
	Funcs     string
	Policy    string
	Vmlinux   []string
	Orig      string
	Patched   string
	Fuzz      int
	Format    string
	// Rebuild: --no-rebuild, --jobs, --rebuild-cache, --rebuild-max.
	Rebuild driver.RebuildOptions
}

// errCheckFailed is returned when the check printed a verdict other than
// complete; it shares errIncomplete's exit status, 1.
var errCheckFailed = fmt.Errorf("livepatch check failed: %w", errIncomplete)

const checkExitHelp = `Exit status:
  0  complete: the livepatch replaces every must-patch target
  1  missing (a must-patch target, or with --orig/--patched a function whose
     code changed, is not replaced), data-change (the fix changes data
     layout or initialisers: shadow variables or callbacks, not function
     replacement), or incomplete (evidence missing: never safe)
  2  usage or input error: bad flags, an unreadable diff or livepatch, a
     livepatch with no klp_func array, no dumps in the build, or a diff
     that does not apply to the build's sources
  3  the report could not be written (stdout closed, disk full)`

func newCheckCmd(s *Streams, runF func(*CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{Streams: s}
	cmd := &cobra.Command{
		Use:   "check --diff FIX.patch --build DIR (--livepatch MODULE.c | --funcs LIST.yaml)",
		Short: "Check that a livepatch replaces every function a fix makes it replace",
		Long: `Check a livepatch against the fix it carries. Each hunk of the fix (a
unified diff, git-style or plain, against the build's sources) is located
in the build's source by its context, as patch(1) locates it: at its
header's line or, when the tree moved, at the nearest line where its
context and deleted lines are (an offset, reported per hunk). No context
line may differ unless --fuzz allows it; a hunk that does not apply is an
input error naming the closest place it almost matched. Each hunk is then
mapped to the functions whose bodies it changes, using the build's DWARF (the
subprograms' declaration lines and the line tables), or, for a file no
DWARF covers, the C function definitions found in the source. The
originals are read from the build directory, or, for a make O= build,
from the source tree its "source" link names (--source DIR when it is
gone); never outside that tree. For every
changed function the must-patch set is computed as "klp-audit impacted"
computes it (same rules, same policy; a function of a header in every
translation unit), and compared with the livepatch's klp_func entries
(matched by klp_object, old_name and, when both are known, old_sympos).

Hunks that change no function body are classified: comment (only comments
or blank lines), macro (preprocessor lines: the functions expanding the
macro are not found, so without --orig/--patched the answer is
incomplete), data (a struct, union or enum body, a global initialiser, a
static local: the fix needs shadow variables or callbacks, so the verdict
is data-change) or unknown (incomplete).

The livepatch is its module source (--livepatch: its struct klp_func
arrays and the struct klp_object array naming their objects, .name NULL
being vmlinux) or a YAML list (--funcs) of entries
  - object: vmlinux
    old_name: read_msg
    old_sympos: 0        # optional

When the build holds its sources and kbuild's .cmd files (a kernel tree
built in place), the units the fix touches are rebuilt, original and
patched, from the commands kbuild recorded (in a scratch directory: the
tree is never written), and compared function by function. The answer is
then what the compiler did: every function whose code changed, with its
cause (holds a changed line; holds the inlined or cloned code of a
changed function; a caller relying on a changed callee; GCC moved a
decision; line numbers only) and the klp_func entries that cover it.
Predicted targets whose code did not change are dropped and listed with
the reason; changed functions nothing predicted are added. A third,
line-neutral build (the patched source with #line directives after each
changed region) tells functions whose only change is a moved line number
(__LINE__, WARN) exactly. The rebuilt
original must equal the tree's object (objtool's step is replayed on a
copy), else the report says so. A .c file's units are those compiled from
it; a header's, every unit whose .cmd dependency list names it (at most
--rebuild-max). Originals are cached (--rebuild-cache). --no-rebuild
keeps the prediction alone; without sources or .cmd files the report
says it fell back to it.

With --orig and --patched (two objects or two build trees, before and
after the fix), functions whose code changed but that the livepatch does
not replace fail the check, and replaced functions whose code did not
change are reported as a warning.

The text output gives the verdict first, then the missing functions with
the rule and last step of their reason, the review targets, the data
changes, the covered count and the extra (replaced but not asked for)
functions. --format yaml or json writes the check report (schema 1),
sarif annotations on the diff, markdown a review comment, html one
self-contained page for review (verdict, sortable targets, reason chains,
the impact graph as SVG).

` + checkExitHelp,
		Example: `  # Does the livepatch replace everything the fix needs?
  klp-audit check --diff fix.patch --build ~/linux --livepatch livepatch-fix.c

  # With the running kernel's vmlinux for old_sympos, as JSON for CI
  klp-audit check --diff fix.patch --build ~/linux --livepatch livepatch-fix.c --vmlinux ~/linux/vmlinux --format json

  # Also compare the original and patched builds
  klp-audit check --diff fix.patch --build ~/linux --funcs funcs.yaml --orig ~/linux --patched ~/linux-fixed`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := report.ParseFormatOf(report.VerbCheck, opts.Format); err != nil {
				return err
			}
			if (opts.Livepatch == "") == (opts.Funcs == "") {
				return fmt.Errorf("give exactly one of --livepatch MODULE.c and --funcs LIST.yaml")
			}
			if (opts.Orig == "") != (opts.Patched == "") {
				return fmt.Errorf("--orig and --patched go together")
			}
			if opts.Fuzz < 0 {
				return fmt.Errorf("--fuzz %d: want a number of lines, 0 or more", opts.Fuzz)
			}
			if runF != nil {
				return runF(opts)
			}
			return runCheck(opts)
		},
	}
	bindBuild(cmd, &opts.Options)
	bindSource(cmd, &opts.Options)
	fl := cmd.Flags()
	fl.StringVar(&opts.Diff, "diff", "", "the fix: a unified diff `FILE` against the build's sources")
	fl.StringVar(&opts.Livepatch, "livepatch", "", "livepatch module source `FILE` (its struct klp_func and klp_object arrays)")
	fl.StringVar(&opts.Funcs, "funcs", "", "YAML `FILE` listing the replaced functions: object, old_name, old_sympos")
	fl.StringVar(&opts.Policy, "policy", "", "policy `FILE` (YAML) merged over the default one: what it leaves out keeps the default (klp-audit policy prints it)")
	fl.StringArrayVar(&opts.Vmlinux, "vmlinux", nil,
		"linked vmlinux or module `FILE` (.ko) of the running kernel: match old_sympos (repeatable)")
	fl.StringVar(&opts.Orig, "orig", "", "original build `DIR` or object, compared with --patched")
	fl.StringVar(&opts.Patched, "patched", "", "patched build `DIR` or object, compared with --orig")
	fl.IntVar(&opts.Fuzz, "fuzz", 0, "let up to `N` context lines at each end of a hunk differ from the build's source, as patch -F N")
	fl.StringVar(&opts.Format, "format", "text", "output `FORMAT`: text, yaml, json, sarif, markdown or html")
	bindRebuild(cmd, &opts.Rebuild)
	_ = cmd.MarkFlagRequired("diff")
	_ = cmd.MarkFlagFilename("policy", "yaml", "yml")
	_ = cmd.RegisterFlagCompletionFunc("format", formatCompletion(report.VerbCheck))
	return cmd
}

func runCheck(opts *CheckOptions) error {
	format, err := report.ParseFormatOf(report.VerbCheck, opts.Format)
	if err != nil {
		return err
	}
	ro := opts.Rebuild
	res, err := driver.Check(opts.Options, driver.CheckQuery{Diff: opts.Diff, Livepatch: opts.Livepatch, Funcs: opts.Funcs,
		Policy: opts.Policy, Vmlinux: opts.Vmlinux, Orig: opts.Orig, Patched: opts.Patched, Fuzz: opts.Fuzz, Rebuild: ro})
	if err != nil {
		return err
	}
	if err := renderCheck(opts.Streams, res, format); err != nil {
		return err
	}
	if res.Verdict != driver.VerdictComplete {
		return errCheckFailed
	}
	return nil
}

// renderCheck writes the check report; on a terminal (and unless NO_COLOR
// is set) the text verdict is coloured: PASS green, FAIL red, INCOMPLETE
// yellow. Pipes and files get plain text.
func renderCheck(s *Streams, res *report.CheckResult, format report.Format) error {
	if format != report.Text || !s.OutTTY || os.Getenv("NO_COLOR") != "" {
		return report.RenderCheck(s.Out, res, format)
	}
	var b bytes.Buffer
	if err := report.RenderCheck(&b, res, format); err != nil {
		return err
	}
	_, err := io.WriteString(s.Out, colourVerdict(b.String()))
	return err
}

// colourVerdict colours the verdict words of a text check report.
func colourVerdict(text string) string {
	return strings.NewReplacer(
		"(PASS)", "(\x1b[32mPASS\x1b[0m)",
		"(FAIL)", "(\x1b[31mFAIL\x1b[0m)",
		"(INCOMPLETE)", "(\x1b[33mINCOMPLETE\x1b[0m)",
	).Replace(text)
}
