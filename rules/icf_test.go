package rules_test

import (
	"path/filepath"
	"testing"

	"github.com/klp-audit/klp-audit/rules"
)

// TestICFEvidence checks what gcc did: in plain.o same1 and same2 are one
// body that use1 and use2 both call; in lp.o (inline-clone) they are two.
func TestICFEvidence(t *testing.T) {
	dir := buildFixture(t, "rule-icf")
	tests := []struct {
		obj    string
		folded bool
	}{{"plain.o", true}, {"lp.o", false}}
	for _, tc := range tests {
		t.Run(tc.obj, func(t *testing.T) {
			e := readELF(t, filepath.Join(dir, tc.obj))
			s1, ok1 := e.funcs["same1"]
			s2, ok2 := e.funcs["same2"]
			if !ok1 || !ok2 {
				t.Fatalf("gcc %s: %s lacks same1 or same2 (functions: %s)", gccVersion(), tc.obj, e.names())
			}
			folded := s1.Section == s2.Section && s1.Value == s2.Value
			if folded != tc.folded {
				t.Fatalf("gcc %s: %s: same1 at %#x, same2 at %#x; folded %v, want %v", gccVersion(), tc.obj, s1.Value, s2.Value, folded, tc.folded)
			}
			for caller, callee := range map[string]string{"use1": "same1", "use2": "same2"} {
				is := disasm(t, e, caller)
				if len(callsTo(e, is, callee)) != 1 {
					t.Errorf("%s does not call %s's address:\n%s", caller, callee, listing(is))
				}
			}
		})
	}
}

// TestICF: changing one of two folded functions leaves the shared body
// alone (one address cannot take two replacements), explains both names,
// and replaces the callers of the body; without folding, nothing of it.
func TestICF(t *testing.T) {
	dir := buildFixture(t, "rule-icf")
	caller := func(via string) tw {
		return tw{rule: rules.ICF, sev: rules.Must, via: via, note: "called the body shared by"}
	}
	tests := []struct {
		name, obj, policy string
		changed           []string
		want              expect
	}{
		{
			name: "folded", obj: "plain.o", changed: []string{"same2"},
			want: expect{
				// One address takes one replacement: the folded body
				// stays, explained with its alias, and its callers are
				// replaced.
				targets: map[string]tw{
					"use1": caller("same2"),
					"use2": caller("same2"),
				},
				explained: map[string]string{"same1": rules.ICF, "same2": rules.ICF},
				notes:     []string{notFtrace},
			},
		},
		{
			name: "folded, the other name", obj: "plain.o", changed: []string{"same1"},
			want: expect{
				targets: map[string]tw{
					"use1": caller("same1"),
					"use2": caller("same1"),
				},
				explained: map[string]string{"same1": rules.ICF, "same2": rules.ICF},
				notes:     []string{notFtrace},
			},
		},
		{
			name: "not folded, inline-clone", obj: "lp.o", changed: []string{"same2"},
			want: expect{
				targets: map[string]tw{"same2": {rule: rules.Containment, sev: rules.Must}},
				notes:   []string{notFtrace},
			},
		},
		{
			// icf off: the alias is not listed; the callers of the
			// body still are, for IPA-RA.
			name: "icf off", obj: "plain.o", policy: "rules:\n  icf: {severity: off}\n", changed: []string{"same2"},
			want: expect{
				targets: map[string]tw{
					"same2": {rule: rules.Containment, sev: rules.Must},
					"use1":  {rule: rules.CallerAssumptions, sev: rules.Conditional, via: "same2"},
					"use2":  {rule: rules.CallerAssumptions, sev: rules.Conditional, via: "same2"},
				},
				notes: []string{notFtrace},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p *rules.Policy
			if tc.policy != "" {
				p = mustPolicy(t, tc.policy)
			}
			res := loadUnit(t, dir, tc.obj).run(t, p, tc.changed...)
			check(t, tc.obj+" "+tc.name, res, tc.want)
		})
	}
}
