package rules

import (
	"github.com/klp-audit/klp-audit/callgraph"
)

// icf: identical code folding left one body under several symbols.
// ftrace redirects an address, so replacing the body replaces every alias:
// the aliases are listed, and their callers, which called the old body
// under another name, are replaced too.
func (r *run) icf(t *Target) {
	if r.e.Policy.severity(ICF) == Off || r.targets[t.ID] != t || len(t.Symbol.Aliases) == 0 {
		return
	}
	t.Note = appendNote(t.Note, "one body with "+joinSorted(append([]string(nil), t.Symbol.Aliases...))+": replacing it replaces them all")
	for _, a := range t.Symbol.Aliases {
		step := Step{From: t.ID.Name, To: a, TU: t.ID.TU, Rule: ICF, How: "same body as",
			Evidence: t.Object + ": both symbols at " + t.Symbol.Section + "+" + hex(t.Symbol.Value)}
		r.consider(callgraph.NodeID{Name: a, TU: t.ID.TU}, append(append([]Step(nil), t.Chain...), step), ICF,
			"shares its body with "+t.ID.Name, "")
	}
	r.addCallers(t, ICF, "calls the folded body", "called the body shared by "+t.ID.Name+" and "+joinSorted(append([]string(nil), t.Symbol.Aliases...)), "", true)
}
