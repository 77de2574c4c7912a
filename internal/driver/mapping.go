package driver

import (
	"github.com/klp-audit/klp-audit/report"
)

// Map relates every dump function of the build o names (of unit tu
// alone, when given) to its object's function symbols, in both
// directions, each non-match with its reason.
func Map(o Options, tu string) (*report.MapResult, error) {
	ev, err := Load(o)
	if err != nil {
		return nil, err
	}
	g := ev.graph
	var tus []string
	for _, t := range g.TUs() {
		if tu == "" || matchTU(t.Name, tu) {
			tus = append(tus, t.Name)
		}
	}
	if len(tus) == 0 {
		return nil, Inputf("no translation unit %q among the %d read", tu, len(g.TUs()))
	}
	objs := ev.objectCache()
	objs.Prefetch(tus, 0)
	rep := &report.MapResult{SchemaVersion: report.SchemaVersion, Tool: Tool(), Problems: []string{}}
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
	return rep, nil
}
