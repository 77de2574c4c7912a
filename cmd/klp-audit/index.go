package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/klp-audit/klp-audit/internal/driver"
)

// IndexOptions are the inputs of "klp-audit index".
type IndexOptions struct {
	Streams *Streams
	driver.Options
}

func newIndexCmd(s *Streams, runF func(*IndexOptions) error) *cobra.Command {
	opts := &IndexOptions{Streams: s}
	cmd := &cobra.Command{
		Use:   "index --build DIR [--index FILE]",
		Short: "Index a build once, so that every query reads it in milliseconds",
		Long: `Read a build's evidence once and keep it in one file outside the tree:
the dumps' records (the containment graph), every object's function
symbols, ftrace entries, object call graph and compile flags, which
objects define and call each function name, and the size and mtime of
every dump, object and directory of the build.

impacted, check, klp-skeleton and map use the index of their --build when
it is there (the default file, or --index FILE). A query stats every file
the index names: files changed since it was built are read from the
build, as without an index, so the answer is the same; it carries a note
saying it came from the index and what was read again. Running index
again reads only the dumps and objects that changed and rewrites the
file (a new file renamed over the old one: concurrent runs never see a
partial index). A corrupt, truncated or other-version index is refused
(the query says so in a note and reads the build).

The default file is $XDG_CACHE_HOME/klp-audit/index/HASH (~/.cache when
XDG_CACHE_HOME is unset), HASH naming the build directories' absolute
paths.`,
		Example: `  # Index a kernel tree built with KCFLAGS=-fdump-ipa-clones
  klp-audit index --build ~/linux

  # Then query as usual: the index is found by the build's path
  klp-audit impacted --build ~/linux --func percpu_ref_put_many

  # An index kept elsewhere, for a pipeline
  klp-audit index --build ~/linux --index /var/cache/linux.klpidx
  klp-audit check --build ~/linux --index /var/cache/linux.klpidx --diff fix.patch --no-rebuild`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runIndex(opts)
		},
	}
	bindBuild(cmd, &opts.Options)
	bindSource(cmd, &opts.Options)
	return cmd
}

func runIndex(opts *IndexOptions) error {
	rep, err := driver.BuildIndex(opts.Options)
	if err != nil {
		return err
	}
	s := opts.Streams
	if rep.OldIndexProblems != "" {
		fmt.Fprintf(s.Err, "note: the old index was not used (%s): every file was read\n", rep.OldIndexProblems)
	}
	fmt.Fprintf(s.Out, "%s: %d dumps (%d read, the rest unchanged), %d objects (%d of units, %d read), %.1f MB\n",
		rep.Path, rep.Dumps, rep.DumpsRead, rep.Objects, rep.ObjectsHeld+rep.ObjectsNotHeld, rep.ObjectsRead, float64(rep.Size)/1e6)
	if rep.DumpsNotHeld > 0 || rep.ObjectsNotHeld > 0 {
		fmt.Fprintf(s.Out, "not held (unreadable: read from the build by every query that needs them, which reports their problems): %d dumps, %d objects\n",
			rep.DumpsNotHeld, rep.ObjectsNotHeld)
	}
	return nil
}
