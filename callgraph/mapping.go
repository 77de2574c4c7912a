package callgraph

import (
	"sort"
	"strings"
)

// SymbolMapping relates one translation unit's dump nodes to its object's
// function symbols, in both directions, each non-match with its reason.
type SymbolMapping struct {
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

// Map relates the dump nodes of unit tu to its object's symbols.
func (o *Objects) Map(tu string) (*SymbolMapping, error) {
	f, err := o.File(tu)
	if err != nil {
		return nil, err
	}
	t, _ := o.g.TU(tu)
	m := &SymbolMapping{TU: tu, Object: t.Object}
	mapped := map[string]bool{}
	for _, i := range o.g.index[tu] {
		n := &o.g.nodes[i]
		syms := symbolsFor(f, n.ID.Name)
		if len(syms) == 0 {
			m.NotEmitted = append(m.NotEmitted, NodeWithoutSymbol{
				Node: n.ID.Name, Why: notEmittedWhy(o.g, n.ID), NoRemovalLine: !n.Removed,
			})
			continue
		}
		if n.Removed {
			m.RemovedButEmitted = append(m.RemovedButEmitted, n.ID.Name)
		}
		for _, s := range syms {
			how := "same name"
			switch {
			case s.Name == n.ID.Name:
			case strings.HasPrefix(s.Name, "_ZGV"):
				how = "vector-ABI variant"
			default:
				how = "LTO private name"
			}
			m.Mapped = append(m.Mapped, MappedSymbol{Symbol: s.Name, Node: n.ID.Name, How: how})
			mapped[s.Name] = true
			for _, c := range s.Cold {
				m.Mapped = append(m.Mapped, MappedSymbol{Symbol: c, Node: n.ID.Name, How: "cold piece"})
				mapped[c] = true
			}
		}
	}
	for i := range f.Funcs {
		s := &f.Funcs[i]
		if mapped[s.Name] {
			continue
		}
		reason := "not in the dump: GCC neither inlined nor cloned it, so it holds only its own code"
		if s.ColdOf != "" {
			reason = "cold piece of " + s.ColdOf + ", which the dump does not name"
		}
		m.Unmapped = append(m.Unmapped, UnmappedSymbol{Symbol: s.Name, Reason: reason})
	}
	sort.Slice(m.Mapped, func(i, j int) bool { return m.Mapped[i].Symbol < m.Mapped[j].Symbol })
	sort.Slice(m.Unmapped, func(i, j int) bool { return m.Unmapped[i].Symbol < m.Unmapped[j].Symbol })
	sort.Slice(m.NotEmitted, func(i, j int) bool { return m.NotEmitted[i].Node < m.NotEmitted[j].Node })
	sort.Strings(m.RemovedButEmitted)
	return m, nil
}
