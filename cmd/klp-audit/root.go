package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/klp-audit/klp-audit/internal/driver"
)

// Main runs klp-audit with args and returns the exit status.
func Main(args []string, s *Streams) int {
	out := &outWriter{w: s.Out}
	ws := *s
	ws.Out = out
	root := newRootCmd(&ws)
	root.SetArgs(args)
	err := root.Execute()
	if out.err != nil {
		fmt.Fprintln(s.Err, "klp-audit: writing the answer:", out.err)
		return ExitOutput
	}
	if err != nil && !errorsIsIncomplete(err) {
		fmt.Fprintln(s.Err, "klp-audit:", err)
	}
	return exitCode(err)
}

func errorsIsIncomplete(err error) bool { return exitCode(err) == ExitIncomplete }

func newRootCmd(s *Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "klp-audit",
		Short: "Which functions must a kernel livepatch replace?",
		Long: `klp-audit tells a Linux kernel livepatch author which functions must be
replaced for a source-based livepatch to be safe.

GCC inlines, clones (.constprop, .isra, .part) and splits functions, so a fix
to foo() may have to ship as new versions of functions the source patch never
touched, each named by its own klp_func. klp-audit reads the compiler's own
record of those decisions (-fdump-ipa-clones dumps, which kbuild leaves beside
each object when the kernel is built with KCFLAGS=-fdump-ipa-clones), checks
them against the objects (which functions exist as symbols, who calls whom,
which IPA analyses the compile flags left live) and answers with the complete
set of klp_func targets, each with the safety rule that requires it and the
evidence for every step. Missing evidence makes the answer incomplete, never
safe.

` + rootExitHelp,
		Example: `  # Which functions carry the code of percpu_ref_put_many?
  klp-audit impacted --build ~/linux --func percpu_ref_put_many

  # Only the copy declared in mm/oom_kill.c, as YAML for code review
  klp-audit impacted --build ~/linux --func oom_badness --file mm/oom_kill.c --format yaml

  # The klp_func arrays to paste into the livepatch module
  klp-audit klp-skeleton --build ~/linux --func oom_badness --vmlinux ~/linux/vmlinux

  # What really changed between the original and the patched build
  klp-audit diff ~/linux-orig/mm/oom_kill.o ~/linux-fixed/mm/oom_kill.o`,
		Version:       driver.Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.AddCommand(newImpactedCmd(s, nil))
	root.AddCommand(newFlagsCmd(s, nil))
	root.AddCommand(newMapCmd(s, nil))
	root.AddCommand(newSkeletonCmd(s, nil))
	root.AddCommand(newPolicyCmd(s))
	root.AddCommand(newDiffCmd(s, nil))
	root.AddCommand(newCheckCmd(s, nil))
	root.AddCommand(newIndexCmd(s, nil))
	return root
}
