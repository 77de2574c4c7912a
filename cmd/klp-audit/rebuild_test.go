package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/report"
)

// writeCmd writes kbuild's .NAME.o.cmd for obj, compiled from src in dir
// by the gcc command words.
func writeCmd(t *testing.T, dir, obj, src, gcc string) {
	t.Helper()
	cmd := "cmd_" + obj + " := " + gcc + "\n\nsource_" + obj + " := " + src + "\n\ndeps_" + obj + " := \\\n\n" +
		obj + ": $(deps_" + obj + ")\n\n$(deps_" + obj + "):\n"
	if err := os.WriteFile(filepath.Join(dir, "."+obj+".cmd"), []byte(cmd), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCheckLineNeutralFixture: the fix adds two lines to fixed() and
// changes limit(); the functions in between hold line numbers the fix
// only moves (passed to a function, scaled, in a __bug_table entry, in
// a macro call spanning lines). check's third, line-neutral build tells
// them apart exactly. The truth is gcc's: objdump of line.o against
// joined.o (the same change made without moving a line) differs in
// exactly fixed and limit, while objdump of the patched file compiled
// as it is differs in the line-holding functions too.
func TestCheckLineNeutralFixture(t *testing.T) {
	if _, err := exec.LookPath("objdump"); err != nil {
		t.Skip("objdump not installed")
	}
	dir := fixture.Build(t, "rebuild-line")
	writeCmd(t, dir, "line.o", "line.c", "gcc -Wp,-MMD,./.line.o.d -O2 -g -fdump-ipa-clones -c -o line.o line.c")
	os.WriteFile(filepath.Join(dir, "lp.yaml"), []byte("- old_name: fixed\n- old_name: limit\n"), 0o644)

	// gcc's truth.
	orig, joined := objdumpFuncs(t, filepath.Join(dir, "line.o")), objdumpFuncs(t, filepath.Join(dir, "joined.o"))
	os.Remove(filepath.Join(dir, "joined.o")) // not part of the build
	var real []string
	for n, body := range orig {
		if joined[n] != body {
			real = append(real, n)
		}
	}
	sort.Strings(real)
	if strings.Join(real, ",") != "fixed,limit" {
		t.Fatalf("objdump of line.o and joined.o differs in %v, want fixed and limit", real)
	}
	pdir := t.TempDir()
	src, _ := os.ReadFile(filepath.Join(dir, "line.c"))
	ptext := strings.Replace(strings.Replace(string(src), "{\n\treturn x * 3;", "{\n\tif (x < 0) return 0;\n\tif (x > 1000) return 1;\n\treturn x * 3;", 1),
		"return x > 62;", "return x > 64;", 1)
	os.WriteFile(filepath.Join(pdir, "line.c"), []byte(ptext), 0o644)
	gcc := exec.Command("gcc", "-O2", "-g", "-c", "-o", "line.o", "line.c")
	gcc.Dir = pdir
	if out, err := gcc.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	patched := objdumpFuncs(t, filepath.Join(pdir, "line.o"))
	shifted := []string{"report_args", "report_line", "report_scaled"}
	for _, n := range shifted {
		if patched[n] == orig[n] {
			t.Fatalf("%s: objdump of the patched build equals the original: the fixture shows no line shift", n)
		}
	}

	_, res, errs := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--funcs", "lp.yaml", "--rebuild-cache", "off")
	rb := res.Rebuild
	if rb == nil || !rb.Rebuilt || len(rb.Units) != 1 || !rb.Units[0].Faithful || !rb.Units[0].LineNeutral {
		t.Fatalf("rebuild %+v\nproblems %+v\n%s", rb, res.Problems, errs)
	}
	var changed, lines []string
	for _, f := range rb.Functions {
		if f.Cause == report.CauseLineShift {
			lines = append(lines, f.Name)
			if !strings.Contains(f.Detail, "line-neutral build") {
				t.Errorf("%s: line shift %q, want it proven by the line-neutral build", f.Name, f.Detail)
			}
			continue
		}
		changed = append(changed, f.Name)
	}
	sort.Strings(changed)
	sort.Strings(lines)
	if !slices.Equal(changed, real) {
		t.Errorf("changed %v, want %v (objdump of line.o against joined.o)", changed, real)
	}
	for _, n := range append(shifted, "warn_big") {
		if !slices.Contains(lines, n) {
			t.Errorf("%s: not a line shift (line shifts %v, changed %v)", n, lines, changed)
		}
	}
	if res.Verdict != "complete" || len(res.Missing) != 0 {
		t.Errorf("verdict %s, missing %v, unresolved %+v, problems %+v; want complete: fixed and limit are replaced", res.Verdict, names(res.Missing), res.Unresolved, res.Problems)
	}
}

// TestCheckRebuildStopsOnInputError: the compiles start as soon as the
// fix is located; an input error found later (a livepatch with no
// klp_func array) still exits 2, and leaves no scratch directory behind.
func TestCheckRebuildStopsOnInputError(t *testing.T) {
	dir := fixture.Build(t, "rebuild-line")
	writeCmd(t, dir, "line.o", "line.c", "gcc -Wp,-MMD,./.line.o.d -O2 -g -fdump-ipa-clones -c -o line.o line.c")
	os.WriteFile(filepath.Join(dir, "bad.c"), []byte("int x;\n"), 0o644)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	code, _, errs := run(t, dir, "check", "--diff", "fix.patch", "--build", ".", "--livepatch", "bad.c", "--rebuild-cache", "off")
	if code != ExitUsage {
		t.Fatalf("exit %d, want %d (input error)\n%s", code, ExitUsage, errs)
	}
	left, _ := os.ReadDir(tmp)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if len(names) > 0 {
		t.Errorf("scratch left behind in TMPDIR: %v", names)
	}
	// The same check with a good funcs list does rebuild there (so the
	// test above would see a scratch directory left behind).
	os.WriteFile(filepath.Join(dir, "lp.yaml"), []byte("- old_name: fixed\n"), 0o644)
	_, res, _ := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--funcs", "lp.yaml", "--rebuild-cache", "off")
	if res.Rebuild == nil || !res.Rebuild.Rebuilt {
		t.Errorf("no rebuild: %+v", res.Rebuild)
	}
}
