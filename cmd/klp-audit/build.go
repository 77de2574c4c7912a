package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/klp-audit/klp-audit/internal/driver"
	"github.com/klp-audit/klp-audit/report"
)

// bindBuild binds the flags that say where a build's evidence is, which
// every verb that reads a build takes.
func bindBuild(cmd *cobra.Command, o *driver.Options) {
	fl := cmd.Flags()
	fl.StringArrayVar(&o.Builds, "build", nil,
		"kernel build `DIR` holding *.ipa-clones dumps beside the objects (repeatable)")
	fl.StringArrayVar(&o.DumpLists, "dumps-from", nil,
		"`FILE` listing dump paths, one per line (repeatable)")
	fl.StringArrayVar(&o.StripPrefixes, "strip-prefix", nil,
		"remove `PREFIX` (an absolute build directory) from source paths (repeatable)")
	fl.BoolVar(&o.DWARFInlining, "dwarf-inlining", false,
		"kept for compatibility: objects with no dump beside them (a clang build, or gcc without -fdump-ipa-clones) always answer from their DWARF")
	fl.StringVar(&o.Index, "index", "",
		"the build's index `FILE` (klp-audit index), used when present; default: one per build under $XDG_CACHE_HOME/klp-audit/index; \"off\" reads the build alone")
	_ = cmd.MarkFlagDirname("build")
	_ = cmd.MarkFlagFilename("dumps-from")
}

// bindSource binds --source, for the verbs that read or name the build's
// sources.
func bindSource(cmd *cobra.Command, o *driver.Options) {
	cmd.Flags().StringVar(&o.Source, "source", "",
		"kernel source tree `DIR` of an O= build, when the build's source link and Makefile do not lead to it (found from the build otherwise)")
	_ = cmd.MarkFlagDirname("source")
}

// printProblems writes each problem of an answer to stderr, one a line.
func printProblems(s *Streams, ps []report.Problem) {
	for _, p := range ps {
		fmt.Fprintln(s.Err, p.String())
	}
}

// printNotices writes the answer's remarks to stderr.
func printNotices(s *Streams, a *driver.Answer) {
	for _, n := range a.Notices {
		fmt.Fprintln(s.Err, n)
	}
}

// incomplete tells on stderr that the answer printed is incomplete and
// returns errIncomplete; a complete answer returns nil.
func incomplete(s *Streams, complete bool, problems int) error {
	if complete {
		return nil
	}
	n := fmt.Sprintf("%d problems", problems)
	if problems == 1 {
		n = "1 problem"
	}
	fmt.Fprintf(s.Err, "klp-audit: answer INCOMPLETE: %s reading the build; the list may be short\n", n)
	return errIncomplete
}

// formatCompletion completes --format with the formats verb writes.
func formatCompletion(verb string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return report.FormatNames(verb), cobra.ShellCompDirectiveNoFileComp
	}
}
