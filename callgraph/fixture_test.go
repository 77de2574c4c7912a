package callgraph

import (
	"debug/elf"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/ipadump"
)

// loadFixture compiles a fixture and loads the dumps gcc wrote.
func loadFixture(t *testing.T, name string) (string, *Graph) {
	t.Helper()
	dir := fixture.Build(t, name)
	ds, err := ipadump.Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) == 0 {
		t.Fatalf("fixture %s: gcc wrote no dump", name)
	}
	g, err := Load(ds, LoadOptions{})
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return dir, g
}

// TestImpactedCoversDWARF checks, for every fixture and every function a
// dump names, that each function symbol whose code DWARF says contains it
// is in Impacted's answer: the answer may not miss what the compiler did.
func TestImpactedCoversDWARF(t *testing.T) {
	for _, name := range []string{"clones", "cycle", "statics", "header", "lto", "simd"} {
		t.Run(name, func(t *testing.T) {
			dir, g := loadFixture(t, name)
			checked := 0
			for _, tu := range g.TUs() {
				if !tu.HasObject {
					continue
				}
				truth, err := fixture.Containment(tu.Object)
				if err != nil {
					t.Fatal(err)
				}
				for x, holders := range truth {
					ids := g.Lookup(x)
					var start []NodeID
					for _, id := range ids {
						if id.TU == tu.Name {
							start = append(start, id)
						}
					}
					if len(start) == 0 {
						// GCC recorded nothing for x in this unit: then
						// only x itself may hold its code.
						for h := range holders {
							if h != x {
								t.Errorf("%s: %s holds code of %s, which no dump line of %s mentions", rel(dir, tu.Object), h, x, tu.Name)
							}
						}
						continue
					}
					got := map[string]bool{}
					for _, r := range g.Impacted(start...).Nodes {
						got[r.ID.Name] = true
					}
					for h := range holders {
						if strings.HasPrefix(h, "_ZGV") {
							continue // vector-ABI names: the simd test maps them
						}
						checked++
						if !got[h] {
							t.Errorf("%s: DWARF says %s contains the code of %s, Impacted(%s) misses it; got %v",
								tu.Name, h, x, x, sortedKeys(got))
						}
					}
				}
			}
			if checked == 0 {
				t.Fatal("nothing checked: DWARF gave no function")
			}
		})
	}
}

func rel(dir, p string) string {
	if r, err := filepath.Rel(dir, p); err == nil {
		return r
	}
	return p
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func names(rs []Reached) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID.Name + "@" + r.ID.TU
	}
	sort.Strings(out)
	return out
}

func objectFuncs(t *testing.T, obj string) map[string]bool {
	t.Helper()
	f, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF {
			out[s.Name] = true
		}
	}
	return out
}
