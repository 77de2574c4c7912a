package rules

import (
	"debug/elf"
	"fmt"
	"strings"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/object"
)

// callerSide are the analyses through which callers rely on a callee's
// body; calleeSide those through which a callee relies on its callers (GCC
// 12's IPA-VRP and bit-CP propagate argument ranges and known bits into
// local callees; return values are not propagated in GCC 12).
var (
	callerSide = []string{"ipa-ra", "ipa-pure-const", "ipa-modref", "ipa-reference"}
	calleeSide = []string{"ipa-vrp", "ipa-bit-cp"}
)

// callerAssumptions: with IPA-RA, pure-const, modref or reference live in
// a unit, its callers were compiled knowing the callee's body (registers
// it leaves alone, that it is pure, which memory it touches). A
// replacement breaks that knowledge, so the direct callers are replaced
// too; they are targets themselves, so their callers follow, within the
// unit (across units only under LTO, where the analyses see the whole
// program and the clone graph holds the cross-unit edges).
//
// The other way round, with IPA-VRP or bit-CP live, a local callee was
// compiled for the values its callers pass: when a function's code
// changes (it holds the changed code), it may pass other values, so its
// local callees are targets too. Global callees can be called from
// anywhere, so GCC assumes nothing of their arguments.
func (r *run) callerAssumptions(t *Target) {
	if r.e.Policy.severity(CallerAssumptions) == Off || r.targets[t.ID] != t {
		return
	}
	live, _, ok := r.liveAnalyses(t.ID.TU)
	if !ok {
		return
	}
	if passes, sev := r.livePasses(live, callerSide); len(passes) > 0 {
		r.addCallers(t, CallerAssumptions, "called by", "callers may rely on its body through "+strings.Join(passes, ", "), sev, false)
	}
	if t.Rule != Containment {
		return // its code is the same: it passes the same values
	}
	if passes, sev := r.livePasses(live, calleeSide); len(passes) > 0 {
		r.addCallees(t, "calls", "compiled for the arguments its callers pass ("+strings.Join(passes, ", ")+"); "+t.ID.Name+" changed", sev)
	}
}

// livePasses returns the passes of set that are live and not off in the
// policy, and the strongest severity among them.
func (r *run) livePasses(live map[string]string, set []string) ([]string, Severity) {
	var passes []string
	sev := Review
	for _, p := range set {
		if _, on := live[p]; !on {
			continue
		}
		switch r.e.Policy.passSeverity(p) {
		case Off:
			continue
		case Must:
			sev = Must
		}
		passes = append(passes, p)
	}
	return passes, sev
}

// addCallees makes the local functions t calls directly targets.
func (r *run) addCallees(t *Target, how, note string, sev Severity) {
	sev = r.inherit(t, CallerAssumptions, sev)
	f, err := r.e.Objects.File(t.ID.TU)
	if err != nil {
		return
	}
	fn := r.funcIn(f, t)
	if fn == nil {
		return
	}
	for _, ref := range f.RefsFrom(fn) {
		if ref.Kind != object.Call && ref.Kind != object.TailCall {
			continue
		}
		callees := f.Lookup(ref.To)
		if len(callees) == 0 || callees[0].Bind != elf.STB_LOCAL || ref.To == t.Symbol.Name || callees[0].ColdOf == t.Symbol.Name {
			continue
		}
		step := Step{From: t.ID.Name, To: ref.To, TU: t.ID.TU, Rule: CallerAssumptions, How: how,
			Evidence: fmt.Sprintf("%s: call site %s (section offset %#x)", t.Object, t.ID.Name, ref.Site)}
		r.consider(callgraph.NodeID{Name: ref.To, TU: t.ID.TU}, append(append([]Step(nil), t.Chain...), step),
			CallerAssumptions, note, sev)
	}
}
