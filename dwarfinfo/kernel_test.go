package dwarfinfo_test

import (
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/internal/fixture"
)

// kernelObjects returns the objects of kernel/ and mm/ of the kernel
// build, or skips.
func kernelObjects(tb testing.TB) (string, []string) {
	tb.Helper()
	tree := fixture.KernelTree(tb)
	var objs []string
	for _, d := range []string{"kernel", "mm"} {
		err := filepath.WalkDir(filepath.Join(tree, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() && strings.HasSuffix(p, ".o") {
				objs = append(objs, p)
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	if len(objs) < 300 {
		tb.Fatalf("only %d objects under %s/kernel and mm", len(objs), tree)
	}
	return tree, objs
}

// TestKernelFlags: every object of kernel/ and mm/ has a producer and was
// built with -O2. Those with ftrace (-pg -mfentry: all but the ones kbuild
// builds notrace, kernel/trace/ and kernel/irq_work.o) have IPA-RA off
// because of -pg; the notrace ones have it live. Pure-const, modref and
// IPA-CP are live everywhere.
func TestKernelFlags(t *testing.T) {
	tree, objs := kernelObjects(t)
	res := dwarfinfo.ProducersAll(objs, 2)
	traced := 0
	for _, r := range res {
		rel, _ := filepath.Rel(tree, r.Path)
		rel = filepath.ToSlash(rel)
		if r.Err != nil {
			t.Errorf("%s: %v", rel, r.Err)
			continue
		}
		if len(r.Units) == 0 {
			t.Errorf("%s: no compilation unit", rel)
			continue
		}
		notrace := strings.HasPrefix(rel, "kernel/trace/") || rel == "kernel/irq_work.o"
		for _, u := range r.Units {
			f := u.Flags
			if u.Producer == "" || f.Compiler != dwarfinfo.GCC || f.Opt != "2" {
				t.Errorf("%s: unit %s: compiler %v -O%s, want gcc -O2; producer %q", rel, u.Name, f.Compiler, f.Opt, u.Producer)
				continue
			}
			if f.Profile != !notrace || f.Fentry != !notrace {
				t.Errorf("%s: -pg %v -mfentry %v, want %v (notrace objects are kernel/trace/ and kernel/irq_work.o)", rel, f.Profile, f.Fentry, !notrace)
			}
			if f.Profile {
				traced++
			}
			live := map[string]bool{}
			for _, a := range f.Analyses() {
				live[a.Name] = a.Live
			}
			if live["ipa-ra"] != notrace {
				t.Errorf("%s: ipa-ra live %v with -pg %v", rel, live["ipa-ra"], f.Profile)
			}
			for _, n := range []string{"ipa-pure-const", "ipa-modref", "ipa-cp", "ipa-icf", "ipa-reference", "ipa-vrp", "ipa-bit-cp", "inlining"} {
				if !live[n] {
					t.Errorf("%s: %s not live in a -O2 build", rel, n)
				}
			}
		}
	}
	if traced < 300 {
		t.Errorf("only %d of %d objects built with -pg", traced, len(res))
	}
	t.Logf("%d objects, %d with -pg -mfentry", len(res), traced)
}

// TestKernelFastMatchesSlow: the fast unit reader gives what debug/dwarf
// gives, on every kernel object.
func TestKernelFastMatchesSlow(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	tree, objs := kernelObjects(t)
	for _, o := range objs {
		fast, err := dwarfinfo.Producers(o)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := dwarfinfo.SlowProducers(o)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			rel, _ := filepath.Rel(tree, o)
			t.Errorf("%s: fast reader %+v, debug/dwarf %+v", rel, fast, slow)
		}
	}
}

// TestKernelInlines: mm/oom_kill.o resolves every function to a symbol
// and records call sites in kernel headers.
func TestKernelInlines(t *testing.T) {
	tree := fixture.KernelTree(t)
	in, err := dwarfinfo.Inlines(filepath.Join(tree, "mm", "oom_kill.o"))
	if err != nil {
		t.Fatal(err)
	}
	headers, inlined := 0, 0
	for _, fn := range in.Funcs {
		if fn.NoSymbol {
			t.Errorf("%s: no symbol for the code at %#x size %d", fn.Origin, fn.Addr, fn.Size)
		}
		for _, i := range fn.Inlined {
			inlined++
			if i.Name == "" || i.Into == "" || i.Depth < 1 {
				t.Errorf("%s: incomplete inline %+v", fn.Symbol, i)
			}
			if strings.HasPrefix(i.File, "include/") {
				headers++
			}
		}
	}
	if len(in.Funcs) < 50 || inlined < 500 || headers < 100 {
		t.Errorf("mm/oom_kill.o: %d functions, %d inlined copies, %d called from include/: too few", len(in.Funcs), inlined, headers)
	}
	fn, ok := in.Func("oom_badness")
	if !ok {
		t.Fatal("no function oom_badness")
	}
	t.Logf("%d functions, %d inlined copies; oom_badness holds %d", len(in.Funcs), inlined, len(fn.Inlined))
}

// BenchmarkProducersKernel reads the producers of the 372 objects of
// kernel/ and mm/ with two goroutines.
func BenchmarkProducersKernel(b *testing.B) {
	_, objs := kernelObjects(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range dwarfinfo.ProducersAll(objs, 2) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	b.ReportMetric(float64(len(objs)), "objects/op")
}

// BenchmarkProducersKernelDebugDWARF is the same through debug/dwarf
// (elf.File.DWARF), one goroutine, for comparison.
func BenchmarkProducersKernelDebugDWARF(b *testing.B) {
	_, objs := kernelObjects(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, o := range objs {
			if _, err := dwarfinfo.SlowProducers(o); err != nil {
				b.Fatal(err)
			}
		}
	}
}
