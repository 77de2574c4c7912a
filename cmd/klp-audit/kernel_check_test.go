package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/objdiff"
	"github.com/klp-audit/klp-audit/report"
)

// TestKernelCheckEndToEnd is the pipeline on the real kernel: a fix to
// oom_unkillable_task (a static function GCC inlined into four callers in
// mm/oom_kill.o) as a unified diff; check maps the hunk to the function and
// computes the must-patch set (with a livepatch that replaces nothing
// relevant, every target is reported missing); then the object is rebuilt
// with exactly that change, and klp-audit diff of the two objects must find
// no changed function outside the set.
func TestKernelCheckEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	if _, err := exec.LookPath("diff"); err != nil {
		t.Skip("diff(1) not installed")
	}
	tree := fixture.KernelTree(t)
	const src, obj, fn = "mm/oom_kill.c", "mm/oom_kill.o", "oom_unkillable_task"
	mutate := func(b []byte) []byte {
		def := regexp.MustCompile(`(?m)^static bool ` + fn + `\([^;{]*\)\s*\n\{\n`)
		loc := def.FindIndex(b)
		if loc == nil {
			t.Fatalf("definition of %s not found in %s", fn, src)
		}
		ins := []byte("\t{ static volatile int klp_audit_sink; klp_audit_sink++; }\n")
		return append(append(append([]byte{}, b[:loc[1]]...), ins...), b[loc[1]:]...)
	}
	orig, err := os.ReadFile(filepath.Join(tree, src))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	os.MkdirAll(filepath.Join(work, "a", "mm"), 0o755)
	os.MkdirAll(filepath.Join(work, "b", "mm"), 0o755)
	os.WriteFile(filepath.Join(work, "a", src), orig, 0o644)
	os.WriteFile(filepath.Join(work, "b", src), mutate(orig), 0o644)
	cmd := exec.Command("diff", "-u", "a/"+src, "b/"+src)
	cmd.Dir = work
	fix, _ := cmd.Output() // diff exits 1 when the files differ
	if !strings.Contains(string(fix), "klp_audit_sink") {
		t.Fatalf("diff -u gave no hunk:\n%s", fix)
	}
	patch := filepath.Join(work, "fix.patch")
	os.WriteFile(patch, fix, 0o644)
	funcs := filepath.Join(work, "funcs.yaml")
	os.WriteFile(funcs, []byte("- object: vmlinux\n  old_name: msleep\n"), 0o644)

	code, out, errs := run(t, tree, "check", "--diff", patch, "--build", ".", "--funcs", funcs, "--format", "json", "--no-rebuild")
	var r report.CheckResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("check: exit %d, %v\n%s", code, err, errs)
	}
	if code != ExitIncomplete || r.Verdict == "complete" {
		t.Errorf("check with an empty livepatch: exit %d verdict %q, want a failure", code, r.Verdict)
	}
	var changedNames []string
	for _, c := range r.Changed {
		changedNames = append(changedNames, c.Name)
	}
	if len(changedNames) != 1 || changedNames[0] != fn {
		t.Fatalf("check mapped the hunk to %v, want [%s]", changedNames, fn)
	}
	set := map[string]bool{}
	for _, list := range [][]report.CheckTarget{r.Missing, r.Conditional, r.Review, r.Covered} {
		for _, tg := range list {
			if tg.TU == obj {
				set[tg.Name] = true
			}
		}
	}
	if len(set) == 0 {
		t.Fatalf("check reported no target in %s:\n%s", obj, out)
	}

	unlock := fixture.LockKernelTree(t, tree)
	rebuilt := fixture.RecompileKernelObject(t, tree, obj, mutate)
	unlock()
	rep, err := objdiff.CompareFiles(filepath.Join(tree, obj), rebuilt)
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, od := range rep.Objects {
		for _, c := range od.Changed {
			changed = append(changed, c.Name)
		}
	}
	if len(changed) == 0 {
		t.Fatal("the rebuilt object has no changed function: the test proves nothing")
	}
	for _, c := range changed {
		if !set[c] {
			t.Errorf("%s changed in the rebuilt %s but check's must-patch set lacks it (set: %v)", c, obj, set)
		}
	}
	t.Logf("fix to %s: check's set in %s has %d functions; the rebuild changed %d: %v", fn, obj, len(set), len(changed), changed)
}

// TestCheckColour: the verdict is coloured on a terminal only.
func TestCheckColour(t *testing.T) {
	res := &report.CheckResult{SchemaVersion: report.CheckSchemaVersion, Verdict: "missing"}
	for _, tc := range []struct {
		tty, noColor bool
		want         bool
	}{{false, false, false}, {true, false, true}, {true, true, false}} {
		s, out, _ := testStreams()
		s.OutTTY = tc.tty
		if tc.noColor {
			t.Setenv("NO_COLOR", "1")
		} else {
			t.Setenv("NO_COLOR", "")
		}
		if err := renderCheck(s, res, report.Text); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out.String(), "\x1b["); got != tc.want {
			t.Errorf("tty=%v NO_COLOR=%v: colour %v, want %v:\n%q", tc.tty, tc.noColor, got, tc.want, out.String())
		}
		if !strings.Contains(out.String(), "FAIL") {
			t.Errorf("verdict word lost: %q", out.String())
		}
	}
}

// TestKernelCheckAtOffset: a fix made against another copy of
// mm/oom_kill.c, one with a helper more above oom_badness (as a
// distribution tree differs from upstream), applies to the real tree at an
// offset. check accepts it, maps the hunk to oom_badness at the tree's
// lines, and reports the offset GNU patch reports for the same diff.
func TestKernelCheckAtOffset(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	fixture.NeedTools(t, "diff", "patch")
	tree := fixture.KernelTree(t)
	const src, fn = "mm/oom_kill.c", "oom_badness"
	orig, err := os.ReadFile(filepath.Join(tree, src))
	if err != nil {
		t.Fatal(err)
	}
	def := regexp.MustCompile(`(?m)^long ` + fn + `\([^;{]*\)\n\{\n\tlong points;\n\tlong adj;\n`).FindIndex(orig)
	if def == nil {
		t.Fatalf("definition of %s not found in %s", fn, src)
	}
	doc := strings.LastIndex(string(orig[:def[0]]), "\n/**\n") + 1
	if doc <= 0 {
		t.Fatalf("no doc comment above %s in %s", fn, src)
	}
	defLine := strings.Count(string(orig[:def[0]]), "\n") + 1
	helper := "static inline bool klp_audit_backported(void)\n{\n\treturn false;\n}\n\n" +
		"/* lines the fix's tree has and the build's has not */\n\n"
	inserted := strings.Count(helper, "\n")
	other := []byte(string(orig[:doc]) + helper + string(orig[doc:]))
	fixed := []byte(strings.Replace(string(other), "\tlong points;\n\tlong adj;\n",
		"\tlong points;\n\tlong adj;\n\n\tif (!totalpages)\n\t\treturn LONG_MIN;\n", 1))

	work := t.TempDir()
	for dir, b := range map[string][]byte{"a": other, "b": fixed, "tree": orig} {
		os.MkdirAll(filepath.Join(work, dir, "mm"), 0o755)
		if err := os.WriteFile(filepath.Join(work, dir, src), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("diff", "-u", "a/"+src, "b/"+src)
	cmd.Dir = work
	fix, _ := cmd.Output() // diff exits 1 when the files differ
	if !strings.Contains(string(fix), "totalpages)\n+\t\treturn LONG_MIN;") {
		t.Fatalf("diff -u gave no hunk:\n%s", fix)
	}
	patchFile := filepath.Join(work, "fix.patch")
	os.WriteFile(patchFile, fix, 0o644)

	// GNU patch on a copy of the tree's file: where does it put the hunk?
	cmd = exec.Command("patch", "--dry-run", "--batch", "-F", "0", "-p1", "-i", patchFile)
	cmd.Dir = filepath.Join(work, "tree")
	log, err := cmd.CombinedOutput()
	m := regexp.MustCompile(`Hunk #1 succeeded at \d+ \(offset (-?\d+) lines?\)`).FindSubmatch(log)
	if err != nil || m == nil {
		t.Fatalf("GNU patch: %v\n%s", err, log)
	}
	gnuOffset, _ := strconv.Atoi(string(m[1]))
	if gnuOffset != -inserted {
		t.Fatalf("GNU patch applied the hunk at offset %d, the copy had %d lines more", gnuOffset, inserted)
	}

	funcs := filepath.Join(work, "funcs.yaml")
	os.WriteFile(funcs, []byte("- object: vmlinux\n  old_name: msleep\n"), 0o644)
	code, out, errs := run(t, tree, "check", "--diff", patchFile, "--build", ".", "--funcs", funcs, "--format", "json")
	var r report.CheckResult
	if err := json.Unmarshal([]byte(out), &r); err != nil || code == ExitUsage {
		t.Fatalf("check: exit %d, %v\n%s", code, err, errs)
	}
	if len(r.Hunks) != 1 {
		t.Fatalf("hunks %+v, want 1", r.Hunks)
	}
	h := r.Hunks[0]
	// The first added line follows "long adj;", the definition's 3rd line
	// after it in the tree, and a blank line.
	if h.Offset != gnuOffset || h.Line != defLine+5 || h.Kind != "function" || len(h.Functions) != 1 || h.Functions[0] != fn {
		t.Errorf("hunk %+v, want %s at %s:%d, offset %d as GNU patch", h, fn, src, defLine+5, gnuOffset)
	}
	if len(r.Changed) != 1 || r.Changed[0].Name != fn || r.Changed[0].Line != defLine+5 {
		t.Errorf("changed %+v, want %s at line %d", r.Changed, fn, defLine+5)
	}
	_, text, _ := run(t, tree, "check", "--diff", patchFile, "--build", ".", "--funcs", funcs)
	want := fmt.Sprintf("%s:%d: hunk #1 applied at offset %d lines", src, defLine+5, gnuOffset)
	if !strings.Contains(text, want) {
		t.Errorf("text output lacks %q:\n%s", want, text)
	}
	t.Logf("GNU patch: %s", strings.TrimSpace(string(log)))
}

// TestKernelCheckLivepatchSource checks a livepatch source that is not
// plain C against the real kernel tree: entries under #ifdef CONFIG_...,
// a macro for an old_name, a concatenated one. check preprocesses it with
// the flags kbuild recorded for the fix's unit (mm/.oom_kill.o.cmd), so
// the entries the kernel's .config keeps are read, and only those.
func TestKernelCheckLivepatchSource(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	if _, err := exec.LookPath("diff"); err != nil {
		t.Skip("diff(1) not installed")
	}
	tree := fixture.KernelTree(t)
	const src = "mm/oom_kill.c"
	orig, err := os.ReadFile(filepath.Join(tree, src))
	if err != nil {
		t.Fatal(err)
	}
	config, err := os.ReadFile(filepath.Join(tree, ".config"))
	if err != nil {
		t.Fatal(err)
	}
	memcg := regexp.MustCompile(`(?m)^CONFIG_MEMCG=y$`).Match(config)
	fixed := strings.Replace(string(orig), "\tif (p->flags & PF_KTHREAD)\n\t\treturn true;\n\treturn false;\n",
		"\tif (p->flags & (PF_KTHREAD | PF_IO_WORKER))\n\t\treturn true;\n\treturn false;\n", 1)
	if fixed == string(orig) {
		t.Fatalf("oom_unkillable_task's PF_KTHREAD test not found in %s", src)
	}
	work := t.TempDir()
	os.MkdirAll(filepath.Join(work, "a", "mm"), 0o755)
	os.MkdirAll(filepath.Join(work, "b", "mm"), 0o755)
	os.WriteFile(filepath.Join(work, "a", src), orig, 0o644)
	os.WriteFile(filepath.Join(work, "b", src), []byte(fixed), 0o644)
	cmd := exec.Command("diff", "-u", "a/"+src, "b/"+src)
	cmd.Dir = work
	fix, _ := cmd.Output() // diff exits 1 when the files differ
	patch := filepath.Join(work, "fix.patch")
	os.WriteFile(patch, fix, 0o644)
	lp := filepath.Join(work, "livepatch.c")
	os.WriteFile(lp, []byte(`// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

#define TARGET "oom_badness"

static struct klp_func funcs[] = {
	{
		.old_name = TARGET,
	},
#ifdef CONFIG_MEMCG
	{
		.old_name = "oom_" "evaluate_task",
	},
#endif
#ifdef CONFIG_KLP_AUDIT_NOT_SET
	{
		.old_name = "select_bad_process",
	},
#endif
	{ }
};

static struct klp_object objs[] = {
	{
		.funcs = funcs,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};
`), 0o644)

	code, out, errs := run(t, tree, "check", "--diff", patch, "--build", ".", "--livepatch", lp, "--format", "json")
	var r report.CheckResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("check: exit %d, %v\n%s", code, err, errs)
	}
	for _, p := range r.Problems {
		if p.File == lp {
			t.Errorf("problem with the livepatch source: %+v", p)
		}
	}
	read := map[string]bool{}
	for _, c := range r.Covered {
		read[c.Name] = true
	}
	for _, f := range r.Extra {
		read[f.OldName] = true
	}
	for _, u := range r.Unresolved {
		read[u.OldName] = true
	}
	want := map[string]bool{"oom_badness": true, "oom_evaluate_task": memcg}
	for name, in := range want {
		if read[name] != in {
			t.Errorf("klp_func %s read: %v, want %v (CONFIG_MEMCG=y: %v); covered %s, extra %v", name, read[name], in, memcg, names(r.Covered), r.Extra)
		}
	}
	if read["select_bad_process"] {
		t.Errorf("select_bad_process, under #ifdef CONFIG_KLP_AUDIT_NOT_SET, was read as a klp_func")
	}
}
