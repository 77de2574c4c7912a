package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/report"
)

// TestKernelLineNeutral is the line-neutral build on a real kernel unit:
// a fix adding two lines at the start of oom_unkillable_task moves the
// WARN_ON lines of the functions below it in mm/oom_kill.c. The truth is
// gcc's: the same change made without moving a line (the two lines
// joined onto the first line of the body), recompiled, and objdump of it
// against the original's recompilation differs in exactly the functions
// whose code really changed. check must report exactly those as changed,
// and as line shifts (proven by its line-neutral build) functions whose
// objdump differs only when the lines move.
func TestKernelLineNeutral(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	fixture.NeedTools(t, "diff", "objdump")
	tree := fixture.KernelTree(t)
	const src, obj = "mm/oom_kill.c", "mm/oom_kill.o"
	def := `static bool oom_unkillable_task\([^;{]*\)`
	ins := "\tif (READ_ONCE(p->flags) & PF_EXITING)\n\t\treturn true;\n"
	fix, mutate := kernelFix(t, tree, src, def, ins)
	re := regexp.MustCompile(`(?m)^` + def + `\s*\n\{\n`)
	joined := func(b []byte) []byte {
		loc := re.FindIndex(b)
		if loc == nil {
			t.Fatalf("definition %q not found in %s", def, src)
		}
		one := strings.ReplaceAll(strings.TrimSuffix(ins, "\n"), "\n", " ") + " "
		return append(append(append([]byte{}, b[:loc[1]]...), one...), b[loc[1]:]...)
	}
	funcs := filepath.Join(t.TempDir(), "funcs.yaml")
	os.WriteFile(funcs, []byte("- object: vmlinux\n  old_name: msleep\n"), 0o644)

	unlock := fixture.LockKernelTree(t, tree)
	defer unlock()
	code, out, errs := run(t, tree, "check", "--diff", fix, "--build", ".", "--funcs", funcs, "--format", "json",
		"--rebuild-cache", t.TempDir())
	var r report.CheckResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("check: exit %d, %v\n%s", code, err, errs)
	}
	rb := r.Rebuild
	if rb == nil || !rb.Rebuilt || len(rb.Units) != 1 || !rb.Units[0].LineNeutral {
		t.Fatalf("no line-neutral rebuild: %+v\nproblems %+v", rb, r.Problems)
	}
	var changed, shifted []string
	for _, f := range rb.Functions {
		if f.Cause != report.CauseLineShift {
			changed = append(changed, f.Name)
			continue
		}
		shifted = append(shifted, f.Name)
		if !strings.Contains(f.Detail, "line-neutral build") {
			t.Errorf("%s: line shift %q, not proven by the line-neutral build", f.Name, f.Detail)
		}
	}
	sort.Strings(changed)
	sort.Strings(shifted)

	origObj := fixture.RecompileKernelObject(t, tree, obj, nil)
	orig := objdumpFuncs(t, origObj)
	differ := func(mut func([]byte) []byte) []string {
		o := objdumpFuncs(t, fixture.RecompileKernelObject(t, tree, obj, mut))
		var d []string
		for n, body := range orig {
			if nb, ok := o[n]; ok && nb != body {
				d = append(d, n)
			}
		}
		sort.Strings(d)
		return d
	}
	real, moved := differ(joined), differ(mutate)
	if len(real) == 0 {
		t.Fatal("the joined change changes no function: the test proves nothing")
	}
	if !slices.Equal(changed, real) {
		t.Errorf("check reports changed %v; objdump of the change made without moving a line differs in %v", changed, real)
	}
	nShift := 0
	for _, n := range moved {
		if slices.Contains(real, n) {
			continue
		}
		nShift++
		if !slices.Contains(shifted, n) {
			t.Errorf("%s: objdump differs only when lines move, but check does not report it a line shift (line shifts %v)", n, shifted)
		}
	}
	for _, n := range shifted {
		if slices.Contains(real, n) {
			t.Errorf("%s: reported a line shift, but its code changes with no line moved", n)
		}
	}
	if nShift == 0 && len(shifted) == 0 {
		t.Error("no line-shift-only function in objdump or in the report: the test proves nothing about line shifts")
	}
	t.Logf("changed %v; line shifts %v; objdump differs with lines moved %v", changed, shifted, moved)
}
