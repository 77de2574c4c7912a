package rules_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/objdiff"
	"github.com/klp-audit/klp-audit/rules"
)

// mutateBody returns a mutation that makes function fn's body impure: a
// write to a new volatile static right after the opening brace of its
// definition. It fails the test when the definition is not found.
func mutateBody(t *testing.T, fn string) func([]byte) []byte {
	return func(src []byte) []byte {
		def := regexp.MustCompile(`(?m)^[A-Za-z_][^;{}()\n]*[ *]` + regexp.QuoteMeta(fn) + `\([^;{]*\)\s*\n\{\n`)
		loc := def.FindIndex(src)
		if loc == nil {
			t.Fatalf("definition of %s not found", fn)
		}
		ins := []byte("\t{ static volatile int klp_audit_sink; klp_audit_sink++; }\n")
		return append(append(append([]byte{}, src[:loc[1]]...), ins...), src[loc[1]:]...)
	}
}

// dumpRecords returns the (orig, clone, transform) lines of a dump, and
// the names they involve.
func dumpRecords(t *testing.T, path string) (map[string]bool, map[string]bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, names := map[string]bool{}, map[string]bool{}
	r := ipadump.NewReader(f, path)
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		if rec.Kind != ipadump.Clone {
			continue
		}
		recs[rec.Orig.Name+" -"+rec.Transform.String()+"-> "+rec.Clone.Name] = true
		names[rec.Orig.Name], names[rec.Clone.Name] = true, true
	}
	return recs, names
}

// TestKernelAnswerCoversRebuild is the judge of the safety rules on the
// real kernel: for a sample of functions, change the function's body in a
// copy of its source, recompile its object with kbuild's own command, and
// compare every function's code (klp-audit diff). Every function whose
// code changed must be in the answer computed from the original build (a
// target, or explained: not patchable, a changed-ABI clone); a miss fails.
// Functions that changed only because GCC decided differently in the
// patched build (a clone or inlining that the dumps do not share) cannot
// be predicted and are reported apart.
func TestKernelAnswerCoversRebuild(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	tree := fixture.KernelTree(t)
	all, err := ipadump.Discover(tree)
	if err != nil {
		t.Fatal(err)
	}
	g, err := callgraph.Load(all, callgraph.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sample := []struct{ fn, src, tu string }{
		{"should_skip_region", "mm/memblock.c", "mm/memblock.o"},
		{"oom_unkillable_task", "mm/oom_kill.c", "mm/oom_kill.o"},
		{"process_shares_mm", "mm/oom_kill.c", "mm/oom_kill.o"},
		{"__task_will_free_mem", "mm/oom_kill.c", "mm/oom_kill.o"},
		{"queue_oom_reaper", "mm/oom_kill.c", "mm/oom_kill.o"},
	}
	totalChanged, totalListed := 0, 0
	for _, s := range sample {
		t.Run(s.fn, func(t *testing.T) {
			eng := &rules.Engine{Graph: g, Objects: callgraph.NewObjects(g, nil), Policy: rules.DefaultPolicy()}
			res := eng.Run([]callgraph.NodeID{{Name: s.fn, TU: s.tu}})
			listed := map[string]string{}
			targets, must := 0, 0
			for _, tg := range res.Targets {
				if tg.ID.TU == s.tu {
					listed[tg.ID.Name] = "target (" + tg.Rule + ")"
					targets++
					if tg.Severity == rules.Must {
						must++
					}
				}
			}
			for _, e := range res.Explained {
				if e.ID.TU == s.tu {
					listed[e.ID.Name] = "explained (" + e.Rule + ")"
				}
			}
			orig := filepath.Join(tree, s.tu)
			unlock := fixture.LockKernelTree(t, tree)
			patched := fixture.RecompileKernelObject(t, tree, s.tu, mutateBody(t, s.fn))
			unlock()
			rep, err := objdiff.CompareFiles(orig, patched)
			if err != nil {
				t.Fatal(err)
			}
			origDump := filepath.Join(tree, strings.TrimSuffix(s.tu, ".o")+".c.000i.ipa-clones")
			newDumps, _ := filepath.Glob(filepath.Join(filepath.Dir(patched), "*.ipa-clones"))
			if len(newDumps) != 1 {
				t.Fatalf("recompile left %d dumps beside %s", len(newDumps), patched)
			}
			origRecs, _ := dumpRecords(t, origDump)
			newRecs, _ := dumpRecords(t, newDumps[0])
			shifted := map[string]bool{} // functions GCC treated differently
			for r := range origRecs {
				if !newRecs[r] {
					markShift(shifted, r)
				}
			}
			for r := range newRecs {
				if !origRecs[r] {
					markShift(shifted, r)
				}
			}
			var changed []string
			for _, od := range rep.Objects {
				for _, c := range od.Changed {
					changed = append(changed, c.Name)
				}
				for _, c := range od.Removed {
					changed = append(changed, c.Name)
				}
			}
			if len(changed) == 0 {
				t.Fatalf("mutating %s changed no function's code: the test proves nothing", s.fn)
			}
			var apart []string
			for _, c := range changed {
				switch {
				case listed[c] != "":
					totalListed++
				case shifted[c]:
					apart = append(apart, c)
				default:
					t.Errorf("%s changed when %s's body changed, but the answer does not list it (targets and explained: %v)", c, s.fn, listedNames(listed))
				}
				totalChanged++
			}
			t.Logf("%s: %d functions changed %v; the answer has %d targets in %s (%d must; %d in all units) and explains %d; %d changed through GCC's moved decisions (dump differs): %v",
				s.fn, len(changed), changed, targets, s.tu, must, len(res.Targets), len(listed)-targets, len(apart), apart)
		})
	}
	t.Logf("%d changed functions over %d mutations, %d of them listed", totalChanged, len(sample), totalListed)
}

// markShift records the functions of a dump record that differs between
// the original and the patched build.
func markShift(m map[string]bool, rec string) {
	parts := strings.SplitN(rec, " -", 2)
	m[parts[0]] = true
	if i := strings.LastIndex(rec, "-> "); i >= 0 {
		m[rec[i+3:]] = true
	}
}

func listedNames(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
