package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// UnitMapping relates one translation unit's dump nodes to its object's
// function symbols, in both directions, each non-match with its reason.
type UnitMapping struct {
	TU     string `json:"translation_unit" yaml:"translation_unit"`
	Object string `json:"object" yaml:"object"`
	// Mapped are symbols that hold a dump node's code.
	Mapped []MappedSymbol `json:"mapped" yaml:"mapped"`
	// Unmapped are symbols no dump line names, with the reason.
	Unmapped []UnmappedSymbol `json:"unmapped" yaml:"unmapped"`
	// NotEmitted are dump nodes without a symbol, with the reason.
	NotEmitted []NodeWithoutSymbol `json:"not_emitted" yaml:"not_emitted"`
	// RemovedButEmitted are nodes the dump says were removed although the
	// object has their symbol: the dump's removal lines are not the truth.
	RemovedButEmitted []string `json:"removed_but_emitted,omitempty" yaml:"removed_but_emitted,omitempty"`
}

// MappedSymbol is a symbol that holds the code of a dump node.
type MappedSymbol struct {
	Symbol string `json:"symbol" yaml:"symbol"`
	Node   string `json:"function" yaml:"function"`
	How    string `json:"how" yaml:"how"` // "same name", "vector-ABI variant", "LTO private name", "cold piece"
}

// UnmappedSymbol is a function symbol that no dump line of its unit names.
type UnmappedSymbol struct {
	Symbol string `json:"symbol" yaml:"symbol"`
	Reason string `json:"reason" yaml:"reason"`
}

// NodeWithoutSymbol is a dump node its object has no symbol for.
type NodeWithoutSymbol struct {
	Node string `json:"function" yaml:"function"`
	Why  string `json:"why" yaml:"why"`
	// NoRemovalLine says the dump did not record the removal: the dump
	// alone would have called the function present.
	NoRemovalLine bool `json:"no_removal_line" yaml:"no_removal_line"`
}

// MapResult is the answer of "klp-audit map" and its YAML/JSON form:
// how each unit's dump functions map to its object's symbols.
type MapResult struct {
	SchemaVersion int            `json:"schema_version" yaml:"schema_version"`
	Tool          Tool           `json:"tool" yaml:"tool"`
	Units         []*UnitMapping `json:"units" yaml:"units"`
	Problems      []string       `json:"problems" yaml:"problems"`
	Totals        struct {
		Mapped            int `json:"mapped" yaml:"mapped"`
		Unmapped          int `json:"unmapped" yaml:"unmapped"`
		NotEmitted        int `json:"not_emitted" yaml:"not_emitted"`
		NoRemovalLine     int `json:"not_emitted_without_removal_line" yaml:"not_emitted_without_removal_line"`
		RemovedButEmitted int `json:"removed_but_emitted" yaml:"removed_but_emitted"`
	} `json:"totals" yaml:"totals"`
}

// RenderMap writes r to w in format f; detail lists every symbol of each
// unit (a text report of one unit), instead of the counts per unit.
func RenderMap(w io.Writer, r *MapResult, f Format, detail bool) error {
	switch f {
	case JSON, YAML:
		return Encode(w, r, f)
	case Text:
		return writeMapText(w, r, detail)
	}
	return fmt.Errorf("map writes %s, not %s", strings.Join(FormatNames(VerbMap), ", "), f)
}

func writeMapText(w io.Writer, rep *MapResult, detail bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
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
