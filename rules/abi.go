package rules

import (
	"strings"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/ipadump"
)

// cloneKinds returns how GCC made id: the graph's record, else its name.
func (r *run) cloneKinds(id callgraph.NodeID) []ipadump.Transform {
	if n, ok := r.e.Graph.Node(id); ok && len(n.CloneOf) > 0 {
		return n.CloneOf
	}
	_, out, _ := ipadump.CloneName(id.Name)
	if strings.HasPrefix(id.Name, "_ZGV") {
		out = append(out, ipadump.SimdClone)
	}
	return out
}

// changedABI: an isra, constprop, part or simd clone may take other
// parameters than its original (dropped, specialised, passed by value), so
// a replacement written with the original prototype cannot stand in for
// it. Unless the policy says the author writes clone-ABI replacements, the
// clone's callers are replaced instead, and the clone is explained.
func (r *run) changedABI(t *Target) {
	p := r.e.Policy.Rules[ChangedABI]
	if p.Severity == Off || r.targets[t.ID] != t {
		return
	}
	var kinds []string
	for _, k := range r.cloneKinds(t.ID) {
		if k.ChangesABI() {
			kinds = append(kinds, callgraph.KindName(k, ""))
		}
	}
	if len(kinds) == 0 {
		return
	}
	if p.AuthorSuppliesCloneABI {
		t.Note = appendNote(t.Note, article(kinds[0])+" "+strings.Join(kinds, "/")+" clone: replace it with a function of the clone's own ABI")
		return
	}
	r.demote(t, ChangedABI, article(kinds[0])+" "+strings.Join(kinds, "/")+" clone: its ABI differs from the source prototype, so its callers are replaced instead")
	if r.addCallers(t, ChangedABI, StepCalledBy, "", "", true) == 0 {
		r.problem(t.Object, t.ID.Name+" ("+t.ID.TU+") is a clone with a changed ABI but has no direct caller"+r.pointerUse(t)+": whoever calls it is unknown")
	}
}

func appendNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// article returns "an" before a vowel sound ("an isra clone"), else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}
