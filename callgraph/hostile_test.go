package callgraph

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/internal/safeio"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/object"
)

var chainLen = 8000

// linearChain writes a dump in which f0 is inlined into f1, f1 into f2,
// and so on: n edges, about 66 bytes each (8,000 edges: 530 KB).
func linearChain(t testing.TB, dir string, n int) ipadump.Dump {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "Callgraph clone;f%d;%d;x.c;%d;5;f%d;%d;x.c;%d;5;inlining to\n", i, i+1, i+1, i+1, i+2, i+2)
	}
	p := filepath.Join(dir, "x.c.000i.ipa-clones")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return ipadump.Dump{Path: p, Kind: ipadump.UnitDump, TU: "x.o", Object: filepath.Join(dir, "x.o")}
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestImpactedLinearChain: the impact of the head of an 8,000-edge linear
// inline chain takes memory linear in the chain (it took more than 23 GB
// when every node kept a copy of its path), and the chains stay exact:
// the last node's is the whole chain, in order.
func TestImpactedLinearChain(t *testing.T) {
	n := chainLen
	d := linearChain(t, t.TempDir(), n)
	g, err := Load([]ipadump.Dump{d}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var imp *Impact
	bytes := allocated(func() { imp = g.Impacted(NodeID{Name: "f0", TU: "x.o"}) })
	t.Logf("Impacted of a %d-edge chain allocated %d MB", n, bytes>>20)
	if bytes > 200<<20 {
		t.Fatalf("Impacted allocated %d MB, want < 200 MB", bytes>>20)
	}
	if len(imp.Nodes) != n+1 {
		t.Fatalf("%d nodes, want %d", len(imp.Nodes), n+1)
	}
	last := imp.Nodes[len(imp.Nodes)-1]
	if last.ID.Name != fmt.Sprint("f", n) || last.Depth != n {
		t.Fatalf("last node %v at depth %d", last.ID, last.Depth)
	}
	var steps int
	for i, e := range last.Chain {
		if i != steps || e.From.Name != fmt.Sprint("f", i) || e.To.Name != fmt.Sprint("f", i+1) || e.Evidence.Line != i+1 {
			t.Fatalf("step %d: %+v", i, e)
		}
		steps++
	}
	if steps != n {
		t.Fatalf("chain of %d steps, want %d", steps, n)
	}
	for i, r := range imp.Nodes {
		want := i - 1
		if i == 0 {
			want = -1
		}
		if r.Parent != want || (i > 0 && r.Via.To != r.ID) {
			t.Fatalf("node %d: parent %d, via %+v", i, r.Parent, r.Via)
		}
	}
}

// TestLoadHostileDumps: a FIFO as a dump answers at once with an error,
// and a sparse 200 GB dump is refused before anything is sized by it
// (it aborted with "fatal error: out of memory").
func TestLoadHostileDumps(t *testing.T) {
	dir := t.TempDir()
	fifo := fixture.FIFO(t, filepath.Join(dir, "f.c.000i.ipa-clones"))
	big := fixture.Sparse(t, filepath.Join(dir, "big.c.000i.ipa-clones"), 200<<30)
	zero := filepath.Join(dir, "z.c.000i.ipa-clones")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	ds := []ipadump.Dump{
		{Path: fifo, Kind: ipadump.UnitDump, TU: "f.o"},
		{Path: big, Kind: ipadump.UnitDump, TU: "big.o"},
		{Path: zero, Kind: ipadump.UnitDump, TU: "z.o"},
	}
	var err error
	bytes := allocated(func() {
		fixture.Within(t, 10*time.Second, "Load", func() { _, err = Load(ds, LoadOptions{}) })
	})
	if bytes > 100<<20 {
		t.Errorf("Load of hostile dumps allocated %d MB", bytes>>20)
	}
	var el ipadump.ErrorList
	if !errors.As(err, &el) || len(el) != 3 {
		t.Fatalf("Load: %v, want 3 errors", err)
	}
	for i, w := range []struct {
		path string
		is   error
	}{{fifo, safeio.ErrNotRegular}, {big, safeio.ErrTooLarge}, {zero, safeio.ErrNotRegular}} {
		if !errors.Is(el[i], w.is) || !strings.Contains(el[i].Error(), w.path) {
			t.Errorf("error %d: %v, want %v naming %s", i, el[i], w.is, w.path)
		}
	}
	// The size hint alone must not allocate by the claimed size either.
	if bytes := allocated(func() { NewBuilderSize(200 << 30) }); bytes > 100<<20 {
		t.Errorf("NewBuilderSize(200 GB) allocated %d MB", bytes>>20)
	}
}

// TestObjectsDefiningFIFO: a FIFO among the objects searched is an error
// naming it, at once (it blocked the search forever).
func TestObjectsDefiningFIFO(t *testing.T) {
	fifo := fixture.FIFO(t, filepath.Join(t.TempDir(), "x.o"))
	fixture.Within(t, 5*time.Second, "ObjectsDefining", func() {
		if _, err := ObjectsDefining([]string{fifo}, "f", 1); !errors.Is(err, safeio.ErrNotRegular) || !strings.Contains(err.Error(), fifo) {
			t.Errorf("ObjectsDefining(FIFO): %v", err)
		}
	})
}

// TestHugeObject: an object that claims to be 200 GB (a real object's
// bytes, then a sparse hole: a section could claim most of it) is
// refused on its size by every reader of objects, quickly and without
// reading it, and the error names it as too large; the walk's prescan
// leaves it to them.
func TestHugeObject(t *testing.T) {
	src, err := filepath.Glob(filepath.Join(fixture.Build(t, "clones"), "*.o"))
	if err != nil || len(src) == 0 {
		t.Fatalf("no object: %v", err)
	}
	data, err := os.ReadFile(src[0])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	big := filepath.Join(dir, "big.o")
	if err := os.WriteFile(big, data, 0o644); err != nil {
		t.Fatal(err)
	}
	fixture.Sparse(t, big, 200<<30)
	if err := os.WriteFile(filepath.Join(dir, "big.c.000i.ipa-clones"), []byte("Callgraph clone;f;1;big.c;3;5;g;2;big.c;9;5;inlining to\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tooLarge := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, safeio.ErrTooLarge) || !strings.Contains(err.Error(), big) {
			t.Errorf("%s: %v, want too large, naming %s", what, err, big)
		}
	}
	fixture.Within(t, 10*time.Second, big, func() {
		_, err := object.Open(big)
		tooLarge("object.Open", err)
		_, err = dwarfinfo.Inlines(big)
		tooLarge("dwarfinfo.Inlines", err)
		_, err = undefinedNames(big)
		tooLarge("the rules' symbol table", err)
		_, _, err = definedFuncs(big, false)
		tooLarge("definedFuncs", err)
		if namesLack(big, "f") {
			t.Error("namesLack: says the huge object lacks f")
		}
		pre := NewPrescan([]string{"f"}, true)
		if _, err := ipadump.DiscoverTree(ipadump.DiscoverOptions{Visit: pre.Visit}, dir); err != nil {
			t.Fatal(err)
		}
		defs, err := ObjectsDefiningWith([]string{big}, "f", 0, pre)
		if len(defs) != 0 {
			t.Errorf("defined in %v", defs)
		}
		tooLarge("ObjectsDefiningWith", err)
	})
	runtime.ReadMemStats(&after)
	if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 100 {
		t.Errorf("the huge object made klp-audit allocate %d MB", mb)
	}
}
