package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/klp-audit/klp-audit/internal/driver"
	"github.com/klp-audit/klp-audit/report"
)

// FlagsOptions are the inputs of "klp-audit flags".
type FlagsOptions struct {
	Streams *Streams
	driver.Options
	Format    string
	PerObject bool
}

func newFlagsCmd(s *Streams, runF func(*FlagsOptions) error) *cobra.Command {
	opts := &FlagsOptions{Streams: s}
	cmd := &cobra.Command{
		Use:   "flags --build DIR",
		Short: "Show which caller-visible IPA analyses each object was built with",
		Long: `Read the compile flags GCC recorded in each object's DWARF (DW_AT_producer)
and tell which inter-procedural analyses were live when it was built.

The ipa-clones dump records every function GCC copies (inlining, .constprop,
.isra and .part clones), and "klp-audit impacted" follows those. It does not
record what callers assume about their callees: with -fipa-ra a caller keeps
values in registers the callee is known not to touch, with -fipa-pure-const
it merges or drops calls to a function found pure, with -fipa-icf two
functions share one body. A livepatch that replaces such a callee can break
callers it never names in a klp_func. Which of these hazards exist depends
on the flags: -O level, -flive-patching=inline-clone (which turns them off),
and ftrace's -pg, which turns IPA-RA off (every x86 kernel that can be
livepatched is built with -pg -mfentry; -fpatchable-function-entry, used
on arm64, turns it off too).

The objects are those paired with the *.ipa-clones dumps under --build, plus
every other *.o found there (an object without a dump is worth knowing
about too). Objects with identical flag sets are grouped, so a kernel tree
prints a few sets, not hundreds of blocks; --per-object lists each object.

An object without debug info (built without -g) is reported as such: its
flags are unknown, so every analysis must be treated as live, and the exit
status is 1. The rules are GCC 12's; objects built by clang or an unknown
compiler are reported with every analysis assumed live.

` + exitCodesHelp,
		Example: `  # Which caller hazards does a kernel build have?
  klp-audit flags --build ~/linux

  # Only the objects of mm/, each listed with its flag set
  klp-audit flags --build ~/linux/mm --per-object

  # Was this module built with -flive-patching=inline-clone? As JSON for CI
  klp-audit flags --build ~/src/mymodule --format json | jq '.sets[].live_patching'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFlagsFormat(opts.Format); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runFlags(opts)
		},
	}
	bindBuild(cmd, &opts.Options)
	fl := cmd.Flags()
	fl.StringVar(&opts.Format, "format", "text", "output `FORMAT`: text, table, yaml or json")
	fl.BoolVar(&opts.PerObject, "per-object", false, "list every object with its flag set (and, in yaml/json, its producers)")
	_ = cmd.RegisterFlagCompletionFunc("format", formatCompletion(report.VerbFlags))
	return cmd
}

func checkFlagsFormat(f string) error {
	if _, err := report.ParseFormatOf(report.VerbFlags, f); err != nil {
		return &driver.InputError{Msg: err.Error()}
	}
	return nil
}

func runFlags(opts *FlagsOptions) error {
	format, err := report.ParseFormatOf(report.VerbFlags, opts.Format)
	if err != nil {
		return err
	}
	r, err := driver.Flags(opts.Options, opts.PerObject)
	if err != nil {
		return err
	}
	s := opts.Streams
	printProblems(s, r.Problems)
	if err := report.RenderFlags(s.Out, r, format, s.OutTTY, opts.PerObject); err != nil {
		return err
	}
	if !r.Complete {
		fmt.Fprintf(s.Err, "klp-audit: answer INCOMPLETE: %d objects without debug info, %d problems: their flags are unknown, treat every analysis as live there\n",
			len(r.NoDebugInfo), len(r.Problems))
		return errIncomplete
	}
	return nil
}
