package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/report"
)

func kernelImpacted(t *testing.T, args ...string) *report.Result {
	t.Helper()
	tree := fixture.KernelTree(t)
	code, out, errs := run(t, tree, append([]string{"impacted", "--no-rules", "--build", ".", "--format", "json"}, args...)...)
	if code != ExitOK {
		t.Fatalf("impacted %v: exit %d\n%s", args, code, errs)
	}
	var r report.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if !r.Complete || len(r.Problems) > 0 {
		t.Fatalf("kernel answer incomplete: %+v", r.Problems)
	}
	return &r
}

func find(r *report.Result, name, tu string) *report.Entry {
	for i := range r.Entries {
		if r.Entries[i].Name == name && r.Entries[i].TU == tu {
			return &r.Entries[i]
		}
	}
	return nil
}

// TestKernelImpacted runs the command on the kernel fixture and checks the
// chain from percpu_ref_put_many through its constprop clone.
func TestKernelImpacted(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	r := kernelImpacted(t, "--func", "percpu_ref_put_many")
	if r.Summary.TUs < 20 || r.Summary.Functions < 100 {
		t.Errorf("percpu_ref_put_many reaches %d functions in %d units; the kernel has hundreds of users", r.Summary.Functions, r.Summary.TUs)
	}
	e := find(r, "cgroup_bpf_release", "kernel/bpf/cgroup.o")
	if e == nil {
		t.Fatal("cgroup_bpf_release (kernel/bpf/cgroup.o) missing")
	}
	var hows []string
	for _, s := range e.Chain {
		hows = append(hows, s.From+" -"+s.How+"-> "+s.To)
	}
	if len(e.Chain) == 0 || e.Chain[0].How != "constprop" || e.Chain[0].To != "percpu_ref_put_many.constprop.0" {
		t.Errorf("chain to cgroup_bpf_release = %v, want it through percpu_ref_put_many.constprop.0", hows)
	}
	for _, s := range e.Chain {
		if !strings.HasPrefix(s.Evidence, "kernel/bpf/cgroup.c.000i.ipa-clones:") {
			t.Errorf("step %s cites %q, want a line of kernel/bpf/cgroup.c's dump", s.To, s.Evidence)
		}
	}
	if css := find(r, "css_put", "kernel/bpf/cgroup.o"); css == nil || !css.RemovedInDump || css.Emitted != "no" {
		t.Errorf("css_put in kernel/bpf/cgroup.o: %+v, want present, removed in dump and not emitted", css)
	}
	// The object decides what a livepatch can replace.
	if len(e.Symbols) != 1 || e.Emitted != "yes" || e.Symbols[0].Binding != "local" || !e.Symbols[0].Fentry {
		t.Errorf("cgroup_bpf_release: emitted %q symbols %+v, want one local symbol with an ftrace entry", e.Emitted, e.Symbols)
	}
	if cp := find(r, "percpu_ref_put_many.constprop.0", "kernel/bpf/cgroup.o"); cp == nil || cp.Emitted != "no" ||
		!strings.Contains(cp.WhyNotEmitted, "inlined everywhere") {
		t.Errorf("percpu_ref_put_many.constprop.0: %+v, want not emitted, inlined everywhere", cp)
	}
	if r.Summary.Emitted == 0 || r.Summary.Emitted >= r.Summary.Functions {
		t.Errorf("%d of %d entries emitted", r.Summary.Emitted, r.Summary.Functions)
	}

	// --file keeps the copies declared in one header: all of them here.
	rf := kernelImpacted(t, "--func", "percpu_ref_put_many", "--file", "include/linux/percpu-refcount.h")
	if rf.Summary.Functions != r.Summary.Functions {
		t.Errorf("--file of the declaring header: %d functions, want all %d", rf.Summary.Functions, r.Summary.Functions)
	}
	// --tu keeps one unit.
	rt := kernelImpacted(t, "--func", "percpu_ref_put_many", "--tu", "kernel/bpf/cgroup.o")
	if rt.Summary.TUs != 1 || find(rt, "cgroup_bpf_release", "kernel/bpf/cgroup.o") == nil {
		t.Errorf("--tu kernel/bpf/cgroup.o: %d units", rt.Summary.TUs)
	}
}

// TestKernelDumpsFrom reads the same dumps through a list file, the input
// form of kgraft-analysis-tool, and must give the same answer.
func TestKernelDumpsFrom(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	tree := fixture.KernelTree(t)
	var list []string
	filepath.WalkDir(filepath.Join(tree, "mm"), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".ipa-clones") {
			rel, _ := filepath.Rel(tree, p)
			list = append(list, rel)
		}
		return nil
	})
	// The list's relative paths are its own directory's: "k" there is
	// the kernel tree.
	dir := t.TempDir()
	if err := os.Symlink(tree, filepath.Join(dir, "k")); err != nil {
		t.Fatal(err)
	}
	for i := range list {
		list[i] = "k/" + list[i]
	}
	lf := filepath.Join(dir, "dumps.txt")
	os.WriteFile(lf, []byte("# mm dumps\n"+strings.Join(list, "\n")+"\n"), 0o644)
	code, out, errs := run(t, t.TempDir(), "impacted", "--no-rules", "--dumps-from", lf, "--func", "should_skip_region", "--format", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r report.Result
	json.Unmarshal([]byte(out), &r)
	if r.Inputs.Dumps != len(list) {
		t.Errorf("read %d dumps, listed %d", r.Inputs.Dumps, len(list))
	}
	if e := find(&r, "should_skip_region", "k/mm/memblock.o"); e == nil {
		t.Errorf("should_skip_region (mm/memblock.o) missing: %+v", r.Entries)
	}
}

// TestKernelRules runs the safety rules on a real caller-assumptions case: making
// should_skip_region (mm/memblock.c) impure changes its callers
// __next_mem_range and __next_mem_range_rev, which only call it.
func TestKernelRules(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	tree := fixture.KernelTree(t)
	code, out, errs := run(t, tree, "impacted", "--build", ".", "--func", "should_skip_region", "--format", "json")
	var r report.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	target := map[string]report.Target{}
	for _, tg := range r.Targets {
		target[tg.Name] = tg
	}
	if tg, ok := target["should_skip_region"]; !ok || tg.Rule != "containment" || tg.KLPObject != "vmlinux" || tg.Severity != "must" {
		t.Errorf("should_skip_region: %+v, want a must target of vmlinux by containment", tg)
	}
	if tg, ok := target["__next_mem_range"]; !ok || tg.Rule != "caller-assumptions" || tg.Severity != "conditional" || !strings.Contains(tg.Note, "ipa-pure-const") ||
		!strings.HasPrefix(tg.Note, "needed only if your fix changes what __next_mem_range assumed of should_skip_region") {
		t.Errorf("__next_mem_range: %+v, want a target through caller assumptions naming ipa-pure-const", tg)
	}
	// The kernel is built with -pg: IPA-RA is off, so it is not named.
	if strings.Contains(target["__next_mem_range"].Note, "ipa-ra") {
		t.Errorf("ipa-ra named although -pg turns it off: %s", target["__next_mem_range"].Note)
	}
	// __next_mem_range_rev has no ftrace entry (__init_memblock is notrace
	// meminit code): it is explained, and its callers are followed.
	var rev *report.Explained
	for i := range r.Explained {
		if r.Explained[i].Name == "__next_mem_range_rev" {
			rev = &r.Explained[i]
		}
	}
	if rev == nil || rev.Rule != "not-patchable" {
		t.Errorf("__next_mem_range_rev explained as %+v, want not-patchable", rev)
	}
	// Its substitutes, up the notrace memblock chain, stand in for a
	// conditional target: conditional too, under its condition.
	if tg, ok := target["__add_pages"]; !ok || tg.Severity != "conditional" ||
		!strings.Contains(tg.Note, "itself replaced for __next_mem_range_rev, which is needed only if your fix changes what __next_mem_range_rev assumed of should_skip_region") {
		t.Errorf("__add_pages: %+v, want conditional, standing in for __next_mem_range_rev", tg)
	}
	// kernel/ and mm/ alone miss the callers in arch/: the answer must say
	// it is incomplete, never pass as safe.
	if code != ExitIncomplete || r.Complete {
		t.Errorf("exit %d complete=%v on a partial kernel build; want incomplete", code, r.Complete)
	}
	e820 := false
	for _, p := range r.Problems {
		if !strings.Contains(p.Message, "no direct caller") && !strings.Contains(p.Message, "but sources in directories not built name it") {
			t.Errorf("unexpected problem: %s", p.Message)
		}
		// memblock_add is called from arch/x86/kernel/e820.c.
		e820 = e820 || strings.HasPrefix(p.Message, "memblock_add (mm/memblock.o)") && strings.Contains(p.Message, "arch/x86/kernel/e820.c")
	}
	if !e820 {
		t.Errorf("no problem names arch/x86/kernel/e820.c, memblock_add's caller: %+v", r.Problems)
	}
}
