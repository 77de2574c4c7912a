package callgraph

import (
	"sort"
	"strings"

	"github.com/klp-audit/klp-audit/report"
)

// Map relates the dump nodes of unit tu to its object's symbols.
func (o *Objects) Map(tu string) (*report.UnitMapping, error) {
	f, err := o.File(tu)
	if err != nil {
		return nil, err
	}
	t, _ := o.g.TU(tu)
	m := &report.UnitMapping{TU: tu, Object: t.Object}
	mapped := map[string]bool{}
	for _, n := range o.g.nodesOfTU(tu) {
		syms := symbolsFor(f, n.ID.Name)
		if len(syms) == 0 {
			m.NotEmitted = append(m.NotEmitted, report.NodeWithoutSymbol{
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
			m.Mapped = append(m.Mapped, report.MappedSymbol{Symbol: s.Name, Node: n.ID.Name, How: how})
			mapped[s.Name] = true
			for _, c := range s.Cold {
				m.Mapped = append(m.Mapped, report.MappedSymbol{Symbol: c, Node: n.ID.Name, How: "cold piece"})
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
		m.Unmapped = append(m.Unmapped, report.UnmappedSymbol{Symbol: s.Name, Reason: reason})
	}
	sort.Slice(m.Mapped, func(i, j int) bool { return m.Mapped[i].Symbol < m.Mapped[j].Symbol })
	sort.Slice(m.Unmapped, func(i, j int) bool { return m.Unmapped[i].Symbol < m.Unmapped[j].Symbol })
	sort.Slice(m.NotEmitted, func(i, j int) bool { return m.NotEmitted[i].Node < m.NotEmitted[j].Node })
	sort.Strings(m.RemovedButEmitted)
	return m, nil
}

// nodesOfTU returns the nodes of unit tu, in no order.
func (g *Graph) nodesOfTU(tu string) []*Node {
	g.ensure(tu)
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]*Node, 0, len(g.index[tu]))
	for _, i := range g.index[tu] {
		out = append(out, &g.nodes[i])
	}
	return out
}
