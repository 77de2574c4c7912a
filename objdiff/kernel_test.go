package objdiff

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// These tests recompile one object of the cached kernel build
// (scripts/kernel-fixture.sh) with a mutated source, using the command
// kbuild recorded, and compare it with the original object. They skip
// without the cache and under -short.

// treeState fingerprints the files of dirs inside tree (names, sizes,
// modification times) and the content of the objects given, to check
// that a recompilation left the tree as it was.
func treeState(t *testing.T, tree string, dirs []string, objs ...string) string {
	t.Helper()
	var lines []string
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(tree, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := e.Info()
			if err != nil {
				return err
			}
			lines = append(lines, fmt.Sprintf("%s %d %d", p, fi.Size(), fi.ModTime().UnixNano()))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The tree's root, where a stray dump or dependency file would land.
	ents, err := os.ReadDir(tree)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		lines = append(lines, "/"+e.Name())
	}
	for _, o := range objs {
		b, err := os.ReadFile(filepath.Join(tree, o))
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("%s %x", o, sha256.Sum256(b)))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// kernelDiff recompiles obj with mutate and compares the cached object
// with the new one, checking the tree is left untouched.
func kernelDiff(t *testing.T, obj string, mutate func([]byte) []byte) *ObjectDiff {
	t.Helper()
	if testing.Short() {
		t.Skip("recompiles kernel objects: not with -short")
	}
	tree := fixture.KernelTree(t)
	dir := filepath.Dir(obj)
	unlock := fixture.LockKernelTree(t, tree)
	defer unlock()
	before := treeState(t, tree, []string{dir}, obj)
	start := time.Now()
	out := fixture.RecompileKernelObject(t, tree, obj, mutate)
	compile := time.Since(start)
	if after := treeState(t, tree, []string{dir}, obj); after != before {
		t.Fatalf("recompiling %s changed the tree", obj)
	}
	start = time.Now()
	a, err := Open(filepath.Join(tree, obj))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	d := Compare(a, b)
	t.Logf("%s: recompiled in %v, read and compared in %v: %d changed, %d line-shift only, %d added, %d removed, %d unchanged",
		obj, compile.Round(time.Millisecond), time.Since(start).Round(time.Millisecond),
		len(d.Changed), len(d.LineShiftOnly), len(d.Added), len(d.Removed), d.Unchanged)
	for _, c := range d.Changed {
		t.Logf("  changed %s (%s): %s+%#x: %s | %s", c.Name, c.Reason, c.First.Piece, c.First.Offset, c.First.Orig, c.First.Patched)
	}
	for _, c := range d.LineShiftOnly {
		t.Logf("  line-shift only %s: %+v", c.Name, c.LineShifts)
	}
	for _, f := range d.Added {
		t.Logf("  added %s", f.Name)
	}
	for _, f := range d.Removed {
		t.Logf("  removed %s", f.Name)
	}
	for _, n := range d.Notes {
		t.Logf("  note: %s", n)
	}
	return d
}

// replace returns a mutation that replaces old by new once, failing the
// test when the source has no old.
func replace(t *testing.T, pairs ...string) func([]byte) []byte {
	return func(b []byte) []byte {
		s := string(b)
		for i := 0; i+1 < len(pairs); i += 2 {
			if !strings.Contains(s, pairs[i]) {
				t.Fatalf("source lacks %q", pairs[i])
			}
			s = strings.Replace(s, pairs[i], pairs[i+1], 1)
		}
		return []byte(s)
	}
}

// TestKernelRecompileSame: the same source with the same flags gives
// the same code, so the comparison is sound: nothing differs.
func TestKernelRecompileSame(t *testing.T) {
	d := kernelDiff(t, "mm/memblock.o", nil)
	if len(d.Changed)+len(d.LineShiftOnly)+len(d.Added)+len(d.Removed) > 0 || d.Unchanged < 50 {
		t.Errorf("recompiling mm/memblock.c unchanged: %d changed, %d line-shift, %d added, %d removed, %d unchanged; want all unchanged",
			len(d.Changed), len(d.LineShiftOnly), len(d.Added), len(d.Removed), d.Unchanged)
	}
	if len(d.Notes) > 0 {
		t.Errorf("notes: %q", d.Notes)
	}
}

// statics is the declaration the should_skip_region mutations add, on the
// function's own line so that no line moves.
const skipDecl = "static int klp_audit_sink; static bool should_skip_region("

// TestKernelImpureCallee is the caller-assumptions case: should_skip_region in
// mm/memblock.c is "locally pure", and GCC compiles its callers
// __next_mem_range and __next_mem_range_rev relying on it. Making it write
// a global changes it and both callers, which only call it.
//
// How it is made impure matters, and the test asserts what gcc 12.2
// does with each:
//   - WRITE_ONCE(klp_audit_sink, nid) (a volatile store) keeps the
//     function whole: should_skip_region and both callers change;
//   - klp_audit_sink++ is a decision shift: ipa-split moves its tail into
//     should_skip_region.part.0 and inlines the head into the callers, so
//     should_skip_region disappears, the .part.0 clone appears and both
//     callers change;
//   - klp_audit_sink = 1 changes nothing: the variable is never read, so
//     gcc deletes the store and the variable (the function stays pure).
func TestKernelImpureCallee(t *testing.T) {
	callers := []string{"__next_mem_range", "__next_mem_range_rev"}
	t.Run("volatile store", func(t *testing.T) {
		d := kernelDiff(t, "mm/memblock.o", replace(t,
			"static bool should_skip_region(", skipDecl,
			"\tint m_nid = memblock_get_region_node(m);\n", "\tint m_nid = memblock_get_region_node(m); WRITE_ONCE(klp_audit_sink, nid);\n"))
		want := append([]string{"should_skip_region"}, callers...)
		sort.Strings(want)
		if got := changedNames(d.Changed); !slices.Equal(got, want) {
			t.Errorf("changed %q, want %q", got, want)
		}
		if len(d.Added)+len(d.Removed)+len(d.LineShiftOnly) > 0 {
			t.Errorf("want no added, removed or line-shift functions: %+v", d)
		}
	})
	t.Run("increment", func(t *testing.T) {
		d := kernelDiff(t, "mm/memblock.o", replace(t,
			"static bool should_skip_region(", skipDecl,
			"\tint m_nid = memblock_get_region_node(m);\n", "\tint m_nid = memblock_get_region_node(m); klp_audit_sink++;\n"))
		if got := changedNames(d.Changed); !slices.Equal(got, callers) {
			t.Errorf("changed %q, want %q", got, callers)
		}
		if got := funcNames(d.Removed); !slices.Equal(got, []string{"should_skip_region"}) {
			t.Errorf("removed %q, want should_skip_region (replaced by a clone)", got)
		}
		if got := funcNames(d.Added); len(got) != 1 || !strings.HasPrefix(got[0], "should_skip_region.") {
			t.Errorf("added %q, want one clone of should_skip_region", got)
		}
	})
	t.Run("dead store", func(t *testing.T) {
		d := kernelDiff(t, "mm/memblock.o", replace(t,
			"static bool should_skip_region(", skipDecl,
			"\tint m_nid = memblock_get_region_node(m);\n", "\tint m_nid = memblock_get_region_node(m); klp_audit_sink = 1;\n"))
		if len(d.Changed)+len(d.Added)+len(d.Removed)+len(d.LineShiftOnly) > 0 {
			t.Errorf("a store gcc deletes changed something: %+v", d)
		}
	})
}

// TestKernelLineShift inserts a blank line above the first #include: every
// WARN below records a line one greater, and nothing else changes.
func TestKernelLineShift(t *testing.T) {
	blank := func(b []byte) []byte {
		s := string(b)
		i := strings.Index(s, "#include")
		return []byte(s[:i] + "\n" + s[i:])
	}
	for _, tc := range []struct {
		obj       string
		lineShift []string // must be among the line-shift-only functions
	}{
		{"mm/oom_kill.o", []string{"mark_oom_victim"}},
		{"mm/memblock.o", []string{"memblock_add_range", "__next_mem_range", "__next_mem_range_rev"}},
	} {
		t.Run(tc.obj, func(t *testing.T) {
			d := kernelDiff(t, tc.obj, blank)
			if len(d.Changed)+len(d.Added)+len(d.Removed) > 0 {
				t.Errorf("a blank line changed %q, added %q, removed %q", changedNames(d.Changed), funcNames(d.Added), funcNames(d.Removed))
			}
			got := changedNames(d.LineShiftOnly)
			for _, n := range tc.lineShift {
				if !slices.Contains(got, n) {
					t.Errorf("%s is not line-shift only (%q are)", n, got)
				}
			}
			for _, c := range d.LineShiftOnly {
				for _, l := range c.LineShifts {
					if l.Patched != l.Orig+1 {
						t.Errorf("%s: line %d -> %d, want +1", c.Name, l.Orig, l.Patched)
					}
				}
			}
		})
	}
}
