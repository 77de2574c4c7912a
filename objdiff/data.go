package objdiff

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/klp-audit/klp-audit/object"
)

// dataSym is one named data symbol of one side, with what the
// correlation knows about it.
type dataSym struct {
	idx      int // symbol-table index
	name     string
	base     string // localNumbered(name) for a local NAME.N, else name
	numbered bool
	file     string
	// owners are the units whose code references the symbol, and rank
	// the position of the first reference in the first owner's code.
	owners []*unitInfo
	rank   int
}

// dataSyms lists the named data symbols of o (those targets can name),
// with their owners among us.
func (c *correlation) dataSyms(o *Object, us []*unitInfo) []*dataSym {
	byIdx := map[int]*dataSym{}
	var out []*dataSym
	keys := make([]int, 0, len(o.data))
	for k := range o.data {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	for _, k := range keys {
		for _, i := range o.data[k] {
			if byIdx[i] != nil {
				continue
			}
			s := &o.syms[i]
			ds := &dataSym{idx: i, name: s.Name, base: s.Name, file: o.files[i], rank: -1}
			if b := localNumbered(s.Name); b != s.Name && s.Bind == elf.STB_LOCAL {
				ds.base, ds.numbered = b, true
			}
			byIdx[i] = ds
			out = append(out, ds)
		}
	}
	for _, u := range us {
		for r, t := range u.refs {
			eachToken(t, func(kind byte, idx int) bool {
				if ds := byIdx[idx]; kind == 'd' && ds != nil {
					if len(ds.owners) == 0 {
						ds.rank = r
					}
					ds.owners = append(ds.owners, u)
				}
				return true
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].idx < out[j].idx })
	return out
}

// correlateData pairs the data symbols of the two sides: by name, and
// function-local statics (NAME.N) by base name and owners, in the order
// the owners' code first references them.
func (c *correlation) correlateData() {
	d1 := c.dataSyms(c.o1, c.u1)
	d2 := c.dataSyms(c.o2, c.u2)
	ownerKey := func(n *namer, ds *dataSym) string {
		if !ds.numbered {
			return ""
		}
		names := make([]string, 0, len(ds.owners))
		for _, u := range ds.owners {
			names = append(names, n.name('f', u.idx))
		}
		sort.Strings(names)
		return strings.Join(dedupSorted(names), ",")
	}
	type key struct{ base, file, owners string }
	groups := map[key]*[2][]*dataSym{}
	var order []key
	add := func(side int, n *namer, ds *dataSym) {
		k := key{ds.base, ds.file, ownerKey(n, ds)}
		g := groups[k]
		if g == nil {
			g = &[2][]*dataSym{}
			groups[k] = g
			order = append(order, k)
		}
		g[side] = append(g[side], ds)
	}
	for _, ds := range d1 {
		add(0, c.n1, ds)
	}
	for _, ds := range d2 {
		add(1, c.n2, ds)
	}
	for _, k := range order {
		g := groups[k]
		a, b := g[0], g[1]
		if len(a) == 0 || len(b) == 0 {
			continue
		}
		if len(a) == 1 && len(b) == 1 {
			c.pairData(a[0], b[0])
			continue
		}
		// Several: same content first, when only one candidate has it;
		// then the rest in reference order, when as many are left on
		// both sides.
		used1, used2 := make([]bool, len(a)), make([]bool, len(b))
		c1 := make([]string, len(a))
		c2 := make([]string, len(b))
		for i, x := range a {
			c1[i] = c.o1.fuzzyContent(x.idx)
		}
		for j, y := range b {
			c2[j] = c.o2.fuzzyContent(y.idx)
		}
		cls1, cls2 := map[string][]int{}, map[string][]int{}
		for i := range a {
			cls1[c1[i]] = append(cls1[c1[i]], i)
		}
		for j := range b {
			cls2[c2[j]] = append(cls2[c2[j]], j)
		}
		for i := range a {
			if x, y := cls1[c1[i]], cls2[c1[i]]; len(x) == 1 && len(y) == 1 {
				used1[i], used2[y[0]] = true, true
				c.pairData(a[i], b[y[0]])
			}
		}
		var r1, r2 []*dataSym
		for i, x := range a {
			if !used1[i] {
				r1 = append(r1, x)
			}
		}
		for j, y := range b {
			if !used2[j] {
				r2 = append(r2, y)
			}
		}
		if len(r1) == 0 || len(r2) == 0 {
			continue
		}
		if len(r1) != len(r2) {
			amb := Ambiguity{Kind: RenameData, Base: k.base, Orig: []string{}, Patched: []string{},
				Message: fmt.Sprintf("%d in the original, %d in the patched object with the same owners: not correlated", len(r1), len(r2))}
			for _, x := range r1 {
				amb.Orig = append(amb.Orig, x.name)
			}
			for _, y := range r2 {
				amb.Patched = append(amb.Patched, y.name)
			}
			c.ambiguities = append(c.ambiguities, amb)
			continue
		}
		byRank := func(s []*dataSym) {
			sort.SliceStable(s, func(i, j int) bool { return s[i].rank < s[j].rank })
		}
		byRank(r1)
		byRank(r2)
		for i := range r1 {
			c.pairData(r1[i], r2[i])
		}
	}
	c.dataPairs1, c.dataPairs2 = d1, d2
}

func dedupSorted(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func (c *correlation) pairData(a, b *dataSym) {
	name := canonData(a.idx)
	c.n1.data[a.idx] = name
	c.n2.data[b.idx] = name
	if c.dataPartner == nil {
		c.dataPartner = map[int]int{}
	}
	c.dataPartner[a.idx] = b.idx
	if a.name != b.name {
		r := Rename{Kind: RenameData, Orig: a.name, Patched: b.name}
		var owners []string
		for _, u := range b.owners {
			owners = append(owners, funcLabel(u.fn))
		}
		sort.Strings(owners)
		r.Owners = dedupSorted(owners)
		c.renames = append(c.renames, r)
	}
}

// fuzzyContent describes data symbol i for telling candidates apart: its
// section, size and content with targets fuzzily named.
func (o *Object) fuzzyContent(i int) string {
	return o.dataContent(i, o.fuzzy)
}

// dataContent describes data symbol i: its section, size and bytes, the
// relocated fields masked and their targets named by name.
func (o *Object) dataContent(i int, name func(string) string) string {
	s := &o.syms[i]
	if s.Shndx <= 0 || s.Shndx >= len(o.secs) {
		return "?"
	}
	sec := &o.secs[s.Shndx]
	var b strings.Builder
	fmt.Fprintf(&b, "%s size=%d", sec.Name, s.Size)
	if sec.Type == elf.SHT_NOBITS || s.Size == 0 {
		return b.String()
	}
	raw := o.sectionBytes(s.Shndx, s.Value)
	if uint64(len(raw)) < s.Size {
		return b.String() + " ?"
	}
	masked := append([]byte(nil), raw[:s.Size]...)
	for _, r := range o.File.RelocsIn(s.Shndx, s.Value, s.Value+s.Size) {
		field := int(r.Off - s.Value)
		size, _ := relocField(o.File.Machine, r.Type)
		o.maskReloc(masked, field, size, r.Type)
		fmt.Fprintf(&b, " @%d=%s", field, name(o.relocTarget(r, 0)+relocSuffix(o.File.Machine, r.Type)))
	}
	fmt.Fprintf(&b, " bytes=%x", masked)
	return b.String()
}

// noDataSection says changes to data in section name are not reported:
// tables about code (compared with the functions), module metadata,
// init and exit data (gone once the module or kernel is up), and
// sections without data the kernel keeps.
func noDataSection(name string) bool {
	for _, p := range []string{".modinfo", "__ksymtab", "___ksymtab", "__kcrctab", "__param", ".discard", ".init", ".exit",
		"__bug_table", "__jump_table", "__ex_table", ".altinstr", ".parainstructions", ".static_call", "__mcount_loc",
		".orc_", ".note", "__patchable_function_entries", ".rodata.str", ".comment", ".debug", ".BTF", ".export_symbol",
		".initcall", ".con_initcall", "__tracepoints_ptrs", "__tracepoints_strings"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return strings.HasSuffix(name, ".init") || strings.HasSuffix(name, ".init.data") || strings.HasSuffix(name, ".init.rodata")
}

// reportedData says data symbol i of o is one whose changes the report
// lists: an object or TLS variable in allocated, non-code memory.
func (o *Object) reportedData(i int) bool {
	s := &o.syms[i]
	if s.Type != elf.STT_OBJECT && s.Type != elf.STT_TLS || s.Shndx <= 0 || s.Shndx >= len(o.secs) {
		return false
	}
	sec := &o.secs[s.Shndx]
	return sec.Flags&elf.SHF_ALLOC != 0 && sec.Flags&elf.SHF_EXECINSTR == 0 && !noDataSection(sec.Name)
}

// compareData lists the data objects that are new, gone or changed.
func (c *correlation) compareData() []DataChange {
	out := []DataChange{}
	users := func(ds *dataSym) []string {
		var s []string
		for _, u := range ds.owners {
			s = append(s, funcLabel(u.fn))
		}
		sort.Strings(s)
		return dedupSorted(s)
	}
	byIdx2 := map[int]*dataSym{}
	for _, ds := range c.dataPairs2 {
		byIdx2[ds.idx] = ds
	}
	paired2 := map[int]bool{}
	for _, a := range c.dataPairs1 {
		j, ok := c.dataPartner[a.idx]
		if !ok {
			if c.o1.reportedData(a.idx) {
				out = append(out, c.dataChange(c.o1, a, DataRemoved, "only in the original object", users(a)))
			}
			continue
		}
		paired2[j] = true
		b := byIdx2[j]
		if b == nil || !c.o1.reportedData(a.idx) && !c.o2.reportedData(j) {
			continue
		}
		x := c.o1.dataContent(a.idx, c.n1.resolve)
		y := c.o2.dataContent(j, c.n2.resolve)
		if x == y {
			continue
		}
		dc := c.dataChange(c.o2, b, DataChanged, "", users(b))
		s1, s2 := &c.o1.syms[a.idx], &c.o2.syms[j]
		sec1, sec2 := c.o1.secs[s1.Shndx].Name, c.o2.secs[s2.Shndx].Name
		switch {
		case sec1 != sec2:
			dc.Reason = fmt.Sprintf("section %s -> %s", sec1, sec2)
		case s1.Size != s2.Size:
			dc.Reason = fmt.Sprintf("size %d -> %d", s1.Size, s2.Size)
		case sec1 == "__dyndbg" && dyndbgLineOnly(c.o1, s1, c.o2, s2, x, y):
			continue // a pr_debug descriptor whose line moved
		default:
			dc.Reason = "initial value"
		}
		out = append(out, dc)
	}
	for _, b := range c.dataPairs2 {
		if !paired2[b.idx] && c.o2.reportedData(b.idx) {
			out = append(out, c.dataChange(c.o2, b, DataAdded, "only in the patched object", users(b)))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Status < out[j].Status
	})
	return out
}

func (c *correlation) dataChange(o *Object, ds *dataSym, st DataStatus, reason string, users []string) DataChange {
	s := &o.syms[ds.idx]
	if users == nil {
		users = []string{}
	}
	return DataChange{Name: ds.name, Section: o.secs[s.Shndx].Name, Size: s.Size, Status: st, Reason: reason, ReferencedBy: users}
}

// dyndbgLineOnly says two struct _ddebug (Linux 6.1: four pointers,
// then lineno:18 and flags:8 in one 32-bit word) differ in lineno alone.
func dyndbgLineOnly(o1 *Object, s1 *object.Symbol, o2 *Object, s2 *object.Symbol, x, y string) bool {
	const lineOff = 32
	// The relocated fields (the pointers) must name the same targets.
	if i, j := strings.LastIndex(x, " bytes="), strings.LastIndex(y, " bytes="); i < 0 || j < 0 || x[:i] != y[:j] {
		return false
	}
	if s1.Size != s2.Size || s1.Size < lineOff+4 || o1.File.Machine != elf.EM_X86_64 {
		return false
	}
	b1, b2 := o1.sectionBytes(s1.Shndx, s1.Value), o2.sectionBytes(s2.Shndx, s2.Value)
	if uint64(len(b1)) < s1.Size || uint64(len(b2)) < s2.Size {
		return false
	}
	b1, b2 = b1[:s1.Size], b2[:s2.Size]
	if !bytes.Equal(b1[:lineOff], b2[:lineOff]) || !bytes.Equal(b1[lineOff+4:], b2[lineOff+4:]) {
		return false
	}
	w1, w2 := binary.LittleEndian.Uint32(b1[lineOff:]), binary.LittleEndian.Uint32(b2[lineOff:])
	return (w1^w2)&^0x3ffff == 0
}
