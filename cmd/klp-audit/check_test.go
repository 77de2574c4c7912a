package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/driver"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/report"
)

// TestNewCmdCheck checks that arguments reach CheckOptions and that bad
// flag combinations are refused before anything is read.
func TestNewCmdCheck(t *testing.T) {
	tests := []struct {
		name    string
		args    string
		wantErr string
		want    CheckOptions
	}{
		{name: "livepatch", args: "--diff f.patch --build b --livepatch lp.c",
			want: CheckOptions{Diff: "f.patch", Livepatch: "lp.c", Format: "text", Options: driver.Options{Builds: []string{"b"}}}},
		{name: "funcs, yaml, orig/patched", args: "--diff f.patch --build b --funcs l.yaml --format yaml --orig o --patched p --vmlinux v",
			want: CheckOptions{Diff: "f.patch", Funcs: "l.yaml", Format: "yaml", Orig: "o", Patched: "p", Vmlinux: []string{"v"},
				Options: driver.Options{Builds: []string{"b"}}}},
		{name: "rebuild flags", args: "--diff f.patch --build b --livepatch lp.c --no-rebuild -j 3 --rebuild-cache /c --rebuild-max 5",
			want: CheckOptions{Diff: "f.patch", Livepatch: "lp.c", Format: "text", Options: driver.Options{Builds: []string{"b"}},
				Rebuild: driver.RebuildOptions{Off: true, Jobs: 3, CacheDir: "/c", MaxUnits: 5}}},
		{name: "both livepatch and funcs", args: "--diff f.patch --build b --livepatch lp.c --funcs l.yaml", wantErr: "exactly one of --livepatch"},
		{name: "neither", args: "--diff f.patch --build b", wantErr: "exactly one of --livepatch"},
		{name: "orig alone", args: "--diff f.patch --build b --livepatch lp.c --orig o", wantErr: "--orig and --patched go together"},
		{name: "bad format", args: "--diff f.patch --build b --livepatch lp.c --format dot", wantErr: `unknown format "dot"`},
		{name: "no diff", args: "--build b --livepatch lp.c", wantErr: `required flag(s) "diff" not set`},
		{name: "fuzz", args: "--diff f.patch --build b --livepatch lp.c --fuzz 2",
			want: CheckOptions{Diff: "f.patch", Livepatch: "lp.c", Format: "text", Fuzz: 2, Options: driver.Options{Builds: []string{"b"}}}},
		{name: "negative fuzz", args: "--diff f.patch --build b --livepatch lp.c --fuzz -1", wantErr: "--fuzz -1: want a number of lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := testStreams()
			var got *CheckOptions
			cmd := newCheckCmd(s, func(o *CheckOptions) error { got = o; return nil })
			cmd.SetArgs(strings.Fields(tt.args))
			cmd.SetOut(s.Out)
			cmd.SetErr(s.Err)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("%s: error %v, want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tt.args, err)
			}
			got.Streams = nil
			if got.Diff != tt.want.Diff || got.Livepatch != tt.want.Livepatch || got.Funcs != tt.want.Funcs ||
				got.Format != tt.want.Format || got.Orig != tt.want.Orig || got.Patched != tt.want.Patched || got.Fuzz != tt.want.Fuzz ||
				strings.Join(got.Builds, ",") != strings.Join(tt.want.Builds, ",") ||
				strings.Join(got.Vmlinux, ",") != strings.Join(tt.want.Vmlinux, ",") ||
				tt.want.Rebuild.MaxUnits != 0 && got.Rebuild != tt.want.Rebuild {
				t.Errorf("%s:\ngot  %+v\nwant %+v", tt.args, *got, tt.want)
			}
		})
	}
}

// checkJSON runs check in dir with --format json and decodes the result.
func checkJSON(t *testing.T, dir string, args ...string) (int, *report.CheckResult, string) {
	t.Helper()
	code, out, errs := run(t, dir, append(append([]string{"check"}, args...), "--format", "json")...)
	if code == ExitUsage {
		return code, nil, errs
	}
	var res report.CheckResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("check %s: exit %d, output not JSON: %v\n%s\nstderr:\n%s", strings.Join(args, " "), code, err, out, errs)
	}
	return code, &res, errs
}

func names(ts []report.CheckTarget) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.Name)
	}
	return strings.Join(s, ",")
}

// TestCheckFixture runs check on the compiled klp-check fixture: the fix
// changes clamp_len, which GCC inlines into read_msg and write_msg.
func TestCheckFixture(t *testing.T) {
	dir := fixture.Build(t, "klp-check")
	t.Run("complete", func(t *testing.T) {
		// Without a rebuild (no .cmd files here) nothing decides whether
		// the fix changes what send_msg assumed of write_msg: a livepatch
		// that leaves the conditional target out is incomplete, naming it.
		code, res, errs := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--livepatch", "complete.c")
		if code != ExitIncomplete || res.Verdict != "incomplete" || len(res.Missing) != 0 {
			t.Fatalf("complete.c: exit %d, verdict %q, missing %q, want 1, incomplete, none; problems %v\nstderr: %s", code, res.Verdict, names(res.Missing), res.Problems, errs)
		}
		failClosed := 0
		for _, p := range res.Problems {
			if p.Kind == report.KindFailClosed && strings.Contains(p.Message, "does not replace 1 conditional target (send_msg)") && p.File == "fix.patch" {
				failClosed++
			}
		}
		if failClosed != 1 || len(res.Problems) != 1 {
			t.Errorf("problems %+v, want one fail-closed problem naming send_msg", res.Problems)
		}
		// send_msg relies on write_msg's body: conditional, not missing.
		if len(res.Conditional) != 1 || res.Conditional[0].Name != "send_msg" || res.Conditional[0].Severity != "conditional" ||
			!strings.HasPrefix(res.Conditional[0].Note, "needed only if your fix changes what send_msg assumed of write_msg") {
			t.Errorf("conditional %+v, want send_msg with its condition", res.Conditional)
		}
		_, out, _ := run(t, dir, "check", "--diff", "fix.patch", "--build", ".", "--livepatch", "complete.c")
		if !strings.Contains(out, "conditional, needed only if the fix changes what each assumed (1):\n  (klp_object unknown) send_msg [check.o]") {
			t.Errorf("text output lacks send_msg as conditional:\n%s", out)
		}
		// Replacing the conditional target too is complete.
		code, res, errs = checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--livepatch", "cautious.c")
		if code != ExitOK || res.Verdict != "complete" {
			t.Fatalf("cautious.c: exit %d, verdict %q, want 0, complete; problems %v; missing %s\nstderr: %s", code, res.Verdict, res.Problems, names(res.Missing), errs)
		}
		covered := strings.Split(names(res.Covered), ",")
		sort.Strings(covered)
		if strings.Join(covered, ",") != "read_msg,send_msg,write_msg" || len(res.Conditional) != 0 {
			t.Errorf("covered %q, conditional %q; want read_msg, send_msg and write_msg covered", covered, names(res.Conditional))
		}
		if len(res.Changed) != 1 || res.Changed[0].Name != "clamp_len" || res.Changed[0].File != "check.c" {
			t.Errorf("changed %+v, want clamp_len in check.c", res.Changed)
		}
		if len(res.Hunks) != 1 || res.Hunks[0].Kind != "function" || res.Hunks[0].Line != 17 {
			t.Errorf("hunks %+v, want one function hunk at line 17", res.Hunks)
		}
	})
	t.Run("caller-assumptions must", func(t *testing.T) {
		// The policy of the time before the conditional tier: send_msg
		// is missing, and the same livepatch fails.
		pol := filepath.Join(t.TempDir(), "must.yaml")
		if err := os.WriteFile(pol, []byte("rules:\n  caller-assumptions: {severity: must}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, res, _ := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--livepatch", "complete.c", "--policy", pol)
		if code != ExitIncomplete || res.Verdict != "missing" || names(res.Missing) != "send_msg" || len(res.Conditional) != 0 {
			t.Errorf("exit %d verdict %q missing %q conditional %q, want 1, missing send_msg", code, res.Verdict, names(res.Missing), names(res.Conditional))
		}
	})
	t.Run("incomplete livepatch", func(t *testing.T) {
		code, res, _ := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--livepatch", "incomplete.c")
		if code != ExitIncomplete || res.Verdict != "missing" {
			t.Fatalf("exit %d, verdict %q, want 1, missing", code, res.Verdict)
		}
		if len(res.Missing) != 1 {
			t.Fatalf("missing %s, want write_msg", names(res.Missing))
		}
		m := res.Missing[0]
		if m.Name != "write_msg" || m.Because != "clamp_len" || m.Rule != "containment" || m.File != "check.c" || m.Line != 17 {
			t.Errorf("missing %+v, want write_msg because clamp_len (containment) at check.c:17", m)
		}
		if len(m.Chain) == 0 || m.Chain[len(m.Chain)-1].From != "clamp_len" || m.Chain[len(m.Chain)-1].To != "write_msg" {
			t.Errorf("chain %+v, want clamp_len -> write_msg", m.Chain)
		}
		// The text names the function and its reason.
		_, out, _ := run(t, dir, "check", "--diff", "fix.patch", "--build", ".", "--livepatch", "incomplete.c")
		if !strings.HasPrefix(out, "verdict: missing") || !strings.Contains(out, "write_msg") || !strings.Contains(out, "containment") {
			t.Errorf("text output:\n%s\nwant the verdict first, write_msg and its rule", out)
		}
	})
	t.Run("funcs list", func(t *testing.T) {
		list := filepath.Join(t.TempDir(), "funcs.yaml")
		if err := os.WriteFile(list, []byte("- object: vmlinux\n  old_name: read_msg\n- old_name: write_msg\n- old_name: send_msg\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, res, _ := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--funcs", list)
		if code != ExitOK || res.Verdict != "complete" {
			t.Fatalf("exit %d, verdict %q, want 0, complete", code, res.Verdict)
		}
	})
	t.Run("data change", func(t *testing.T) {
		code, res, _ := checkJSON(t, dir, "--diff", "data.patch", "--build", ".", "--livepatch", "complete.c")
		if code != ExitIncomplete || res.Verdict != "data-change" {
			t.Fatalf("exit %d, verdict %q, want 1, data-change", code, res.Verdict)
		}
		if len(res.Hunks) != 1 || res.Hunks[0].Kind != "data" {
			t.Errorf("hunks %+v, want one data hunk", res.Hunks)
		}
	})
	t.Run("diff does not apply", func(t *testing.T) {
		stale := filepath.Join(t.TempDir(), "stale.patch")
		data, _ := os.ReadFile(filepath.Join(dir, "fix.patch"))
		if err := os.WriteFile(stale, []byte(strings.Replace(string(data), " \tif (len > 64)", " \tif (len > 32)", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errs := run(t, dir, "check", "--diff", stale, "--build", ".", "--livepatch", "complete.c")
		if code != ExitUsage || out != "" ||
			!strings.Contains(errs, "the diff does not apply to the build's sources: check.c: hunk #1 (@@ -14,6 +14,8 @@) does not apply: it comes closest at line 14") ||
			!strings.Contains(errs, `check.c:17: the hunk expects "\tif (len > 32)", the file has "\tif (len > 64)"`) {
			t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, the hunk, its closest place and the mismatching line", code, out, errs)
		}
	})
	t.Run("hunk at an offset", func(t *testing.T) {
		// The same fix, made against a copy of check.c that had 10 lines
		// fewer above clamp_len: it applies 10 lines further down.
		moved := filepath.Join(t.TempDir(), "moved.patch")
		data, _ := os.ReadFile(filepath.Join(dir, "fix.patch"))
		if !strings.Contains(string(data), "@@ -14,6 +14,8 @@") {
			t.Fatalf("fix.patch has no hunk at line 14:\n%s", data)
		}
		if err := os.WriteFile(moved, []byte(strings.Replace(string(data), "@@ -14,6 +14,8 @@", "@@ -4,6 +4,8 @@", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		if gnu, err := exec.LookPath("patch"); err == nil {
			cmd := exec.Command(gnu, "--dry-run", "--batch", "-F", "0", "-p1", "-i", moved)
			cmd.Dir = dir
			log, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(log), "Hunk #1 succeeded at 14 (offset 10 lines).") {
				t.Fatalf("GNU patch: %v\n%s\nwant hunk #1 at offset 10", err, log)
			}
		}
		code, res, errs := checkJSON(t, dir, "--diff", moved, "--build", ".", "--livepatch", "cautious.c")
		if code != ExitOK || res.Verdict != "complete" {
			t.Fatalf("exit %d, verdict %q, want 0, complete\nstderr: %s", code, res.Verdict, errs)
		}
		if len(res.Hunks) != 1 || res.Hunks[0].Offset != 10 || res.Hunks[0].Line != 17 || len(res.Hunks[0].Functions) != 1 || res.Hunks[0].Functions[0] != "clamp_len" {
			t.Errorf("hunks %+v, want one at line 17, offset 10, changing clamp_len", res.Hunks)
		}
		if len(res.Changed) != 1 || res.Changed[0].Name != "clamp_len" || res.Changed[0].Line != 17 {
			t.Errorf("changed %+v, want clamp_len at line 17", res.Changed)
		}
		_, out, _ := run(t, dir, "check", "--diff", moved, "--build", ".", "--livepatch", "cautious.c")
		if !strings.Contains(out, "check.c:17: hunk #1 applied at offset 10 lines\n") {
			t.Errorf("text output:\n%s\nwant hunk #1 applied at offset 10 lines", out)
		}
	})
	t.Run("no klp_func arrays", func(t *testing.T) {
		code, out, errs := run(t, dir, "check", "--diff", "fix.patch", "--build", ".", "--livepatch", "check.c")
		if code != ExitUsage || out != "" || !strings.Contains(errs, "livepatch check.c: no struct klp_func array found") {
			t.Errorf("exit %d, stdout %q, stderr %q; want 2 naming check.c", code, out, errs)
		}
	})
}

// TestCheckWithoutDumps checks a build compiled without
// -fdump-ipa-clones: exit 2, nothing reported safe.
func TestCheckWithoutDumps(t *testing.T) {
	dir := fixture.Build(t, "klp-check")
	dumps, _ := filepath.Glob(filepath.Join(dir, "*.ipa-clones"))
	for _, d := range dumps {
		os.Remove(d)
	}
	// Without a dump, check.o's inlining comes from its DWARF (built
	// with -g): the same verdicts as with the dump.
	code, res, errs := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--livepatch", "cautious.c")
	if code != ExitOK || res.Verdict != "complete" {
		t.Errorf("cautious.c without dumps: exit %d, verdict %q, stderr %q; want 0, complete from DWARF", code, res.Verdict, errs)
	}
	code, res, _ = checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--livepatch", "incomplete.c")
	if code != ExitIncomplete || res.Verdict != "missing" {
		t.Errorf("incomplete.c without dumps: exit %d, verdict %q; want 1, missing", code, res.Verdict)
	}
	// Without debug info either, nothing tells where its code went: no
	// unit is left to answer from, and the error names the object.
	strip := exec.Command("objcopy", "--strip-debug", "check.o")
	strip.Dir = dir
	if out, err := strip.CombinedOutput(); err != nil {
		t.Skipf("objcopy: %v\n%s", err, out)
	}
	code, out, errstr := run(t, dir, "check", "--diff", "fix.patch", "--build", ".", "--livepatch", "complete.c")
	if code == ExitOK || !strings.Contains(out+errstr, "check.o") || !strings.Contains(out+errstr, "no DWARF") {
		t.Errorf("stripped: exit %d, stdout %q, stderr %q; want a failure naming check.o without DWARF", code, out, errstr)
	}
}

// TestCheckBuildTruth compares the original and the patched build of the
// fixture: write_msg's code changed, so incomplete.c fails here too.
func TestCheckBuildTruth(t *testing.T) {
	dir := fixture.Build(t, "klp-check")
	pdir := filepath.Join(t.TempDir(), "patched")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "check.c"))
	if err != nil {
		t.Fatal(err)
	}
	fixed := strings.Replace(string(src), "\tif (len > 64)\n", "\tif (len < 0)\n\t\treturn 0;\n\tif (len > 64)\n", 1)
	if err := os.WriteFile(filepath.Join(pdir, "check.c"), []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("gcc", "-O2", "-g", "-c", "check.c", "-o", "check.o")
	cmd.Dir = pdir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	orig, patched := filepath.Join(dir, "check.o"), filepath.Join(pdir, "check.o")
	code, res, _ := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--livepatch", "complete.c", "--orig", orig, "--patched", patched)
	if code != ExitOK || res.BuildTruth == nil || len(res.BuildTruth.Unreplaced) != 0 {
		t.Errorf("complete.c: exit %d, build truth %+v; want 0, nothing unreplaced", code, res.BuildTruth)
	}
	code, res, _ = checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--livepatch", "incomplete.c", "--orig", orig, "--patched", patched)
	if code != ExitIncomplete || res.Verdict != "missing" || res.BuildTruth == nil {
		t.Fatalf("incomplete.c: exit %d, verdict %q; want 1, missing", code, res.Verdict)
	}
	found := false
	for _, f := range res.BuildTruth.Unreplaced {
		found = found || f.OldName == "write_msg"
	}
	if !found {
		t.Errorf("unreplaced %+v, want write_msg", res.BuildTruth.Unreplaced)
	}
}

// TestCheckHeaderInline checks a fix to a static inline function of a
// header: every translation unit that includes it has its own copy, so
// both callers must be replaced; a change on the closing lines of the
// body (no line-table row) still counts as a change to the function.
func TestCheckHeaderInline(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	files := map[string]string{
		"h.h":       "static inline int scale(int x)\n{\n\treturn x * 3;\n}\n",
		"a.c":       "#include \"h.h\"\nint fa(int x)\n{\n\treturn scale(x) + 1;\n}\n",
		"b.c":       "#include \"h.h\"\nint fb(int x)\n{\n\treturn scale(x) + 2;\n}\n",
		"fix.patch": "--- a/h.h\n+++ b/h.h\n@@ -1,4 +1,4 @@\n static inline int scale(int x)\n {\n-\treturn x * 3;\n+\treturn x * 5;\n }\n",
		"lp.yaml":   "- old_name: fa\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"a", "b"} {
		cmd := exec.Command("gcc", "-O2", "-g", "-fdump-ipa-clones", "-c", f+".c", "-o", f+".o")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
	}
	code, res, _ := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--funcs", "lp.yaml")
	if code != ExitIncomplete || res.Verdict != "missing" || names(res.Missing) != "fb" || len(res.Problems) != 0 {
		t.Fatalf("exit %d, verdict %q, missing %q, problems %v; want 1, missing, fb, none", code, res.Verdict, names(res.Missing), res.Problems)
	}
	if len(res.Changed) != 1 || strings.Join(res.Changed[0].TUs, ",") != "a.o,b.o" {
		t.Errorf("changed %+v, want scale in a.o and b.o", res.Changed)
	}
}

// TestCheckRebuildFixture: with the build's sources and a kbuild .cmd
// file for check.o, check rebuilds it, original and patched, and answers
// with what changed: clamp_len is inlined into read_msg and write_msg, so
// both changed, each holding its code, each covered directly by the
// livepatch (or missing). Without the .cmd file the answer is the
// prediction, and the report says so once.
func TestCheckRebuildFixture(t *testing.T) {
	dir := fixture.Build(t, "klp-check")
	t.Run("no cmd files", func(t *testing.T) {
		code, res, _ := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--livepatch", "cautious.c")
		if code != ExitOK || res.Rebuild == nil || res.Rebuild.Rebuilt || !strings.Contains(res.Rebuild.Note, "no kbuild .cmd file") {
			t.Fatalf("exit %d, rebuild %+v: want the prediction, said so", code, res.Rebuild)
		}
		_, out, _ := run(t, dir, "check", "--diff", "fix.patch", "--build", ".", "--livepatch", "complete.c")
		if strings.Count(out, "not rebuilt:") != 1 {
			t.Errorf("text output says \"not rebuilt\" %d times, want once:\n%s", strings.Count(out, "not rebuilt:"), out)
		}
		_, res, _ = checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--livepatch", "complete.c", "--no-rebuild")
		if res.Rebuild != nil {
			t.Errorf("--no-rebuild: rebuild %+v, want none", res.Rebuild)
		}
	})
	cmd := "cmd_check.o := gcc -Wp,-MMD,./.check.o.d -O2 -g -fdump-ipa-clones -c -o check.o check.c\n\n" +
		"source_check.o := check.c\n\ndeps_check.o := \\\n\ncheck.o: $(deps_check.o)\n\n$(deps_check.o):\n"
	if err := os.WriteFile(filepath.Join(dir, ".check.o.cmd"), []byte(cmd), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		livepatch, verdict string
		coverage           map[string]string
	}{
		{"complete.c", "complete", map[string]string{"read_msg": report.CoverageDirect, "write_msg": report.CoverageDirect}},
		{"incomplete.c", "missing", map[string]string{"read_msg": report.CoverageDirect, "write_msg": report.CoverageMissing}},
	} {
		t.Run(tc.livepatch, func(t *testing.T) {
			_, res, errs := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--livepatch", tc.livepatch, "--rebuild-cache", "off")
			rb := res.Rebuild
			if rb == nil || !rb.Rebuilt || len(rb.Units) != 1 || rb.Units[0].Object != "check.o" || !rb.Units[0].Faithful {
				t.Fatalf("rebuild %+v\nproblems %+v\n%s", rb, res.Problems, errs)
			}
			if res.Verdict != tc.verdict {
				t.Errorf("verdict %s, want %s; problems %+v", res.Verdict, tc.verdict, res.Problems)
			}
			got := map[string]string{}
			for _, f := range rb.Functions {
				got[f.Name] = f.Coverage
				if f.Cause != report.CauseInlinedCode || !strings.Contains(f.Detail, "clamp_len") || !f.Predicted {
					t.Errorf("%s: cause %s (%s), predicted %v; want the inlined code of clamp_len, predicted", f.Name, f.Cause, f.Detail, f.Predicted)
				}
			}
			if len(got) != len(tc.coverage) {
				t.Errorf("changed functions %v, want %v", got, tc.coverage)
			}
			for n, c := range tc.coverage {
				if got[n] != c {
					t.Errorf("%s: coverage %q, want %q", n, got[n], c)
				}
			}
		})
	}
	// The tree's sources were not touched: check.c is still the original.
	data, _ := os.ReadFile(filepath.Join(dir, "check.c"))
	if strings.Contains(string(data), "len < 0") {
		t.Error("check.c was patched in place")
	}
}

// TestCheckWeakStub: kernel/sys_ni.o defines weak COND_SYSCALL stubs of
// the syscalls; the link keeps the strong definition, and kallsyms lists
// it alone. A klp_func naming the syscall without old_sympos resolves to
// it, not to an ambiguity the kernel would refuse.
func TestCheckWeakStub(t *testing.T) {
	fixture.NeedTools(t, "gcc", "readelf")
	dir := t.TempDir()
	files := map[string]string{
		"sys_ni.c":  "long __attribute__((weak)) __x64_sys_frob(long x) { return -38; }\n",
		"frob.c":    "long __x64_sys_frob(long x)\n{\n\treturn x * 2;\n}\n",
		"fix.patch": "--- a/frob.c\n+++ b/frob.c\n@@ -1,4 +1,4 @@\n long __x64_sys_frob(long x)\n {\n-\treturn x * 2;\n+\treturn x * 3;\n }\n",
		"lp.yaml":   "- old_name: __x64_sys_frob\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"sys_ni", "frob"} {
		fixture.Run(t, dir, "gcc", "-O2", "-g", "-fdump-ipa-clones", "-c", f+".c", "-o", f+".o")
	}
	out, err := exec.Command("readelf", "-sW", filepath.Join(dir, "sys_ni.o")).Output()
	if err != nil || !regexp.MustCompile(`FUNC +WEAK .* __x64_sys_frob\n`).Match(out) {
		t.Fatalf("gcc %s: sys_ni.o does not define __x64_sys_frob weak: %v\n%s", fixture.GCCVersion(), err, out)
	}
	code, res, errs := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--funcs", "lp.yaml")
	if code != ExitOK || res.Verdict != "complete" || len(res.Unresolved) != 0 {
		t.Errorf("exit %d, verdict %q, unresolved %+v, problems %+v\n%s; want 0, complete", code, res.Verdict, res.Unresolved, res.Problems, errs)
	}
}

// TestCheckRebuildData: with the rebuild, a fix's data is decided by what
// the compiler made of it. A new static (a lock, a WARN_ONCE flag) is
// carried by the livepatch module: the check passes with a note. A
// changed initial value of an existing variable, or a struct's layout,
// no function replacement carries: data-change. What gcc made is checked
// with readelf and objdump.
func TestCheckRebuildData(t *testing.T) {
	fixture.NeedTools(t, "gcc", "readelf", "objdump")
	src := "struct acct {\n\tint used;\n};\n\nstatic struct acct acct;\nstatic int limit = 10;\n\nvoid set_limit(int l)\n{\n\tlimit = l;\n}\n\nint bump(int x)\n{\n\tacct.used += x;\n\treturn acct.used > limit;\n}\n"
	fixes := map[string]struct{ from, to string }{
		"added":   {"static int limit = 10;\n", "static int limit = 10;\nstatic int bumps;\n"},
		"changed": {"static int limit = 10;\n", "static int limit = 20;\n"},
		"layout":  {"\tint used;\n", "\tint used;\n\tint peak;\n"},
	}
	uses := map[string]struct{ from, to string }{
		"added":  {"\tacct.used += x;\n", "\tbumps++;\n\tacct.used += x;\n"},
		"layout": {"\tacct.used += x;\n", "\tacct.used += x;\n\tif (acct.used > acct.peak)\n\t\tacct.peak = acct.used;\n"},
	}
	for name, fx := range fixes {
		t.Run(name, func(t *testing.T) {
			patched := strings.Replace(src, fx.from, fx.to, 1)
			if u, ok := uses[name]; ok {
				patched = strings.Replace(patched, u.from, u.to, 1)
			}
			dir, truth := oneUnitFix(t, src, patched)
			syms, _ := exec.Command("readelf", "-sW", filepath.Join(truth, "u.o")).Output()
			data, _ := exec.Command("objdump", "-s", "-j", ".data", filepath.Join(truth, "u.o")).Output()
			switch name {
			case "added":
				if !regexp.MustCompile(`OBJECT +LOCAL .* bumps\n`).Match(syms) {
					t.Fatalf("gcc %s: no local object bumps in the patched object:\n%s", fixture.GCCVersion(), syms)
				}
			case "changed":
				if !strings.Contains(string(data), " 14000000") {
					t.Fatalf("gcc %s: .data does not hold limit = 20:\n%s", fixture.GCCVersion(), data)
				}
			}
			code, res, errs := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--funcs", "lp.yaml", "--rebuild-cache", "off")
			if res == nil || res.Rebuild == nil || !res.Rebuild.Rebuilt {
				t.Fatalf("exit %d: not rebuilt: %+v\n%s", code, res, errs)
			}
			var statuses []string
			for _, d := range res.Rebuild.Data {
				statuses = append(statuses, d.Name+" "+string(d.Status))
			}
			switch name {
			case "added":
				if code != ExitOK || res.Verdict != "complete" || strings.Join(statuses, ",") != "bumps added" {
					t.Errorf("exit %d, verdict %q, data %v, problems %+v; want 0, complete, bumps added", code, res.Verdict, statuses, res.Problems)
				}
			case "changed":
				if code != ExitIncomplete || res.Verdict != "data-change" || strings.Join(statuses, ",") != "limit changed" {
					t.Errorf("exit %d, verdict %q, data %v; want 1, data-change, limit changed", code, res.Verdict, statuses)
				}
			case "layout":
				if code != ExitIncomplete || res.Verdict != "data-change" || len(res.Hunks) == 0 || !res.Hunks[0].DataLayout {
					t.Errorf("exit %d, verdict %q, hunks %+v; want 1, data-change, a layout hunk", code, res.Verdict, res.Hunks)
				}
			}
			// impacted --fix says the same: a changed value or layout
			// leaves the answer incomplete, a new static does not.
			icode, out, ierrs := run(t, dir, "impacted", "--build", ".", "--func", "bump", "--fix", "fix.patch", "--rebuild-cache", "off", "--format", "json")
			var ir report.Result
			if err := json.Unmarshal([]byte(out), &ir); err != nil {
				t.Fatalf("impacted --fix: exit %d, %v\n%s", icode, err, ierrs)
			}
			dataProblem := false
			for _, p := range ir.Problems {
				dataProblem = dataProblem || p.Kind == report.KindFailClosed && strings.Contains(p.Message, "the fix changes data")
			}
			if want := name != "added"; dataProblem != want || ir.Complete == want {
				t.Errorf("impacted --fix: complete %v, data problem %v, problems %+v; want data problem %v", ir.Complete, dataProblem, ir.Problems, want)
			}
		})
	}
}

// TestCheckRebuildHeader: a fix to a header rebuilds only the units
// holding the code of the function its hunk changes. h.h's scale is
// inlined into a.o and b.o; c.o includes h.h (its kbuild dependency list
// names it) but uses only twice, so recompiling c.c with the fixed
// header gives the same code, and c.o is not rebuilt. A hunk changing a
// macro rebuilds every unit reading the header; a unit whose dump cannot
// be read is rebuilt too, and the note says so.
func TestCheckRebuildHeader(t *testing.T) {
	fixture.NeedTools(t, "gcc", "objdump")
	const header = "#define SCALE 3\n" +
		"static inline int scale(int x)\n{\n\treturn x * SCALE;\n}\n" +
		"static inline int twice(int x)\n{\n\treturn x + x;\n}\n"
	units := map[string]string{
		"a": "#include \"h.h\"\nint fa(int x)\n{\n\treturn scale(x) + 1;\n}\n",
		"b": "#include \"h.h\"\nint fb(int x)\n{\n\treturn scale(x) + 2;\n}\n",
		"c": "#include \"h.h\"\nint fc(int x)\n{\n\treturn twice(x) + 3;\n}\n",
	}
	fixed := strings.Replace(header, "\treturn x * SCALE;\n", "\treturn x * SCALE + 1;\n", 1)
	fnFix := "--- a/h.h\n+++ b/h.h\n@@ -2,5 +2,5 @@\n static inline int scale(int x)\n {\n-\treturn x * SCALE;\n+\treturn x * SCALE + 1;\n }\n static inline int twice(int x)\n"
	macroFix := "--- a/h.h\n+++ b/h.h\n@@ -1,3 +1,3 @@\n-#define SCALE 3\n+#define SCALE 4\n static inline int scale(int x)\n {\n"
	gcc := func(u string) string {
		return "gcc -Wp,-MMD,./." + u + ".o.d -O2 -g -fdump-ipa-clones -c -o " + u + ".o " + u + ".c"
	}
	compile := func(t *testing.T, dir, u string) {
		t.Helper()
		cmd := exec.Command("sh", "-c", gcc(u))
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
	}
	// tree writes the build: sources, objects, dumps and kbuild .cmd
	// files naming h.h in each unit's dependency list.
	tree := func(t *testing.T, h string) string {
		dir := t.TempDir()
		files := map[string]string{"h.h": h, "fn.patch": fnFix, "macro.patch": macroFix,
			"lp.yaml": "- old_name: fa\n- old_name: fb\n"}
		for u, src := range units {
			files[u+".c"] = src
			files["."+u+".o.cmd"] = "cmd_" + u + ".o := " + gcc(u) + "\n\nsource_" + u + ".o := " + u + ".c\n\n" +
				"deps_" + u + ".o := \\\n  h.h \\\n\n" + u + ".o: $(deps_" + u + ".o)\n\n$(deps_" + u + ".o):\n"
		}
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for u := range units {
			compile(t, dir, u)
		}
		return dir
	}
	disasm := func(t *testing.T, obj string) string {
		t.Helper()
		out, err := exec.Command("objdump", "-d", "--no-show-raw-insn", obj).Output()
		if err != nil {
			t.Fatalf("objdump %s: %v", obj, err)
		}
		_, body, _ := strings.Cut(string(out), "Disassembly")
		return body
	}
	rebuilt := func(t *testing.T, res *report.CheckResult, errs string) string {
		t.Helper()
		if res == nil {
			t.Fatalf("check refused the fix: %s", errs)
		}
		var us []string
		if res.Rebuild != nil {
			for _, u := range res.Rebuild.Units {
				us = append(us, u.Object)
			}
		}
		sort.Strings(us)
		return strings.Join(us, ",")
	}

	orig, patched := tree(t, header), tree(t, fixed)
	// The compiler's truth: which units' code the fix changes.
	var differ []string
	for _, u := range []string{"a", "b", "c"} {
		if disasm(t, filepath.Join(orig, u+".o")) != disasm(t, filepath.Join(patched, u+".o")) {
			differ = append(differ, u+".o")
		}
	}
	if strings.Join(differ, ",") != "a.o,b.o" {
		t.Fatalf("the fix changes the code of %v, want a.o and b.o: the fixture proves nothing", differ)
	}

	t.Run("function hunk", func(t *testing.T) {
		code, res, errs := checkJSON(t, orig, "--diff", "fn.patch", "--build", ".", "--funcs", "lp.yaml", "--rebuild-cache", "off")
		if got := rebuilt(t, res, errs); got != strings.Join(differ, ",") {
			t.Fatalf("rebuilt %q, want %q (the units whose code the fix changes); rebuild %+v, problems %+v\n%s", got, strings.Join(differ, ","), res.Rebuild, res.Problems, errs)
		}
		if !strings.Contains(res.Rebuild.Note, "2 of the 3 units") || !strings.Contains(res.Rebuild.Note, "scale") {
			t.Errorf("note %q, want the count of units holding scale's code: 2 of the 3", res.Rebuild.Note)
		}
		var fns []string
		for _, f := range res.Rebuild.Functions {
			fns = append(fns, f.TU+":"+f.Name)
		}
		sort.Strings(fns)
		if strings.Join(fns, ",") != "a.o:fa,b.o:fb" {
			t.Errorf("changed in the rebuild %v, want a.o:fa and b.o:fb", fns)
		}
		if code != ExitOK || res.Verdict != "complete" || len(res.Problems) != 0 {
			t.Errorf("exit %d, verdict %s, problems %+v; want 0, complete, none", code, res.Verdict, res.Problems)
		}
	})
	t.Run("impacted --fix", func(t *testing.T) {
		_, res, errs := impactedJSON(t, orig, "--func", "scale", "--fix", "fn.patch", "--build", ".", "--rebuild-cache", "off")
		var us []string
		if res.Rebuild != nil {
			for _, u := range res.Rebuild.Units {
				us = append(us, u.Object)
			}
		}
		sort.Strings(us)
		if strings.Join(us, ",") != strings.Join(differ, ",") {
			t.Fatalf("rebuilt %v, want %v; rebuild %+v, problems %+v\n%s", us, differ, res.Rebuild, res.Problems, errs)
		}
	})
	t.Run("macro hunk", func(t *testing.T) {
		_, res, errs := checkJSON(t, orig, "--diff", "macro.patch", "--build", ".", "--funcs", "lp.yaml", "--rebuild-cache", "off")
		if got := rebuilt(t, res, errs); got != "a.o,b.o,c.o" {
			t.Fatalf("rebuilt %q, want every unit reading h.h; rebuild %+v, problems %+v\n%s", got, res.Rebuild, res.Problems, errs)
		}
		if !strings.Contains(res.Rebuild.Note, "changes a macro") || !strings.Contains(res.Rebuild.Note, "(3)") {
			t.Errorf("note %q, want the macro hunk and the count of units", res.Rebuild.Note)
		}
	})
	t.Run("unreadable dump", func(t *testing.T) {
		dump := filepath.Join(orig, "c.c.000i.ipa-clones")
		data, err := os.ReadFile(dump)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(dump, data, 0o644)
		if err := os.WriteFile(dump, append(append([]byte(nil), data...), "Callgraph clone;garbage\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
		_, res, errs := checkJSON(t, orig, "--diff", "fn.patch", "--build", ".", "--funcs", "lp.yaml", "--rebuild-cache", "off")
		if got := rebuilt(t, res, errs); got != "a.o,b.o,c.o" {
			t.Fatalf("rebuilt %q, want c.o too (its dump cannot be read); rebuild %+v, problems %+v\n%s", got, res.Rebuild, res.Problems, errs)
		}
		t.Logf("note: %s; problems %+v", res.Rebuild.Note, res.Problems)
		if !strings.Contains(res.Rebuild.Note, "c.o (its dump could not be read") {
			t.Errorf("note %q, want c.o named as a unit whose dump could not be read", res.Rebuild.Note)
		}
		if res.Verdict == "complete" {
			t.Errorf("verdict complete with an unreadable dump; problems %+v", res.Problems)
		}
	})
}

// TestCheckUnknownHunk: a hunk that adds a function whole changes no
// function body of the build and is no comment, data or macro, so the
// diff alone cannot say what it changes. Without a rebuild the answer is
// incomplete, naming the hunk; with one, what it changes is what the
// rebuild shows (readelf: the patched object defines extra), and the
// hunk is a note. impacted --fix says the same.
func TestCheckUnknownHunk(t *testing.T) {
	fixture.NeedTools(t, "gcc", "readelf")
	src := "static int limit = 10;\n\nint bump(int x)\n{\n\treturn x > limit;\n}\n"
	patched := "static int limit = 10;\n\n__attribute__((noinline)) int extra(int x)\n{\n\treturn x * 3;\n}\n\nint bump(int x)\n{\n\treturn extra(x) > limit;\n}\n"
	dir, truth := oneUnitFix(t, src, patched)
	if syms, _ := exec.Command("readelf", "-sW", filepath.Join(truth, "u.o")).Output(); !regexp.MustCompile(`FUNC +GLOBAL .* extra\n`).Match(syms) {
		t.Fatalf("gcc %s: the patched object defines no extra:\n%s", fixture.GCCVersion(), syms)
	}
	unknown := func(ps []report.Problem) (kind string, n int) {
		for _, p := range ps {
			if strings.HasPrefix(p.Message, "hunk changes no function body and is neither a comment, data nor a macro") {
				if p.File != "u.c" || p.Line != 3 {
					t.Errorf("unknown hunk at %s:%d, want u.c:3", p.File, p.Line)
				}
				kind, n = p.Kind, n+1
			}
		}
		return kind, n
	}
	t.Run("check without a rebuild", func(t *testing.T) {
		code, res, errs := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--funcs", "lp.yaml", "--no-rebuild")
		if res == nil {
			t.Fatalf("exit %d\n%s", code, errs)
		}
		if kind, n := unknown(res.Problems); code != ExitIncomplete || res.Verdict != "incomplete" || n != 1 || kind != report.KindFailClosed {
			t.Errorf("exit %d, verdict %q, problems %+v; want 1, incomplete, one fail-closed unknown hunk", code, res.Verdict, res.Problems)
		}
	})
	t.Run("check with the rebuild", func(t *testing.T) {
		code, res, errs := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--funcs", "lp.yaml", "--rebuild-cache", "off")
		if res == nil || res.Rebuild == nil || !res.Rebuild.Rebuilt {
			t.Fatalf("exit %d: not rebuilt: %+v\n%s", code, res, errs)
		}
		if kind, n := unknown(res.Problems); n != 1 || kind != report.KindNote {
			t.Errorf("problems %+v; want the unknown hunk once, as a note", res.Problems)
		}
		if res.Verdict == "incomplete" {
			t.Errorf("verdict incomplete after the rebuild: %+v", res.Problems)
		}
	})
	t.Run("impacted --fix", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			kind string
		}{{[]string{"--no-rebuild"}, report.KindFailClosed}, {[]string{"--rebuild-cache", "off"}, report.KindNote}} {
			code, out, errs := run(t, dir, append([]string{"impacted", "--build", ".", "--func", "bump", "--fix", "fix.patch", "--format", "json"}, c.args...)...)
			var res report.Result
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("exit %d: %v\n%s", code, err, errs)
			}
			if kind, n := unknown(res.Problems); n != 1 || kind != c.kind || (c.kind == report.KindFailClosed) == res.Complete {
				t.Errorf("%v: complete %v, problems %+v; want the unknown hunk once, %s", c.args, res.Complete, res.Problems, c.kind)
			}
		}
	})
}

// TestCheckWeakInModule: a weak definition counts toward its own
// klp_object only. frob_helper is defined, weak, by a module's object
// alone (drivers/frob/frob.mod lists it; readelf shows it weak), so a
// klp_func naming it in vmlinux does not resolve: the kernel would find
// no such symbol there.
func TestCheckWeakInModule(t *testing.T) {
	fixture.NeedTools(t, "gcc", "readelf")
	dir := t.TempDir()
	files := map[string]string{
		".config": "", "Kbuild": "",
		"drivers/frob/frob_mod.c": "int __attribute__((weak)) frob_helper(int x)\n{\n\treturn x * 2;\n}\n",
		"drivers/frob/frob.mod":   "drivers/frob/frob_mod.o\n",
		"kernel/other.c":          "int other(int x)\n{\n\treturn x + 1;\n}\n",
		"fix.patch":               "--- a/drivers/frob/frob_mod.c\n+++ b/drivers/frob/frob_mod.c\n@@ -1,4 +1,4 @@\n int __attribute__((weak)) frob_helper(int x)\n {\n-\treturn x * 2;\n+\treturn x * 3;\n }\n",
		"vmlinux.yaml":            "- object: vmlinux\n  old_name: frob_helper\n",
		"module.yaml":             "- object: frob\n  old_name: frob_helper\n",
	}
	for name, text := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"drivers/frob/frob_mod", "kernel/other"} {
		fixture.Run(t, dir, "gcc", "-O2", "-g", "-fdump-ipa-clones", "-c", u+".c", "-o", u+".o")
	}
	out, err := exec.Command("readelf", "-sW", filepath.Join(dir, "drivers/frob/frob_mod.o")).Output()
	if err != nil || !regexp.MustCompile(`FUNC +WEAK .* frob_helper\n`).Match(out) {
		t.Fatalf("gcc %s: frob_mod.o does not define frob_helper weak: %v\n%s", fixture.GCCVersion(), err, out)
	}
	_, res, errs := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--funcs", "vmlinux.yaml", "--no-rebuild")
	if res == nil {
		t.Fatalf("no answer\n%s", errs)
	}
	found := false
	for _, u := range res.Unresolved {
		if u.OldName == "frob_helper" && strings.Contains(u.Reason, "not found in klp_object vmlinux") && strings.Contains(u.Reason, "frob") {
			found = true
		}
	}
	if !found || res.Verdict == "complete" {
		t.Errorf("klp_func vmlinux/frob_helper: verdict %q, unresolved %+v; want it unresolved: the build defines it in module frob only", res.Verdict, res.Unresolved)
	}
	_, res, errs = checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--funcs", "module.yaml", "--no-rebuild")
	if res == nil || len(res.Unresolved) != 0 {
		t.Errorf("klp_func frob/frob_helper: %+v\n%s; want it resolved", res, errs)
	}
}

// oneUnitFix writes a one-unit build of src (u.c, compiled with gcc -O2 -g
// -fdump-ipa-clones, its kbuild .cmd file beside it), the fix to patched
// as fix.patch and lp.yaml (a klp_func for bump), and compiles patched
// alone into truth/u.o: what gcc makes of the fix, outside the build.
func oneUnitFix(t *testing.T, src, patched string) (dir, truth string) {
	t.Helper()
	dir = t.TempDir()
	for _, f := range []struct{ path, text string }{
		{"a/u.c", src}, {"b/u.c", patched}, {"u.c", src},
		{".u.o.cmd", "cmd_u.o := gcc -O2 -g -fdump-ipa-clones -c -o u.o u.c\n\nsource_u.o := u.c\n"},
		{"lp.yaml", "- old_name: bump\n"},
	} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(f.path)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, f.path), []byte(f.text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fixture.Run(t, dir, "gcc", "-O2", "-g", "-fdump-ipa-clones", "-c", "-o", "u.o", "u.c")
	cmd := exec.Command("diff", "-u", "a/u.c", "b/u.c")
	cmd.Dir = dir
	diff, _ := cmd.Output()
	if err := os.WriteFile(filepath.Join(dir, "fix.patch"), diff, 0o644); err != nil {
		t.Fatal(err)
	}
	truth = t.TempDir()
	if err := os.WriteFile(filepath.Join(truth, "u.c"), []byte(patched), 0o644); err != nil {
		t.Fatal(err)
	}
	fixture.Run(t, truth, "gcc", "-O2", "-c", "-o", "u.o", "u.c")
	return dir, truth
}

// TestCheckFileNotBuilt: a fix to two files, u.c (built, rebuilt) and
// other.c, which no kbuild .cmd file compiles. other.c's data hunk is not
// shown by the rebuild of u.c: the answer stays incomplete, naming it.
func TestCheckFileNotBuilt(t *testing.T) {
	fixture.NeedTools(t, "gcc", "diff")
	src := "static int limit = 10;\n\nint bump(int x)\n{\n\treturn x > limit;\n}\n"
	dir, _ := oneUnitFix(t, src, strings.Replace(src, "x > limit", "x >= limit", 1))
	for _, f := range []struct{ path, text string }{
		{"a/other.c", "int other_limit = 10;\n"}, {"b/other.c", "int other_limit = 20;\n"}, {"other.c", "int other_limit = 10;\n"},
	} {
		if err := os.WriteFile(filepath.Join(dir, f.path), []byte(f.text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("diff", "-ru", "a", "b")
	cmd.Dir = dir
	diff, _ := cmd.Output()
	if !strings.Contains(string(diff), "+++ b/other.c") || !strings.Contains(string(diff), "+++ b/u.c") {
		t.Fatalf("diff -ru:\n%s", diff)
	}
	os.WriteFile(filepath.Join(dir, "fix.patch"), diff, 0o644)
	code, res, errs := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--funcs", "lp.yaml", "--rebuild-cache", "off")
	if res == nil || res.Rebuild == nil || !res.Rebuild.Rebuilt {
		t.Fatalf("exit %d: u.o not rebuilt: %+v\n%s", code, res, errs)
	}
	named := false
	for _, p := range res.Problems {
		named = named || p.File == "other.c" && p.Kind == report.KindFailClosed && strings.Contains(p.Message, "no kbuild .cmd file of the build compiles other.c")
	}
	if !named || res.Verdict == "complete" {
		t.Errorf("exit %d, verdict %q, problems %+v; want other.c's data hunk a fail-closed problem", code, res.Verdict, res.Problems)
	}
}
