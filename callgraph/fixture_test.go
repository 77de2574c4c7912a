package callgraph

import (
	"debug/dwarf"
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

// dwarfContainment reads the DWARF of an object and returns, for every
// function X, the ELF function symbols whose machine code contains X's
// code: X's own out-of-line copies and clones (concrete subprograms whose
// origin is X) and every function with an inlined instance of X at any
// depth. It is the compiler's own account, independent of the dump.
func dwarfContainment(t *testing.T, obj string) map[string]map[string]bool {
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
	if f.Section(".debug_info") == nil {
		// A slim LTO object: GIMPLE only, no machine code to check.
		return nil
	}
	d, err := f.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	names := map[dwarf.Offset]string{}        // DIE -> DW_AT_name
	origin := map[dwarf.Offset]dwarf.Offset{} // DIE -> DW_AT_abstract_origin
	type concrete struct {
		die       dwarf.Offset
		low, size uint64
		inlined   []dwarf.Offset
	}
	var funcs []*concrete
	var stack []*concrete // concrete subprogram enclosing the current DIE
	r := d.Reader()
	depth := 0
	var owner []int // depth at which stack entries began
	for {
		e, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e == nil {
			break
		}
		if e.Tag == 0 {
			depth--
			for len(owner) > 0 && owner[len(owner)-1] > depth {
				owner = owner[:len(owner)-1]
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if n, ok := e.Val(dwarf.AttrName).(string); ok {
			names[e.Offset] = n
		}
		if o, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok {
			origin[e.Offset] = o
		}
		switch e.Tag {
		case dwarf.TagSubprogram:
			if low, ok := e.Val(dwarf.AttrLowpc).(uint64); ok {
				c := &concrete{die: e.Offset, low: low}
				switch hv := e.Val(dwarf.AttrHighpc).(type) {
				case int64:
					c.size = uint64(hv)
				case uint64:
					c.size = hv - low
				}
				funcs = append(funcs, c)
				if e.Children {
					stack = append(stack, c)
					owner = append(owner, depth+1)
				}
			}
		case dwarf.TagInlinedSubroutine:
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.inlined = append(top.inlined, e.Offset)
			}
		}
		if e.Children {
			depth++
		}
	}
	nameOf := func(off dwarf.Offset) string {
		for i := 0; i < 8; i++ {
			if n, ok := names[off]; ok {
				return n
			}
			o, ok := origin[off]
			if !ok {
				return ""
			}
			off = o
		}
		return ""
	}
	symbolAt := func(c *concrete, origin string) string {
		var cands []string
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF && s.Value == c.low && s.Size == c.size {
				cands = append(cands, s.Name)
			}
		}
		sort.Strings(cands)
		for _, n := range cands {
			if n == origin || strings.HasPrefix(n, origin+".") {
				return n
			}
		}
		if len(cands) > 0 {
			return cands[0]
		}
		return ""
	}
	out := map[string]map[string]bool{}
	add := func(x, sym string) {
		if out[x] == nil {
			out[x] = map[string]bool{}
		}
		out[x][sym] = true
	}
	for _, c := range funcs {
		self := nameOf(c.die)
		sym := symbolAt(c, self)
		if sym == "" || self == "" {
			t.Fatalf("%s: no symbol for the code of %s at %#x size %d", obj, self, c.low, c.size)
		}
		add(self, sym)
		for _, in := range c.inlined {
			add(nameOf(in), sym)
		}
	}
	return out
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
				truth := dwarfContainment(t, tu.Object)
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
