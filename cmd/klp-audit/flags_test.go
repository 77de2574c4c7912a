package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/driver"
	"github.com/klp-audit/klp-audit/report"

	"gopkg.in/yaml.v3"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// TestNewFlagsCmd checks how arguments become options, without running.
func TestNewFlagsCmd(t *testing.T) {
	tests := []struct {
		name    string
		args    string
		want    FlagsOptions
		wantErr string
	}{
		{name: "defaults", args: "--build b",
			want: FlagsOptions{Format: "text", Options: driver.Options{Builds: []string{"b"}}}},
		{name: "everything", args: "--build a --build b --dumps-from l --format json --per-object",
			want: FlagsOptions{Format: "json", PerObject: true,
				Options: driver.Options{Builds: []string{"a", "b"}, DumpLists: []string{"l"}}}},
		{name: "bad format", args: "--build b --format dot", wantErr: `unknown format "dot", want one of text, table, yaml, json`},
		{name: "no positional args", args: "--build b extra", wantErr: `unknown command "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := testStreams()
			var got *FlagsOptions
			cmd := newFlagsCmd(s, func(o *FlagsOptions) error { got = o; return nil })
			cmd.SetArgs(strings.Fields(tt.args))
			cmd.SetOut(s.Out)
			cmd.SetErr(s.Err)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("args %q: error %v, want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("args %q: %v", tt.args, err)
			}
			if got.Format != tt.want.Format || got.PerObject != tt.want.PerObject ||
				!slices.Equal(got.Builds, tt.want.Builds) || !slices.Equal(got.DumpLists, tt.want.DumpLists) {
				t.Errorf("args %q:\n got %+v\nwant %+v", tt.args, *got, tt.want)
			}
		})
	}
}

// flagsJSON runs "flags --format json" in dir and decodes the report.
func flagsJSON(t *testing.T, dir string, args ...string) (int, *report.FlagsResult, string) {
	t.Helper()
	code, out, errs := run(t, dir, append([]string{"flags", "--format", "json"}, args...)...)
	var r report.FlagsResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("exit %d, output is not JSON: %v\n%s\nstderr:\n%s", code, err, out, errs)
	}
	return code, &r, errs
}

// setOfObject returns the set holding obj.
func setOfObject(t *testing.T, r *report.FlagsResult, obj string) report.FlagSet {
	t.Helper()
	for _, s := range r.Sets {
		if slices.Contains(s.Objects, obj) {
			return s
		}
	}
	t.Fatalf("no set holds %s: %+v", obj, r.Sets)
	return report.FlagSet{}
}

func liveIn(s report.FlagSet) map[string]bool {
	m := map[string]bool{}
	for _, a := range s.Analyses {
		m[a.Name] = a.Live
	}
	return m
}

// TestFlagsLivepatchFixture: the three builds of one source are told
// apart: IPA-RA live in plain.o, not in lp.o (-flive-patching) nor in
// ftrace.o (-pg), where pure-const stays live.
func TestFlagsLivepatchFixture(t *testing.T) {
	dir := fixture.Build(t, "livepatch-flags")
	code, r, errs := flagsJSON(t, dir, "--build", ".", "--per-object")
	if code != ExitOK || !r.Complete {
		t.Fatalf("exit %d, complete %v; stderr:\n%s", code, r.Complete, errs)
	}
	if r.Objects != 3 || len(r.Sets) != 3 || len(r.NoDebugInfo) != 0 {
		t.Errorf("%d objects in %d sets, %d without debug info; want 3 in 3, 0", r.Objects, len(r.Sets), len(r.NoDebugInfo))
	}
	tests := []struct {
		obj, lp, ftrace string
		live, dead      []string
	}{
		{"plain.o", "off", "none", []string{"ipa-ra", "ipa-pure-const", "ipa-icf", "inlining"}, nil},
		{"lp.o", "inline-clone", "none", []string{"inlining", "ipa-cp", "ipa-sra", "ipa-split"},
			[]string{"ipa-ra", "ipa-pure-const", "ipa-icf", "ipa-modref", "ipa-reference", "ipa-vrp", "ipa-bit-cp"}},
		{"ftrace.o", "off", "-pg -mfentry", []string{"ipa-pure-const", "ipa-icf"}, []string{"ipa-ra"}},
	}
	for _, tt := range tests {
		s := setOfObject(t, r, tt.obj)
		if s.Opt != "-O2" || s.LivePatching != tt.lp || s.Ftrace != tt.ftrace || s.LTO != "no" || !strings.HasPrefix(s.Compiler, "GNU C") {
			t.Errorf("%s: %+v", tt.obj, s)
		}
		l := liveIn(s)
		for _, n := range tt.live {
			if !l[n] {
				t.Errorf("%s: %s not live", tt.obj, n)
			}
		}
		for _, n := range tt.dead {
			if l[n] {
				t.Errorf("%s: %s live", tt.obj, n)
			}
		}
		if slices.Contains(s.LiveNotInDump, "inlining") {
			t.Errorf("%s: inlining listed as not in the dump", tt.obj)
		}
	}
	if len(r.PerObject) != 3 {
		t.Fatalf("per_object: %+v", r.PerObject)
	}
	for _, o := range r.PerObject {
		if !o.HasDump || len(o.Units) != 1 || !strings.Contains(o.Units[0].Producer, "-O2") || o.Units[0].From != ".debug_info" {
			t.Errorf("per_object %+v", o)
		}
	}

	// The text output says the same, with what it means for a livepatch.
	code, out, errs := run(t, dir, "flags", "--build", ".")
	if code != ExitOK {
		t.Fatalf("text: exit %d, stderr:\n%s", code, errs)
	}
	for _, w := range []string{
		"3 objects, 3 flag sets",
		"SET  OBJECTS  COMPILER",
		"Set 1: ftrace.o", "Set 2: lp.o", "Set 3: plain.o",
		"turned off by -pg/-p", "disabled by -flive-patching=inline-clone",
		"ipa-ra               callers may keep values in call-clobbered registers across calls",
		"ipa-icf              identical functions may be folded into one body",
		"live, recorded in the ipa-clones dump",
		"a kernel livepatch cannot replace these functions",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("text output lacks %q:\n%s", w, out)
		}
	}
}

// TestFlagsNoDebugInfo: an object built without -g is reported as such,
// never as a clean bill, with exit status 1; an object found only by the
// walk (no dump) is reported too.
func TestFlagsNoDebugInfo(t *testing.T) {
	dir := fixture.Build(t, "livepatch-flags")
	for _, c := range [][]string{
		{"-O2", "-c", "-o", "nodebug.o", "lp.c"},
		{"-O1", "-g", "-c", "-o", "sub/nodump.o", "lp.c"},
	} {
		if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("gcc", c...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", c, err, out)
		}
	}
	code, r, errs := flagsJSON(t, dir, "--build", ".", "--per-object")
	if code != ExitIncomplete || r.Complete {
		t.Errorf("exit %d, complete %v; want %d, false", code, r.Complete, ExitIncomplete)
	}
	if !slices.Equal(r.NoDebugInfo, []string{"nodebug.o"}) {
		t.Errorf("no_debug_info %v, want [nodebug.o]", r.NoDebugInfo)
	}
	if !strings.Contains(errs, "INCOMPLETE") {
		t.Errorf("stderr lacks the verdict:\n%s", errs)
	}
	s := setOfObject(t, r, "sub/nodump.o")
	if s.Opt != "-O1" || !liveIn(s)["ipa-pure-const"] || liveIn(s)["ipa-ra"] {
		t.Errorf("sub/nodump.o: %+v", s)
	}
	for _, o := range r.PerObject {
		if (o.Object == "sub/nodump.o" || o.Object == "nodebug.o") == o.HasDump {
			t.Errorf("%s: has_dump %v", o.Object, o.HasDump)
		}
	}

	for _, f := range []string{"text", "table", "yaml"} {
		t.Run(f, func(t *testing.T) {
			code, out, errs := run(t, dir, "flags", "--build", ".", "--format", f)
			if code != ExitIncomplete || !strings.Contains(errs, "INCOMPLETE") {
				t.Errorf("exit %d, stderr:\n%s", code, errs)
			}
			if f != "table" && !strings.Contains(out, "nodebug.o") {
				t.Errorf("output does not name nodebug.o:\n%s", out)
			}
			switch f {
			case "text":
				if !strings.Contains(out, "No debug info: build flags unknown — treat every analysis as live (1 objects):\n  nodebug.o") {
					t.Errorf("text output lacks the no-debug-info section:\n%s", out)
				}
			case "table":
				if !strings.Contains(out, "-\t1\tno debug info\t?") {
					t.Errorf("table lacks the no-debug-info row:\n%s", out)
				}
			case "yaml":
				var y report.FlagsResult
				if err := yaml.Unmarshal([]byte(out), &y); err != nil || y.Complete || len(y.Sets) != 4 {
					t.Errorf("yaml: %v, %+v", err, y)
				}
			}
		})
	}
}

// TestFlagsErrors checks the exit status and message of each failure.
func TestFlagsErrors(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name, args string
		code       int
		stderr     string
	}{
		{"no build", "flags", ExitUsage, "no build given"},
		{"missing build dir", "flags --build nowhere", ExitUsage, "build directory stat nowhere"},
		{"no objects", "flags --build .", ExitUsage, "no objects (*.o) found in ."},
		{"bad format", "flags --build . --format dot", ExitUsage, `unknown format "dot"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, empty, strings.Fields(tt.args)...)
			if code != tt.code || !strings.Contains(errs, tt.stderr) || out != "" {
				t.Errorf("exit %d (want %d), stdout %q, stderr %q (want %q)", code, tt.code, out, errs, tt.stderr)
			}
		})
	}
}

// TestFlagsKernel: mm/ is built with -pg -mfentry throughout: one set,
// IPA-RA off. kernel/ adds the notrace objects (kernel/trace/,
// irq_work.o), where IPA-RA is live but nothing can be livepatched.
func TestFlagsKernel(t *testing.T) {
	tree := fixture.KernelTree(t)
	code, r, errs := flagsJSON(t, tree, "--build", "mm")
	mmObjects := r.Objects
	if code != ExitOK || len(r.Sets) != 1 || r.Objects < 80 {
		t.Fatalf("mm: exit %d, %d objects in %d sets; stderr:\n%s", code, r.Objects, len(r.Sets), errs)
	}
	s := r.Sets[0]
	if s.Opt != "-O2" || s.Ftrace != "-pg -mfentry -mrecord-mcount" || s.LivePatching != "off" || liveIn(s)["ipa-ra"] ||
		!liveIn(s)["ipa-pure-const"] || !liveIn(s)["ipa-modref"] || !liveIn(s)["ipa-icf"] {
		t.Errorf("mm: %+v", s)
	}
	code, r, errs = flagsJSON(t, tree, "--build", "kernel")
	if code != ExitOK || len(r.Sets) != 2 {
		t.Fatalf("kernel: exit %d, %d sets; stderr:\n%s", code, len(r.Sets), errs)
	}
	nt := setOfObject(t, r, "trace/trace.o")
	if nt.Ftrace != "none" || !liveIn(nt)["ipa-ra"] || !slices.Contains(nt.Objects, "irq_work.o") {
		t.Errorf("kernel notrace set: %+v", nt)
	}
	t.Logf("mm: %d objects; kernel: %d objects, sets of %d and %d", mmObjects, r.Objects, len(r.Sets[0].Objects), len(r.Sets[1].Objects))
}
