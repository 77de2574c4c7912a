package rules_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/internal/safeio"
	"github.com/klp-audit/klp-audit/rules"
)

// TestDefaultPolicy: the embedded default parses, as itself and as a
// user's copy of it, and every rule is on at severity must but
// caller-assumptions, which is conditional (every pass with it).
func TestDefaultPolicy(t *testing.T) {
	for _, p := range []*rules.Policy{rules.DefaultPolicy(), mustPolicy(t, string(rules.DefaultPolicyYAML()))} {
		for _, id := range rules.RuleIDs {
			want := rules.Must
			if id == rules.CallerAssumptions {
				want = rules.Conditional
			}
			if got := p.Rules[id].Severity; got != want {
				t.Errorf("%s: rule %s severity %q, want %q", p.Source, id, got, want)
			}
		}
		if ps := p.Rules[rules.CallerAssumptions].Passes; len(ps) != 0 {
			t.Errorf("%s: caller-assumptions passes %v, want none (all at the rule's severity)", p.Source, ps)
		}
		if p.Rules[rules.ChangedABI].AuthorSuppliesCloneABI {
			t.Errorf("%s: author-supplies-clone-abi on by default", p.Source)
		}
		if len(p.Ignore) != 0 {
			t.Errorf("%s: default ignores %+v", p.Source, p.Ignore)
		}
	}
	if rules.DefaultPolicy().Source != "default policy" {
		t.Errorf("default policy source %q", rules.DefaultPolicy().Source)
	}
	// The text is a copy: changing it does not change the default.
	b := rules.DefaultPolicyYAML()
	b[0] = 'X'
	if rules.DefaultPolicyYAML()[0] == 'X' {
		t.Error("DefaultPolicyYAML returns the embedded bytes themselves")
	}
}

// TestParsePolicy: what a policy file sets, and what it leaves to the
// default.
func TestParsePolicy(t *testing.T) {
	tests := []struct {
		name, in string
		sev      map[string]rules.Severity // rules not named: the default's
		passes   map[string]rules.Severity
		abi      bool
		ignores  int
	}{
		{name: "empty", in: ""},
		{name: "comment only", in: "# nothing\n"},
		{name: "empty rules", in: "rules: {}\nignore: []\n"},
		{name: "icf review", in: "rules:\n  icf: {severity: review}\n", sev: map[string]rules.Severity{rules.ICF: rules.Review}},
		{name: "every rule", in: "rules:\n  containment: {severity: review}\n  changed-abi: {severity: off}\n  caller-assumptions: {severity: review}\n  icf: {severity: off}\n  not-patchable: {severity: review}\n",
			sev: map[string]rules.Severity{rules.Containment: rules.Review, rules.ChangedABI: rules.Off, rules.CallerAssumptions: rules.Review,
				rules.ICF: rules.Off, rules.NotPatchable: rules.Review}},
		{name: "clone ABI", in: "rules:\n  changed-abi:\n    author-supplies-clone-abi: true\n", abi: true},
		{name: "passes", in: "rules:\n  caller-assumptions:\n    passes:\n      ipa-ra: off\n      ipa-vrp: review\n",
			passes: map[string]rules.Severity{"ipa-ra": rules.Off, "ipa-vrp": rules.Review}},
		{name: "passes keep the rule's severity", in: "rules:\n  caller-assumptions:\n    severity: review\n    passes:\n      ipa-ra: must\n",
			sev: map[string]rules.Severity{rules.CallerAssumptions: rules.Review}, passes: map[string]rules.Severity{"ipa-ra": rules.Must}},
		{name: "caller-assumptions must, the old behaviour", in: "rules:\n  caller-assumptions:\n    severity: must\n    passes: {ipa-vrp: review, ipa-bit-cp: review}\n",
			sev: map[string]rules.Severity{rules.CallerAssumptions: rules.Must}, passes: map[string]rules.Severity{"ipa-vrp": rules.Review, "ipa-bit-cp": rules.Review}},
		{name: "one pass conditional", in: "rules:\n  caller-assumptions:\n    severity: must\n    passes: {ipa-pure-const: conditional}\n",
			sev: map[string]rules.Severity{rules.CallerAssumptions: rules.Must}, passes: map[string]rules.Severity{"ipa-pure-const": rules.Conditional}},
		{name: "ignore", in: "ignore:\n  - function: css_put\n    translation-unit: mm/memcontrol.o\n    rule: caller-assumptions\n    justification: reviewed\n", ignores: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPolicy(t, tc.in)
			if p.Source != "test.yaml" {
				t.Errorf("source %q", p.Source)
			}
			for _, id := range rules.RuleIDs {
				want := rules.Must
				if id == rules.CallerAssumptions {
					want = rules.Conditional
				}
				if s, ok := tc.sev[id]; ok {
					want = s
				}
				if got := p.Rules[id].Severity; got != want {
					t.Errorf("%q: rule %s severity %q, want %q", tc.in, id, got, want)
				}
			}
			// The shipped policy sets no pass; a policy file's passes
			// are merged over it.
			wantPasses := map[string]rules.Severity{}
			for k, v := range tc.passes {
				wantPasses[k] = v
			}
			got := p.Rules[rules.CallerAssumptions].Passes
			if len(got) != len(wantPasses) {
				t.Errorf("%q: passes %v, want %v", tc.in, got, wantPasses)
			}
			for k, v := range wantPasses {
				if got[k] != v {
					t.Errorf("%q: pass %s %q, want %q", tc.in, k, got[k], v)
				}
			}
			if p.Rules[rules.ChangedABI].AuthorSuppliesCloneABI != tc.abi {
				t.Errorf("%q: author-supplies-clone-abi %v", tc.in, !tc.abi)
			}
			if len(p.Ignore) != tc.ignores {
				t.Errorf("%q: ignores %+v", tc.in, p.Ignore)
			}
		})
	}
}

// TestPolicyErrors: each mistake is a *PolicyError at the line (and
// column, where the key is known) of the offending key.
func TestPolicyErrors(t *testing.T) {
	tests := []struct {
		name, in  string
		line, col int // col 0: not checked
		msg       string
	}{
		{"unknown top-level key", "rules: {}\nrulez: {}\n", 2, 1, "the policy: unknown key rulez, want rules or ignore"},
		{"unknown key in a rule", "rules:\n  icf:\n    severty: must\n", 3, 5, "rule icf: unknown key severty, want severity, passes or author-supplies-clone-abi"},
		{"unknown key in an ignore entry", "ignore:\n  - function: f\n    reason: x\n", 3, 5, "ignore entry: unknown key reason, want function, translation-unit, rule or justification"},
		{"unknown rule", "rules:\n  containment: {severity: must}\n  caller-asumptions: {severity: review}\n", 3, 3, `unknown rule "caller-asumptions"`},
		{"fail-closed is not configurable", "rules:\n  fail-closed: {severity: off}\n", 2, 3, `unknown rule "fail-closed"`},
		{"unknown severity", "rules:\n  icf:\n    severity: sometimes\n", 3, 5, `rule icf: unknown severity "sometimes"`},
		{"unknown pass", "rules:\n  caller-assumptions:\n    passes:\n      ipa-ra: off\n      ipa-foo: must\n", 5, 7, `unknown IPA pass "ipa-foo"`},
		{"unknown pass severity", "rules:\n  caller-assumptions:\n    passes:\n      ipa-ra: maybe\n", 4, 7, `pass ipa-ra: unknown severity "maybe", want must, conditional, review or off`},
		{"conditional containment", "rules:\n  containment:\n    severity: conditional\n", 3, 5, "rule containment: severity conditional applies to caller-assumptions only"},
		{"conditional not-patchable", "rules:\n  not-patchable: {severity: conditional}\n", 2, 19, "rule not-patchable: severity conditional applies to caller-assumptions only"},
		{"passes under icf", "rules:\n  icf:\n    severity: must\n    passes:\n      ipa-ra: must\n", 4, 5, "passes apply to caller-assumptions only"},
		{"passes under not-patchable", "rules:\n  not-patchable:\n    passes: {ipa-ra: off}\n", 3, 5, "passes apply to caller-assumptions only"},
		{"clone ABI under icf", "rules:\n  icf:\n    author-supplies-clone-abi: true\n", 3, 5, "author-supplies-clone-abi applies to changed-abi only"},
		{"ignore without justification", "rules: {}\nignore:\n  - function: css_put\n", 3, 5, "ignore entry for css_put has no justification"},
		{"ignore with a blank justification", "ignore:\n  - function: ok\n    justification: reviewed\n  - function: css_put\n    justification: '  '\n", 4, 5, "ignore entry for css_put has no justification"},
		{"ignore without function", "ignore:\n  - justification: reviewed\n", 2, 5, "ignore entry without function"},
		{"ignore of an unknown rule", "ignore:\n  - function: f\n    rule: icf2\n    justification: reviewed\n", 2, 5, `ignore entry for f: unknown rule "icf2"`},
		{"rule given as a string", "rules:\n  containment: must\n", 2, 16, `rule containment: want its settings as a mapping, not the value "must" (write containment: {severity: must})`},
		{"rules as a list", "rules: [1, 2]\n", 1, 8, "rules: want a mapping of rule names (containment, changed-abi, caller-assumptions, icf, not-patchable) to their settings, not a list"},
		{"policy as a list", "- rules: {}\n", 1, 1, "a policy is a mapping with the keys rules and ignore"},
		{"policy as a value", "must\n", 1, 1, `a policy is a mapping with the keys rules and ignore (rules: {icf: {severity: review}}), not the value "must"`},
		{"severity as a list", "rules:\n  icf:\n    severity: [must]\n", 3, 15, "rule icf: severity: want a severity (must, review or off), not a list"},
		{"pass severity as a mapping", "rules:\n  caller-assumptions:\n    passes:\n      ipa-ra: {severity: off}\n", 4, 15, "pass ipa-ra: want a severity (must, conditional, review or off), not a mapping"},
		{"passes as a list", "rules:\n  caller-assumptions:\n    passes: [ipa-ra]\n", 3, 13, "rule caller-assumptions: passes: want a mapping of IPA passes"},
		{"clone ABI not a boolean", "rules:\n  changed-abi:\n    author-supplies-clone-abi: sometimes\n", 3, 32, `author-supplies-clone-abi: want true or false, not the value "sometimes"`},
		{"ignore as a mapping", "ignore:\n  function: f\n", 2, 3, "ignore: want a list of entries (- function: NAME, justification: WHY), not a mapping"},
		{"ignore entry as a list", "ignore:\n  - [f, reviewed]\n", 2, 5, "ignore: want each entry as a mapping"},
		{"ignore justification as a list", "ignore:\n  - function: f\n    justification: [a, b]\n", 3, 20, "ignore entry: justification: want a value, not a list"},
		{"tab indentation", "rules:\n\tcontainment: {severity: must}\n", 2, 0, "cannot start any token"},
		{"duplicate rule", "rules:\n  icf: {severity: review}\n  icf: {severity: off}\n", 3, 3, "rules: icf given twice (first at line 2)"},
		{"two documents", "rules:\n  icf: {severity: review}\n---\nrules:\n  icf: {severity: off}\n", 3, 1, "a second YAML document"},
		{"two documents, both marked", "---\nrules: {}\n---\nignore: []\n", 3, 1, "a second YAML document"},
		{"an empty second document", "rules: {}\n---\n", 2, 1, "a second YAML document"},
		{"a broken second document", "rules: {}\n---\n\tx: [\n", 3, 0, "found character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := rules.ParsePolicy([]byte(tc.in), "test.yaml")
			if err == nil {
				t.Fatalf("%q: no error, policy %+v", tc.in, p)
			}
			var pe *rules.PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("%q: error %T %v, want *rules.PolicyError", tc.in, err, err)
			}
			if pe.File != "test.yaml" || pe.Line != tc.line || tc.col != 0 && pe.Col != tc.col {
				t.Errorf("%q: error at %s:%d:%d, want test.yaml:%d:%d (%v)", tc.in, pe.File, pe.Line, pe.Col, tc.line, tc.col, err)
			}
			if !strings.Contains(pe.Msg, tc.msg) {
				t.Errorf("%q: message %q, want it to say %q", tc.in, pe.Msg, tc.msg)
			}
			// Policy words, never the decoder's Go types or YAML tags.
			for _, bad := range []string{"rules.", "!!", "unmarshal", "yaml:"} {
				if strings.Contains(pe.Msg, bad) {
					t.Errorf("%q: message %q says %q", tc.in, pe.Msg, bad)
				}
			}
			prefix := "test.yaml:" + strconv.Itoa(tc.line) + ":"
			if tc.col != 0 {
				prefix += strconv.Itoa(tc.col) + ":"
			}
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("%q: error %q, want it to start %q", tc.in, err, prefix)
			}
		})
	}
}

// TestLoadPolicy reads a policy file and names it in errors.
func TestLoadPolicy(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("rules:\n  icf: {severity: review}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("rules:\n  icf: {severity: perhaps}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := rules.LoadPolicy(good)
	if err != nil || p.Rules[rules.ICF].Severity != rules.Review || p.Source != good {
		t.Errorf("LoadPolicy(%s) = %+v, %v", good, p, err)
	}
	_, err = rules.LoadPolicy(bad)
	var pe *rules.PolicyError
	if !errors.As(err, &pe) || pe.File != bad || pe.Line != 2 || !strings.HasPrefix(err.Error(), bad+":2:") {
		t.Errorf("LoadPolicy(%s): %v, want a PolicyError at %s:2", bad, err, bad)
	}
	if _, err := rules.LoadPolicy(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadPolicy(missing): %v, want os.ErrNotExist", err)
	}
}

// TestLoadPolicyHostile: a FIFO, /dev/zero through a link and a huge file
// are refused at once, naming the file (/dev/zero grew to gigabytes).
func TestLoadPolicyHostile(t *testing.T) {
	dir := t.TempDir()
	fifo := fixture.FIFO(t, filepath.Join(dir, "fifo.yaml"))
	zero := filepath.Join(dir, "zero.yaml")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	big := fixture.Sparse(t, filepath.Join(dir, "big.yaml"), 200<<30)
	for _, c := range []struct {
		path string
		is   error
	}{{fifo, safeio.ErrNotRegular}, {zero, safeio.ErrNotRegular}, {big, safeio.ErrTooLarge}, {dir, safeio.ErrNotRegular}} {
		fixture.Within(t, 5*time.Second, c.path, func() {
			if _, err := rules.LoadPolicy(c.path); !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.path) {
				t.Errorf("LoadPolicy(%s): %v, want %v naming it", c.path, err, c.is)
			}
		})
	}
}

// TestPolicySeverities runs the rules on the fixtures under policies
// that change severities, per rule and per IPA pass.
func TestPolicySeverities(t *testing.T) {
	callers := buildFixture(t, "rule-callers")
	others := map[string]string{}
	for _, f := range []string{"rule-containment", "rule-abi", "rule-icf", "rule-notpatchable"} {
		others[f] = buildFixture(t, f)
	}
	review := func(rule, via string) tw { return tw{rule: rule, sev: rules.Review, via: via} }
	must := func(rule, via string) tw { return tw{rule: rule, sev: rules.Must, via: via} }
	tests := []struct {
		name, dir, obj, policy string
		changed                []string
		want                   expect
	}{
		{
			name: "containment review", dir: others["rule-containment"], obj: "plain.o",
			policy:  "rules:\n  containment: {severity: review}\n",
			changed: []string{"helper"},
			want: expect{
				targets:   map[string]tw{"user_a": review(rules.Containment, "helper"), "user_b": review(rules.Containment, "helper")},
				explained: map[string]string{"helper": rules.Containment},
				notes:     []string{notFtrace},
			},
		},
		{
			name: "changed-abi review", dir: others["rule-abi"], obj: "lp.o",
			policy:  "rules:\n  changed-abi: {severity: review}\n",
			changed: []string{"big"},
			want: expect{
				targets: map[string]tw{
					"ca": review(rules.ChangedABI, "big.constprop.0"), "cb": review(rules.ChangedABI, "big.constprop.0"),
					"cc": review(rules.ChangedABI, "big.constprop.0"),
				},
				explained: map[string]string{"big": rules.Containment, "big.constprop.0": rules.ChangedABI},
				notes:     []string{notFtrace},
			},
		},
		{
			name: "icf review", dir: others["rule-icf"], obj: "plain.o",
			policy:  "rules:\n  icf: {severity: review}\n  caller-assumptions: {severity: off}\n",
			changed: []string{"same2"},
			want: expect{
				targets: map[string]tw{
					"use1": review(rules.ICF, "same2"), "use2": review(rules.ICF, "same2"),
				},
				explained: map[string]string{"same1": rules.ICF, "same2": rules.ICF},
				notes:     []string{notFtrace},
			},
		},
		{
			name: "not-patchable review", dir: others["rule-notpatchable"], obj: "ftrace.o",
			policy:  "rules:\n  not-patchable: {severity: review}\n",
			changed: []string{"nt"},
			want: expect{
				targets:   map[string]tw{"p1": review(rules.NotPatchable, "nt"), "p2": review(rules.NotPatchable, "nt")},
				explained: map[string]string{"nt": rules.NotPatchable},
			},
		},
		{
			name: "caller-assumptions review", dir: callers, obj: "plain.o",
			policy:  "rules:\n  caller-assumptions: {severity: review}\n",
			changed: []string{"twice"},
			want: expect{
				targets: map[string]tw{"twice": must(rules.Containment, ""), "usetwice": review(rules.CallerAssumptions, "twice")},
				notes:   []string{notFtrace},
			},
		},
		{
			// Review overall, but IPA-RA must: IPA-RA is live in
			// plain.o, so caller1 must be replaced.
			name: "one pass must", dir: callers, obj: "plain.o",
			policy:  "rules:\n  caller-assumptions:\n    severity: review\n    passes: {ipa-ra: must}\n",
			changed: []string{"twice"},
			want: expect{
				targets: map[string]tw{"twice": must(rules.Containment, ""), "usetwice": must(rules.CallerAssumptions, "twice")},
				notes:   []string{notFtrace},
			},
		},
		{
			// The same policy on ftrace.o, where IPA-RA is off: the
			// passes that are live are review.
			name: "one pass must, not live", dir: callers, obj: "ftrace.o",
			policy:  "rules:\n  caller-assumptions:\n    severity: review\n    passes: {ipa-ra: must}\n",
			changed: []string{"twice"},
			want: expect{
				targets: map[string]tw{"twice": must(rules.Containment, ""), "usetwice": review(rules.CallerAssumptions, "twice")},
			},
		},
		{
			// Only ipa-pure-const left, at review.
			name: "pure-const review", dir: callers, obj: "ftrace.o",
			policy:  "rules:\n  caller-assumptions:\n    passes: {ipa-pure-const: review, ipa-modref: off, ipa-reference: off, ipa-vrp: off, ipa-bit-cp: off}\n",
			changed: []string{"twice"},
			want: expect{
				targets: map[string]tw{
					"twice":    must(rules.Containment, ""),
					"usetwice": {rule: rules.CallerAssumptions, sev: rules.Review, via: "twice", note: "through ipa-pure-const", noNote: ","},
				},
			},
		},
		{
			// pure-const review, the other live passes must: the
			// strongest decides.
			name: "pure-const review, others must", dir: callers, obj: "ftrace.o",
			policy:  "rules:\n  caller-assumptions:\n    severity: must\n    passes: {ipa-pure-const: review}\n",
			changed: []string{"twice"},
			want: expect{
				targets: map[string]tw{"twice": must(rules.Containment, ""), "usetwice": must(rules.CallerAssumptions, "twice")},
			},
		},
		{
			name: "every pass off", dir: callers, obj: "plain.o",
			policy:  "rules:\n  caller-assumptions:\n    passes: {ipa-ra: off, ipa-pure-const: off, ipa-modref: off, ipa-reference: off, ipa-vrp: off, ipa-bit-cp: off}\n",
			changed: []string{"leafy", "twice"},
			want: expect{
				targets: map[string]tw{"leafy": must(rules.Containment, ""), "twice": must(rules.Containment, "")},
				notes:   []string{notFtrace},
			},
		},
		{
			name: "ipa-ra off", dir: callers, obj: "plain.o",
			policy:  "rules:\n  caller-assumptions:\n    severity: must\n    passes: {ipa-ra: off}\n",
			changed: []string{"leafy"},
			want: expect{
				targets: map[string]tw{
					"leafy":      must(rules.Containment, ""),
					"caller1":    {rule: rules.CallerAssumptions, sev: rules.Must, via: "leafy", note: "ipa-pure-const", noNote: "ipa-ra"},
					"coldcaller": {rule: rules.CallerAssumptions, sev: rules.Must, via: "leafy", note: "ipa-pure-const", noNote: "ipa-ra"},
					"outer":      {rule: rules.CallerAssumptions, sev: rules.Must, via: "caller1", note: "ipa-pure-const", noNote: "ipa-ra"},
				},
				notes: []string{notFtrace},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := loadUnit(t, tc.dir, tc.obj).run(t, mustPolicy(t, tc.policy), tc.changed...)
			check(t, tc.obj+" "+tc.name, res, tc.want)
		})
	}
}

// TestIgnore: an ignore entry marks a target as ignored, with its
// justification; one naming a rule only ignores what that rule alone
// added.
func TestIgnore(t *testing.T) {
	callers := buildFixture(t, "rule-callers")
	abi := buildFixture(t, "rule-abi")
	tests := []struct {
		name, dir, ignore string
		changed           []string
		fn                string
		ignored           bool
	}{
		{"by name", callers, "function: caller1", []string{"leafy"}, "caller1", true},
		{"by name and unit", callers, "function: caller1\n    translation-unit: plain.o", []string{"leafy"}, "caller1", true},
		{"other unit", callers, "function: caller1\n    translation-unit: mm/other.o", []string{"leafy"}, "caller1", false},
		{"by the rule that added it", callers, "function: caller1\n    rule: caller-assumptions", []string{"leafy"}, "caller1", true},
		{"by another rule", callers, "function: caller1\n    rule: containment", []string{"leafy"}, "caller1", false},
		{"other function", callers, "function: inner", []string{"leafy"}, "caller1", false},
		// mixed is reached by caller-assumptions (scale changed) and by
		// changed-abi (leafy changed): an entry for one rule does not
		// drop what the other requires.
		{"two rules, ignore one", abi, "function: mixed\n    rule: caller-assumptions", []string{"scale", "leafy"}, "mixed", false},
		{"two rules, ignore the other", abi, "function: mixed\n    rule: changed-abi", []string{"scale", "leafy"}, "mixed", false},
		{"two rules, ignore all", abi, "function: mixed", []string{"scale", "leafy"}, "mixed", true},
		{"one rule of one", abi, "function: mixed\n    rule: caller-assumptions", []string{"scale"}, "mixed", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const why = "reviewed: uses no register leafy touches"
			p := mustPolicy(t, "ignore:\n  - "+tc.ignore+"\n    justification: \""+why+"\"\n")
			res := loadUnit(t, tc.dir, "plain.o").run(t, p, tc.changed...)
			tg := targetMap(res)[tc.fn]
			if tg == nil {
				t.Fatalf("%s is not a target:\n%s", tc.fn, describe(res))
			}
			if (tg.Ignored != nil) != tc.ignored {
				t.Fatalf("ignore %q: %s ignored %v, want %v\n%s", tc.ignore, tc.fn, tg.Ignored != nil, tc.ignored, describe(res))
			}
			if tg.Ignored != nil && tg.Ignored.Justification != why {
				t.Errorf("justification %q, want %q", tg.Ignored.Justification, why)
			}
			for _, o := range res.Targets {
				if o != tg && o.Ignored != nil {
					t.Errorf("%s ignored too", o.ID.Name)
				}
			}
		})
	}
}

// FuzzParsePolicy: no input panics, and every error is a *PolicyError
// naming the file; a policy that parses has a valid severity for every
// rule and pass, and a justification for every ignore entry.
func FuzzParsePolicy(f *testing.F) {
	f.Add(rules.DefaultPolicyYAML())
	for _, s := range []string{
		"", "rules: {}\n", "rules:\n  icf: {severity: review}\n",
		"rules:\n  caller-assumptions:\n    passes: {ipa-ra: off}\n",
		"rules:\n  changed-abi:\n    author-supplies-clone-abi: true\n",
		"ignore:\n  - function: f\n    translation-unit: a.o\n    rule: icf\n    justification: ok\n",
		"ignore:\n  - function: css_put\n",
		"rules:\n  caller-asumptions: {severity: review}\n",
		"rules: [1, 2]\n", "rules:\n\tx: 1\n", "a: &x [*x]\n", "rules: &r\n  icf: *r\n",
		"---\nrules: {}\n---\nfoo: 1\n", "ignore: {function: f}\n", "ignore:\n  - [1]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := rules.ParsePolicy(b, "fuzz.yaml")
		if err != nil {
			var pe *rules.PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("%q: error %T %v, want *rules.PolicyError", b, err, err)
			}
			if pe.File != "fuzz.yaml" || !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("%q: error %v does not name the file", b, err)
			}
			if strings.Contains(pe.Msg, "into rules.") || strings.HasPrefix(err.Error(), fmt.Sprintf("fuzz.yaml:%d:0:", pe.Line)) {
				t.Fatalf("%q: error %v names a Go type or column 0", b, err)
			}
			return
		}
		valid := func(s rules.Severity) bool {
			return s == rules.Must || s == rules.Conditional || s == rules.Review || s == rules.Off
		}
		for _, id := range rules.RuleIDs {
			if !valid(p.Rules[id].Severity) || p.Rules[id].Severity == rules.Conditional && id != rules.CallerAssumptions {
				t.Fatalf("%q: rule %s severity %q", b, id, p.Rules[id].Severity)
			}
		}
		for id, rp := range p.Rules {
			for pass, s := range rp.Passes {
				if id != rules.CallerAssumptions || !valid(s) {
					t.Fatalf("%q: rule %s pass %s severity %q", b, id, pass, s)
				}
			}
		}
		for _, ig := range p.Ignore {
			if ig.Function == "" || strings.TrimSpace(ig.Justification) == "" {
				t.Fatalf("%q: ignore entry %+v accepted", b, ig)
			}
		}
	})
}
