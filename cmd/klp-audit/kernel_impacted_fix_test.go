package main

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/report"
)

// TestKernelImpactedFix is impacted --fix on the real kernel: a fix
// making should_skip_region (mm/memblock.c, found pure) write a static.
// Its callers in mm/memblock.o are conditional targets before the fix
// (caller-assumptions); with the fix, each is must ("confirmed by the
// rebuild") exactly when gcc's code for it changed, and dropped with its
// reason otherwise; every function whose code changed is in the answer.
// The truth: objdump of two independent recompilations of mm/memblock.o
// (fixture.RecompileKernelObject): the original, and the fixed source
// with the inserted statement on the body's first line, so that no line
// moves and every difference is a real one.
func TestKernelImpactedFix(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	fixture.NeedTools(t, "diff", "objdump")
	tree := fixture.KernelTree(t)
	const src, obj = "mm/memblock.c", "mm/memblock.o"
	def := `static bool should_skip_region\([^;{]*\)`
	fix, _ := kernelFix(t, tree, src, def, "\t{ static volatile int klp_audit_sink; klp_audit_sink++; }\n")
	// The same change without moving a line: the truth of what changed.
	_, joined := kernelFix(t, tree, src, def, "\t{ static volatile int klp_audit_sink; klp_audit_sink++; } ")
	unlock := fixture.LockKernelTree(t, tree)
	defer unlock()

	_, pred, _ := impactedJSON(t, tree, "--build", ".", "--func", "should_skip_region", "--tu", obj)
	cond := map[string]bool{}
	for _, tg := range pred.Targets {
		if tg.Severity == report.SeverityConditional && tg.TU == obj {
			cond[tg.Name] = true
		}
	}
	if len(cond) == 0 {
		t.Fatalf("no conditional target in %s before the fix: the test proves nothing\n%+v", obj, pred.Targets)
	}
	_, res, errs := impactedJSON(t, tree, "--build", ".", "--func", "should_skip_region", "--tu", obj,
		"--fix", fix, "--rebuild-cache", t.TempDir(), "-j", "2")
	rb := res.Rebuild
	if rb == nil || !rb.Rebuilt || len(rb.Units) != 1 || rb.Units[0].Object != obj || !rb.Units[0].Identical {
		t.Fatalf("rebuild %+v\nproblems %+v\n%s", rb, res.Problems, errs)
	}

	orig := codeFuncs(t, fixture.RecompileKernelObject(t, tree, obj, nil))
	fixed := codeFuncs(t, fixture.RecompileKernelObject(t, tree, obj, joined))
	differ := changedFuncs(orig, fixed)

	must := map[string]report.Target{}
	for _, tg := range res.Targets {
		if tg.TU == obj {
			if tg.Severity != report.SeverityMust {
				t.Errorf("%s: %s after its unit was rebuilt, want must or dropped", tg.Name, tg.Severity)
			}
			must[tg.Name] = tg
		}
	}
	dropped := map[string]string{}
	for _, d := range rb.Dropped {
		dropped[d.Name] = d.Reason
	}
	for n := range cond {
		tg, isMust := must[n]
		switch {
		case slices.Contains(differ, n) && !isMust:
			t.Errorf("%s: its code changed (objdump), but it is not a must target (dropped: %q)", n, dropped[n])
		case slices.Contains(differ, n) && !strings.Contains(tg.Note, "confirmed by the rebuild"):
			t.Errorf("%s: must, but its note does not say the rebuild confirmed it: %q", n, tg.Note)
		case !slices.Contains(differ, n) && isMust:
			t.Errorf("%s: must, but objdump of its code is the same", n)
		case !slices.Contains(differ, n) && !strings.Contains(dropped[n], "unchanged in the rebuild"):
			t.Errorf("%s: unchanged, but not dropped with its reason (%q)", n, dropped[n])
		}
	}
	for n := range must {
		if !slices.Contains(differ, n) {
			t.Errorf("%s: a must target of %s whose code is the same in objdump", n, obj)
		}
	}
	// Every function whose code changed is in the answer, with a cause.
	causes := map[string]string{}
	for _, f := range rb.Functions {
		causes[f.Name] = f.Cause
	}
	for _, n := range differ {
		if _, ok := must[n]; ok {
			continue
		}
		if c := causes[n]; c == "" || c == report.CauseLineShift {
			t.Errorf("%s: its code changed (objdump), but the rebuild lists it %q", n, c)
		}
	}
	// __next_mem_range_rev calls should_skip_region too, but cannot be
	// patched: a caller whose assumption the fix broke, replaced by its
	// own callers.
	if slices.Contains(differ, "__next_mem_range_rev") && causes["__next_mem_range_rev"] != report.CauseCallerAssumptions {
		t.Errorf("__next_mem_range_rev: cause %q, want caller-assumptions (it calls should_skip_region)", causes["__next_mem_range_rev"])
	}
	t.Logf("must in %s: %v; causes %v", obj, slices.Sorted(maps.Keys(must)), causes)
	t.Logf("conditional before %v; objdump differs %v; dropped %v", slices.Sorted(maps.Keys(cond)), differ, dropped)
}
