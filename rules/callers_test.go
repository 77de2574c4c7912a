package rules_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/klp-audit/klp-audit/report"
	"github.com/klp-audit/klp-audit/rules"
)

// argRegs are the registers that hold a function's integer arguments on
// entry (x86-64 SysV ABI).
var argRegs = []string{"rdi", "rsi", "rdx", "rcx", "r8", "r9"}

// TestCallerAssumptionsEvidence shows, in the code gcc produced, the
// hazards the caller-assumptions rule is about, and that
// -flive-patching=inline-clone and -pg remove the ones they should.
func TestCallerAssumptionsEvidence(t *testing.T) {
	dir := buildFixture(t, "rule-callers")
	tests := []struct {
		obj string
		// carried: call-clobbered registers caller1 writes before
		// "call leafy" and reads after it, unsaved (IPA-RA).
		carried string
		// carriedArgs: the same, counting the argument registers as
		// written at entry.
		carriedArgs string
		// twiceCalls: calls to twice in usetwice (1: pure-const
		// merged them).
		twiceCalls int
		// rangeTest: ranged still tests x > 100 (no bit-CP).
		rangeTest bool
	}{
		{obj: "plain.o", carried: "rcx", carriedArgs: "rcx rdx", twiceCalls: 1, rangeTest: false},
		{obj: "lp.o", carried: "", carriedArgs: "", twiceCalls: 2, rangeTest: true},
		{obj: "ftrace.o", carried: "", carriedArgs: "", twiceCalls: 1, rangeTest: false},
	}
	for _, tc := range tests {
		t.Run(tc.obj, func(t *testing.T) {
			e := readELF(t, filepath.Join(dir, tc.obj))
			is := disasm(t, e, "caller1")
			calls := callsTo(e, is, "leafy")
			if len(calls) != 1 {
				t.Fatalf("gcc %s: caller1 has %d calls to leafy, want 1:\n%s", gccVersion(), len(calls), listing(is))
			}
			if got := strings.Join(carried(is, calls[0]), " "); got != tc.carried {
				t.Errorf("caller1: registers kept across call leafy: %q, want %q:\n%s", got, tc.carried, listing(is))
			}
			if got := strings.Join(carriedFrom(is, calls[0], argRegs), " "); got != tc.carriedArgs {
				t.Errorf("caller1: registers (arguments included) kept across call leafy: %q, want %q:\n%s", got, tc.carriedArgs, listing(is))
			}
			u := disasm(t, e, "usetwice")
			if n := len(callsTo(e, u, "twice")); n != tc.twiceCalls {
				t.Errorf("usetwice calls twice %d times, want %d:\n%s", n, tc.twiceCalls, listing(u))
			}
			r := disasm(t, e, "ranged")
			cmp := false
			for _, i := range r {
				if i.Op == x86asm.CMP && fmt.Sprint(i.Args[1]) == "0x64" {
					cmp = true
				}
			}
			if cmp != tc.rangeTest {
				t.Errorf("ranged compares with 100: %v, want %v:\n%s", cmp, tc.rangeTest, listing(r))
			}
			// The call in coldcaller's cold piece: .text.unlikely to
			// .text, so a relocation names leafy.
			cold, ok := e.funcs["coldcaller.cold"]
			if !ok {
				t.Fatalf("gcc %s: no coldcaller.cold in %s (functions: %s)", gccVersion(), tc.obj, e.names())
			}
			found := false
			for _, rl := range e.relocs[".text.unlikely"] {
				if rl.off < cold.Value || rl.off >= cold.Value+cold.Size {
					continue
				}
				if rl.sym == "leafy" || rl.sym == ".text" && uint64(rl.addend+4) == e.funcs["leafy"].Value {
					found = true
				}
			}
			if !found {
				t.Errorf("coldcaller.cold: no call to leafy among its relocations %+v", e.relocs[".text.unlikely"])
			}
		})
	}
	// In plain.o the value in %ecx is x: "mov %esi,%ecx" before the call,
	// "add %ecx,%eax" after it.
	e := readELF(t, filepath.Join(dir, "plain.o"))
	is := disasm(t, e, "caller1")
	c := callsTo(e, is, "leafy")[0]
	if is[0].Op != x86asm.MOV || is[0].Args[0] != x86asm.ECX || is[0].Args[1] != x86asm.ESI {
		t.Errorf("caller1 does not start with mov %%esi,%%ecx:\n%s", listing(is))
	}
	if after := is[c+1]; after.Op != x86asm.ADD || after.Args[1] != x86asm.ECX {
		t.Errorf("caller1: %s after the call, want add %%ecx,%%eax:\n%s", after, listing(is))
	}
}

// carriedFrom is carried, with registers entry counted as written at the
// function's entry (its arguments).
func carriedFrom(is []inst, c int, entry []string) []string {
	fake := make([]inst, 0, len(is)+len(entry))
	for _, f := range entry {
		// A "mov f, f" stands for the value arriving in f.
		r := regOf(f)
		fake = append(fake, inst{Inst: x86asm.Inst{Op: x86asm.MOV, Args: x86asm.Args{r, r}}})
	}
	fake = append(fake, is...)
	return carried(fake, c+len(entry))
}

func regOf(f string) x86asm.Reg {
	for r := x86asm.RAX; r <= x86asm.R15; r++ {
		if strings.EqualFold(r.String(), f) {
			return r
		}
	}
	panic("no register " + f)
}

// TestCallerAssumptions: with IPA-RA or pure-const live, the callers of a
// target are conditional targets, each with its condition; the tier does
// not spread to their callers (outer calls caller1), unless the policy
// makes the rule must, when it does, transitively within the unit. With
// -flive-patching=inline-clone none is a target; with -pg IPA-RA is not
// named.
func TestCallerAssumptions(t *testing.T) {
	dir := buildFixture(t, "rule-callers")
	ca := func(via, note, noNote string) tw {
		return tw{rule: rules.CallerAssumptions, sev: rules.Conditional, via: via, note: note, noNote: noNote}
	}
	changedOnly := func(name string) map[string]tw {
		return map[string]tw{name: {rule: rules.Containment, sev: rules.Must}}
	}
	tests := []struct {
		name, obj string
		policy    string
		changed   []string
		want      expect
	}{
		{
			name: "ipa-ra", obj: "plain.o", changed: []string{"leafy"},
			want: expect{
				targets: map[string]tw{
					"leafy":      {rule: rules.Containment, sev: rules.Must},
					"caller1":    ca("leafy", "needed only if your fix changes what caller1 assumed of leafy, which it calls at 1 call site: the call-clobbered registers it leaves alone (ipa-ra), ", ""),
					"coldcaller": ca("leafy", "what coldcaller assumed of leafy", ""),
				},
				notes: []string{notFtrace},
			},
		},
		{
			// The behaviour before the conditional tier: must, and
			// transitive.
			name: "ipa-ra, must", obj: "plain.o", changed: []string{"leafy"},
			policy: "rules:\n  caller-assumptions:\n    severity: must\n    passes: {ipa-vrp: review, ipa-bit-cp: review}\n",
			want: expect{
				targets: map[string]tw{
					"leafy":      {rule: rules.Containment, sev: rules.Must},
					"caller1":    {rule: rules.CallerAssumptions, sev: rules.Must, via: "leafy", note: "callers may rely on its body through ipa-ra"},
					"coldcaller": {rule: rules.CallerAssumptions, sev: rules.Must, via: "leafy", note: "ipa-ra"},
					"outer":      {rule: rules.CallerAssumptions, sev: rules.Must, via: "caller1", note: "ipa-ra"},
				},
				notes: []string{notFtrace},
			},
		},
		{
			// review spreads as review, as it always did.
			name: "ipa-ra, review", obj: "plain.o", changed: []string{"leafy"},
			policy: "rules:\n  caller-assumptions: {severity: review}\n",
			want: expect{
				targets: map[string]tw{
					"leafy":      {rule: rules.Containment, sev: rules.Must},
					"caller1":    {rule: rules.CallerAssumptions, sev: rules.Review, via: "leafy", note: "ipa-ra"},
					"coldcaller": {rule: rules.CallerAssumptions, sev: rules.Review, via: "leafy", note: "ipa-ra"},
					"outer":      {rule: rules.CallerAssumptions, sev: rules.Review, via: "caller1", note: "ipa-ra"},
				},
				notes: []string{notFtrace},
			},
		},
		{
			name: "ipa-ra, inline-clone", obj: "lp.o", changed: []string{"leafy"},
			want: expect{targets: changedOnly("leafy"), notes: []string{notFtrace}},
		},
		{
			// -pg turns IPA-RA off; pure-const and the others stay.
			name: "ipa-ra, ftrace", obj: "ftrace.o", changed: []string{"leafy"},
			want: expect{
				targets: map[string]tw{
					"leafy":      {rule: rules.Containment, sev: rules.Must},
					"caller1":    ca("leafy", "whether it is pure, const or noreturn (ipa-pure-const)", "ipa-ra"),
					"coldcaller": ca("leafy", "ipa-pure-const", "ipa-ra"),
				},
				noNotes: []string{notFtrace},
			},
		},
		{
			name: "pure-const", obj: "plain.o", changed: []string{"twice"},
			want: expect{
				targets: map[string]tw{
					"twice":    {rule: rules.Containment, sev: rules.Must},
					"usetwice": ca("twice", "what usetwice assumed of twice, which it calls at 1 call site: ", ""),
				},
				notes: []string{notFtrace},
			},
		},
		{
			name: "pure-const, inline-clone", obj: "lp.o", changed: []string{"twice"},
			want: expect{targets: changedOnly("twice"), notes: []string{notFtrace}},
		},
		{
			name: "pure-const, ftrace", obj: "ftrace.o", changed: []string{"twice"},
			want: expect{
				targets: map[string]tw{
					"twice":    {rule: rules.Containment, sev: rules.Must},
					"usetwice": ca("twice", "ipa-pure-const", "ipa-ra"),
				},
			},
		},
		{
			name: "caller-assumptions off", obj: "plain.o", changed: []string{"leafy"},
			want: expect{targets: changedOnly("leafy"), notes: []string{notFtrace}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p *rules.Policy
			if tc.name == "caller-assumptions off" {
				p = mustPolicy(t, "rules:\n  caller-assumptions: {severity: off}\n")
			}
			if tc.policy != "" {
				p = mustPolicy(t, tc.policy)
			}
			u := loadUnit(t, dir, tc.obj)
			res := u.run(t, p, tc.changed...)
			check(t, tc.obj+" "+tc.name, res, tc.want)
			if tg := targetMap(res)["caller1"]; tg != nil {
				// The evidence names the call site inside caller1.
				e := readELF(t, u.obj)
				is := disasm(t, e, "caller1")
				site := is[callsTo(e, is, "leafy")[0]].off - e.funcs["caller1"].Value
				want := fmt.Sprintf("%s: call site caller1+%#x", u.obj, site)
				if ev := tg.Chain[len(tg.Chain)-1].Evidence; ev != want {
					t.Errorf("caller1: evidence %q, want %q", ev, want)
				}
			}
			if tg := targetMap(res)["coldcaller"]; tg != nil {
				if ev := tg.Chain[len(tg.Chain)-1].Evidence; !strings.Contains(ev, "coldcaller.cold+") || !strings.Contains(ev, "cold piece of coldcaller") {
					t.Errorf("coldcaller: evidence %q, want the call site in coldcaller.cold", ev)
				}
			}
		})
	}
}

// TestCalleeSideAssumptions: ipa-bit-cp and ipa-vrp work the other way
// round. ranged relies on what all its callers pass (below 64: its "x >
// 100" test is gone), so a fix to rc1 that passes larger values needs
// ranged replaced too: the rule lists the local callees of a function
// whose code changed.
func TestCalleeSideAssumptions(t *testing.T) {
	dir := buildFixture(t, "rule-callers")
	e := readELF(t, filepath.Join(dir, "plain.o"))
	for _, i := range disasm(t, e, "ranged") {
		if i.Op == x86asm.CMP {
			t.Skipf("gcc %s kept ranged's range test: no callee-side assumption to show", gccVersion())
		}
	}
	res := loadUnit(t, dir, "plain.o").run(t, nil, "rc1")
	tg := targetMap(res)["ranged"]
	if tg == nil {
		t.Fatalf("rc1 changed, ranged (built on its callers' argument bits, ipa-bit-cp) is not a target:\n%s", describe(res))
	}
	if tg.Rule != rules.CallerAssumptions || tg.Severity != rules.Conditional || !strings.Contains(tg.Note, "ipa-bit-cp") ||
		!strings.HasPrefix(tg.Note, "needed only if your fix changes the arguments rc1 passes to ranged: ranged is local and was compiled for its callers' ") {
		t.Errorf("ranged: rule %s severity %s note %q, want conditional caller-assumptions naming rc1 and ipa-bit-cp", tg.Rule, tg.Severity, tg.Note)
	}
}

// TestStepSeverity: each step of a chain carries the severity it gave the
// function it leads to, which --explain shows. Under the policy before the
// conditional tier (must, with the callee-side passes at review), rc1's
// containment step is must and the step to ranged (compiled for rc1's
// argument bits, ipa-bit-cp) is review, though the rule's severity is
// must. And every kind of step the rules take has its words in report.
func TestStepSeverity(t *testing.T) {
	dir := buildFixture(t, "rule-callers")
	e := readELF(t, filepath.Join(dir, "plain.o"))
	for _, i := range disasm(t, e, "ranged") {
		if i.Op == x86asm.CMP {
			t.Skipf("gcc %s kept ranged's range test: no callee-side assumption to show", gccVersion())
		}
	}
	p := mustPolicy(t, "rules:\n  caller-assumptions:\n    severity: must\n    passes: {ipa-vrp: review, ipa-bit-cp: review}\n")
	res := loadUnit(t, dir, "plain.o").run(t, p, "rc1", "leafy")
	tg := targetMap(res)["ranged"]
	if tg == nil {
		t.Fatalf("ranged is not a target:\n%s", describe(res))
	}
	last := tg.Chain[len(tg.Chain)-1]
	if tg.Severity != rules.Review || last.How != rules.StepCalls || last.Severity != rules.Review || last.From != "rc1" {
		t.Errorf("ranged: severity %s, last step %+v; want review, a review step %q from rc1", tg.Severity, last, rules.StepCalls)
	}
	c1 := targetMap(res)["caller1"]
	if c1 == nil {
		t.Fatalf("caller1 is not a target:\n%s", describe(res))
	}
	if st := c1.Chain[len(c1.Chain)-1]; st.How != rules.StepCalledBy || st.Severity != rules.Must {
		t.Errorf("caller1's last step %+v, want a must step %q", st, rules.StepCalledBy)
	}
	for _, tg := range res.Targets {
		for _, st := range tg.Chain {
			if st.Severity == "" {
				t.Errorf("%s: step %+v has no severity", tg.ID.Name, st)
			}
			if st.Rule != rules.Containment && !report.HasRelation(st.Rule, st.How) {
				t.Errorf("%s: step kind %s/%q has no words in report", tg.ID.Name, st.Rule, st.How)
			}
		}
	}
}

// TestStepKindsWorded: every kind of step the rules take is one report
// has a phrase for, and the rule names agree.
func TestStepKindsWorded(t *testing.T) {
	for _, k := range [][2]string{
		{rules.ChangedABI, rules.StepCalledBy}, {rules.NotPatchable, rules.StepCalledBy},
		{rules.CallerAssumptions, rules.StepCalledBy}, {rules.CallerAssumptions, rules.StepCalls},
		{rules.ICF, rules.StepCallsFolded}, {rules.ICF, rules.StepSameBody},
	} {
		if !report.HasRelation(k[0], k[1]) {
			t.Errorf("no words for %s/%q", k[0], k[1])
		}
	}
	if report.RuleContainment != rules.Containment || report.RuleChangedABI != rules.ChangedABI || report.RuleICF != rules.ICF ||
		report.RuleCallerAssumptions != rules.CallerAssumptions || report.RuleNotPatchable != rules.NotPatchable {
		t.Error("report's rule names differ from the rules'")
	}
	if report.HowCalledBy != rules.StepCalledBy || report.HowCalls != rules.StepCalls ||
		report.HowSameBody != rules.StepSameBody || report.HowCallsFolded != rules.StepCallsFolded {
		t.Error("report's step kinds differ from the rules'")
	}
}
