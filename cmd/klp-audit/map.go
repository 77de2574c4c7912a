package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/klp-audit/klp-audit/internal/driver"
	"github.com/klp-audit/klp-audit/report"
)

// MapOptions are the inputs of "klp-audit map".
type MapOptions struct {
	Streams *Streams
	driver.Options
	TU     string
	Format string
}

func newMapCmd(s *Streams, runF func(*MapOptions) error) *cobra.Command {
	opts := &MapOptions{Streams: s}
	cmd := &cobra.Command{
		Use:   "map --build DIR [--tu OBJ]",
		Short: "Show how dump functions map to the objects' symbols",
		Long: `Relate every function a translation unit's ipa-clones dump names to the
function symbols of its object, in both directions:

  - symbols that hold a dump function's code (same name, a .cold piece, a
    vector-ABI variant of a simd clone, an LTO private name);
  - symbols no dump line names, with the reason (GCC neither inlined nor
    cloned them: they hold only their own code);
  - dump functions with no symbol, with the reason (inlined everywhere,
    replaced by their clones), marking those the dump never recorded as
    removed: there the dump alone would have called them present.

Only what the object has can be replaced by a livepatch (a klp_func needs a
symbol); this shows where the dump and the object disagree.`,
		Example: `  # The mapping of one object
  klp-audit map --build ~/linux --tu mm/oom_kill.o

  # Counts over a whole build, as JSON
  klp-audit map --build ~/linux --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := report.ParseFormatOf(report.VerbMap, opts.Format); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runMap(opts)
		},
	}
	bindBuild(cmd, &opts.Options)
	cmd.Flags().StringVar(&opts.TU, "tu", "", "only translation unit `OBJ` (e.g. mm/oom_kill.o)")
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output `FORMAT`: text, yaml or json")
	_ = cmd.RegisterFlagCompletionFunc("format", formatCompletion(report.VerbMap))
	return cmd
}

func runMap(opts *MapOptions) error {
	format, err := report.ParseFormatOf(report.VerbMap, opts.Format)
	if err != nil {
		return err
	}
	rep, err := driver.Map(opts.Options, opts.TU)
	if err != nil {
		return err
	}
	s := opts.Streams
	for _, p := range rep.Problems {
		fmt.Fprintln(s.Err, p)
	}
	if err := report.RenderMap(s.Out, rep, format, opts.TU != ""); err != nil {
		return err
	}
	if len(rep.Problems) > 0 {
		return errIncomplete
	}
	return nil
}
