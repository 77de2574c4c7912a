package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/report"
)

// TestKernelCheckStaticKey is check --diff on the real kernel with a fix
// that changes only the key a static branch tests: in kernel/sched/core.c,
// fire_sched_in_preempt_notifiers (inlined where the scheduler switches
// tasks) tests sched_smt_present instead of preempt_notifier_key. The
// instructions stay the same (a 2-byte NOP objtool wrote over the jmp);
// only the key in the site's __jump_table entry differs. The truth is
// codeFuncs of two independent recompilations, which notes each site's
// key: the functions it says changed are exactly those check reports
// changed (not as a line shift), and objdump without the tables (every
// NOP padding, as codeFuncs was before) sees no change in them.
func TestKernelCheckStaticKey(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	fixture.NeedTools(t, "diff", "objdump")
	tree := fixture.KernelTree(t)
	const src, obj = "kernel/sched/core.c", "kernel/sched/core.o"
	const head = "static __always_inline void fire_sched_in_preempt_notifiers(struct task_struct *curr)\n{\n\tif (static_branch_unlikely("
	from, to := []byte(head+"&preempt_notifier_key))"), []byte(head+"&sched_smt_present))")
	mutate := func(b []byte) []byte {
		if bytes.Count(b, from) != 1 {
			t.Fatalf("%s: %d copies of %q, want 1", src, bytes.Count(b, from), from)
		}
		return bytes.Replace(b, from, to, 1)
	}
	fix := kernelDiff(t, tree, src, mutate)
	funcs := filepath.Join(t.TempDir(), "funcs.yaml")
	os.WriteFile(funcs, []byte("- object: vmlinux\n  old_name: msleep\n"), 0o644)
	unlock := fixture.LockKernelTree(t, tree)
	defer unlock()

	code, out, errs := run(t, tree, "check", "--diff", fix, "--build", ".", "--funcs", funcs, "--format", "json",
		"--rebuild-cache", t.TempDir(), "-j", "2")
	var r report.CheckResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("check: exit %d, %v\n%s", code, err, errs)
	}
	rb := r.Rebuild
	if rb == nil || !rb.Rebuilt || len(rb.Units) != 1 || rb.Units[0].Object != obj || !rb.Units[0].Identical {
		t.Fatalf("rebuild %+v\nproblems %+v\n%s", rb, r.Problems, errs)
	}
	var changed []string
	for _, f := range rb.Functions {
		if f.Cause != report.CauseLineShift {
			changed = append(changed, f.Name)
		}
	}
	sort.Strings(changed)

	origObj := fixture.RecompileKernelObject(t, tree, obj, nil)
	fixedObj := fixture.RecompileKernelObject(t, tree, obj, mutate)
	a, b := codeFuncs(t, origObj), codeFuncs(t, fixedObj)
	differ := changedFuncs(a, b)
	if len(differ) == 0 {
		t.Fatalf("codeFuncs sees no change in %s: the test proves nothing", obj)
	}
	oldA, oldB := codeText(objdumpFuncLines(t, origObj), nil), codeText(objdumpFuncLines(t, fixedObj), nil)
	for _, n := range differ {
		if !strings.Contains(b[n], "static branch on sched_smt_present+") {
			t.Errorf("%s differs in codeFuncs, but no site of it tests sched_smt_present: %s", n, firstDiff(a[n], b[n]))
		}
		if oldA[n] != oldB[n] {
			t.Errorf("%s: its instructions changed (%s); the fix is meant to change only a __jump_table key", n, firstDiff(oldA[n], oldB[n]))
		}
	}
	if !slices.Equal(changed, differ) {
		t.Errorf("check reports %v changed; codeFuncs of the recompilations differs in %v", changed, differ)
	}
	t.Logf("changed %v; codeFuncs differs %v", changed, differ)
}
