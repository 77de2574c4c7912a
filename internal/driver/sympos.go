package driver

import (
	"debug/elf"
	"fmt"

	"github.com/klp-audit/klp-audit/livepatch"
	"github.com/klp-audit/klp-audit/report"
	"github.com/klp-audit/klp-audit/rules"
)

// addOldSympos sets the old_sympos of the targets from the linked files:
// every local target, and a global one whose name kallsyms also lists for
// other symbols (the kernel counts them all, so it needs old_sympos too).
// What cannot be told is a fail-closed problem.
func addOldSympos(res *report.Result, rr *rules.Result, lfs *livepatch.LinkedFiles) {
	syms := map[[2]string]*rules.Target{}
	for _, t := range rr.Targets {
		syms[[2]string{t.ID.Name, t.ID.TU}] = t
	}
	for i := range res.Targets {
		rt := &res.Targets[i]
		t := syms[[2]string{rt.Name, rt.TU}]
		if t == nil {
			continue
		}
		problem := func(file, msg string) {
			res.Problems = append(res.Problems, report.Problem{File: file, Kind: report.KindFailClosed,
				Message: fmt.Sprintf("old_sympos of %s (%s) unknown: %s", rt.Name, rt.TU, msg)})
			res.Complete = false
		}
		lf, why := lfs.FileFor(rt.KLPObject)
		if lf == nil {
			problem(t.Object, why)
			continue
		}
		ans := lfs.Sympos(lf, t.Object, t.Symbol)
		if ans.Problem != "" && ans.Evidence == "" {
			problem(lf.Path(), ans.Problem)
			continue
		}
		if t.Symbol.Bind == elf.STB_LOCAL || ans.Count > 1 {
			pos := ans.Pos
			rt.OldSympos = &pos
			rt.OldSymposEvidence = ans.Evidence
		}
		if ans.Problem != "" {
			problem(lf.Path(), ans.Problem)
		}
	}
}
