package callgraph

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/ipadump"
)

// TestCompareInliningFixtures: on code gcc compiles now, DWARF's inlined
// copies are all in the dump's closure.
func TestCompareInliningFixtures(t *testing.T) {
	for _, name := range []string{"clones", "cycle", "header", "statics"} {
		t.Run(name, func(t *testing.T) {
			_, g := loadFixture(t, name)
			objs := NewObjects(g, nil)
			checked := 0
			for _, tu := range g.TUs() {
				c, err := objs.CompareInlining(tu.Name)
				if err != nil {
					t.Fatal(err)
				}
				checked += c.Checked
				for _, p := range c.NotInDump {
					t.Errorf("%s: DWARF has %s inlined in %s; the dump's closure misses it", tu.Name, p.Inlined, p.Into)
				}
			}
			if checked == 0 {
				t.Error("no inlined copy checked")
			}
		})
	}
}

// TestCompareInliningCatchesMisses: a dump with a line deleted must be
// caught by the comparison (the test can fail).
func TestCompareInliningCatchesMisses(t *testing.T) {
	dir := fixture.Build(t, "clones")
	dump := filepath.Join(dir, "clones.c.000i.ipa-clones")
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	var kept []byte
	for _, l := range splitLines(b) {
		if !(strings.HasPrefix(l, "Callgraph clone;add1;") && strings.Contains(l, ";use_add;") && strings.HasSuffix(l, ";inlining to")) {
			kept = append(kept, l+"\n"...)
		}
	}
	if len(kept) == len(b) {
		t.Skip("gcc did not inline add1 into use_add as gcc 12.2 does")
	}
	os.WriteFile(dump, kept, 0o644)
	ds, _ := ipadump.Discover(dir)
	g, err := Load(ds, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewObjects(g, nil).CompareInlining("clones.o")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.NotInDump) != 1 || c.NotInDump[0] != (InlinePair{"add1", "use_add"}) {
		t.Errorf("NotInDump = %v, want add1 in use_add", c.NotInDump)
	}
}

// TestDWARFOnlyGraph: an object compiled without -fdump-ipa-clones (as a
// clang build is) still gets its inlining from DWARF.
func TestDWARFOnlyGraph(t *testing.T) {
	dir := fixture.Build(t, "clones")
	in, err := dwarfinfo.Inlines(filepath.Join(dir, "clones.o"))
	if err != nil {
		t.Fatal(err)
	}
	b := NewBuilder()
	b.AddObjectInlining("clones.o", filepath.Join(dir, "clones.o"), in)
	g := b.Graph()
	got := reach(g, "splitme", "")
	for _, w := range []string{"sp1@clones.o", "sp2@clones.o", "sp3@clones.o"} {
		if !contains(got, w) {
			t.Errorf("Impacted(splitme) from DWARF = %v, lacks %s", got, w)
		}
	}
}

func splitLines(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, string(b[start:i]))
			start = i + 1
		}
	}
	return out
}
