package rules_test

import (
	"path/filepath"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/klp-audit/klp-audit/rules"
)

// TestChangedABIEvidence checks, in the code gcc produced, that the clones
// do not take the source prototype's parameters: leafy(struct s *p) is
// called with p->a and p->b, big(mode, v) with v alone.
func TestChangedABIEvidence(t *testing.T) {
	dir := buildFixture(t, "rule-abi")
	for _, obj := range []string{"plain.o", "lp.o"} {
		t.Run(obj, func(t *testing.T) {
			e := readELF(t, filepath.Join(dir, obj))
			for _, name := range []string{"leafy", "big"} {
				if _, ok := e.funcs[name]; ok {
					t.Fatalf("gcc %s: %s has %s itself; the fixture expects only its clone", gccVersion(), obj, name)
				}
			}
			for _, name := range []string{"leafy.isra.0", "big.constprop.0"} {
				if _, ok := e.funcs[name]; !ok {
					t.Fatalf("gcc %s: %s has no %s (functions: %s)", gccVersion(), obj, name, e.names())
				}
			}
			for _, caller := range []string{"ia", "ib", "ic", "mixed"} {
				is := disasm(t, e, caller)
				calls := callsTo(e, is, "leafy.isra.0")
				if len(calls) != 1 {
					t.Fatalf("%s: %d calls to leafy.isra.0, want 1:\n%s", caller, len(calls), listing(is))
				}
				// The callee gets the fields in %edi and %esi, loaded
				// from memory: values, not the struct pointer.
				loaded := map[x86asm.Reg]bool{}
				for _, i := range is[:calls[0]] {
					if _, ok := i.Args[1].(x86asm.Mem); ok && i.Op == x86asm.MOV {
						if r, ok := i.Args[0].(x86asm.Reg); ok {
							loaded[r] = true
						}
					}
				}
				if !loaded[x86asm.EDI] || !loaded[x86asm.ESI] {
					t.Errorf("%s: want %%edi and %%esi loaded from memory before calling leafy.isra.0:\n%s", caller, listing(is))
				}
			}
			for _, caller := range []string{"ca", "cb", "cc"} {
				// v is the first argument of the clone, where big's
				// first parameter is mode.
				is := disasm(t, e, caller)
				var jmp *inst
				for k := range is {
					if is[k].Op == x86asm.JMP {
						jmp = &is[k]
						break
					}
				}
				if jmp == nil || jmp.target != e.funcs["big.constprop.0"].Value {
					t.Errorf("%s: want a tail call to big.constprop.0:\n%s", caller, listing(is))
				}
				for _, i := range is {
					if i.off >= jmp.off {
						break
					}
					if _, w := uses(i, "rsi"); w {
						t.Errorf("%s sets %%esi, a second argument big.constprop.0 does not take:\n%s", caller, listing(is))
					}
				}
			}
		})
	}
}

// TestChangedABI: the callers of an isra or constprop clone are replaced
// instead of the clone, unless the author supplies clone-ABI
// replacements.
func TestChangedABI(t *testing.T) {
	dir := buildFixture(t, "rule-abi")
	authorABI := "rules:\n  changed-abi:\n    author-supplies-clone-abi: true\n"
	byABI := func(via string) tw { return tw{rule: rules.ChangedABI, sev: rules.Must, via: via} }
	tests := []struct {
		name, obj string
		policy    string
		changed   []string
		want      expect
	}{
		{
			name: "isra", obj: "plain.o", changed: []string{"leafy"},
			want: expect{
				targets: map[string]tw{
					"ia": byABI("leafy.isra.0"), "ib": byABI("leafy.isra.0"),
					"ic": byABI("leafy.isra.0"), "mixed": byABI("leafy.isra.0"),
				},
				explained: map[string]string{"leafy": rules.Containment, "leafy.isra.0": rules.ChangedABI},
				notes:     []string{notFtrace},
			},
		},
		{
			name: "constprop", obj: "plain.o", changed: []string{"big"},
			want: expect{
				targets: map[string]tw{
					"ca": byABI("big.constprop.0"), "cb": byABI("big.constprop.0"), "cc": byABI("big.constprop.0"),
				},
				explained: map[string]string{"big": rules.Containment, "big.constprop.0": rules.ChangedABI},
				notes:     []string{notFtrace},
			},
		},
		{
			name: "isra, inline-clone", obj: "lp.o", changed: []string{"leafy"},
			want: expect{
				targets: map[string]tw{
					"ia": byABI("leafy.isra.0"), "ib": byABI("leafy.isra.0"),
					"ic": byABI("leafy.isra.0"), "mixed": byABI("leafy.isra.0"),
				},
				explained: map[string]string{"leafy": rules.Containment, "leafy.isra.0": rules.ChangedABI},
				notes:     []string{notFtrace},
			},
		},
		{
			// -flive-patching=inline-clone: no analysis makes the
			// callers targets, so the clone alone is.
			name: "author supplies clone ABI, inline-clone", obj: "lp.o", policy: authorABI, changed: []string{"leafy", "big"},
			want: expect{
				targets: map[string]tw{
					"leafy.isra.0":    {rule: rules.Containment, sev: rules.Must, via: "leafy", note: "an isra clone: replace it with a function of the clone's own ABI"},
					"big.constprop.0": {rule: rules.Containment, sev: rules.Must, via: "big", note: "a constprop clone: replace it with a function of the clone's own ABI"},
				},
				explained: map[string]string{"leafy": rules.Containment, "big": rules.Containment},
				notes:     []string{notFtrace},
			},
		},
		{
			// In the plain build the callers of the clone come back,
			// through caller-assumptions (IPA-RA is live), not
			// changed-abi.
			name: "author supplies clone ABI, plain", obj: "plain.o", policy: authorABI, changed: []string{"leafy"},
			want: expect{
				targets: map[string]tw{
					"leafy.isra.0": {rule: rules.Containment, sev: rules.Must, note: "own ABI"},
					"ia":           {rule: rules.CallerAssumptions, sev: rules.Conditional, via: "leafy.isra.0", note: "ipa-ra"},
					"ib":           {rule: rules.CallerAssumptions, sev: rules.Conditional, via: "leafy.isra.0", note: "ipa-ra"},
					"ic":           {rule: rules.CallerAssumptions, sev: rules.Conditional, via: "leafy.isra.0", note: "ipa-ra"},
					"mixed":        {rule: rules.CallerAssumptions, sev: rules.Conditional, via: "leafy.isra.0", note: "ipa-ra"},
				},
				explained: map[string]string{"leafy": rules.Containment},
				notes:     []string{notFtrace},
			},
		},
		{
			name: "changed-abi off", obj: "lp.o", policy: "rules:\n  changed-abi: {severity: off}\n", changed: []string{"leafy"},
			want: expect{
				targets:   map[string]tw{"leafy.isra.0": {rule: rules.Containment, sev: rules.Must, via: "leafy"}},
				explained: map[string]string{"leafy": rules.Containment},
				notes:     []string{notFtrace},
			},
		},
		{
			// mixed calls scale and leafy.isra.0: caller-assumptions
			// (review here) reaches it first, changed-abi (must)
			// second. The stronger finding decides its severity.
			name: "two rules, strongest wins", obj: "plain.o", policy: "rules:\n  caller-assumptions: {severity: review}\n",
			changed: []string{"scale", "leafy"},
			want: expect{
				targets: map[string]tw{
					"scale": {rule: rules.Containment, sev: rules.Must},
					"mixed": {rule: rules.ChangedABI, sev: rules.Must, also: []string{rules.CallerAssumptions}, via: "leafy.isra.0", note: "through ipa-ra"},
					"ia":    byABI("leafy.isra.0"), "ib": byABI("leafy.isra.0"), "ic": byABI("leafy.isra.0"),
				},
				explained: map[string]string{"leafy": rules.Containment, "leafy.isra.0": rules.ChangedABI},
				notes:     []string{notFtrace},
			},
		},
		{
			// The same under the default policy: mixed is certain
			// through changed-abi, so no condition is left in its
			// note.
			name: "two rules, must outranks conditional", obj: "plain.o",
			changed: []string{"scale", "leafy"},
			want: expect{
				targets: map[string]tw{
					"scale": {rule: rules.Containment, sev: rules.Must},
					"mixed": {rule: rules.ChangedABI, sev: rules.Must, also: []string{rules.CallerAssumptions}, via: "leafy.isra.0", noNote: "needed only if"},
					"ia":    byABI("leafy.isra.0"), "ib": byABI("leafy.isra.0"), "ic": byABI("leafy.isra.0"),
				},
				explained: map[string]string{"leafy": rules.Containment, "leafy.isra.0": rules.ChangedABI},
				notes:     []string{notFtrace},
			},
		},
		{
			name: "caller-assumptions review alone", obj: "plain.o", policy: "rules:\n  caller-assumptions: {severity: review}\n",
			changed: []string{"scale"},
			want: expect{
				targets: map[string]tw{
					"scale": {rule: rules.Containment, sev: rules.Must},
					"mixed": {rule: rules.CallerAssumptions, sev: rules.Review, via: "scale", note: "ipa-ra"},
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
