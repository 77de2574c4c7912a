package rules_test

import (
	"testing"

	"github.com/klp-audit/klp-audit/rules"
)

// TestContainment: the functions holding a changed function's code are
// the targets, only those the object has; the changed function itself,
// inlined everywhere, is explained.
func TestContainment(t *testing.T) {
	dir := buildFixture(t, "rule-containment")
	for _, obj := range []string{"plain.o", "ftrace.o"} {
		e := readELF(t, dir+"/"+obj)
		for _, name := range []string{"helper", "splitme"} {
			if _, ok := e.funcs[name]; ok {
				t.Fatalf("gcc %s kept %s out of line in %s; the fixture expects it inlined everywhere", gccVersion(), name, obj)
			}
		}
		for _, name := range []string{"user_a", "user_b", "sp1", "sp2", "sp3", "splitme.part.0"} {
			if _, ok := e.funcs[name]; !ok {
				t.Fatalf("gcc %s: %s has no %s (functions: %s)", gccVersion(), obj, name, e.names())
			}
		}
	}
	must := func(rule string, also ...string) tw { return tw{rule: rule, sev: rules.Must, also: also} }
	tests := []struct {
		name, obj string
		changed   []string
		want      expect
	}{
		{
			name: "inlined helper", obj: "plain.o", changed: []string{"helper"},
			want: expect{
				targets: map[string]tw{
					"user_a": {rule: rules.Containment, sev: rules.Must, via: "helper"},
					"user_b": {rule: rules.Containment, sev: rules.Must, via: "helper"},
				},
				explained: map[string]string{"helper": rules.Containment},
				notes:     []string{notFtrace},
			},
		},
		{
			// The part clone's callers are the functions holding
			// splitme's head anyway: containment found them first.
			name: "part split", obj: "plain.o", changed: []string{"splitme"},
			want: expect{
				targets: map[string]tw{
					"sp1": must(rules.Containment, rules.ChangedABI),
					"sp2": must(rules.Containment, rules.ChangedABI),
					"sp3": must(rules.Containment, rules.ChangedABI),
				},
				explained: map[string]string{"splitme": rules.Containment, "splitme.part.0": rules.ChangedABI},
				notes:     []string{notFtrace},
			},
		},
		{
			name: "both, ftrace build", obj: "ftrace.o", changed: []string{"helper", "splitme"},
			want: expect{
				targets: map[string]tw{
					"user_a": must(rules.Containment),
					"user_b": must(rules.Containment),
					"sp1":    must(rules.Containment, rules.ChangedABI),
					"sp2":    must(rules.Containment, rules.ChangedABI),
					"sp3":    must(rules.Containment, rules.ChangedABI),
				},
				explained: map[string]string{"helper": rules.Containment, "splitme": rules.Containment, "splitme.part.0": rules.ChangedABI},
				noNotes:   []string{notFtrace},
			},
		},
		{
			// Containment off: nothing holding the changed code is
			// listed, and the answer says so.
			name: "containment off", obj: "plain.o", changed: []string{"helper"},
			want: expect{notes: []string{"containment is off"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p *rules.Policy
			if tc.name == "containment off" {
				p = mustPolicy(t, "rules:\n  containment: {severity: off}\n")
			}
			res := loadUnit(t, dir, tc.obj).run(t, p, tc.changed...)
			check(t, tc.obj+" "+tc.name, res, tc.want)
			for _, x := range res.Explained {
				if x.ID.Name == "helper" && x.Why != "not emitted: inlined everywhere (into 2 functions); replaced through the functions holding its code" {
					t.Errorf("helper explained %q", x.Why)
				}
			}
		})
	}
}
