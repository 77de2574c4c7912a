package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/klp-audit/klp-audit/callgraph"
)

// MapOptions are the inputs of "klp-audit map".
type MapOptions struct {
	Streams *Streams
	EvidenceOptions
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
			switch opts.Format {
			case "text", "yaml", "json":
			default:
				return fmt.Errorf("unknown format %q, want one of text, yaml, json", opts.Format)
			}
			if runF != nil {
				return runF(opts)
			}
			return runMap(opts)
		},
	}
	opts.EvidenceOptions.bind(cmd)
	cmd.Flags().StringVar(&opts.TU, "tu", "", "only translation unit `OBJ` (e.g. mm/oom_kill.o)")
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output `FORMAT`: text, yaml or json")
	return cmd
}

// mapReport is the YAML/JSON form of map's answer.
type mapReport struct {
	Units    []*callgraph.SymbolMapping `json:"units" yaml:"units"`
	Problems []string                   `json:"problems" yaml:"problems"`
	Totals   struct {
		Mapped            int `json:"mapped" yaml:"mapped"`
		Unmapped          int `json:"unmapped" yaml:"unmapped"`
		NotEmitted        int `json:"not_emitted" yaml:"not_emitted"`
		NoRemovalLine     int `json:"not_emitted_without_removal_line" yaml:"not_emitted_without_removal_line"`
		RemovedButEmitted int `json:"removed_but_emitted" yaml:"removed_but_emitted"`
	} `json:"totals" yaml:"totals"`
}

func runMap(opts *MapOptions) error {
	ev, err := loadEvidence(&opts.EvidenceOptions)
	if err != nil {
		return err
	}
	g := ev.graph
	var tus []string
	for _, t := range g.TUs() {
		if opts.TU == "" || matchTU(t.Name, opts.TU) {
			tus = append(tus, t.Name)
		}
	}
	if len(tus) == 0 {
		return inputErrorf("no translation unit %q among the %d read", opts.TU, len(g.TUs()))
	}
	objs := callgraph.NewObjects(g, nil)
	objs.Prefetch(tus, 0)
	rep := &mapReport{Problems: []string{}}
	for _, p := range ev.problems {
		rep.Problems = append(rep.Problems, p.String())
	}
	for _, tu := range tus {
		m, err := objs.Map(tu)
		if err != nil {
			rep.Problems = append(rep.Problems, tu+": "+err.Error())
			continue
		}
		rep.Units = append(rep.Units, m)
		rep.Totals.Mapped += len(m.Mapped)
		rep.Totals.Unmapped += len(m.Unmapped)
		rep.Totals.NotEmitted += len(m.NotEmitted)
		rep.Totals.RemovedButEmitted += len(m.RemovedButEmitted)
		for _, n := range m.NotEmitted {
			if n.NoRemovalLine {
				rep.Totals.NoRemovalLine++
			}
		}
	}
	s := opts.Streams
	for _, p := range rep.Problems {
		fmt.Fprintln(s.Err, p)
	}
	switch opts.Format {
	case "json":
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	case "yaml":
		enc := yaml.NewEncoder(s.Out)
		enc.SetIndent(2)
		err = enc.Encode(rep)
	default:
		err = writeMapText(s, rep, opts.TU != "")
	}
	if err != nil {
		return err
	}
	if len(rep.Problems) > 0 {
		return errIncomplete
	}
	return nil
}

func writeMapText(s *Streams, rep *mapReport, detail bool) error {
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	t := rep.Totals
	fmt.Fprintf(tw, "%d units: %d symbols hold dump functions' code, %d symbols no dump names, %d dump functions have no symbol (%d with no removal line: the dump alone would call them present), %d removed by the dump yet emitted\n",
		len(rep.Units), t.Mapped, t.Unmapped, t.NotEmitted, t.NoRemovalLine, t.RemovedButEmitted)
	if !detail {
		fmt.Fprintln(tw, "\nunit\tmapped\tunmapped\tnot emitted\tno removal line")
		for _, u := range rep.Units {
			nr := 0
			for _, n := range u.NotEmitted {
				if n.NoRemovalLine {
					nr++
				}
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", u.TU, len(u.Mapped), len(u.Unmapped), len(u.NotEmitted), nr)
		}
		return tw.Flush()
	}
	for _, u := range rep.Units {
		fmt.Fprintf(tw, "\n%s (%s)\n\nsymbol\tholds the code of\thow\n", u.TU, u.Object)
		for _, m := range u.Mapped {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Symbol, m.Node, m.How)
		}
		fmt.Fprintln(tw, "\nsymbol not in the dump\treason")
		for _, m := range u.Unmapped {
			fmt.Fprintf(tw, "%s\t%s\n", m.Symbol, m.Reason)
		}
		fmt.Fprintln(tw, "\ndump function without a symbol\treason\tremoval line")
		for _, n := range u.NotEmitted {
			rl := "yes"
			if n.NoRemovalLine {
				rl = "none"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", n.Node, n.Why, rl)
		}
		for _, r := range u.RemovedButEmitted {
			fmt.Fprintf(tw, "%s\tthe dump records its removal, yet the object has it\t\n", r)
		}
	}
	return tw.Flush()
}
