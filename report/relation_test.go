package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// relationCases are one small model per relation: the step that makes
// the target, named after the relation. The names are those of the
// kernel and the fixtures the issue quotes, so the goldens read as the
// real answers do.
var relationCases = []struct {
	name string
	step Step
	sev  string
	// want is the sentence, said from the target's (To's) side.
	want string
}{
	{"inlined", Step{From: "css_put", To: "cgroup_bpf_release", TU: "kernel/bpf/cgroup.o", How: "inlined", Rule: RuleContainment,
		Evidence: "kernel/bpf/cgroup.c.000i.ipa-clones:12"}, SeverityMust,
		"cgroup_bpf_release holds the inlined code of css_put"},
	{"constprop", Step{From: "big", To: "big.constprop.0", TU: "clones.o", How: "constprop", Rule: RuleContainment,
		Evidence: "clones.c.000i.ipa-clones:3"}, SeverityMust,
		"big.constprop.0 is the constprop clone of big (specialised for constant arguments)"},
	{"isra", Step{From: "leafy.constprop.0", To: "leafy.constprop.0.isra.0", TU: "clones.o", How: "isra", Rule: RuleContainment,
		Evidence: "clones.c.000i.ipa-clones:5"}, SeverityMust,
		"leafy.constprop.0.isra.0 is the isra clone of leafy.constprop.0 (parameters rewritten by IPA-SRA)"},
	{"part", Step{From: "splitme", To: "splitme.part.0", TU: "clones.o", How: "part", Rule: RuleContainment,
		Evidence: "clones.c.000i.ipa-clones:7"}, SeverityMust,
		"splitme.part.0 is the split-off part of splitme (ipa-split)"},
	{"simdclone", Step{From: "sq", To: "sq.simdclone.0", TU: "simd.o", How: "simdclone", Rule: RuleContainment,
		Evidence: "simd.c.000i.ipa-clones:1"}, SeverityMust,
		"sq.simdclone.0 is a vector variant of sq (simd clone)"},
	{"copy", Step{From: "ping.part.0", To: "ping.part.0", TU: "cycle.o", How: "copy", Rule: RuleContainment,
		Evidence: "prog.ltrans0.ltrans.000i.ipa-clones:2"}, SeverityMust,
		"ping.part.0 is a copy of ping.part.0 (the dump says (null))"},
	{"unknown", Step{From: "f", To: "f.newkind.0", TU: "u.o", How: "unknown:newkind", Rule: RuleContainment,
		Evidence: "u.c.000i.ipa-clones:1"}, SeverityMust,
		"f.newkind.0 holds the code of f (GCC's newkind)"},
	{"changed-abi", Step{From: "leafy.constprop.0.isra.0", To: "caller1", TU: "clones.o", How: HowCalledBy, Rule: RuleChangedABI,
		Evidence: "clones.o: call site caller1+0x7"}, SeverityMust,
		"caller1 calls the clone leafy.constprop.0.isra.0, whose ABI differs"},
	{"not-patchable", Step{From: "nt_global", To: "util_submit", TU: "util.o", How: HowCalledBy, Rule: RuleNotPatchable,
		Evidence: "util.o: call site util_submit+0x5"}, SeverityMust,
		"util_submit calls nt_global, which cannot be patched"},
	{"caller-assumptions.caller", Step{From: "should_skip_region", To: "__next_mem_range", TU: "mm/memblock.o", How: HowCalledBy,
		Rule: RuleCallerAssumptions, Evidence: "mm/memblock.o: call site __next_mem_range+0x4d"}, SeverityConditional,
		"__next_mem_range calls should_skip_region (callers may rely on its body)"},
	{"caller-assumptions.callee", Step{From: "should_skip_region", To: "memblock_dump", TU: "mm/memblock.o", How: HowCalls,
		Rule: RuleCallerAssumptions, Evidence: "mm/memblock.o: call site should_skip_region (section offset 0x1c4)"}, SeverityReview,
		"memblock_dump is called by should_skip_region, compiled for the arguments it passes"},
	{"icf.caller", Step{From: "same1", To: "use_same", TU: "icf.o", How: HowCallsFolded, Rule: RuleICF,
		Evidence: "icf.o: call site use_same+0x9"}, SeverityMust,
		"use_same calls same1, whose body is folded with other symbols (icf)"},
	{"icf.alias", Step{From: "same1", To: "same2", TU: "icf.o", How: HowSameBody, Rule: RuleICF,
		Evidence: "icf.o: both symbols at .text+0x40"}, SeverityMust,
		"same2 has the same body as same1 (identical code folding)"},
}

// relationOutputs renders the one-step model of a relation in every form
// that says it: the sentence, impacted's text and table, the DOT edge,
// --explain's hop, and the check report's text, markdown and SARIF.
func relationOutputs(t *testing.T, st Step, sev string) string {
	t.Helper()
	tg := Target{Name: st.To, KLPObject: "vmlinux", TU: st.TU, Object: st.TU, Binding: "global", Section: ".text",
		Severity: sev, Rule: st.Rule, Chain: []Step{st}}
	st.Severity = sev
	tg.Chain = []Step{st}
	r := &Result{Query: Query{Command: "impacted", Function: st.From}, Complete: true, Policy: "default policy",
		Targets: []Target{tg}}
	var b strings.Builder
	b.WriteString("== sentence\n" + Relation(st) + "\n")
	b.WriteString("\n== impacted text\n" + strings.TrimLeft(render(t, r, Text), "\n"))
	b.WriteString("\n== impacted table\n" + render(t, r, Table))
	var edge string
	for _, l := range strings.Split(render(t, r, DOT), "\n") {
		if strings.HasPrefix(l, "  \"") && strings.Contains(l, " -> ") {
			edge += l + "\n"
		}
	}
	b.WriteString("\n== dot edge\n" + edge)
	x := &Explanation{Complete: true, Target: &ExplainTarget{Name: tg.Name, TU: tg.TU, Binding: tg.Binding, KLPObject: "vmlinux",
		Severity: sev, Rule: tg.Rule},
		Changed: ExplainFunc{Name: st.From, TU: st.TU}, Chain: []ExplainStep{{Step: st, RuleSeverity: sev}}}
	b.WriteString("\n== explain\n" + ExplainText(x))
	c := newCheck("missing")
	ct := CheckTarget{Target: tg, Because: st.From, File: "fix.c", Line: 10}
	switch sev {
	case SeverityConditional:
		c.Conditional = []CheckTarget{ct}
	case SeverityReview:
		c.Review = []CheckTarget{ct}
	default:
		c.Missing = []CheckTarget{ct}
	}
	for _, f := range []Format{Text, Markdown, SARIF} {
		var out bytes.Buffer
		if err := RenderCheck(&out, c, f); err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.Contains(l, Relation(st)) || strings.Contains(l, mdText(Relation(st))) {
				lines = append(lines, strings.TrimSpace(l))
			}
		}
		b.WriteString("\n== check " + string(f) + "\n" + strings.Join(lines, "\n") + "\n")
	}
	return b.String()
}

// TestRelationGolden: each relation is said in one phrase, from the
// target's side, in every renderer. The goldens hold what each renderer
// writes for a model of one step.
func TestRelationGolden(t *testing.T) {
	for _, c := range relationCases {
		t.Run(c.name, func(t *testing.T) {
			if got := Relation(c.step); got != c.want {
				t.Fatalf("Relation = %q, want %q", got, c.want)
			}
			got := relationOutputs(t, c.step, c.sev)
			// Every renderer says the relation (the tree and DOT in
			// their own short forms, checked by the golden).
			for _, part := range strings.Split(got, "\n== ")[1:] {
				head, body, _ := strings.Cut(part, "\n")
				if head == "dot edge" || head == "impacted table" {
					continue
				}
				if !strings.Contains(body, Predicate(c.step)) && !strings.Contains(body, mdText(Predicate(c.step))) {
					t.Errorf("%s does not say %q:\n%s", head, Predicate(c.step), body)
				}
			}
			path := filepath.Join("testdata", "golden", "relation."+c.name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./report -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("differs from %s\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

// TestRelationKinds: every kind the table knows says its subject first
// and never falls back to the generic phrase.
func TestRelationKinds(t *testing.T) {
	for k := range relations {
		st := Step{From: "F", To: "T", Rule: k.rule, How: k.how}
		if got := Relation(st); !strings.HasPrefix(got, "T ") || !strings.Contains(got, " F") || strings.Contains(got, "is reached from") {
			t.Errorf("%s/%s: %q", k.rule, k.how, got)
		}
	}
	if got := Relation(Step{From: "F", To: "T", Rule: "some-rule", How: "odd\x1bkind"}); got != `T is reached from F (odd\x1bkind)` {
		t.Errorf("unknown kind: %q", got)
	}
}

// TestChainPredicate: a chain is said last step first, each "which" the
// function named just before it.
func TestChainPredicate(t *testing.T) {
	chain := []Step{
		{From: "percpu_ref_put_many", To: "percpu_ref_put_many.constprop.0", How: "constprop"},
		{From: "percpu_ref_put_many.constprop.0", To: "css_put", How: "inlined"},
		{From: "css_put", To: "cgroup_bpf_release", How: "inlined"},
	}
	want := "holds the inlined code of css_put, which holds the inlined code of percpu_ref_put_many.constprop.0, " +
		"which is the constprop clone of percpu_ref_put_many (specialised for constant arguments)"
	if got := ChainPredicate(chain); got != want {
		t.Errorf("ChainPredicate = %q\nwant %q", got, want)
	}
	if got := ChainPredicate(nil); got != "" {
		t.Errorf("ChainPredicate(nil) = %q", got)
	}
}
