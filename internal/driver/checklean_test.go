package driver

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/report"
)

// checkText is a check's result in JSON, or the error's text.
func checkText(t *testing.T, res *report.CheckResult, err error) string {
	t.Helper()
	if err != nil {
		return "error: " + err.Error()
	}
	b, err := json.MarshalIndent(res, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCheckLeanKernel: check's prediction of a fix touching four
// functions of mm/oom_kill.c (each body gets one statement), against a
// funcs list, is the same over the lean load (each changed function's
// units read when asked) as over every dump read first, without and
// with the index.
func TestCheckLeanKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	fixture.NeedTools(t, "diff")
	tree := fixture.KernelTree(t)
	shareObjects(t)
	src, err := os.ReadFile(filepath.Join(tree, "mm", "oom_kill.c"))
	if err != nil {
		t.Fatal(err)
	}
	fixed := string(src)
	for _, fn := range []string{"oom_unkillable_task", "process_shares_mm", "__task_will_free_mem", "queue_oom_reaper"} {
		m := regexp.MustCompile(`(?m)^(static )?[a-z ]*\b` + fn + `\([^;{]*\)\s*\n\{\n`).FindStringIndex(fixed)
		if m == nil {
			t.Fatalf("mm/oom_kill.c changed: %s not found", fn)
		}
		fixed = fixed[:m[1]] + "\t{ static volatile int klp_audit_sink; klp_audit_sink++; }\n" + fixed[m[1]:]
	}
	work := t.TempDir()
	for _, side := range []string{"a", "b"} {
		os.MkdirAll(filepath.Join(work, side, "mm"), 0o755)
	}
	os.WriteFile(filepath.Join(work, "a", "mm", "oom_kill.c"), src, 0o644)
	os.WriteFile(filepath.Join(work, "b", "mm", "oom_kill.c"), []byte(fixed), 0o644)
	cmd := exec.Command("diff", "-u", "a/mm/oom_kill.c", "b/mm/oom_kill.c")
	cmd.Dir = work
	d, _ := cmd.Output() // diff exits 1: the files differ
	fix := filepath.Join(work, "fix.patch")
	funcs := filepath.Join(work, "funcs.yaml")
	os.WriteFile(fix, d, 0o644)
	os.WriteFile(funcs, []byte("- object: vmlinux\n  old_name: oom_unkillable_task\n"), 0o644)
	q := CheckQuery{Diff: fix, Funcs: funcs, Rebuild: RebuildOptions{Off: true}}

	o := Options{Builds: []string{tree}, Index: IndexOff}
	ix := buildIndex(t, Options{Builds: []string{tree}})
	var answers []string
	for _, full := range []bool{true, false} {
		for _, index := range []string{IndexOff, ix} {
			checkFullLoad = full
			o.Index = index
			res, err := Check(o, q)
			checkFullLoad = false
			s := checkText(t, res, err)
			// The index's note is the one difference allowed.
			s = regexp.MustCompile(`"`+regexp.QuoteMeta(indexNotePrefix)+`[^"]*",?\n\s*`).ReplaceAllString(s, "")
			answers = append(answers, s)
		}
	}
	if !strings.Contains(answers[0], `"name": "oom_badness"`) {
		t.Fatalf("the check names no oom_badness (which inlines oom_unkillable_task): the test proves nothing\n%.3000s", answers[0])
	}
	for i, what := range []string{"", "full load, with the index", "lean load, without the index", "lean load, with the index"} {
		if i > 0 && answers[i] != answers[0] {
			t.Errorf("%s: the check differs from the full load's without the index:\n%s", what, firstDiff(answers[i], answers[0]))
		}
	}
}
