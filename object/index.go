package object

import (
	"debug/elf"
	"slices"
	"sort"
)

// section is what the call graph needs of a section header.
type section struct {
	name  string
	flags elf.SectionFlag
	typ   elf.SectionType
	addr  uint64
	size  uint64
}

// body is one piece of machine code: the function symbols at one section
// and value share it (aliases, identical code folding).
type body struct {
	shndx      int32
	start, end uint64
	fn         int32 // the canonical function: see File.canon
}

// bodyKey orders bodies: by section then offset in a relocatable object,
// by address alone in a linked file.
func (f *File) bodyKey(shndx int, off uint64) (int, uint64) {
	if f.linked {
		return 0, off
	}
	return shndx, off
}

// index builds the lookup tables behind FuncAt, Lookup and the ref
// targets. It runs once, in NewFile; a File is read-only afterwards.
func (f *File) index() {
	f.canon = make([]int32, len(f.Funcs))
	type key struct {
		shndx int
		value uint64
	}
	first := make(map[key]int32, len(f.Funcs))
	for i := range f.Funcs {
		fn := &f.Funcs[i]
		f.canon[i] = int32(i)
		if fn.Shndx <= 0 || fn.Shndx >= len(f.sections) {
			continue // SHN_ABS and friends hold no code
		}
		k := key{fn.Shndx, fn.Value}
		c, ok := first[k]
		if !ok {
			first[k] = int32(i)
			continue
		}
		// The canonical name of a body is its largest symbol, and among
		// equals the first in symbol-table order.
		if fn.Size > f.Funcs[c].Size {
			first[k] = int32(i)
		}
	}
	for i := range f.Funcs {
		fn := &f.Funcs[i]
		if fn.Shndx <= 0 || fn.Shndx >= len(f.sections) {
			continue
		}
		c := first[key{fn.Shndx, fn.Value}]
		f.canon[i] = c
		if c == int32(i) {
			f.bodies = append(f.bodies, body{shndx: int32(fn.Shndx), start: fn.Value, end: fn.Value + fn.Size, fn: c})
		}
	}
	sort.Slice(f.bodies, func(a, b int) bool {
		sa, oa := f.bodyKey(int(f.bodies[a].shndx), f.bodies[a].start)
		sb, ob := f.bodyKey(int(f.bodies[b].shndx), f.bodies[b].start)
		if sa != sb {
			return sa < sb
		}
		return oa < ob
	})
}

// bodyAt returns the index in f.bodies of the code containing off in
// section shndx (any section of a linked file, where off is an address),
// or -1. A symbol of size 0 contains only its first byte's position.
func (f *File) bodyAt(shndx int, off uint64) int {
	ks, ko := f.bodyKey(shndx, off)
	i := sort.Search(len(f.bodies), func(i int) bool {
		bs, bo := f.bodyKey(int(f.bodies[i].shndx), f.bodies[i].start)
		return bs > ks || (bs == ks && bo > ko)
	}) - 1
	// Walk back over a few bodies: symbols may nest (an alias of a
	// function's middle, asm entry points).
	for n := 0; i >= 0 && n < 16; i, n = i-1, n+1 {
		b := &f.bodies[i]
		bs, _ := f.bodyKey(int(b.shndx), b.start)
		if bs != ks {
			break
		}
		if off >= b.start && (off < b.end || off == b.start) {
			return i
		}
	}
	return -1
}

// FuncAt returns the function whose code contains offset off of section
// shndx, or nil. In a linked file (vmlinux) off is an address and shndx
// is ignored. Where several symbols share the code (Aliases), it returns
// the one the call graph names: the largest, then the first in
// symbol-table order.
func (f *File) FuncAt(shndx int, off uint64) *Func {
	i := f.bodyAt(shndx, off)
	if i < 0 {
		return nil
	}
	return &f.Funcs[f.bodies[i].fn]
}

// Lookup returns the function symbols named name, in symbol-table order:
// several for a local name defined in several units of vmlinux or of a
// module (see Func.Sympos). Nil when the object has no such function.
func (f *File) Lookup(name string) []*Func {
	idx := f.byName[name]
	if len(idx) == 0 {
		return nil
	}
	out := make([]*Func, len(idx))
	for i, j := range idx {
		out[i] = &f.Funcs[j]
	}
	return out
}

// names returns name and the aliases of every function called name: the
// names under which the call graph may record that code.
func (f *File) names(name string) []string {
	out := []string{name}
	for _, i := range f.byName[name] {
		out = append(out, f.Funcs[i].Aliases...)
	}
	sort.Strings(out)
	return dedupStrings(out)
}

// Callers returns the refs that reach the function name (or code it
// shares with an alias): its callers, tail callers, and the code and data
// that take its address. A livepatch replacing name changes what these
// reach; callers that rely on name's old behaviour (IPA-RA, pure-const)
// may need replacing too. When several local functions are called name
// (see Func.Sympos), it answers for all of them; ToSympos tells them
// apart, and RefsTo answers for one. Sorted as Refs.
func (f *File) Callers(name string) []Ref {
	f.refsTo.once.Do(func() {
		m := make(map[string][]int32, len(f.Refs)/2)
		for i := range f.Refs {
			m[f.Refs[i].To] = append(m[f.Refs[i].To], int32(i))
		}
		f.refsTo.m = m
	})
	var idx []int32
	for _, n := range f.names(name) { // sorted, each once
		idx = append(idx, f.refsTo.m[n]...)
	}
	slices.Sort(idx) // in Refs' order, as every caller of Callers had them
	out := make([]Ref, 0, len(idx))
	for _, i := range idx {
		out = append(out, f.Refs[i])
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Callees returns the refs from the function (or data symbol) name: what
// its code calls, jumps to and takes the address of; for every function
// of that name (FromSympos tells them apart; RefsFrom answers for one).
// Sorted as Refs.
func (f *File) Callees(name string) []Ref {
	var out []Ref
	for _, n := range f.names(name) {
		i := sort.Search(len(f.Refs), func(i int) bool { return f.Refs[i].From >= n })
		for ; i < len(f.Refs) && f.Refs[i].From == n; i++ {
			out = append(out, f.Refs[i])
		}
	}
	sortRefs(out)
	return out
}

// RefsTo returns the refs that reach fn's code exactly (not its
// same-named namesakes in other units): Callers for one klp_func
// identified by name and old_sympos. fn must point into f.Funcs.
func (f *File) RefsTo(fn *Func) []Ref {
	c, ok := f.canonOf(fn)
	if !ok {
		return nil
	}
	var out []Ref
	for _, r := range f.Refs {
		if r.To == c.Name && r.ToSympos == c.Sympos {
			out = append(out, r)
		}
	}
	return out
}

// RefsFrom returns the refs from fn's code exactly: Callees for one
// klp_func identified by name and old_sympos. fn must point into f.Funcs.
func (f *File) RefsFrom(fn *Func) []Ref {
	c, ok := f.canonOf(fn)
	if !ok {
		return nil
	}
	var out []Ref
	i := sort.Search(len(f.Refs), func(i int) bool { return f.Refs[i].From >= c.Name })
	for ; i < len(f.Refs) && f.Refs[i].From == c.Name; i++ {
		if f.Refs[i].FromSympos == c.Sympos {
			out = append(out, f.Refs[i])
		}
	}
	return out
}

// canonOf returns the function under whose name the call graph records
// fn's code.
func (f *File) canonOf(fn *Func) (*Func, bool) {
	for _, i := range f.byName[fn.Name] {
		if &f.Funcs[i] == fn {
			return &f.Funcs[f.canon[i]], true
		}
	}
	return nil, false
}

// sortRefs orders refs by From, Site, then To and Kind.
func sortRefs(refs []Ref) {
	slices.SortFunc(refs, func(a, b Ref) int {
		if refLess(&a, &b) {
			return -1
		}
		if refLess(&b, &a) {
			return 1
		}
		return 0
	})
}

func refLess(a, b *Ref) bool {
	if a.From != b.From {
		return a.From < b.From
	}
	if a.Site != b.Site {
		return a.Site < b.Site
	}
	if a.To != b.To {
		return a.To < b.To
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	if a.FromSympos != b.FromSympos {
		return a.FromSympos < b.FromSympos
	}
	if a.ToSympos != b.ToSympos {
		return a.ToSympos < b.ToSympos
	}
	return !a.Reloc && b.Reloc
}
