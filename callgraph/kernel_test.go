package callgraph

import (
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// TestKernelCoversDWARF is TestImpactedCoversDWARF on the real kernel: for
// a sample of translation units of kernel/ and mm/, every function symbol
// whose code DWARF says contains X must be in Impacted(X), for every X.
func TestKernelCoversDWARF(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	tree := fixture.KernelTree(t)
	g, err := Load(kernelDumps(t), LoadOptions{StripPrefixes: []string{tree}})
	if err != nil {
		t.Fatal(err)
	}
	// Units the test must cover whatever else it finds.
	must := []string{
		"mm/oom_kill.o", "mm/memblock.o", "mm/memcontrol.o", "mm/page_alloc.o", "mm/slub.o",
		"kernel/cgroup/cgroup.o", "kernel/bpf/cgroup.o", "kernel/sched/core.o", "kernel/workqueue.o",
		"kernel/fork.o",
	}
	for _, m := range must {
		if tu, ok := g.TU(m); !ok || !tu.HasObject {
			t.Errorf("unit %s or its object missing", m)
		}
	}
	total := 0
	for _, tu := range g.TUs() {
		tuName := tu.Name
		if !tu.HasObject {
			continue
		}
		t.Run(tuName, func(t *testing.T) {
			truth, err := fixture.Containment(tu.Object)
			if err != nil {
				t.Fatal(err)
			}
			checked, missed := 0, 0
			for x, holders := range truth {
				var start []NodeID
				for _, id := range g.Lookup(x) {
					if id.TU == tu.Name {
						start = append(start, id)
					}
				}
				got := map[string]bool{x: true}
				for _, r := range g.Impacted(start...).Nodes {
					got[r.ID.Name] = true
				}
				for h := range holders {
					checked++
					if !got[h] && !isPiece(h, got) {
						missed++
						if missed <= 20 {
							t.Errorf("%s: DWARF says %s contains the code of %s; Impacted(%s) misses it", tuName, h, x, x)
						}
					}
				}
			}
			if missed > 0 {
				t.Errorf("%s: %d of %d containments missed", tuName, missed, checked)
			}
			total += checked
		})
	}
	if total < 50000 {
		t.Errorf("only %d containments checked over %d units", total, len(g.TUs()))
	}
	t.Logf("%d containments checked over %d units", total, len(g.TUs()))
}

// isPiece reports whether sym is a hot/cold piece of a function in got:
// foo.cold is part of foo.
func isPiece(sym string, got map[string]bool) bool {
	base, ok := strings.CutSuffix(sym, ".cold")
	return ok && got[base]
}

// TestKernelInliningAgrees compares, for every unit of kernel/ and mm/,
// DWARF's inlined copies with the dump: DWARF must never show code the
// dump's closure misses. Copies the dump records but DWARF lacks (the
// inlined code was optimised away) are counted, not errors.
func TestKernelInliningAgrees(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	g, err := Load(kernelDumps(t), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs := NewObjects(g, nil)
	checked, notInDWARF := 0, 0
	for _, tu := range g.TUs() {
		if !tu.HasObject {
			continue
		}
		c, err := objs.CompareInlining(tu.Name)
		if err != nil {
			t.Errorf("%s: %v", tu.Name, err)
			continue
		}
		checked += c.Checked
		notInDWARF += len(c.NotInDWARF)
		for i, p := range c.NotInDump {
			if i < 5 {
				t.Errorf("%s: DWARF has %s inlined in %s; the dump's closure misses it", tu.Name, p.Inlined, p.Into)
			}
		}
	}
	if checked < 50000 {
		t.Errorf("only %d inlined copies checked", checked)
	}
	t.Logf("%d inlined copies in DWARF, all in the dumps' closure; %d dump inlinings with no copy left in DWARF", checked, notInDWARF)
}

// TestKernelDumpsAgree: on the kernel fixture, where every dump comes
// from the compile of its object, CheckDump finds no disagreement in any
// unit of kernel/ and mm/ (a false alarm would make every answer
// incomplete).
func TestKernelDumpsAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	g, err := Load(kernelDumps(t), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs := NewObjects(g, nil)
	units, bad := 0, 0
	for _, tu := range g.TUs() {
		if !tu.HasObject {
			continue
		}
		c, err := objs.CheckDump(tu.Name)
		if err != nil {
			t.Errorf("%s: %v", tu.Name, err)
			continue
		}
		units++
		for _, d := range c.Disagree {
			if bad++; bad <= 20 {
				t.Errorf("%s: %s: %s", tu.Name, d.Function, d.Why)
			}
		}
	}
	if units < 300 {
		t.Errorf("only %d units checked", units)
	}
	t.Logf("%d units checked, %d disagreements", units, bad)
}
