package rules_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/object"
	"github.com/klp-audit/klp-audit/rules"
)

// TestNotPatchableEvidence checks the ftrace entries gcc emitted in
// ftrace.o, read with debug/elf, and that the object package (what the
// rules read) agrees.
func TestNotPatchableEvidence(t *testing.T) {
	dir := buildFixture(t, "rule-notpatchable")
	path := filepath.Join(dir, "ftrace.o")
	e := readELF(t, path)
	f, err := object.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"p1": true, "p2": true, "p3": true, "p4": true, "setup_thing": true, "init_caller": true,
		"nt": false, "nt_inner": false, "nt_outer": false, "nt_ptr": false, "nt_both": false,
		"nt_dead": false, "nt_gptr": false,
	}
	for name, entry := range want {
		s, ok := e.funcs[name]
		if !ok {
			t.Errorf("gcc %s: ftrace.o has no %s (functions: %s)", gccVersion(), name, e.names())
			continue
		}
		if got := e.fentry(s); got != entry {
			t.Errorf("%s starts with call __fentry__: %v, want %v:\n%s", name, got, entry, listing(disasm(t, e, name)))
		}
		fns := f.Lookup(name)
		if len(fns) != 1 || fns[0].Fentry != entry {
			t.Errorf("object package: %s %+v, want Fentry %v", name, fns, entry)
		}
	}
	// The calls the rule follows.
	for caller, callee := range map[string]string{"p1": "nt", "p2": "nt", "p3": "nt_outer", "nt_outer": "nt_inner", "p4": "nt_both"} {
		if is := disasm(t, e, caller); len(callsTo(e, is, callee)) != 1 {
			t.Errorf("%s does not call %s:\n%s", caller, callee, listing(is))
		}
	}
	// np_ops holds the addresses of nt_ptr and nt_both.
	stored := map[string]bool{}
	for _, r := range e.relocs[".data"] {
		for _, name := range []string{"nt_ptr", "nt_both"} {
			if r.sym == name || r.sym == ".text" && uint64(r.addend) == e.funcs[name].Value {
				stored[name] = true
			}
		}
	}
	if !stored["nt_ptr"] || !stored["nt_both"] {
		t.Errorf(".data relocations %+v, want nt_ptr's and nt_both's addresses", e.relocs[".data"])
	}
	if s := e.funcs["setup_thing"]; e.f.Sections[s.Section].Name != ".init.text" {
		t.Errorf("setup_thing in %s, want .init.text", e.f.Sections[s.Section].Name)
	}
}

// TestNotPatchable: a function without an ftrace entry is replaced
// through its callers, up to patchable ones; when callers are missing or
// it is also reached through a pointer, the answer is incomplete.
func TestNotPatchable(t *testing.T) {
	dir := buildFixture(t, "rule-notpatchable")
	np := func(via string) tw { return tw{rule: rules.NotPatchable, sev: rules.Must, via: via} }
	tests := []struct {
		name, obj string
		changed   []string
		want      expect
	}{
		{
			name: "notrace", obj: "ftrace.o", changed: []string{"nt"},
			want: expect{
				targets:   map[string]tw{"p1": np("nt"), "p2": np("nt")},
				explained: map[string]string{"nt": rules.NotPatchable},
				noNotes:   []string{notFtrace},
			},
		},
		{
			name: "notrace chain", obj: "ftrace.o", changed: []string{"nt_inner"},
			want: expect{
				targets:   map[string]tw{"p3": np("nt_outer")},
				explained: map[string]string{"nt_inner": rules.NotPatchable, "nt_outer": rules.NotPatchable},
			},
		},
		{
			name: "notrace, address only", obj: "ftrace.o", changed: []string{"nt_ptr"},
			want: expect{
				explained: map[string]string{"nt_ptr": rules.NotPatchable},
				problems:  []string{"nt_ptr (ftrace.o) cannot be patched and has no direct caller; it is called through a pointer (address taken in np_ops)"},
			},
		},
		{
			name: "notrace, called and address stored", obj: "ftrace.o", changed: []string{"nt_both"},
			want: expect{
				targets:   map[string]tw{"p4": np("nt_both")},
				explained: map[string]string{"nt_both": rules.NotPatchable},
				problems:  []string{"nt_both (ftrace.o) cannot be patched and is also called through a pointer (address taken in np_ops)"},
			},
		},
		{
			// Nothing calls nt_dead, takes its address or exports it:
			// no replaced function reaches its code.
			name: "notrace, unreached", obj: "ftrace.o", changed: []string{"nt_dead"},
			want: expect{explained: map[string]string{"nt_dead": rules.NotPatchable}},
		},
		{
			name: "boot code", obj: "ftrace.o", changed: []string{"setup_thing"},
			want: expect{explained: map[string]string{"setup_thing": rules.NotPatchable}},
		},
		{
			// Without -pg nothing has an ftrace entry: not a kernel
			// livepatch build, so patchability is not judged.
			name: "no ftrace build", obj: "plain.o", changed: []string{"nt"},
			want: expect{
				targets: map[string]tw{
					"nt": {rule: rules.Containment, sev: rules.Must},
					"p1": {rule: rules.CallerAssumptions, sev: rules.Conditional, via: "nt"},
					"p2": {rule: rules.CallerAssumptions, sev: rules.Conditional, via: "nt"},
				},
				notes: []string{notFtrace},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := loadUnit(t, dir, tc.obj).run(t, nil, tc.changed...)
			check(t, tc.obj+" "+tc.name, res, tc.want)
			for _, x := range res.Explained {
				if x.ID.Name == "setup_thing" && !contains(x.Why, "boot code in .init.text") {
					t.Errorf("setup_thing explained %q, want boot code", x.Why)
				}
				if x.ID.Name == "nt_dead" && !contains(x.Why, "nothing in the objects read calls it, takes its address or exports it") {
					t.Errorf("nt_dead explained %q, want nothing reaching it", x.Why)
				}
			}
		})
	}
	for _, producer := range []string{"clang version 14.0.6", "GNU C17 12.2.0"} {
		// Compile flags that do not tell whether the build has ftrace
		// entries (clang records no switches; -gno-record-gcc-switches):
		// the objects' own ftrace entries tell.
		t.Run("flags silent: "+producer, func(t *testing.T) {
			u := loadUnit(t, dir, "ftrace.o")
			eng := &rules.Engine{Graph: u.g, Objects: u.objs,
				Flags: func(string) ([]dwarfinfo.Flags, error) {
					return []dwarfinfo.Flags{dwarfinfo.ParseProducer(producer)}, nil
				}}
			res := eng.Run([]callgraph.NodeID{{Name: "nt", TU: "ftrace.o"}})
			checkPrecision(t, u, res)
			check(t, "nt, producer "+producer, res, expect{
				targets:   map[string]tw{"p1": np("nt"), "p2": np("nt")},
				explained: map[string]string{"nt": rules.NotPatchable},
				noNotes:   []string{notFtrace},
			})
		})
	}
	t.Run("address stored in another object", func(t *testing.T) {
		// nt_gptr has no direct caller in ftrace.o, but ftrace2.o stores
		// its address in np2_ops: who calls it is unknown. Read alone,
		// ftrace.o shows nothing reaching it.
		e := readELF(t, filepath.Join(dir, "ftrace2.o"))
		if rs := e.relocs[".data"]; len(rs) != 1 || rs[0].sym != "nt_gptr" {
			t.Fatalf("gcc %s: ftrace2.o .data relocations %+v, want nt_gptr's address", gccVersion(), rs)
		}
		res := loadUnits(t, dir, "ftrace.o", "ftrace2.o").run(t, nil, "nt_gptr")
		check(t, "nt_gptr with ftrace2.o", res, expect{
			explained: map[string]string{"nt_gptr": rules.NotPatchable},
			problems:  []string{"nt_gptr (ftrace.o) cannot be patched and has no direct caller; it is called through a pointer (address taken in ftrace2.o)"},
		})
		res = loadUnit(t, dir, "ftrace.o").run(t, nil, "nt_gptr")
		check(t, "nt_gptr alone", res, expect{explained: map[string]string{"nt_gptr": rules.NotPatchable}})

		// ftrace2.o's symbol table names nt_gptr, but the object cannot
		// be opened: the reference it may hold is unknown, never absent.
		u := loadUnits(t, dir, "ftrace.o", "ftrace2.o")
		u.objs = callgraph.NewObjects(u.g, func(p string) (*object.File, error) {
			if filepath.Base(p) == "ftrace2.o" {
				return nil, errors.New("unreadable")
			}
			return object.Open(p)
		})
		res = (&rules.Engine{Graph: u.g, Objects: u.objs}).Run([]callgraph.NodeID{{Name: "nt_gptr", TU: "ftrace.o"}})
		found := false
		for _, p := range res.Problems {
			found = found || p.File == "ftrace2.o" && contains(p.Message, "object of ftrace2.o not read (unreadable)")
		}
		if !found {
			t.Errorf("nt_gptr with ftrace2.o unreadable: problems %+v, want ftrace2.o not read", res.Problems)
		}
	})
	t.Run("not-patchable off", func(t *testing.T) {
		// The policy turns the rule off: nt itself is listed, although
		// it has no ftrace entry (precision is what the policy gave up).
		u := loadUnit(t, dir, "ftrace.o")
		eng := &rules.Engine{Graph: u.g, Objects: u.objs, Policy: mustPolicy(t, "rules:\n  not-patchable: {severity: off}\n")}
		res := eng.Run([]callgraph.NodeID{{Name: "nt", TU: "ftrace.o"}})
		check(t, "nt, not-patchable off", res, expect{
			targets: map[string]tw{
				"nt": {rule: rules.Containment, sev: rules.Must},
				"p1": {rule: rules.CallerAssumptions, sev: rules.Conditional, via: "nt", noNote: "ipa-ra"},
				"p2": {rule: rules.CallerAssumptions, sev: rules.Conditional, via: "nt", noNote: "ipa-ra"},
			},
		})
	})
}

// TestUnbuiltDeferred: with UnbuiltMany the targets nothing in the
// objects reaches are decided once the run is done, after one search for
// all their names, and the answer is the one deciding each at once
// gives, problems in the same order: whether a source of a directory not
// built names the target (a problem), none does (explained), or the
// sources could not be searched (a problem in a kernel build).
func TestUnbuiltDeferred(t *testing.T) {
	dir := buildFixture(t, "rule-notpatchable")
	u := loadUnit(t, dir, "ftrace.o")
	changed := []callgraph.NodeID{{Name: "nt_ptr", TU: "ftrace.o"}, {Name: "nt_dead", TU: "ftrace.o"}, {Name: "nt_both", TU: "ftrace.o"}}
	for _, c := range []struct {
		name     string
		files    []string
		searched bool
		want     string // in the deferred answer
	}{
		{"named by an unbuilt source", []string{"drivers/x/y.c"}, true, "sources in directories not built name it (drivers/x/y.c)"},
		{"named by none", []string{}, true, "nor does any source of a directory left unbuilt name it"},
		{"not searched", nil, false, "nt_dead (ftrace.o) cannot be patched and has no direct caller"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var many [][]string
			var asked []string
			engine := func(deferred bool) *rules.Engine {
				e := &rules.Engine{Graph: u.g, Objects: u.objs,
					KernelBuild: func(string) bool { return true },
					Unbuilt: func(tu, name string) ([]string, bool) {
						if deferred && len(many) == 0 {
							t.Errorf("Unbuilt(%s) asked before UnbuiltMany", name)
						}
						asked = append(asked, name)
						return c.files, c.searched
					}}
				if deferred {
					e.UnbuiltMany = func(tus, names []string) { many = append(many, names) }
				}
				return e
			}
			want := describe(engine(false).Run(changed))
			asked = nil
			got := describe(engine(true).Run(changed))
			if got != want {
				t.Errorf("deferred:\n%s\ndecided at once:\n%s", got, want)
			}
			if len(many) != 1 || strings.Join(many[0], " ") != "nt_dead" || strings.Join(asked, " ") != "nt_dead" {
				t.Errorf("UnbuiltMany called with %q, Unbuilt asked %q; want nt_dead once each", many, asked)
			}
			if !strings.Contains(got, c.want) || strings.Count(got, "problem ") < 2 {
				t.Errorf("the answer does not hold %q among other problems:\n%s", c.want, got)
			}
		})
	}
}
