package object

import (
	"debug/elf"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// kernelObjects returns the objects of kernel/ and mm/ in the kernel
// build, sorted.
func kernelObjects(tb testing.TB) []string {
	tb.Helper()
	root := fixture.KernelTree(tb)
	var paths []string
	for _, d := range []string{"kernel", "mm"} {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() && strings.HasSuffix(p, ".o") {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	sort.Strings(paths)
	if len(paths) == 0 {
		tb.Fatalf("no objects under %s/kernel and %s/mm", root, root)
	}
	return paths
}

// TestKernelOomKill cross-checks the call graph of a real distribution
// kernel object (Debian 6.1 config: no -ffunction-sections, retpolines,
// return thunks, __fentry__) with objdump and with DWARF call sites.
func TestKernelOomKill(t *testing.T) {
	root := fixture.KernelTree(t)
	f, err := Open(filepath.Join(root, "mm", "oom_kill.o"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("objdump", func(t *testing.T) {
		problems, checked := objdumpMismatches(t, f)
		for _, p := range problems {
			t.Error(p)
		}
		t.Logf("mm/oom_kill.o: %d calls and jumps between functions checked against objdump, %d mismatches", checked, len(problems))
		if checked < 100 {
			t.Errorf("only %d calls checked: objdump output not understood?", checked)
		}
	})
	t.Run("DWARF", func(t *testing.T) {
		if !f.HasDWARF {
			t.Skip("no DWARF in mm/oom_kill.o")
		}
		problems, checked := dwarfMismatches(t, f)
		for _, p := range problems {
			t.Error(p)
		}
		t.Logf("mm/oom_kill.o: %d DWARF call sites checked, %d mismatches", checked, len(problems))
	})
	t.Run("fentry matches __mcount_loc", func(t *testing.T) {
		// Independently: the entries objtool listed in __mcount_loc
		// (relocations against .text + offset), read with debug/elf.
		ef, err := elf.Open(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer ef.Close()
		syms, err := ef.Symbols()
		if err != nil {
			t.Fatal(err)
		}
		rs := ef.Section(".rela__mcount_loc")
		if rs == nil {
			t.Fatal("no .rela__mcount_loc")
		}
		data, err := rs.Data()
		if err != nil {
			t.Fatal(err)
		}
		type loc struct {
			sec string
			off uint64
		}
		want := map[loc]bool{}
		for i := 0; i+24 <= len(data); i += 24 {
			info := binary.LittleEndian.Uint64(data[i+8:])
			add := binary.LittleEndian.Uint64(data[i+16:])
			s := syms[info>>32-1]
			want[loc{ef.Sections[s.Section].Name, s.Value + add}] = true
		}
		got := map[loc]bool{}
		for _, fn := range f.Funcs {
			if fn.Fentry {
				got[loc{fn.Section, fn.Value}] = true
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("functions with Fentry: %d entries, __mcount_loc: %d", len(got), len(want))
			for l := range want {
				if !got[l] {
					t.Errorf("listed in __mcount_loc, not Fentry: %s+%#x", l.sec, l.off)
				}
			}
			for l := range got {
				if !want[l] {
					t.Errorf("Fentry, not in __mcount_loc: %s+%#x", l.sec, l.off)
				}
			}
		}
	})
	t.Run("facts", func(t *testing.T) {
		var decoded, fentry, cold int
		for _, r := range f.Refs {
			if !r.Reloc {
				decoded++
			}
		}
		for _, fn := range f.Funcs {
			if fn.Fentry {
				fentry++
			}
			if fn.ColdOf != "" {
				cold++
			}
		}
		t.Logf("mm/oom_kill.o: %d functions (%d with __fentry__, %d cold pieces), %d refs (%d found by decoding alone)",
			len(f.Funcs), fentry, cold, len(f.Refs), decoded)
		if decoded == 0 {
			t.Error("no ref found by decoding: a distribution kernel has calls without relocations")
		}
		// oom_kill_process calls __oom_kill_process with no relocation.
		found := false
		for _, r := range f.Callees("oom_kill_process") {
			if r.To == "__oom_kill_process" && r.Kind == Call && !r.Reloc {
				found = true
			}
		}
		if !found {
			t.Errorf("no decoded call oom_kill_process -> __oom_kill_process: %v", edges(f.Callees("oom_kill_process")))
		}
	})
}

// TestKernelObjdumpAll runs the objdump and DWARF cross-checks on every
// object of kernel/ and mm/ (seconds; every 8th object under -race;
// skipped with -short).
func TestKernelObjdumpAll(t *testing.T) {
	paths := kernelObjects(t)
	if testing.Short() {
		t.Skip("-short")
	}
	if raceEnabled {
		// Under the race detector, every 8th object: the same checks,
		// in a tenth of the time.
		var some []string
		for i := 0; i < len(paths); i += 8 {
			some = append(some, paths[i])
		}
		paths = some
	}
	files, err := OpenAll(paths, runtime.GOMAXPROCS(0))
	if err != nil {
		t.Fatal(err)
	}
	total, bad, dtotal, dbad := 0, 0, 0, 0
	for _, f := range files {
		problems, checked := objdumpMismatches(t, f)
		total += checked
		for _, p := range problems {
			bad++
			t.Errorf("%s: objdump: %s", f.Path, p)
		}
		if !f.HasDWARF {
			continue
		}
		problems, checked = dwarfMismatches(t, f)
		dtotal += checked
		for _, p := range problems {
			dbad++
			t.Errorf("%s: DWARF: %s", f.Path, p)
		}
	}
	t.Logf("%d objects: %d calls and jumps between functions checked against objdump, %d mismatches", len(files), total, bad)
	t.Logf("%d objects: %d DWARF call sites checked, %d mismatches", len(files), dtotal, dbad)
}

// TestKernelObjectsOpen checks that every object of kernel/ and mm/
// opens, with OpenAll as the tool uses it.
func TestKernelObjectsOpen(t *testing.T) {
	paths := kernelObjects(t)
	files, err := OpenAll(paths, 2)
	if err != nil {
		t.Fatal(err)
	}
	var funcs, refs, decoded, fentry, noGraph int
	for i, f := range files {
		if f == nil {
			t.Errorf("%s: nil File without error", paths[i])
			continue
		}
		if !f.HasCallGraph {
			noGraph++
		}
		funcs += len(f.Funcs)
		refs += len(f.Refs)
		for _, r := range f.Refs {
			if !r.Reloc {
				decoded++
			}
		}
		for _, fn := range f.Funcs {
			if fn.Fentry {
				fentry++
			}
		}
	}
	if noGraph > 0 {
		t.Errorf("%d objects without a call graph", noGraph)
	}
	t.Logf("%d objects: %d functions (%d with __fentry__), %d refs (%d found by decoding alone)", len(files), funcs, fentry, refs, decoded)
}

// BenchmarkOpenKernel opens every object of kernel/ and mm/ (symbols and
// call graph) with 2 workers, as the tool does.
func BenchmarkOpenKernel(b *testing.B) {
	paths := kernelObjects(b)
	var size int64
	for _, p := range paths {
		if fi, err := statSize(p); err == nil {
			size += fi
		}
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := OpenAll(paths, 2); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(paths)), "objects")
}

func statSize(p string) (int64, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
