package rules

import (
	"github.com/klp-audit/klp-audit/callgraph"
)

// icf: identical code folding left one body under several symbols at one
// address. ftrace redirects an address, and one address takes one
// replacement: replacing the body would change every alias, and the
// aliases cannot be replaced apart. So the body is left as it is and
// explained, the aliases with it, and the callers of the body are replaced
// instead (each calling the new function, or a copy of the old body, as
// its source says). The object call graph cannot tell under which name a
// caller called the body, so all its callers are listed.
func (r *run) icf(t *Target) {
	if r.e.Policy.severity(ICF) == Off || r.targets[t.ID] != t || len(t.Symbol.Aliases) == 0 {
		return
	}
	aliases := joinSorted(append([]string(nil), t.Symbol.Aliases...))
	r.demote(t, ICF, "one body with "+aliases+" (identical code folding): one address cannot take two replacements, so the body is left as it is and its callers are replaced instead")
	for _, a := range t.Symbol.Aliases {
		step := Step{From: t.ID.Name, To: a, TU: t.ID.TU, Rule: ICF, How: StepSameBody, Severity: r.inherit(t, ICF, ""),
			Evidence: t.Object + ": both symbols at " + t.Symbol.Section + "+" + hex(t.Symbol.Value)}
		r.explained(callgraph.NodeID{Name: a, TU: t.ID.TU}, ICF,
			"same body as "+t.ID.Name+" (identical code folding): left as it is; the callers of the shared body are replaced",
			append(append([]Step(nil), t.Chain...), step), t.Object)
	}
	if r.addCallers(t, ICF, StepCallsFolded, "called the body shared by "+t.ID.Name+" and "+aliases, "", true) == 0 {
		r.problem(t.Object, t.ID.Name+" ("+t.ID.TU+") shares its body with "+aliases+" and has no direct caller"+r.pointerUse(t)+": how the changed code is reached is unknown")
	}
}
