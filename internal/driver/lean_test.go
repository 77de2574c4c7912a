package driver

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/object"
	"github.com/klp-audit/klp-audit/report"
	"github.com/klp-audit/klp-audit/rules"
)

// shareObjects makes every session of the test open each object once:
// the answers do not change (an object is read the same way each time),
// and a kernel's objects take seconds to read.
func shareObjects(t *testing.T) {
	t.Helper()
	type entry struct {
		once sync.Once
		f    *object.File
		err  error
	}
	var mu sync.Mutex
	cache := map[string]*entry{}
	openObject = func(p string) (*object.File, error) {
		mu.Lock()
		e := cache[p]
		if e == nil {
			e = &entry{}
			cache[p] = e
		}
		mu.Unlock()
		e.once.Do(func() { e.f, e.err = object.Open(p) })
		return e.f, e.err
	}
	t.Cleanup(func() { openObject = object.Open })
}

// answerText is an answer as the CLI prints it in JSON, with its notices,
// or the error's text.
func answerText(t *testing.T, a *Answer, err error) string {
	t.Helper()
	if err != nil {
		return "error: " + err.Error()
	}
	var b bytes.Buffer
	if err := report.Render(&b, a.Result, report.JSON); err != nil {
		t.Fatal(err)
	}
	return strings.Join(a.Notices, "\n") + "\n" + b.String()
}

// compareLean answers each query by the lean path (Impacted, which reads
// only the units whose dumps name the function) and over a session that
// read every dump (Load), and fails on any difference between the JSON
// answers (or errors). It returns the lean answers.
func compareLean(t *testing.T, o Options, queries []ImpactQuery) []string {
	t.Helper()
	full, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	if full.graph.Unread() != 0 {
		t.Fatal("Load left units unread")
	}
	var out []string
	for _, q := range queries {
		name := q.Func
		if q.TU != "" || q.File != "" || q.DumpsOnly || q.NoRules {
			name += " " + q.TU + " " + q.File
			if q.DumpsOnly {
				name += " --dumps-only"
			}
			if q.NoRules {
				name += " --no-rules"
			}
		}
		lean, lerr := Impacted(o, q)
		fa, ferr := full.Impacted(q, rules.DefaultPolicy(), nil)
		l, f := answerText(t, lean, lerr), answerText(t, fa, ferr)
		if l != f {
			t.Errorf("%s: the lean answer differs from the full load's:\n%s", name, firstDiff(l, f))
		}
		out = append(out, l)
	}
	return out
}

// firstDiff shows where two answers part.
func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(la) || i < len(lb); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ":\n  lean: " + x + "\n  full: " + y
		}
	}
	return "(same lines)"
}

// TestLeanKernel: over the kernel fixture (kernel/ and mm/), the lean
// path gives the full load's answer, byte for byte, for 40 questions:
// statics, header inlines in dozens of units, clones asked by name,
// notrace memblock functions (callers in other objects, read on demand),
// functions no dump names, globals, narrowed queries, and misspelt names
// (whose closest names need every unit).
func TestLeanKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	tree := fixture.KernelTree(t)
	shareObjects(t)
	var qs []ImpactQuery
	for _, f := range []string{
		// statics
		"should_skip_region", "oom_unkillable_task", "process_shares_mm", "__task_will_free_mem",
		"queue_oom_reaper", "tlb_batch_pages_flush", "tlb_table_flush", "cgroup_bpf_release",
		// header inlines, in 20 to 40 units each
		"percpu_ref_put_many", "css_put", "folio_put", "put_page", "page_ref_dec_and_test",
		// clones asked by name
		"percpu_ref_put_many.constprop.0", "should_skip_region.part.0", "huge_pte_lock.isra.0",
		"kzalloc.constprop.0",
		// __init_memblock (notrace): callers in other objects; memblock_add
		// is in no dump
		"__next_mem_range", "__next_mem_range_rev", "memblock_add", "memblock_free",
		// in no dump, defined by an object
		"__delayed_free_task", "__find_max_addr",
		// globals
		"__alloc_pages", "schedule", "copy_process", "oom_kill_process", "out_of_memory",
		"kmem_cache_alloc", "vfree", "tlb_finish_mmu", "find_vma", "get_task_mm", "mmput",
		// misspelt or unknown
		"percpu_ref_put_mny", "shoud_skip_region", "klp_audit_no_such_function",
	} {
		qs = append(qs, ImpactQuery{Func: f})
	}
	qs = append(qs,
		ImpactQuery{Func: "percpu_ref_put_many", TU: "kernel/bpf/cgroup.o"},
		ImpactQuery{Func: "put_page", File: "include/linux/mm.h", NoRules: true},
		ImpactQuery{Func: "rcu_read_lock", DumpsOnly: true},
	)
	ans := compareLean(t, Options{Builds: []string{tree}}, qs)
	// The questions are real ones: answers with targets, errors with
	// suggestions.
	if !strings.Contains(ans[0], `"name": "__next_mem_range"`) {
		t.Errorf("should_skip_region's answer does not name __next_mem_range:\n%.2000s", ans[0])
	}
	if !strings.Contains(ans[len(qs)-6], "closest known names: percpu_ref_put, percpu_ref_put_many") {
		t.Errorf("the misspelt name's error suggests nothing: %.500s", ans[len(qs)-6])
	}

	// And the path is lean: a static's query reads its unit alone.
	s, err := loadFor(Options{Builds: []string{tree}}, "should_skip_region")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Impacted(ImpactQuery{Func: "should_skip_region", DumpsOnly: true}, rules.DefaultPolicy(), nil); err != nil {
		t.Fatal(err)
	}
	if unread, all := s.graph.Unread(), len(s.graph.TUs()); unread < all-3 {
		t.Errorf("the lean query read %d of %d units, want the few naming should_skip_region", all-unread, all)
	}
}

// TestLeanFixtures: over every compiled fixture (units with dumps, units
// read from DWARF, an LTO program, ftrace and notrace objects), the lean
// path answers every question about each function a dump names or an
// object defines as the full load does, byte for byte, with the rules,
// without them and from the dumps alone.
func TestLeanFixtures(t *testing.T) {
	for _, name := range []string{"clones", "cycle", "fentry", "header", "klp-check", "klp-sympos", "livepatch-flags", "lto",
		"rule-abi", "rule-callers", "rule-containment", "rule-icf", "rule-notpatchable", "simd", "statics", "cold", "icf", "objcalls"} {
		t.Run(name, func(t *testing.T) {
			dir := fixture.Build(t, name)
			o := Options{Builds: []string{dir}}
			full, err := Load(o)
			if err != nil {
				t.Fatal(err)
			}
			funcs := append(full.graph.Names(), full.definers().WithPrefix("")...)
			var qs []ImpactQuery
			seen := map[string]bool{}
			for _, f := range append(funcs, "no_such_function", "main_") {
				if seen[f] {
					continue
				}
				seen[f] = true
				qs = append(qs, ImpactQuery{Func: f}, ImpactQuery{Func: f, NoRules: true}, ImpactQuery{Func: f, DumpsOnly: true})
			}
			compareLean(t, o, qs)
		})
	}
}
