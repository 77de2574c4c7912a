package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func intp(i int) *int { return &i }

// checkTarget builds a target reached from a changed function by the
// given chain, located at the hunk that changes it.
func checkTarget(name, obj, tu, rule, severity, because, file string, line int, sympos *int, chain ...Step) CheckTarget {
	return CheckTarget{
		Target: Target{
			Name: name, KLPObject: obj, TU: tu, Object: tu + ".o",
			Binding: "local", Section: ".text", OldSympos: sympos,
			Severity: severity, Rule: rule, Chain: chain,
		},
		Because: because, File: file, Line: line,
	}
}

func newCheck(verdict string) *CheckResult {
	return &CheckResult{
		SchemaVersion: CheckSchemaVersion,
		Tool:          Tool{Name: "klp-audit", Version: "0.1.0", Revision: "0123abc"},
		Inputs:        CheckInputs{Diff: "fix.patch", Builds: []string{"build"}, Livepatch: "livepatch.c"},
		Verdict:       verdict,
	}
}

var (
	cssPutHunk = Hunk{File: "include/linux/cgroup.h", Line: 404, Lines: 6, Kind: "function", Functions: []string{"css_put"}}
	cssPut     = ChangedFunc{Name: "css_put", File: "include/linux/cgroup.h", Line: 404,
		TUs: []string{"kernel/bpf/cgroup", "mm/memcontrol"}}
	releaseStep = Step{From: "css_put", To: "cgroup_bpf_release", TU: "kernel/bpf/cgroup", How: "inlined",
		Evidence: "kernel/bpf/cgroup.c.000i.ipa-clones:12", Rule: "containment"}
	offlineStep = Step{From: "css_put", To: "mem_cgroup_css_offline", TU: "mm/memcontrol", How: "inlined",
		Evidence: "mm/memcontrol.c.000i.ipa-clones:40", Rule: "containment"}
	releaseTarget = checkTarget("cgroup_bpf_release", "vmlinux", "kernel/bpf/cgroup", "containment", "must",
		"css_put", "include/linux/cgroup.h", 404, intp(0), releaseStep)
	offlineTarget = checkTarget("mem_cgroup_css_offline", "vmlinux", "mm/memcontrol", "containment", "must",
		"css_put", "include/linux/cgroup.h", 404, intp(2), offlineStep)
)

// completeCheck: the livepatch replaces both functions css_put was
// inlined into.
func completeCheck() *CheckResult {
	r := newCheck("complete")
	r.Hunks = []Hunk{cssPutHunk, {File: "include/linux/cgroup.h", Line: 399, Lines: 2, Kind: "comment"}}
	r.Changed = []ChangedFunc{cssPut}
	r.Covered = []CheckTarget{offlineTarget, releaseTarget}
	r.BuildTruth = &BuildTruth{}
	r.Inputs.Orig, r.Inputs.Patched = "orig", "patched"
	return r
}

// missingCheck: one must, one conditional and one review target are not
// replaced, the livepatch replaces a function no rule asks for, and the
// builds show a changed function it does not replace.
func missingCheck() *CheckResult {
	r := newCheck("missing")
	r.Hunks = []Hunk{cssPutHunk}
	r.Changed = []ChangedFunc{cssPut}
	r.Covered = []CheckTarget{releaseTarget}
	r.Missing = []CheckTarget{offlineTarget}
	r.Review = []CheckTarget{checkTarget("css_release", "vmlinux", "kernel/cgroup/cgroup", "caller-assumptions", "review",
		"css_put", "include/linux/cgroup.h", 404, nil,
		Step{From: "css_put", To: "css_release", TU: "kernel/cgroup/cgroup", How: HowCalls,
			Evidence: "kernel/cgroup/cgroup.o+0x1c4", Rule: "caller-assumptions"})}
	r.Review[0].Note = "callee-side IPA-VRP assumption"
	r.Conditional = []CheckTarget{checkTarget("cgroup_bpf_offline", "vmlinux", "kernel/bpf/cgroup", "caller-assumptions", "conditional",
		"css_put", "include/linux/cgroup.h", 404, nil,
		Step{From: "cgroup_bpf_release", To: "cgroup_bpf_offline", TU: "kernel/bpf/cgroup", How: "called by",
			Evidence: "kernel/bpf/cgroup.o: call site cgroup_bpf_offline+0x2a", Rule: "caller-assumptions"})}
	r.Conditional[0].Note = "needed only if your fix changes what cgroup_bpf_offline assumed of cgroup_bpf_release, which it calls at 1 call site: the memory it reads and writes (ipa-modref)"
	r.Extra = []LivepatchFunc{{Object: "vmlinux", OldName: "cgroup_rstat_flush", File: "livepatch.c", Line: 88}}
	r.BuildTruth = &BuildTruth{
		Unreplaced: []LivepatchFunc{{Object: "vmlinux", OldName: "mem_cgroup_css_offline", OldSympos: 2}},
		Unchanged:  []LivepatchFunc{{Object: "vmlinux", OldName: "cgroup_rstat_flush", File: "livepatch.c", Line: 88}},
	}
	r.Inputs.Orig, r.Inputs.Patched = "orig", "patched"
	return r
}

// dataChangeCheck: the fix adds a field to a struct.
func dataChangeCheck() *CheckResult {
	r := newCheck("data-change")
	r.Hunks = []Hunk{
		{File: "include/linux/cgroup-defs.h", Line: 170, Lines: 3, Kind: "data", Note: "struct cgroup_subsys_state gains a field"},
		cssPutHunk,
	}
	r.Changed = []ChangedFunc{cssPut}
	r.Covered = []CheckTarget{offlineTarget, releaseTarget}
	return r
}

// incompleteCheck: a dump could not be read, and a hunk could not be
// classified.
func incompleteCheck() *CheckResult {
	r := newCheck("incomplete")
	r.Hunks = []Hunk{cssPutHunk, {File: "kernel/cgroup/cgroup.c", Line: 12, Lines: 1, Kind: "unknown"}}
	r.Changed = []ChangedFunc{cssPut}
	r.Covered = []CheckTarget{releaseTarget}
	r.Problems = []Problem{
		{File: "mm/memcontrol.c.000i.ipa-clones", Line: 17, Message: "truncated line: 4 of 12 fields"},
		{File: "kernel/cgroup/cgroup.c", Line: 12, Message: "hunk not classified: unknown"},
	}
	return r
}

// oddCheck holds what a producer should never emit; renderers must cope:
// empty names, lines 0 and negative, nil pointers, empty chains, odd
// characters in paths and names, an unknown verdict.
func oddCheck() *CheckResult {
	return &CheckResult{
		Verdict:  "strange|verdict\n",
		Problems: []Problem{{}, {File: "a b#c?.c", Line: -3, Message: "x|y\nz"}},
		Hunks:    []Hunk{{Kind: "data"}, {File: "c:d.c", Kind: "data", Line: 0, Note: "`tick` *star*"}},
		Changed:  []ChangedFunc{{}},
		Missing:  []CheckTarget{{}, {Target: Target{Name: "a`b|c", Chain: []Step{{}}}, Line: 5}},
		Review:   []CheckTarget{{File: "x.c", Line: 0}},
		Covered:  []CheckTarget{{}},
		Extra:    []LivepatchFunc{{}},
		BuildTruth: &BuildTruth{
			Unreplaced: []LivepatchFunc{{OldName: "n\nl", Line: 3}},
		},
	}
}

var checkCases = []struct {
	name string
	make func() *CheckResult
}{
	{"complete", completeCheck},
	{"missing", missingCheck},
	{"data-change", dataChangeCheck},
	{"incomplete", incompleteCheck},
}

func renderCheck(t *testing.T, r *CheckResult, f Format) string {
	t.Helper()
	var buf bytes.Buffer
	if err := RenderCheck(&buf, r, f); err != nil {
		t.Fatalf("RenderCheck(%s): %v\ninput:\n%s", f, err, dumpCheck(r))
	}
	return buf.String()
}

func dumpCheck(r *CheckResult) string {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func checkGoldenName(c string, f Format) string {
	ext := string(f)
	if f == Markdown {
		ext = "md"
	}
	return filepath.Join("testdata", "golden", "check."+c+"."+ext)
}

func TestCheckGolden(t *testing.T) {
	for _, c := range checkCases {
		for _, f := range FormatsOf(VerbCheck) {
			t.Run(c.name+"."+string(f), func(t *testing.T) {
				r := c.make()
				got := renderCheck(t, r, f)
				path := checkGoldenName(c.name, f)
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
					t.Errorf("%s differs from %s\ninput:\n%s\ngot:\n%s\nwant:\n%s", f, path, dumpCheck(r), got, want)
				}
			})
		}
	}
}

// shuffledCheck returns a copy of r with every list in another order.
func shuffledCheck(r *CheckResult, rng *rand.Rand) *CheckResult {
	n := *r
	shuffle := func(l int, swap func(i, j int)) { rng.Shuffle(l, swap) }
	n.Problems = append([]Problem(nil), r.Problems...)
	shuffle(len(n.Problems), func(i, j int) { n.Problems[i], n.Problems[j] = n.Problems[j], n.Problems[i] })
	n.Hunks = append([]Hunk(nil), r.Hunks...)
	shuffle(len(n.Hunks), func(i, j int) { n.Hunks[i], n.Hunks[j] = n.Hunks[j], n.Hunks[i] })
	for _, l := range []*[]CheckTarget{&n.Missing, &n.Review, &n.Covered} {
		s := append([]CheckTarget(nil), (*l)...)
		shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		*l = s
	}
	n.Extra = append([]LivepatchFunc(nil), r.Extra...)
	shuffle(len(n.Extra), func(i, j int) { n.Extra[i], n.Extra[j] = n.Extra[j], n.Extra[i] })
	return &n
}

// TestCheckDeterministic: rendering twice gives the same bytes, and the
// human-facing renderers and SARIF do not depend on the order of the
// lists (YAML and JSON keep the producer's order, which it sorts).
func TestCheckDeterministic(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	cs := append(checkCases[:len(checkCases):len(checkCases)], struct {
		name string
		make func() *CheckResult
	}{"odd", oddCheck})
	for _, c := range cs {
		for _, f := range FormatsOf(VerbCheck) {
			t.Run(c.name+"."+string(f), func(t *testing.T) {
				r := c.make()
				first := renderCheck(t, r, f)
				if again := renderCheck(t, r, f); again != first {
					t.Fatalf("two renderings differ\nfirst:\n%s\nagain:\n%s", first, again)
				}
				if f == YAML || f == JSON {
					return
				}
				for i := 0; i < 5; i++ {
					s := shuffledCheck(r, rng)
					if got := renderCheck(t, s, f); got != first {
						t.Fatalf("order of the input changes the output\ninput:\n%s\ngot:\n%s\nwant:\n%s", dumpCheck(s), got, first)
					}
				}
			})
		}
	}
}

func TestCheckJSONRoundTrip(t *testing.T) {
	for _, c := range append(checkCases[:len(checkCases):len(checkCases)], struct {
		name string
		make func() *CheckResult
	}{"odd", oddCheck}) {
		t.Run(c.name, func(t *testing.T) {
			r := c.make()
			out := renderCheck(t, r, JSON)
			if !strings.HasSuffix(out, "}\n") {
				t.Errorf("JSON does not end in a newline:\n%s", out)
			}
			var back CheckResult
			if err := json.Unmarshal([]byte(out), &back); err != nil {
				t.Fatalf("unmarshal: %v\n%s", err, out)
			}
			if want := normalizedCheck(r); !reflect.DeepEqual(&back, want) {
				t.Errorf("round trip differs\ninput:\n%s\ngot:  %#v\nwant: %#v", dumpCheck(r), back, *want)
			}
		})
	}
}

func TestCheckEmptyListsNotNull(t *testing.T) {
	r := &CheckResult{Verdict: "complete", BuildTruth: &BuildTruth{}, Covered: []CheckTarget{{}}}
	out := renderCheck(t, r, JSON)
	if strings.Contains(out, "null") {
		t.Errorf("JSON has null:\n%s", out)
	}
	for _, key := range []string{"problems", "hunks", "changed", "missing", "review", "covered", "extra", "unreplaced", "unchanged", "chain"} {
		if !strings.Contains(out, `"`+key+`": [`) {
			t.Errorf("JSON lacks list %q:\n%s", key, out)
		}
	}
	y := renderCheck(t, r, YAML)
	if strings.Contains(y, "null") {
		t.Errorf("YAML has null:\n%s", y)
	}
	if !strings.Contains(y, "problems: []") {
		t.Errorf("YAML does not write problems as []:\n%s", y)
	}
}

// TestCheckOdd: odd results render in every format without panic or
// error, SARIF never carries a startLine below 1, and the input is not
// changed.
func TestCheckOdd(t *testing.T) {
	for _, mk := range []func() *CheckResult{oddCheck, func() *CheckResult { return &CheckResult{} }} {
		for _, f := range FormatsOf(VerbCheck) {
			r := mk()
			before := dumpCheck(r)
			out := renderCheck(t, r, f)
			if dumpCheck(r) != before {
				t.Errorf("%s: rendering changed the input", f)
			}
			if f == SARIF {
				validateSARIF(t, out)
				if strings.Contains(out, `"startLine": 0`) || strings.Contains(out, `"startLine": -`) {
					t.Errorf("SARIF has a startLine below 1:\n%s", out)
				}
			}
		}
	}
}

// TestSARIFContent checks what code scanning relies on: rules listed once
// each with ruleIndex pointing at them, results at the hunk's file and
// line, and the klp properties.
func TestSARIFContent(t *testing.T) {
	out := renderCheck(t, missingCheck(), SARIF)
	var log struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region *struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				Properties map[string]any `json:"properties"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatal(err)
	}
	if log.Schema != SARIFSchemaURI || log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("bad header: %s %s %d runs", log.Schema, log.Version, len(log.Runs))
	}
	run := log.Runs[0]
	var ids []string
	for _, r := range run.Tool.Driver.Rules {
		ids = append(ids, r.ID)
	}
	if want := []string{"missing-target", "unreplaced-change", "review-target", "conditional-target", "extra-function"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("rules = %v, want %v", ids, want)
	}
	// A conditional target is a note: a pipeline failing on errors (or
	// warnings) does not fail a livepatch for it.
	wantLevel := map[string]string{"missing-target": "error", "unreplaced-change": "error", "review-target": "warning",
		"conditional-target": "note", "extra-function": "note"}
	for _, res := range run.Results {
		if res.RuleIndex < 0 || res.RuleIndex >= len(ids) || ids[res.RuleIndex] != res.RuleID {
			t.Errorf("result %s has ruleIndex %d", res.RuleID, res.RuleIndex)
		}
		if res.Level != wantLevel[res.RuleID] {
			t.Errorf("result %s has level %s", res.RuleID, res.Level)
		}
	}
	m := run.Results[0]
	if m.RuleID != "missing-target" || len(m.Locations) != 1 {
		t.Fatalf("first result: %+v", m)
	}
	loc := m.Locations[0].PhysicalLocation
	if loc.ArtifactLocation.URI != "include/linux/cgroup.h" || loc.Region == nil || loc.Region.StartLine != 404 {
		t.Errorf("missing target located at %+v", loc)
	}
	for _, s := range []string{"mem_cgroup_css_offline", "containment", "mem_cgroup_css_offline holds the inlined code of css_put [mm/memcontrol.c.000i.ipa-clones:40]"} {
		if !strings.Contains(m.Message.Text, s) {
			t.Errorf("message %q lacks %q", m.Message.Text, s)
		}
	}
	if m.Properties["klp_object"] != "vmlinux" || m.Properties["translation_unit"] != "mm/memcontrol" || m.Properties["old_sympos"] != float64(2) {
		t.Errorf("properties = %v", m.Properties)
	}
	conditional := 0
	for _, res := range run.Results {
		if res.RuleID == "conditional-target" {
			conditional++
			if !strings.Contains(res.Message.Text, "cgroup_bpf_offline") || !strings.Contains(res.Message.Text, "needed only if your fix changes what cgroup_bpf_offline assumed") {
				t.Errorf("conditional result %q lacks the function or its condition", res.Message.Text)
			}
		}
	}
	if conditional != 1 {
		t.Errorf("%d conditional-target results, want 1", conditional)
	}
}

// sarifSchema is the official SARIF 2.1.0 schema, vendored (see
// testdata/README.md).
const sarifSchema = "testdata/sarif-schema-2.1.0.json"

func compileSARIFSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(sarifSchema)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s is not vendored: cannot validate SARIF against the official schema", sarifSchema)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", sarifSchema, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatalf("compile %s: %v", sarifSchema, err)
	}
	return s
}

func validateSARIF(t *testing.T, out string) {
	t.Helper()
	s := compileSARIFSchema(t)
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("SARIF is not JSON: %v\n%s", err, out)
	}
	if err := s.Validate(doc); err != nil {
		t.Errorf("SARIF does not validate against %s: %v\n%s", sarifSchema, err, out)
	}
}

func TestSARIFSchema(t *testing.T) {
	for _, c := range checkCases {
		t.Run(c.name, func(t *testing.T) {
			validateSARIF(t, renderCheck(t, c.make(), SARIF))
		})
	}
	// The validator must catch what the schema forbids.
	t.Run("rejects startLine 0", func(t *testing.T) {
		s := compileSARIFSchema(t)
		bad := `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},
			"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.c"},"region":{"startLine":0}}}]}]}]}`
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if s.Validate(doc) == nil {
			t.Error("a region with startLine 0 validates")
		}
	})
}

func TestParseFormatOfCheck(t *testing.T) {
	for _, f := range FormatsOf(VerbCheck) {
		if got, err := ParseFormatOf(VerbCheck, string(f)); err != nil || got != f {
			t.Errorf("ParseFormatOf(VerbCheck, %q) = %q, %v", f, got, err)
		}
	}
	for _, s := range []string{"table", "dot", "", "SARIF", "md"} {
		if _, err := ParseFormatOf(VerbCheck, s); err == nil {
			t.Errorf("ParseFormatOf(VerbCheck, %q) accepted it", s)
		} else if !strings.Contains(err.Error(), "text, yaml, json, sarif, markdown") {
			t.Errorf("ParseFormatOf(VerbCheck, %q): %v does not list the formats", s, err)
		}
	}
}

func TestRenderCheckErrors(t *testing.T) {
	var buf bytes.Buffer
	for _, f := range FormatsOf(VerbCheck) {
		if err := RenderCheck(&buf, nil, f); !errors.Is(err, errNilResult) {
			t.Errorf("RenderCheck(nil, %s) = %v, want errNilResult", f, err)
		}
	}
	for _, f := range []Format{Table, DOT, "x"} {
		if err := RenderCheck(&buf, completeCheck(), f); err == nil {
			t.Errorf("RenderCheck(%s) accepted the format", f)
		}
	}
	for _, f := range FormatsOf(VerbCheck) {
		if err := RenderCheck(failWriter{}, missingCheck(), f); !errors.Is(err, errWrite) {
			t.Errorf("RenderCheck(%s) to a failing writer = %v, want the write error", f, err)
		}
	}
}

// TestCheckUnresolved: a klp_func the kernel would refuse is a failure
// in every format, with its position and the kernel's reason, and the
// JSON and YAML round trip keeps it.
func TestCheckUnresolved(t *testing.T) {
	r := newCheck("unresolved")
	r.Unresolved = []UnresolvedFunc{{
		LivepatchFunc: LivepatchFunc{Object: "vmlinux", OldName: "scale", File: "livepatch.c", Line: 12},
		Reason:        "unresolvable ambiguity for symbol 'scale' in object 'vmlinux': 2 symbols of the name and no old_sympos",
	}}
	for _, f := range []Format{Text, Markdown, SARIF, JSON, YAML} {
		out := renderCheck(t, r, f)
		for _, want := range []string{"scale", "livepatch.c", "unresolvable ambiguity"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: no %q in\n%s", f, want, out)
			}
		}
		if (f == Text || f == Markdown) && !strings.Contains(out, "FAIL") {
			t.Errorf("%s: the unresolved verdict is not a failure:\n%s", f, out)
		}
	}
	var back CheckResult
	if err := json.Unmarshal([]byte(renderCheck(t, r, JSON)), &back); err != nil {
		t.Fatal(err)
	}
	if want := normalizedCheck(r); !reflect.DeepEqual(&back, want) {
		t.Errorf("round trip: got %#v\nwant %#v", back, *want)
	}
	if out := renderCheck(t, newCheck("complete"), JSON); strings.Contains(out, "unresolved") {
		t.Errorf("an empty Unresolved list is written:\n%s", out)
	}
}
