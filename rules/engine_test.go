package rules_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/rules"
)

// tw is an expected target.
type tw struct {
	rule string
	sev  rules.Severity
	also []string // other rules that reached it, in any order
	// note and noNote are substrings the target's Note must and must not
	// hold ("" for none).
	note, noNote string
	// via is the function the last step of the chain comes from ("" for
	// none checked).
	via string
}

// expect is the expected answer of one Run. Targets and Explained are
// compared as exact sets; each problem must match one substring, in
// order; each note substring must be in some note.
type expect struct {
	targets   map[string]tw
	explained map[string]string // name -> rule
	problems  []string
	notes     []string
	noNotes   []string // substrings no note may hold
}

// describe renders a result for failure messages.
func describe(res *rules.Result) string {
	var b strings.Builder
	for _, t := range res.Targets {
		fmt.Fprintf(&b, "\ttarget %s (%s) rule=%s severity=%s also=%v note=%q", t.ID.Name, t.ID.TU, t.Rule, t.Severity, t.Also, t.Note)
		if t.Ignored != nil {
			fmt.Fprintf(&b, " ignored=%q", t.Ignored.Justification)
		}
		b.WriteString("\n")
		for _, s := range t.Chain {
			fmt.Fprintf(&b, "\t\t%s -> %s: %s %s [%s]\n", s.From, s.To, s.Rule, s.How, s.Evidence)
		}
	}
	for _, x := range res.Explained {
		fmt.Fprintf(&b, "\texplained %s (%s) rule=%s: %s\n", x.ID.Name, x.ID.TU, x.Rule, x.Why)
	}
	for _, p := range res.Problems {
		fmt.Fprintf(&b, "\tproblem %s: %s: %s\n", p.File, p.Kind, p.Message)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(&b, "\tnote %s\n", n)
	}
	return b.String()
}

func targetMap(res *rules.Result) map[string]*rules.Target {
	m := map[string]*rules.Target{}
	for _, t := range res.Targets {
		m[t.ID.Name] = t
	}
	return m
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// check compares res with want; input names the case for messages.
func check(t *testing.T, input string, res *rules.Result, want expect) {
	t.Helper()
	got := targetMap(res)
	if g, w := keys(got), keys(want.targets); strings.Join(g, " ") != strings.Join(w, " ") {
		t.Errorf("%s: targets %v, want %v\n%s", input, g, w, describe(res))
	}
	for name, w := range want.targets {
		tg := got[name]
		if tg == nil {
			continue
		}
		if tg.Rule != w.rule || tg.Severity != w.sev {
			t.Errorf("%s: target %s: rule %s severity %s, want %s %s\n%s", input, name, tg.Rule, tg.Severity, w.rule, w.sev, describe(res))
		}
		also := append([]string(nil), tg.Also...)
		wantAlso := append([]string(nil), w.also...)
		sort.Strings(also)
		sort.Strings(wantAlso)
		if strings.Join(also, " ") != strings.Join(wantAlso, " ") {
			t.Errorf("%s: target %s: also %v, want %v", input, name, also, wantAlso)
		}
		if w.note != "" && !strings.Contains(tg.Note, w.note) {
			t.Errorf("%s: target %s: note %q, want it to say %q", input, name, tg.Note, w.note)
		}
		if w.noNote != "" && strings.Contains(tg.Note, w.noNote) {
			t.Errorf("%s: target %s: note %q must not say %q", input, name, tg.Note, w.noNote)
		}
		if w.via != "" {
			if len(tg.Chain) == 0 || tg.Chain[len(tg.Chain)-1].From != w.via || tg.Chain[len(tg.Chain)-1].To != name {
				t.Errorf("%s: target %s: chain %+v, want it to end %s -> %s", input, name, tg.Chain, w.via, name)
			}
		}
		if len(tg.Chain) > 0 && tg.Chain[len(tg.Chain)-1].Evidence == "" {
			t.Errorf("%s: target %s: the last step cites no evidence: %+v", input, name, tg.Chain)
		}
	}
	gotX := map[string]string{}
	for _, x := range res.Explained {
		gotX[x.ID.Name] = x.Rule
		if x.Why == "" {
			t.Errorf("%s: %s explained without a reason", input, x.ID.Name)
		}
	}
	if g, w := fmt.Sprint(gotX), fmt.Sprint(want.explained); g != w && (len(gotX) > 0 || len(want.explained) > 0) {
		t.Errorf("%s: explained %v, want %v\n%s", input, gotX, want.explained, describe(res))
	}
	if len(res.Problems) != len(want.problems) {
		t.Errorf("%s: %d problems, want %d (%q)\n%s", input, len(res.Problems), len(want.problems), want.problems, describe(res))
	} else {
		for i, p := range res.Problems {
			if got := p.Kind + ": " + p.Message; !strings.Contains(got, want.problems[i]) {
				t.Errorf("%s: problem %q, want it to say %q", input, got, want.problems[i])
			}
		}
	}
	if res.Complete() != (len(want.problems) == 0) {
		t.Errorf("%s: Complete() = %v with %d problems", input, res.Complete(), len(res.Problems))
	}
	all := strings.Join(res.Notes, "\n")
	for _, n := range want.notes {
		if !strings.Contains(all, n) {
			t.Errorf("%s: notes %q, want one saying %q", input, res.Notes, n)
		}
	}
	for _, n := range want.noNotes {
		if strings.Contains(all, n) {
			t.Errorf("%s: notes %q, want none saying %q", input, res.Notes, n)
		}
	}
}

// notFtrace is the note of a build without ftrace entries.
const notFtrace = "not a kernel livepatch build"

// TestFailClosed checks that missing evidence makes the answer incomplete
// instead of short.
func TestFailClosed(t *testing.T) {
	t.Run("object missing", func(t *testing.T) {
		dir := buildFixture(t, "rule-containment")
		deleteFile(t, filepath.Join(dir, "plain.o"))
		u := loadUnit(t, dir, "plain.o")
		if tu, _ := u.g.TU("plain.o"); tu.HasObject {
			t.Fatalf("plain.o deleted, but the unit says it has its object")
		}
		res := u.run(t, nil, "helper")
		check(t, "helper, plain.o deleted", res, expect{
			problems: []string{"fail-closed: object not read"},
		})
		if len(res.Targets) != 0 {
			t.Errorf("targets without an object: %s", describe(res))
		}
		if p := res.Problems[0]; p.File != u.obj || !strings.Contains(p.Message, "plain.o") {
			t.Errorf("problem %+v, want it to name %s", p, u.obj)
		}
	})
	t.Run("no DWARF", func(t *testing.T) {
		// nodebug.o is plain.o without -g: which IPA analyses were live
		// cannot be read, so the callers' assumptions are unknown.
		dir := buildFixture(t, "rule-callers")
		u := loadUnit(t, dir, "nodebug.o")
		if _, err := dwarfinfo.Producers(u.obj); !errors.Is(err, dwarfinfo.ErrNoDWARF) {
			t.Fatalf("nodebug.o: Producers error %v, want ErrNoDWARF", err)
		}
		res := u.run(t, nil, "leafy")
		check(t, "leafy in nodebug.o", res, expect{
			targets:  map[string]tw{"leafy": {rule: rules.Containment, sev: rules.Must}},
			problems: []string{"fail-closed: compile flags of nodebug.o unknown"},
		})
	})
	t.Run("flags error", func(t *testing.T) {
		dir := buildFixture(t, "rule-callers")
		u := loadUnit(t, dir, "plain.o")
		eng := &rules.Engine{Graph: u.g, Objects: u.objs,
			Flags: func(string) ([]dwarfinfo.Flags, error) { return nil, errors.New("producer unreadable") }}
		res := eng.Run([]callgraph.NodeID{{Name: "leafy", TU: "plain.o"}})
		check(t, "leafy, flags unreadable", res, expect{
			targets:  map[string]tw{"leafy": {rule: rules.Containment, sev: rules.Must}},
			problems: []string{"producer unreadable"},
		})
	})
	t.Run("unknown compiler", func(t *testing.T) {
		// A producer klp-audit cannot interpret: every analysis counts
		// as live, so the callers are listed (never a clean bill).
		dir := buildFixture(t, "rule-callers")
		u := loadUnit(t, dir, "lp.o")
		eng := &rules.Engine{Graph: u.g, Objects: u.objs,
			Flags: func(string) ([]dwarfinfo.Flags, error) {
				return []dwarfinfo.Flags{dwarfinfo.ParseProducer("clang version 14.0.6")}, nil
			}}
		res := eng.Run([]callgraph.NodeID{{Name: "leafy", TU: "lp.o"}})
		got := targetMap(res)
		if got["caller1"] == nil || got["caller1"].Rule != rules.CallerAssumptions || !strings.Contains(got["caller1"].Note, "ipa-ra") {
			t.Errorf("clang producer: want caller1 listed for ipa-ra\n%s", describe(res))
		}
	})
	t.Run("unknown function", func(t *testing.T) {
		// A changed function neither the dump nor the object knows is
		// explained, not silently dropped.
		dir := buildFixture(t, "rule-containment")
		u := loadUnit(t, dir, "plain.o")
		res := u.run(t, nil, "no_such_function")
		check(t, "no_such_function", res, expect{
			explained: map[string]string{"no_such_function": rules.Containment},
		})
	})
}

// TestDeterministic runs the same query twice: the answer, its order
// included, must not change.
func TestDeterministic(t *testing.T) {
	dir := buildFixture(t, "rule-callers")
	a := describe(loadUnit(t, dir, "plain.o").run(t, nil, "leafy", "twice"))
	b := describe(loadUnit(t, dir, "plain.o").run(t, nil, "twice", "leafy"))
	if a != b {
		t.Errorf("two runs differ:\n%s\nand\n%s", a, b)
	}
}

// TestClosureTaken: Run given the closure of its changed functions
// (Engine.Closure, as impacted passes its own) answers as Run working it
// out; given the closure of other functions, it does not take it. The
// answers are compared whole, every rule's targets and notes.
func TestClosureTaken(t *testing.T) {
	dir := buildFixture(t, "rule-containment")
	u := loadUnit(t, dir, "plain.o")
	names := u.g.Names()
	if len(names) < 2 {
		t.Fatalf("plain.o: %d functions in the dump, want at least 2", len(names))
	}
	id := func(n string) callgraph.NodeID { return callgraph.NodeID{Name: n, TU: "plain.o"} }
	differ := 0
	for i, n := range names {
		other := names[(i+1)%len(names)]
		want := (&rules.Engine{Graph: u.g, Objects: u.objs}).Run([]callgraph.NodeID{id(n)})
		given := (&rules.Engine{Graph: u.g, Objects: u.objs, Closure: u.g.Impacted(id(n))}).Run([]callgraph.NodeID{id(n)})
		if a, b := describe(given), describe(want); a != b {
			t.Errorf("%s, its closure given:\n%s\nworked out:\n%s", n, a, b)
		}
		wrong := (&rules.Engine{Graph: u.g, Objects: u.objs, Closure: u.g.Impacted(id(other))}).Run([]callgraph.NodeID{id(n)})
		if a, b := describe(wrong), describe(want); a != b {
			t.Errorf("%s, the closure of %s given:\n%s\nworked out:\n%s", n, other, a, b)
		}
		if describe(want) != describe((&rules.Engine{Graph: u.g, Objects: u.objs}).Run([]callgraph.NodeID{id(other)})) {
			differ++
		}
	}
	if differ == 0 {
		t.Error("every function of plain.o has the same answer: a closure taken wrongly would go unseen")
	}
}
