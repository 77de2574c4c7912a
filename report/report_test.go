package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite golden files")

// builder assembles a Result the way the analysis does: every entry but
// the queried function is reached from an earlier entry by one step, and
// every step is also an edge.
type builder struct {
	r    *Result
	line int
}

func newBuilder(function string, complete bool) *builder {
	return &builder{r: &Result{
		SchemaVersion: SchemaVersion,
		Tool:          Tool{Name: "klp-audit", Version: "0.1.0", Revision: "0123abc"},
		Inputs:        Inputs{Builds: []string{"build"}, Dumps: 3, TUs: 3, Records: 1234},
		Query:         Query{Command: "impacted", Function: function},
		Complete:      complete,
	}}
}

type mod func(*Entry)

func removed(e *Entry)   { e.RemovedInDump = true }
func inCycle(e *Entry)   { e.InCycle = true }
func lto(e *Entry)       { e.LTO = true }
func notInDump(e *Entry) { e.NotInDump = true }

// root adds a queried function (depth 0).
func (b *builder) root(tu, name, file string, line int, mods ...mod) Entry {
	e := Entry{Name: name, TU: tu, SourceFile: file, SourceLine: line, Reached: "queried", Chain: []Step{}}
	for _, m := range mods {
		m(&e)
	}
	b.r.Entries = append(b.r.Entries, e)
	return e
}

// add adds the function that got parent's code by how.
func (b *builder) add(parent Entry, how, name, file string, line int, mods ...mod) Entry {
	b.line += 7
	s := Step{
		From:     parent.Name,
		To:       name,
		TU:       parent.TU,
		How:      how,
		Evidence: parent.TU + ".c.000i.ipa-clones:" + strconv.Itoa(b.line),
	}
	e := Entry{
		Name:       name,
		TU:         parent.TU,
		SourceFile: file,
		SourceLine: line,
		Depth:      parent.Depth + 1,
		Reached:    how,
		Chain:      append(append([]Step{}, parent.Chain...), s),
	}
	if how != "inlined" {
		e.CloneOf = []string{how}
	}
	for _, m := range mods {
		m(&e)
	}
	b.r.Entries = append(b.r.Entries, e)
	b.r.Edges = append(b.r.Edges, s)
	return e
}

// done sorts the entries as the analysis does and fills in the summary.
func (b *builder) done() *Result {
	b.r.Entries = sortedEntries(b.r.Entries)
	tus := map[string]bool{}
	for _, e := range b.r.Entries {
		tus[e.TU] = true
		if e.RemovedInDump {
			b.r.Summary.Removed++
		}
	}
	b.r.Summary.Functions = len(b.r.Entries)
	b.r.Summary.TUs = len(tus)
	return b.r
}

// objectsResult: the evidence of the objects added to a small chain: an
// emitted local with a cold piece and callers, a folded twin, a function
// not emitted (replaced by its clone) and one whose object was not read.
func objectsResult() *Result {
	b := newBuilder("big", true)
	notEmitted := func(why string) func(*Entry) {
		return func(e *Entry) { e.Emitted, e.WhyNotEmitted, e.Object = "no", why, "clones.o" }
	}
	emitted := func(sym Symbol, callers ...Caller) func(*Entry) {
		return func(e *Entry) {
			e.Emitted, e.Object, e.Symbols, e.Callers = "yes", "clones.o", []Symbol{sym}, callers
		}
	}
	q := b.root("clones.o", "big", "clones.c", 9, notEmitted("replaced by its clones: big.constprop.0"))
	cp := b.add(q, "constprop", "big.constprop.0", "clones.c", 9, emitted(
		Symbol{Name: "big.constprop.0", Binding: "local", Section: ".text", Offset: 0x90, Size: 0x48,
			Cold: []string{"big.constprop.0.cold"}, Fentry: true},
		Caller{Name: "cp1", How: "tail call", Site: 0xe4}, Caller{Name: "ops", How: "data reference", Site: 8}))
	b.add(cp, "inlined", "twin_a", "clones.c", 20, emitted(
		Symbol{Name: "twin_a", Binding: "global", Section: ".text", Offset: 0x100, Size: 0x10, Aliases: []string{"twin_b"}}))
	q2 := b.root("other.o", "big", "clones.c", 9, func(e *Entry) {
		e.Emitted, e.WhyNotEmitted, e.Object = "unknown", "other.o: object not found beside its dump", "other.o"
	})
	_ = q2
	r := b.done()
	r.Summary.Emitted = 2
	return r
}

// chainResult: percpu_ref_put_many -constprop-> .constprop.0 -inlined->
// css_put -inlined-> cgroup_bpf_release, with a branch, a second
// translation unit and an LTO unit.
func chainResult() *Result {
	b := newBuilder("percpu_ref_put_many", true)
	const hdr = "include/linux/percpu-refcount.h"

	tu := "kernel/bpf/cgroup"
	q := b.root(tu, "percpu_ref_put_many", hdr, 331, removed)
	cp := b.add(q, "constprop", "percpu_ref_put_many.constprop.0", hdr, 331)
	css := b.add(cp, "inlined", "css_put", "include/linux/cgroup.h", 404, removed)
	b.add(css, "inlined", "cgroup_bpf_release", "kernel/bpf/cgroup.c", 300)
	put := b.add(cp, "inlined", "percpu_ref_put", hdr, 357, removed)
	b.add(put, "inlined", "cgroup_bpf_offline", "kernel/bpf/cgroup.c", 380)

	tu = "mm/memcontrol"
	q = b.root(tu, "percpu_ref_put_many", hdr, 331, removed)
	css = b.add(q, "inlined", "css_put", "include/linux/cgroup.h", 404, removed)
	b.add(css, "inlined", "mem_cgroup_css_offline", "mm/memcontrol.c", 5600)
	b.add(q, "inlined", "obj_cgroup_release", "mm/memcontrol.c", 260)

	tu = "vmlinux.ltrans0"
	q = b.root(tu, "percpu_ref_put_many", hdr, 331, lto)
	b.add(q, "isra", "percpu_ref_put_many.isra.0", hdr, 331, lto)
	return b.done()
}

// cycleResult: walk is inlined into itself (recursion) and split.
func cycleResult() *Result {
	b := newBuilder("walk", true)
	w := b.root("lib/walk", "walk", "lib/walk.c", 10, inCycle)
	b.add(w, "part", "walk.part.0", "lib/walk.c", 10, inCycle)
	b.r.Edges = append(b.r.Edges, Step{From: "walk", To: "walk", TU: "lib/walk", How: "inlined", Evidence: "lib/walk.c.000i.ipa-clones:3"})
	return b.done()
}

// incompleteResult: some dumps could not be read.
func incompleteResult() *Result {
	b := newBuilder("percpu_ref_put_many", false)
	q := b.root("kernel/bpf/cgroup", "percpu_ref_put_many", "include/linux/percpu-refcount.h", 331, removed)
	b.add(q, "inlined", "css_put", "include/linux/cgroup.h", 404, removed)
	b.root("lib/percpu-refcount", "percpu_ref_put_many", "include/linux/percpu-refcount.h", 331, notInDump)
	b.r.Problems = []Problem{
		{File: "kernel/bpf/cgroup.c.000i.ipa-clones", Line: 17, Message: "truncated line: 4 of 12 fields"},
		{File: "drivers/gpu/drm/i915/i915_gem.o", Message: "no ipa-clones dump beside the object"},
	}
	return b.done()
}

// emptyResult: the function is nowhere; every list is nil.
func emptyResult() *Result {
	return &Result{
		SchemaVersion: SchemaVersion,
		Tool:          Tool{Name: "klp-audit", Version: "0.1.0"},
		Query:         Query{Command: "impacted", Function: "no_such_function"},
		Complete:      true,
	}
}

// oddResult holds what a producer should never emit; renderers must
// still cope: chains naming absent entries, parents forming a loop, a
// self-parent, an empty translation unit, quotes, backslashes and
// newlines in names, duplicates, negative depths, nil and empty lists,
// edges naming functions that are not entries.
func oddResult() *Result {
	return &Result{
		Tool:     Tool{Name: "klp-audit"},
		Inputs:   Inputs{Builds: []string{}},
		Complete: true,
		Problems: []Problem{{Message: ""}, {File: "f", Message: "line unknown"}},
		Entries: []Entry{
			{Name: "orphan", Depth: 2, Reached: "inlined", Chain: []Step{{From: "missing", To: "orphan", How: "inlined"}}},
			{Name: "a", TU: "loop", Depth: 1, Chain: []Step{{From: "b", To: "a", How: "part"}}},
			{Name: "b", TU: "loop", Depth: 1, Chain: []Step{{From: "a", To: "b", How: "isra"}}},
			{Name: "c", TU: "loop", Depth: 2, Chain: []Step{{From: "b", To: "c", How: "inlined"}}},
			{Name: "self", TU: "loop", Depth: 3, Chain: []Step{{From: "self", To: "self", How: "inlined"}}},
			{Name: `q"uote\back`, SourceFile: "odd.c", SourceLine: -4},
			{Name: "new\nline", Depth: 1, CloneOf: []string{}, Chain: []Step{{From: `q"uote\back`, To: "new\nline"}}},
			{Name: "dup", Depth: -1, SourceFile: "one.c"},
			{Name: "dup", Depth: -1, SourceFile: "two.c"},
			{Name: "", Depth: 0},
			{Name: "nochain", TU: "x", Depth: 5, Reached: "constprop"},
			{Name: "weird:how", TU: "x", Depth: 1, Reached: "unknown:foo", Chain: []Step{{}, {From: "nochain", How: "unknown:foo"}}},
		},
		Edges: []Step{
			{From: "ghost", To: "orphan", How: "inlined"},
			{From: "a", To: "b", TU: "loop", How: "isra", Evidence: "1"},
			{From: "a", To: "b", TU: "loop", How: "isra", Evidence: "2"},
			{From: "b", To: "a", TU: "loop", How: "part"},
			{From: "p", To: "q", TU: "elsewhere", How: "copy"},
			{},
		},
	}
}

var cases = []struct {
	name string
	make func() *Result
}{
	{"chain", chainResult},
	{"cycle", cycleResult},
	{"incomplete", incompleteResult},
	{"empty", emptyResult},
	{"odd", oddResult},
	{"objects", objectsResult},
	{"targets", targetsResult},
}

// targetsResult: the safety rules' answer to a change of
// should_skip_region (mm/memblock.c), one target per tier: the function
// itself (must), a caller relying on its body (conditional, with its
// condition), a callee compiled for its arguments under a policy that
// makes ipa-vrp review, a not-patchable caller's substitute across
// units, and one ignored by the policy.
func targetsResult() *Result {
	b := newBuilder("should_skip_region", true)
	q := b.root("mm/memblock.o", "should_skip_region", "mm/memblock.c", 1010, func(e *Entry) {
		e.Emitted, e.Object = "yes", "mm/memblock.o"
		e.Symbols = []Symbol{{Name: "should_skip_region", Binding: "local", Section: ".text", Offset: 0x3a0, Size: 0x60, Fentry: true}}
	})
	part := b.add(q, "part", "should_skip_region.part.0", "mm/memblock.c", 1010, func(e *Entry) {
		e.Emitted, e.WhyNotEmitted, e.Object = "no", "inlined everywhere (into 1 function)", "mm/memblock.o"
	})
	_ = part
	r := b.done()
	r.Summary.Emitted = 1
	callStep := func(from, to, tu, rule, site string) Step {
		return Step{From: from, To: to, TU: tu, How: "called by", Evidence: tu + ": call site " + site, Rule: rule}
	}
	contain := Step{From: "should_skip_region", To: "should_skip_region", TU: "mm/memblock.o", How: "queried", Rule: "containment"}
	r.Targets = []Target{
		{Name: "should_skip_region", KLPObject: "vmlinux", TU: "mm/memblock.o", Object: "mm/memblock.o", SourceFile: "mm/memblock.c", SourceLine: 1010,
			Binding: "local", Section: ".text", Severity: "must", Rule: "containment", Chain: []Step{}},
		{Name: "__next_mem_range", KLPObject: "vmlinux", TU: "mm/memblock.o", Object: "mm/memblock.o", Binding: "global", Section: ".text",
			Severity: "conditional", Rule: "caller-assumptions",
			Note:  "needed only if your fix changes what __next_mem_range assumed of should_skip_region, which it calls at 1 call site: whether it is pure, const or noreturn (ipa-pure-const); if so, ask about __next_mem_range in turn (its callers may rely on it)",
			Chain: []Step{contain, callStep("should_skip_region", "__next_mem_range", "mm/memblock.o", "caller-assumptions", "__next_mem_range+0x8f")}},
		{Name: "memblock_dump", KLPObject: "vmlinux", TU: "mm/memblock.o", Object: "mm/memblock.o", Binding: "local", Section: ".text",
			Severity: "review", Rule: "caller-assumptions", Note: "compiled for the arguments its callers pass (ipa-vrp); should_skip_region changed",
			Chain: []Step{{From: "should_skip_region", To: "memblock_dump", TU: "mm/memblock.o", How: "calls", Evidence: "mm/memblock.o: call site should_skip_region (section offset 0x3c4)", Rule: "caller-assumptions"}}},
		{Name: "__add_pages", KLPObject: "vmlinux", TU: "mm/memory_hotplug.o", Object: "mm/memory_hotplug.o", Binding: "global", Section: ".text",
			Severity: "conditional", Rule: "not-patchable",
			Note:  "replaced for __next_mem_range_rev, which is needed only if your fix changes what __next_mem_range_rev assumed of should_skip_region",
			Chain: []Step{callStep("__next_mem_range_rev", "__add_pages", "mm/memory_hotplug.o", "not-patchable", "__add_pages+0x31")}},
		{Name: "memblock_debug_show", KLPObject: "vmlinux", TU: "mm/memblock.o", Object: "mm/memblock.o", Binding: "local", Section: ".text",
			Severity: "conditional", Rule: "caller-assumptions", IgnoredBecause: "reads nothing should_skip_region writes (reviewed)",
			Chain: []Step{callStep("should_skip_region", "memblock_debug_show", "mm/memblock.o", "caller-assumptions", "memblock_debug_show+0x12")}},
	}
	r.Explained = []Explained{{Name: "__next_mem_range_rev", TU: "mm/memblock.o", Rule: "not-patchable",
		Why: "not directly patchable: no ftrace entry (__fentry__ call at its start): notrace, or a kernel inline kept out of line; its callers are replaced instead"}}
	r.Summary.Must, r.Summary.Conditional, r.Summary.Review, r.Summary.Ignored = 1, 2, 1, 1
	r.Policy = "default policy"
	return r
}

func render(t *testing.T, r *Result, f Format) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, r, f); err != nil {
		t.Fatalf("Render(%s): %v\ninput:\n%s", f, err, dump(r))
	}
	return buf.String()
}

// dump shows a test input in failure messages.
func dump(r *Result) string {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func TestGolden(t *testing.T) {
	for _, c := range cases {
		for _, f := range FormatsOf(VerbImpacted) {
			t.Run(c.name+"."+string(f), func(t *testing.T) {
				r := c.make()
				got := render(t, r, f)
				path := filepath.Join("testdata", "golden", c.name+"."+string(f))
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./report -update to create it)", err)
				}
				if f == DOT {
					checkDOTQuotes(t, got)
				}
				if got != string(want) {
					t.Errorf("%s differs from %s\ninput:\n%s\ngot:\n%s\nwant:\n%s", f, path, dump(r), got, want)
				}
			})
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.make()
			out := render(t, r, JSON)
			if !strings.HasSuffix(out, "}\n") {
				t.Errorf("JSON does not end in a newline:\n%s", out)
			}
			var back Result
			if err := json.Unmarshal([]byte(out), &back); err != nil {
				t.Fatalf("unmarshal: %v\n%s", err, out)
			}
			if want := normalized(r); !reflect.DeepEqual(&back, want) {
				t.Errorf("round trip differs\ninput:\n%s\ngot:  %#v\nwant: %#v", dump(r), back, *want)
			}
		})
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.make()
			out := render(t, r, YAML)
			var back Result
			dec := yaml.NewDecoder(strings.NewReader(out))
			dec.KnownFields(true)
			if err := dec.Decode(&back); err != nil {
				t.Fatalf("decode: %v\n%s", err, out)
			}
			if want := normalized(r); !reflect.DeepEqual(&back, want) {
				t.Errorf("round trip differs\ninput:\n%s\ngot:  %#v\nwant: %#v\nyaml:\n%s", dump(r), back, *want, out)
			}
		})
	}
}

// TestEmptyListsNotNull: a consumer must be able to iterate problems,
// entries, edges and chains without a null check.
func TestEmptyListsNotNull(t *testing.T) {
	r := emptyResult()
	r.Entries = []Entry{{Name: "f", Chain: nil}}
	tests := []struct {
		format Format
		want   []string
	}{
		{JSON, []string{`"problems": []`, `"edges": []`, `"chain": []`}},
		{YAML, []string{"problems: []", "edges: []", "chain: []"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			got := render(t, r, tt.format)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in\n%s", w, got)
				}
			}
			if strings.Contains(got, "null") {
				t.Errorf("null in\n%s", got)
			}
		})
	}
	t.Run("empty entries", func(t *testing.T) {
		got := render(t, emptyResult(), JSON)
		if !strings.Contains(got, `"entries": []`) {
			t.Errorf("missing \"entries\": [] in\n%s", got)
		}
	})
}

// TestTargetsWhenRulesRan: an answer whose rules ran and found nothing
// (an incomplete answer, say) writes targets as an empty list; without
// the rules (--dumps-only) the field is absent.
func TestTargetsWhenRulesRan(t *testing.T) {
	for _, tt := range []struct {
		format       Format
		empty, field string
	}{
		{JSON, `"targets": []`, `"targets"`},
		{YAML, "targets: []", "targets:"},
	} {
		r := emptyResult()
		r.Targets = TargetList{}
		if got := render(t, r, tt.format); !strings.Contains(got, tt.empty) {
			t.Errorf("%s, rules ran, no target: missing %q in\n%s", tt.format, tt.empty, got)
		}
		r.Targets = nil
		if got := render(t, r, tt.format); strings.Contains(got, tt.field) {
			t.Errorf("%s, no rules: %q present in\n%s", tt.format, tt.field, got)
		}
	}
}

// TestRenderDoesNotMutate: normalising for YAML/JSON works on a copy.
func TestRenderDoesNotMutate(t *testing.T) {
	for _, c := range cases {
		for _, f := range FormatsOf(VerbImpacted) {
			t.Run(c.name+"."+string(f), func(t *testing.T) {
				r := c.make()
				render(t, r, f)
				if want := c.make(); !reflect.DeepEqual(r, want) {
					t.Errorf("input changed\ngot:  %#v\nwant: %#v", *r, *want)
				}
			})
		}
	}
}

func TestDeterministic(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, c := range cases {
		for _, f := range FormatsOf(VerbImpacted) {
			t.Run(c.name+"."+string(f), func(t *testing.T) {
				first := render(t, c.make(), f)
				for i := 0; i < 5; i++ {
					if got := render(t, c.make(), f); got != first {
						t.Fatalf("render %d differs\ngot:\n%s\nfirst:\n%s", i, got, first)
					}
				}
				if f == JSON || f == YAML {
					return // these keep the given order: they are the data
				}
				// The human formats sort for themselves.
				for i := 0; i < 5; i++ {
					r := c.make()
					rng.Shuffle(len(r.Entries), func(i, j int) { r.Entries[i], r.Entries[j] = r.Entries[j], r.Entries[i] })
					rng.Shuffle(len(r.Edges), func(i, j int) { r.Edges[i], r.Edges[j] = r.Edges[j], r.Edges[i] })
					if got := render(t, r, f); got != first {
						t.Fatalf("shuffled input gives different output\ninput:\n%s\ngot:\n%s\nwant:\n%s", dump(r), got, first)
					}
				}
			})
		}
	}
}

// TestProblemsFirst: an incomplete result must not look like a clean
// answer, so its problems come before any function.
func TestProblemsFirst(t *testing.T) {
	for _, f := range []Format{Text, Table} {
		t.Run(string(f), func(t *testing.T) {
			r := incompleteResult()
			got := render(t, r, f)
			if !strings.HasPrefix(got, "INCOMPLETE:") {
				t.Errorf("output does not start with INCOMPLETE:\n%s", got)
			}
			first := len(got)
			for _, e := range r.Entries {
				if i := strings.Index(got, e.Name); i >= 0 && i < first {
					first = i
				}
			}
			for _, p := range r.Problems {
				i := strings.Index(got, p.String())
				if i < 0 || i > first {
					t.Errorf("problem %q not listed before the first function\n%s", p.String(), got)
				}
			}
			if !strings.Contains(got, "kernel/bpf/cgroup.c.000i.ipa-clones:17: truncated line") {
				t.Errorf("problem not shown as file:line: message\n%s", got)
			}
		})
	}
	t.Run("text headline says lower bound", func(t *testing.T) {
		got := render(t, incompleteResult(), Text)
		if !strings.Contains(got, "at least 3 functions in 2 translation units") {
			t.Errorf("headline does not say \"at least\"\n%s", got)
		}
	})
	t.Run("dot title", func(t *testing.T) {
		got := render(t, incompleteResult(), DOT)
		if !strings.Contains(got, "INCOMPLETE") {
			t.Errorf("DOT does not say INCOMPLETE\n%s", got)
		}
	})
	t.Run("no problems recorded", func(t *testing.T) {
		r := incompleteResult()
		r.Problems = nil
		got := render(t, r, Text)
		if !strings.HasPrefix(got, "INCOMPLETE:") {
			t.Errorf("output does not start with INCOMPLETE:\n%s", got)
		}
	})
}

func TestTextTree(t *testing.T) {
	got := render(t, chainResult(), Text)
	for _, want := range []string{
		"percpu_ref_put_many: 12 functions in 3 translation units carry its code\n",
		"\nkernel/bpf/cgroup\n  percpu_ref_put_many  include/linux/percpu-refcount.h:331  [removed in dump]\n" +
			"  └─ percpu_ref_put_many.constprop.0 (its constprop clone)  include/linux/percpu-refcount.h:331\n" +
			"     ├─ css_put (holds its inlined code)  include/linux/cgroup.h:404  [removed in dump]\n" +
			"     │  └─ cgroup_bpf_release (holds its inlined code)  kernel/bpf/cgroup.c:300\n" +
			"     └─ percpu_ref_put (holds its inlined code)  ",
		"  └─ percpu_ref_put_many.isra.0 (its isra clone)  include/linux/percpu-refcount.h:331  [lto]\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing\n%s\nin\n%s", want, got)
		}
	}
}

// TestOddResults: no input makes a renderer panic, fail or lose an entry.
func TestOddResults(t *testing.T) {
	odd := map[string]*Result{
		"zero":         {},
		"odd":          oddResult(),
		"nil chain":    {Entries: []Entry{{Name: "f", Depth: 1}}},
		"empty chain":  {Entries: []Entry{{Name: "f", Depth: 1, Chain: []Step{}}}},
		"all empty TU": {Entries: []Entry{{}, {}, {Depth: 1, Chain: []Step{{}}}}, Edges: []Step{{}, {}}},
		"long loop": func() *Result {
			r := &Result{}
			for _, n := range []string{"a", "b", "c", "d"} {
				r.Entries = append(r.Entries, Entry{Name: n, Depth: 1})
			}
			for i := range r.Entries {
				from := r.Entries[(i+3)%4].Name
				r.Entries[i].Chain = []Step{{From: from, To: r.Entries[i].Name, How: "inlined"}}
			}
			return r
		}(),
		"control chars": {Query: Query{Function: "f\x00\x1b[31m"}, Entries: []Entry{{Name: "\x1b[2J", TU: "\t", SourceFile: "\r"}}},
	}
	for name, r := range odd {
		for _, f := range FormatsOf(VerbImpacted) {
			t.Run(name+"."+string(f), func(t *testing.T) {
				got := render(t, r, f)
				if f == Text {
					// Every entry appears once, however odd its chain.
					lines := strings.Count(got, "\n")
					if lines < len(r.Entries) {
						t.Errorf("%d lines for %d entries\n%s", lines, len(r.Entries), got)
					}
					if strings.ContainsAny(got, "\x00\x1b\r\t") {
						t.Errorf("control characters reach the terminal: %q", got)
					}
				}
				if f == DOT {
					checkDOTQuotes(t, got)
				}
			})
		}
	}
	t.Run("text shows each entry once", func(t *testing.T) {
		got := render(t, odd["long loop"], Text)
		for _, n := range []string{"a", "b", "c", "d"} {
			if c := strings.Count(got, " "+n+"\n") + strings.Count(got, " "+n+"  ") + strings.Count(got, " "+n+" ("); c != 1 {
				t.Errorf("%s shown %d times\n%s", n, c, got)
			}
		}
	})
}

func TestDOTEscapes(t *testing.T) {
	r := &Result{
		Query:    Query{Function: `say"hi`},
		Complete: true,
		Entries: []Entry{
			{Name: `say"hi`, TU: `t"u`, SourceFile: `dir\x.c`, SourceLine: 3},
			{Name: `say"hi.constprop.0`, TU: `t"u`, Depth: 1, Chain: []Step{{From: `say"hi`, To: `say"hi.constprop.0`, TU: `t"u`, How: "constprop"}}},
		},
		Edges: []Step{{From: `say"hi`, To: `say"hi.constprop.0`, TU: `t"u`, How: "constprop"}},
	}
	got := render(t, r, DOT)
	for _, want := range []string{
		`"t\"u:say\"hi" [label="say\"hi\ndir\\x.c:3"`,
		`"t\"u:say\"hi" -> "t\"u:say\"hi.constprop.0" [label="is the constprop clone of\n(specialised for constant arguments)", dir=back];`,
		`label="t\"u";`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
	checkDOTQuotes(t, got)
}

// checkDOTQuotes fails if a line of DOT leaves a quoted string open, and
// checks the whole text with Graphviz where it is installed.
func checkDOTQuotes(t *testing.T, dot string) {
	t.Helper()
	for n, line := range strings.Split(dot, "\n") {
		open := false
		for i := 0; i < len(line); i++ {
			switch {
			case open && line[i] == '\\':
				i++
			case line[i] == '"':
				open = !open
			}
		}
		if open {
			t.Errorf("line %d leaves a string open: %s", n+1, line)
		}
	}
	path, err := exec.LookPath("dot")
	if err != nil {
		return
	}
	cmd := exec.Command(path, "-Tcanon")
	cmd.Stdin = strings.NewReader(dot)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("graphviz rejects the output: %v\n%s\ninput:\n%s", err, out, dot)
	}
}

func TestParseFormatOfImpacted(t *testing.T) {
	for _, f := range FormatsOf(VerbImpacted) {
		t.Run(string(f), func(t *testing.T) {
			got, err := ParseFormatOf(VerbImpacted, string(f))
			if err != nil || got != f {
				t.Errorf("ParseFormatOf(VerbImpacted, %q) = %q, %v; want %q, nil", f, got, err, f)
			}
		})
	}
	for _, bad := range []string{"", "xml", "TEXT", "json "} {
		t.Run("bad "+bad, func(t *testing.T) {
			got, err := ParseFormatOf(VerbImpacted, bad)
			if err == nil {
				t.Fatalf("ParseFormatOf(VerbImpacted, %q) = %q, nil; want an error", bad, got)
			}
			for _, f := range FormatsOf(VerbImpacted) {
				if !strings.Contains(err.Error(), string(f)) {
					t.Errorf("error %q does not list %q", err, f)
				}
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	t.Run("unknown format", func(t *testing.T) {
		var buf bytes.Buffer
		if err := Render(&buf, chainResult(), Format("xml")); err == nil {
			t.Error("Render with format xml: no error")
		}
		if buf.Len() != 0 {
			t.Errorf("Render with format xml wrote %q", buf.String())
		}
	})
	for _, f := range FormatsOf(VerbImpacted) {
		t.Run("nil result "+string(f), func(t *testing.T) {
			if err := Render(&bytes.Buffer{}, nil, f); err == nil {
				t.Error("no error for a nil result")
			}
		})
		t.Run("write error "+string(f), func(t *testing.T) {
			err := Render(failWriter{}, chainResult(), f)
			if !errors.Is(err, errWrite) {
				t.Errorf("got %v, want %v", err, errWrite)
			}
		})
	}
}

var errWrite = errors.New("disk full")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

// TestProblemKind: a fail-closed problem says so in its text form, and
// its kind is a field of the JSON form, not a prefix of the message.
func TestProblemKind(t *testing.T) {
	p := Problem{File: "mm/x.o", Kind: KindFailClosed, Message: "object not read"}
	if got, want := p.String(), "mm/x.o: fail-closed: object not read"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	in := Problem{File: "mm/x.c.000i.ipa-clones", Line: 3, Kind: KindInput, Message: "bad line"}
	if got, want := in.String(), "mm/x.c.000i.ipa-clones:3: bad line"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	var b strings.Builder
	if err := Encode(&b, p, JSON); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"kind": "fail-closed"`) || strings.Contains(b.String(), `"message": "fail-closed`) {
		t.Errorf("JSON %s: want the kind as a field, not in the message", b.String())
	}
}
