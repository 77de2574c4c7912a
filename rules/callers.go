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
// replacement that changes what they knew breaks them, so the direct
// callers are targets too, within the unit (across units only under LTO,
// where the analyses see the whole program and the clone graph holds the
// cross-unit edges).
//
// The other way round, with IPA-VRP or bit-CP live, a local callee was
// compiled for the values its callers pass: when a function's code
// changes (it holds the changed code), it may pass other values, so its
// local callees are targets too. Global callees can be called from
// anywhere, so GCC assumes nothing of their arguments.
//
// Whether a fix changes what was assumed cannot be told before the fix
// is compiled, and most fixes do not: under the default policy these
// targets are conditional, each with its condition in its note. The tier
// does not spread: the callers of a conditional target are not added
// (only a certain target's are), since that target needs replacing only
// if the condition holds; the note says to ask about it in turn then.
// Under a policy that makes the rule must (or review), the callers of
// such targets follow transitively, as before the tier existed.
func (r *run) callerAssumptions(t *Target) {
	if r.e.Policy.severity(CallerAssumptions) == Off || r.targets[t.ID] != t || t.Severity == Conditional {
		return
	}
	live, _, ok := r.liveAnalyses(t.ID.TU)
	if !ok {
		return
	}
	if passes, sev := r.livePasses(live, callerSide); len(passes) > 0 {
		r.addAssumingCallers(t, passes, sev)
	}
	if t.Rule != Containment {
		return // its code is the same: it passes the same values
	}
	if passes, sev := r.livePasses(live, calleeSide); len(passes) > 0 {
		r.addCallees(t, passes, sev)
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
		ps := r.e.Policy.passSeverity(p)
		if ps == Off {
			continue
		}
		if ps.rank() > sev.rank() {
			sev = ps
		}
		passes = append(passes, p)
	}
	return passes, sev
}

// assumed says, per analysis, what a function compiled with it knew of
// another: a caller of its callee's body (caller side), a local callee of
// its callers' arguments (callee side).
var assumed = map[string]string{
	"ipa-ra":         "the call-clobbered registers it leaves alone (ipa-ra)",
	"ipa-pure-const": "whether it is pure, const or noreturn (ipa-pure-const)",
	"ipa-modref":     "the memory it reads and writes (ipa-modref)",
	"ipa-reference":  "the static variables it reads and writes (ipa-reference)",
	"ipa-vrp":        "value ranges (ipa-vrp)",
	"ipa-bit-cp":     "known bits (ipa-bit-cp)",
}

// addAssumingCallers makes the direct callers of t in its unit targets:
// they were compiled knowing t's body through passes.
func (r *run) addAssumingCallers(t *Target, passes []string, sev Severity) {
	if r.inherit(t, CallerAssumptions, sev) != Conditional {
		r.addCallers(t, CallerAssumptions, StepCalledBy, "callers may rely on its body through "+strings.Join(passes, ", "), sev, false)
		return
	}
	cs := r.callers(t, false)
	sites := map[string]int{}
	for _, c := range cs {
		sites[c.fn]++
	}
	for _, c := range cs {
		cond := callerCondition(c.fn, t.ID.Name, sites[c.fn], passes)
		if r.addCaller(t, c, CallerAssumptions, StepCalledBy, cond, Conditional) {
			r.setCondition(callgraph.NodeID{Name: c.fn, TU: c.tu}, cond)
		}
	}
}

// callerCondition says, from caller's side, when it needs replacing
// because it calls callee: what it was compiled knowing of callee's body.
func callerCondition(caller, callee string, sites int, passes []string) string {
	var what []string
	for _, p := range passes {
		what = append(what, assumed[p])
	}
	n := "at 1 call site"
	if sites != 1 {
		n = fmt.Sprintf("at %d call sites", sites)
	}
	return "needed only if your fix changes what " + caller + " assumed of " + callee + ", which it calls " + n + ": " +
		strings.Join(what, ", ") + "; if so, ask about " + caller + " in turn (its callers may rely on it)"
}

// calleeCondition says, from callee's side, when it needs replacing
// because changed calls it: it was compiled for its callers' arguments.
func calleeCondition(callee, changed string, passes []string) string {
	var what []string
	for _, p := range passes {
		what = append(what, assumed[p])
	}
	return "needed only if your fix changes the arguments " + changed + " passes to " + callee + ": " + callee +
		" is local and was compiled for its callers' " + andList(what)
}

// andList joins xs as "a, b and c".
func andList(xs []string) string {
	if len(xs) <= 1 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// addCallees makes the local functions t calls directly targets: they
// were compiled for the arguments their callers pass (passes).
func (r *run) addCallees(t *Target, passes []string, sev Severity) {
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
		note := "compiled for the arguments its callers pass (" + strings.Join(passes, ", ") + "); " + t.ID.Name + " changed"
		if sev == Conditional {
			note = calleeCondition(ref.To, t.ID.Name, passes)
		}
		step := Step{From: t.ID.Name, To: ref.To, TU: t.ID.TU, Rule: CallerAssumptions, How: StepCalls, Severity: sev,
			Evidence: fmt.Sprintf("%s: call site %s (section offset %#x)", t.Object, t.ID.Name, ref.Site)}
		id := callgraph.NodeID{Name: ref.To, TU: t.ID.TU}
		r.consider(id, append(append([]Step(nil), t.Chain...), step), CallerAssumptions, note, sev)
		if sev == Conditional {
			r.setCondition(id, note)
		}
	}
}

// setCondition records cond as the condition of target id, when id is a
// conditional target with none yet (the first chain to reach it gave its
// note).
func (r *run) setCondition(id callgraph.NodeID, cond string) {
	if t := r.targets[id]; t != nil && t.Severity == Conditional && t.cond == "" {
		t.cond, t.condOf = t.Note, t.ID.Name
	}
}
