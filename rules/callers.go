package rules

import (
	"strings"
)

// callerAssumptions: with IPA-RA, pure-const, modref, reference, IPA-VRP
// or bit-CP live in a unit, its callers were compiled knowing the callee's
// body (registers it leaves alone, that it is pure, which memory it
// touches, the range of its result). A replacement breaks that knowledge,
// so the direct callers are replaced too; they are targets themselves, so
// their callers follow, within the unit (across units only under LTO,
// where the analyses see the whole program and the clone graph holds the
// cross-unit edges).
func (r *run) callerAssumptions(t *Target) {
	if r.e.Policy.severity(CallerAssumptions) == Off || r.targets[t.ID] != t {
		return
	}
	live, _, ok := r.liveAnalyses(t.ID.TU)
	if !ok {
		return
	}
	var passes []string
	sev := Review
	for _, p := range CallerPasses {
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
	if len(passes) == 0 {
		return
	}
	r.addCallers(t, CallerAssumptions, "called by", "callers may rely on its body through "+strings.Join(passes, ", "), sev, false)
}
