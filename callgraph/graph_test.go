package callgraph

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/ipadump"
)

var update = flag.Bool("update", false, "rewrite golden files")

func reach(g *Graph, name, tu string) []string {
	var starts []NodeID
	for _, id := range g.Lookup(name) {
		if tu == "" || id.TU == tu {
			starts = append(starts, id)
		}
	}
	return names(g.Impacted(starts...).Nodes)
}

// TestFixtures checks each transformation on code gcc compiles now,
// against the symbols the object really has.
func TestFixtures(t *testing.T) {
	t.Run("constprop replaces its original", func(t *testing.T) {
		dir, g := loadFixture(t, "clones")
		syms := objectFuncs(t, filepath.Join(dir, "clones.o"))
		got := reach(g, "big", "")
		want := []string{"big.constprop.0@clones.o", "big@clones.o"}
		if !slices.Equal(got, want) {
			t.Errorf("Impacted(big) = %v, want %v", got, want)
		}
		// The dump has no removal line for big, yet only the clone exists.
		if syms["big"] || !syms["big.constprop.0"] {
			t.Errorf("object symbols changed: big=%v big.constprop.0=%v", syms["big"], syms["big.constprop.0"])
		}
		n, _ := g.Node(NodeID{"big.constprop.0", "clones.o"})
		if !slices.Equal(n.CloneOf, []EdgeKind{ipadump.ConstProp}) {
			t.Errorf("big.constprop.0 CloneOf = %v", n.CloneOf)
		}
	})
	t.Run("constprop then isra chain", func(t *testing.T) {
		dir, g := loadFixture(t, "clones")
		syms := objectFuncs(t, filepath.Join(dir, "clones.o"))
		imp := g.Impacted(NodeID{"leafy", "clones.o"})
		var last Reached
		for _, r := range imp.Nodes {
			if r.ID.Name == "leafy.constprop.0.isra.0" {
				last = r
			}
		}
		if ch := last.Chain.Edges(); len(ch) != 2 || ch[0].Kind != ipadump.ConstProp || ch[1].Kind != ipadump.ISRA {
			t.Fatalf("chain to leafy.constprop.0.isra.0 = %+v, want constprop then isra", last.Chain.Edges())
		}
		if !syms["leafy.constprop.0.isra.0"] || syms["leafy.constprop.0"] || syms["leafy"] {
			t.Errorf("only the last clone should exist in the object; symbols: %v", sortedKeys(syms))
		}
	})
	t.Run("part and its head inlined", func(t *testing.T) {
		_, g := loadFixture(t, "clones")
		got := reach(g, "splitme", "")
		for _, w := range []string{"splitme.part.0@clones.o", "sp1@clones.o", "sp2@clones.o", "sp3@clones.o"} {
			if !slices.Contains(got, w) {
				t.Errorf("Impacted(splitme) = %v, missing %s", got, w)
			}
		}
		if n, _ := g.Node(NodeID{"splitme", "clones.o"}); !n.Removed {
			t.Error("splitme: dump has a removal line, Removed = false")
		}
	})
	t.Run("cycles terminate", func(t *testing.T) {
		_, g := loadFixture(t, "cycle")
		imp := g.Impacted(g.Lookup("walk")...)
		if len(imp.Nodes) != 1 || !imp.Nodes[0].InCycle {
			t.Errorf("Impacted(walk) = %+v, want walk alone, on a cycle", imp.Nodes)
		}
		// walk exists although its recursive-inlining copies were removed.
		if n, _ := g.Node(NodeID{"walk", "cycle.o"}); n.Removed {
			t.Error("walk marked removed; only its copies were")
		}
		got := reach(g, "pong", "")
		for _, w := range []string{"ping.part.0@cycle.o", "pingpong@cycle.o", "pong.part.0@cycle.o"} {
			if !slices.Contains(got, w) {
				t.Errorf("Impacted(pong) = %v, missing %s", got, w)
			}
		}
	})
	t.Run("same-named statics stay apart", func(t *testing.T) {
		_, g := loadFixture(t, "statics")
		ids := g.Lookup("scale")
		if len(ids) != 2 {
			t.Fatalf("Lookup(scale) = %v, want one node per unit", ids)
		}
		a := reach(g, "scale", "a.o")
		if want := []string{"a_entry@a.o", "scale@a.o"}; !slices.Equal(a, want) {
			t.Errorf("Impacted(scale in a.o) = %v, want %v", a, want)
		}
		b := reach(g, "scale", "b.o")
		if want := []string{"b_entry@b.o", "b_other@b.o", "scale@b.o"}; !slices.Equal(b, want) {
			t.Errorf("Impacted(scale in b.o) = %v, want %v", b, want)
		}
	})
	t.Run("header inline in two units", func(t *testing.T) {
		_, g := loadFixture(t, "header")
		got := reach(g, "ref_put", "")
		for _, w := range []string{"obj1_drop@obj1.o", "obj2_release_all@obj2.o", "ref_put.part.0@obj2.o"} {
			if !slices.Contains(got, w) {
				t.Errorf("Impacted(ref_put) = %v, missing %s", got, w)
			}
		}
		for _, id := range g.Lookup("ref_put") {
			n, _ := g.Node(id)
			if n.File != "refcount.h" {
				t.Errorf("%v declared in %q, want refcount.h", id, n.File)
			}
		}
	})
	t.Run("lto crosses units", func(t *testing.T) {
		dir, g := loadFixture(t, "lto")
		tu, ok := g.TU("prog")
		if !ok || !tu.LTO || len(tu.Dumps) != 2 {
			t.Fatalf("LTO program unit = %+v, want prog with its wpa and ltrans dumps", tu)
		}
		got := reach(g, "helper", "prog")
		for _, w := range []string{"entry@prog", "main@prog"} {
			if !slices.Contains(got, w) {
				t.Errorf("Impacted(helper) = %v, missing %s", got, w)
			}
		}
		n, _ := g.Node(NodeID{"helper", "prog"})
		if !slices.Contains(n.DeclFiles(), "helper.c") || n.File != "helper.c" {
			t.Errorf("helper declared in %v", n.DeclFiles())
		}
		if syms := objectFuncs(t, filepath.Join(dir, "prog")); !syms["main"] || syms["helper"] {
			t.Errorf("prog symbols: %v", sortedKeys(syms))
		}
		nulls := 0
		for _, e := range g.In(NodeID{"helper", "prog"}) {
			if e.Kind == ipadump.Null {
				nulls++
			}
		}
		if nulls == 0 {
			t.Error("no (null) edge read from the ltrans dump")
		}
	})
	t.Run("simd clones", func(t *testing.T) {
		dir, g := loadFixture(t, "simd")
		var simd int
		for _, r := range g.Impacted(g.Lookup("sq")...).Nodes {
			if strings.HasPrefix(r.ID.Name, "sq.simdclone.") {
				simd++
			}
		}
		var vec int
		for s := range objectFuncs(t, filepath.Join(dir, "simd.o")) {
			if strings.HasPrefix(s, "_ZGV") && strings.HasSuffix(s, "_sq") {
				vec++
			}
		}
		if simd == 0 || simd != vec {
			t.Errorf("%d simd clones in the dump, %d vector-ABI symbols in the object", simd, vec)
		}
	})
}

// TestGolden builds the graph from the dumps stored under testdata (made
// by gcc 12.2) and compares its String form with a golden copy.
func TestGolden(t *testing.T) {
	root := filepath.Join(fixture.Root(), "testdata", "dumps", "gcc-12.2")
	cases, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			ds, err := ipadump.Discover(filepath.Join(root, c.Name()))
			if err != nil {
				t.Fatal(err)
			}
			for i := range ds {
				ds[i].Path = filepath.ToSlash(rel(root, ds[i].Path))
			}
			wd, _ := os.Getwd()
			if err := os.Chdir(root); err != nil {
				t.Fatal(err)
			}
			g, err := Load(ds, LoadOptions{})
			os.Chdir(wd)
			if err != nil {
				t.Fatal(err)
			}
			got := g.String()
			golden := filepath.Join("testdata", c.Name()+".graph")
			if *update {
				os.MkdirAll("testdata", 0o755)
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("graph differs from %s (run go test -update and review the diff):\n%s", golden, got)
			}
		})
	}
}

// TestLoadKeepsGoing checks that a bad line or an unreadable dump is
// reported with its position while everything else is still loaded.
func TestLoadKeepsGoing(t *testing.T) {
	dir := t.TempDir()
	good := "Callgraph clone;a;1;x.c;1;1;b;2;x.c;5;1;inlining to\n"
	bad := "Callgraph clone;a;1;x.c;1;1;c;3;x.c;9;1;inlining to\nCallgraph clone;broken\nCallgraph clone;a;1;x.c;1;1;d;4;x.c;12;1;isra\n"
	os.WriteFile(filepath.Join(dir, "good.c.000i.ipa-clones"), []byte(good), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.c.000i.ipa-clones"), []byte(bad), 0o644)
	ds, err := ipadump.Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	ds = append(ds, ipadump.Dump{Path: filepath.Join(dir, "gone.c.000i.ipa-clones"), Kind: ipadump.UnitDump, TU: "gone.o"})
	g, err := Load(ds, LoadOptions{})
	var el ipadump.ErrorList
	if !errors.As(err, &el) || len(el) != 2 {
		t.Fatalf("Load error = %v, want a list of 2 (bad line, missing file)", err)
	}
	var pe *ipadump.ParseError
	if !errors.As(el[0], &pe) || pe.Line != 2 || !errors.Is(pe, ipadump.ErrFieldCount) {
		t.Errorf("first error = %v, want bad.c dump line 2, wrong field count", el[0])
	}
	if !errors.Is(el[1], os.ErrNotExist) {
		t.Errorf("second error = %v, want the missing dump", el[1])
	}
	if got := reach(g, "a", "bad.o"); !slices.Equal(got, []string{"a@bad.o", "c@bad.o", "d@bad.o"}) {
		t.Errorf("lines around the bad one lost: %v", got)
	}
	if got := reach(g, "a", "good.o"); !slices.Equal(got, []string{"a@good.o", "b@good.o"}) {
		t.Errorf("good dump: %v", got)
	}
}

func TestSuggest(t *testing.T) {
	b := NewBuilder()
	recs := []ipadump.Record{
		{Kind: ipadump.Clone, Transform: ipadump.Inline, Orig: ipadump.Decl{Name: "percpu_ref_put_many"}, Clone: ipadump.Decl{Name: "css_put"}},
		{Kind: ipadump.Clone, Transform: ipadump.Inline, Orig: ipadump.Decl{Name: "percpu_ref_get_many"}, Clone: ipadump.Decl{Name: "css_get"}},
		{Kind: ipadump.Clone, Transform: ipadump.Inline, Orig: ipadump.Decl{Name: "unrelated"}, Clone: ipadump.Decl{Name: "zzz"}},
	}
	b.AddDump(ipadump.Dump{Path: "x", TU: "x.o", Kind: ipadump.UnitDump}, recs)
	g := b.Graph()
	for _, tc := range []struct{ in, first string }{
		{"percpu_ref_put_mny", "percpu_ref_put_many"},
		{"css_pu", "css_put"},
		{"percpu_ref", "percpu_ref_get_many"},
	} {
		got := g.Suggest(tc.in, 3)
		if len(got) == 0 || got[0] != tc.first {
			t.Errorf("Suggest(%q) = %v, want %q first", tc.in, got, tc.first)
		}
		if slices.Contains(got, "unrelated") {
			t.Errorf("Suggest(%q) = %v suggests an unrelated name", tc.in, got)
		}
	}
}
