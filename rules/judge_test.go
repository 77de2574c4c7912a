package rules_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/objdiff"
	"github.com/klp-audit/klp-audit/rules"
)

// mutateBody returns a mutation that makes function fn's body impure: a
// write to a volatile global, declared in the block, right after the
// opening brace of its definition. (A new function-local static would
// renumber GCC's other local statics, the lockdep __key.N of every
// function below, which a comparison of the objects then shows as
// changes the fix did not make.) It fails the test when the definition is
// not found.
func mutateBody(t *testing.T, fn string) func([]byte) []byte {
	return func(src []byte) []byte {
		def := regexp.MustCompile(`(?m)^[A-Za-z_][^;{}()\n]*[ *]` + regexp.QuoteMeta(fn) + `\([^;{]*\)\s*\n\{\n`)
		loc := def.FindIndex(src)
		if loc == nil {
			t.Fatalf("definition of %s not found", fn)
		}
		ins := []byte("\t{ extern volatile int klp_audit_sink; klp_audit_sink++; }\n")
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

// beforeConditional is the policy that gives the answer as it was before
// the conditional tier: caller-assumptions must (and transitive), the
// callee-side passes review.
const beforeConditional = "rules:\n  caller-assumptions:\n    severity: must\n    passes: {ipa-vrp: review, ipa-bit-cp: review}\n"

// judgeSample are the functions whose bodies the judge mutates: the first
// five were chosen by hand (memblock's "locally pure" should_skip_region,
// oom_kill's small helpers); the other twenty are functions of mm/ and
// kernel/ with callers in their own unit, two per unit where there were
// two, static and global.
var judgeSample = []struct{ fn, src, tu string }{
	{"should_skip_region", "mm/memblock.c", "mm/memblock.o"},
	{"oom_unkillable_task", "mm/oom_kill.c", "mm/oom_kill.o"},
	{"process_shares_mm", "mm/oom_kill.c", "mm/oom_kill.o"},
	{"__task_will_free_mem", "mm/oom_kill.c", "mm/oom_kill.o"},
	{"queue_oom_reaper", "mm/oom_kill.c", "mm/oom_kill.o"},
	{"mlock_fixup", "mm/mlock.c", "mm/mlock.o"},
	{"apply_vma_lock_flags", "mm/mlock.c", "mm/mlock.o"},
	{"do_mprotect_pkey", "mm/mprotect.c", "mm/mprotect.o"},
	{"madvise_cold", "mm/madvise.c", "mm/madvise.o"},
	{"madvise_pageout", "mm/madvise.c", "mm/madvise.o"},
	{"move_vma", "mm/mremap.c", "mm/mremap.o"},
	{"vma_to_resize", "mm/mremap.c", "mm/mremap.o"},
	{"folio_batch_move_lru", "mm/swap.c", "mm/swap.o"},
	{"lru_note_cost", "mm/swap.c", "mm/swap.o"},
	{"truncate_cleanup_folio", "mm/truncate.c", "mm/truncate.o"},
	{"__change_pid", "kernel/pid.c", "kernel/pid.o"},
	{"free_pid", "kernel/pid.c", "kernel/pid.o"},
	{"will_become_orphaned_pgrp", "kernel/exit.c", "kernel/exit.o"},
	{"wait_consider_task", "kernel/exit.c", "kernel/exit.o"},
	{"flag_nproc_exceeded", "kernel/sys.c", "kernel/sys.o"},
	{"do_getpgid", "kernel/sys.c", "kernel/sys.o"},
	{"kthread_insert_work", "kernel/kthread.c", "kernel/kthread.o"},
	{"__kthread_bind", "kernel/kthread.c", "kernel/kthread.o"},
	{"__release_resource", "kernel/resource.c", "kernel/resource.o"},
	{"find_next_iomem_res", "kernel/resource.c", "kernel/resource.o"},
}

// tally counts, over the mutations, one policy's targets in the mutated
// unit by tier, and how many of them really changed.
type tally struct {
	must, mustChanged, cond, condChanged, review, reviewChanged int
	// missed are functions that changed but the answer lists in no tier
	// (must, conditional, review) and does not explain.
	missed []string
}

func (t *tally) String() string {
	return fmt.Sprintf("must %d (%d changed, precision %s), conditional %d (%d changed), review %d (%d changed), changed functions not listed %d %v",
		t.must, t.mustChanged, percent(t.mustChanged, t.must), t.cond, t.condChanged, t.review, t.reviewChanged, len(t.missed), t.missed)
}

func percent(a, b int) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f %%", 100*float64(a)/float64(b))
}

// add counts res's answer for unit tu against the functions that
// changed (changed) and those GCC treated differently (shifted, not
// counted as missed).
func (t *tally) add(res *rules.Result, tu string, changed, shifted map[string]bool) (listed map[string]string) {
	listed = map[string]string{}
	for _, tg := range res.Targets {
		if tg.ID.TU != tu || tg.Ignored != nil {
			continue
		}
		listed[tg.ID.Name] = "target (" + tg.Rule + ", " + string(tg.Severity) + ")"
		c := 0
		if changed[tg.ID.Name] {
			c = 1
		}
		switch tg.Severity {
		case rules.Must:
			t.must, t.mustChanged = t.must+1, t.mustChanged+c
		case rules.Conditional:
			t.cond, t.condChanged = t.cond+1, t.condChanged+c
		default:
			t.review, t.reviewChanged = t.review+1, t.reviewChanged+c
		}
	}
	for _, e := range res.Explained {
		if e.ID.TU == tu {
			listed[e.ID.Name] = "explained (" + e.Rule + ")"
		}
	}
	var missed []string
	for c := range changed {
		if listed[c] == "" && !shifted[c] {
			missed = append(missed, tu+":"+c)
		}
	}
	sort.Strings(missed)
	t.missed = append(t.missed, missed...)
	return listed
}

// TestKernelAnswerCoversRebuild is the judge of the safety rules on the
// real kernel: for a sample of functions, change the function's body in a
// copy of its source, recompile its object with kbuild's own command, and
// compare every function's code (klp-audit diff). Every function whose
// code changed must be in the answer computed from the original build (a
// must or conditional target, or explained: not patchable, a changed-ABI
// clone); a miss fails. Functions that changed only because GCC decided
// differently in the patched build (a clone or inlining that the dumps do
// not share) cannot be predicted and are reported apart.
//
// It also measures, in the mutated unit, the precision of each tier (the
// share of its targets whose code really changed) under the default
// policy and under the policy before the conditional tier (caller
// assumptions must), and logs both:
//
//	go test ./rules -run TestKernelAnswerCoversRebuild -v -count=1 | grep -E 'judge|---'
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
	before, err := rules.ParsePolicy([]byte(beforeConditional), "before-conditional.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs := callgraph.NewObjects(g, nil)
	var now, old tally
	totalChanged, mutations := 0, 0
	for _, s := range judgeSample {
		t.Run(s.fn, func(t *testing.T) {
			run := func(p *rules.Policy) *rules.Result {
				eng := &rules.Engine{Graph: g, Objects: objs, Policy: p}
				return eng.Run([]callgraph.NodeID{{Name: s.fn, TU: s.tu}})
			}
			res, resOld := run(rules.DefaultPolicy()), run(before)
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
			changed := map[string]bool{}
			why := map[string]string{}
			var boot []string // boot code: run before a livepatch loads, never replaced
			for _, od := range rep.Objects {
				for _, c := range od.Changed {
					if strings.HasPrefix(c.Section, ".init.text") || strings.HasPrefix(c.Section, ".exit.text") {
						boot = append(boot, c.Name)
						continue
					}
					changed[c.Name] = true
					why[c.Name] = string(c.Reason)
					if c.First != nil {
						why[c.Name] += fmt.Sprintf(" at %s+%#x: %q -> %q", c.First.Piece, c.First.Offset, c.First.Orig, c.First.Patched)
					}
				}
				for _, c := range od.Removed {
					changed[c.Name] = true
				}
			}
			if len(changed) == 0 {
				t.Fatalf("mutating %s changed no function's code: the test proves nothing", s.fn)
			}
			missedBefore := len(now.missed)
			listed := now.add(res, s.tu, changed, shifted)
			old.add(resOld, s.tu, changed, shifted)
			for _, m := range now.missed[missedBefore:] {
				t.Errorf("%s changed when %s's body changed (%s), but the answer does not list it (targets and explained: %v)", m, s.fn, why[strings.TrimPrefix(m, s.tu+":")], listedNames(listed))
			}
			var apart, names []string
			for c := range changed {
				names = append(names, c)
				if listed[c] == "" && shifted[c] {
					apart = append(apart, c)
				}
			}
			sort.Strings(names)
			sort.Strings(apart)
			var tiers []string
			for _, n := range names {
				tiers = append(tiers, n+": "+orNot(listed[n]))
			}
			totalChanged += len(changed)
			mutations++
			t.Logf("%s: %d functions changed [%s]; %d changed through GCC's moved decisions (dump differs): %v; boot code changed (not a livepatch's): %v",
				s.fn, len(changed), strings.Join(tiers, "; "), len(apart), apart, boot)
		})
	}
	t.Logf("judge: %d mutations, %d changed functions", mutations, totalChanged)
	t.Logf("judge: default policy: %s", &now)
	t.Logf("judge: before the conditional tier (%q): %s", beforeConditional, &old)
}

func orNot(s string) string {
	if s == "" {
		return "not listed"
	}
	return s
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
