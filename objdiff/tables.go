package objdiff

import (
	"debug/elf"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/klp-audit/klp-audit/object"
)

// tableEntry is one entry of a table about code, attached to the
// function whose code it describes.
type tableEntry struct {
	table string // section name: __bug_table, __jump_table, ...
	piece string // the token of the function or cold piece holding the code address
	role  int    // 0 for the function itself, k for its k-th cold piece
	off   uint64 // the code address's offset in piece
	// desc is everything else of the entry, named symbolically
	// (function-relative code positions, symbols, string contents, the
	// raw bytes of unrelocated fields); equal entries have equal desc.
	desc string
	// bug is set for __bug_table entries: their line compares apart.
	bug  bool
	line uint16
}

// codeTable is a kernel table of fixed-size entries whose first field
// points at code: what the comparison attaches to that function.
type codeTable struct {
	name string
	size int
	// replLenOff, for .altinstructions, is the offset of the byte
	// holding the replacement's length: the replacement code (in
	// .altinstr_replacement, at the field at offset 4) compares by
	// content, since its offset moves with every other alternative.
	replLenOff int
}

// codeTables are the tables compared besides __bug_table, with their
// Linux 6.1 layouts (x86-64; arm64 shares __jump_table and __ex_table):
//
//	__jump_table         struct jump_entry { s32 code, target; long key; }        16
//	__ex_table           struct exception_table_entry { int insn, fixup, data; }  12
//	.static_call_sites   struct static_call_site { s32 addr, key; }               8
//	.altinstructions     struct alt_instr { s32 instr_offset, repl_offset;
//	                         u16 cpuid; u8 instrlen, replacementlen; }            12
//	.parainstructions    struct paravirt_patch_site { u8 *instr; u8 type, len; }  16
//
// A static key, an exception fixup or an alternative can change while the
// code bytes stay the same (a static_branch on another key is the same
// 5-byte nop), so these belong to the function's comparison.
var codeTables = []codeTable{
	{name: "__jump_table", size: 16},
	{name: "__ex_table", size: 12},
	{name: ".static_call_sites", size: 8},
	{name: ".altinstructions", size: 12, replLenOff: 11},
	{name: ".parainstructions", size: 16},
}

// readTables parses the tables about code and attaches their entries to
// the functions. A table whose layout is not the expected one is left
// out, with a note.
func (o *Object) readTables() {
	o.tables = map[int][]tableEntry{}
	for shndx := range o.secs {
		s := &o.secs[shndx]
		if s.Flags&elf.SHF_ALLOC == 0 || s.Type == elf.SHT_NOBITS {
			continue
		}
		if s.Name == "__bug_table" {
			o.readBugTable(shndx)
			continue
		}
		for _, t := range codeTables {
			if s.Name == t.name {
				o.readCodeTable(shndx, t)
			}
		}
	}
	for k, es := range o.tables {
		sort.SliceStable(es, func(i, j int) bool {
			if es[i].role != es[j].role {
				return es[i].role < es[j].role
			}
			if es[i].off != es[j].off {
				return es[i].off < es[j].off
			}
			if es[i].table != es[j].table {
				return es[i].table < es[j].table
			}
			return es[i].desc < es[j].desc
		})
		o.tables[k] = es
	}
}

// funcIndex returns the index in File.Funcs of fn, -1 if fn is not one
// of them.
func (o *Object) funcIndex(fn *object.Func) int {
	if i, ok := o.fidx[fn]; ok {
		return i
	}
	return -1
}

// attach finds the function a code address belongs to: the unit (a
// function, or the parent of a cold piece) and the piece it lies in.
func (o *Object) attach(shndx int, pos uint64) (unit int, piece *object.Func, role int, off uint64, ok bool) {
	fn := o.File.FuncAt(shndx, pos)
	if fn == nil {
		return 0, nil, 0, 0, false
	}
	piece, off = fn, pos-fn.Value
	u := fn
	if fn.ColdOf != "" {
		if p := o.coldParent(fn); p != nil {
			u = p
			for k, c := range o.coldPieces(p) {
				if c == fn {
					role = k + 1
				}
			}
		}
	}
	unit = o.funcIndex(u)
	return unit, piece, role, off, unit >= 0
}

// relocPos returns the section and position a relocation leads to (adj
// added), when its symbol is defined here.
func (o *Object) relocPos(r object.Reloc, adj int64) (int, uint64, bool) {
	if r.Sym <= 0 || r.Sym >= len(o.syms) {
		if o.File.Linked() && isRelative(o.File.Machine, r.Type) {
			return o.sectionOf(0, uint64(r.Addend)), uint64(r.Addend), true
		}
		return 0, 0, false
	}
	s := &o.syms[r.Sym]
	if !s.Defined() || s.Shndx >= len(o.secs) {
		return 0, 0, false
	}
	pos := s.Value + uint64(r.Addend+adj)
	return o.sectionOf(s.Shndx, pos), pos, true
}

func (o *Object) readBugTable(shndx int) {
	data := o.File.SectionData(shndx)
	rs := o.sectionRelocsRel(shndx)
	_, es, err := ParseBugTableOrder(data, rs, o.File.Machine, o.order())
	if err != nil {
		o.notes = append(o.notes, fmt.Sprintf("%s: %v: WARN/BUG sites not compared", o.Path, err))
		return
	}
	for _, e := range es {
		sh, pos, ok := o.relocPos(rs[e.Addr], 0)
		if !ok {
			continue
		}
		unit, piece, role, off, ok := o.attach(sh, pos)
		if !ok {
			continue
		}
		desc := fmt.Sprintf("flags=%#x", e.Flags)
		if e.File >= 0 {
			desc = "file=" + o.relocTarget(rs[e.File], 0) + " " + desc
		}
		o.tables[unit] = append(o.tables[unit], tableEntry{table: "__bug_table", piece: o.funcToken(piece), role: role, off: off, desc: desc, bug: true, line: e.Line})
	}
}

// sectionRelocsRel returns the relocations of section shndx with
// offsets relative to the section (they are addresses in a linked file).
func (o *Object) sectionRelocsRel(shndx int) []object.Reloc {
	rs := o.File.SectionRelocs(shndx)
	if !o.File.Linked() || len(rs) == 0 {
		return rs
	}
	out := make([]object.Reloc, 0, len(rs))
	for _, r := range rs {
		r.Off -= o.secs[shndx].Addr
		out = append(out, r)
	}
	return out
}

func (o *Object) readCodeTable(shndx int, t codeTable) {
	data := o.File.SectionData(shndx)
	rs := o.sectionRelocsRel(shndx)
	if len(data) == 0 {
		return
	}
	if len(data)%t.size != 0 {
		o.notes = append(o.notes, fmt.Sprintf("%s: %s: %d bytes is not a multiple of the %d-byte entry: not compared", o.Path, t.name, len(data), t.size))
		return
	}
	ri := 0
	for base := 0; base < len(data); base += t.size {
		end := uint64(base + t.size)
		for ri < len(rs) && rs[ri].Off < uint64(base) {
			ri++
		}
		first := ri
		for ri < len(rs) && rs[ri].Off < end {
			ri++
		}
		ers := rs[first:ri]
		if len(ers) == 0 || ers[0].Off != uint64(base) {
			o.notes = append(o.notes, fmt.Sprintf("%s: %s+%#x: no relocation at the entry's code field: table not compared", o.Path, t.name, base))
			return
		}
		sh, pos, ok := o.relocPos(ers[0], 0)
		if !ok {
			continue
		}
		unit, piece, role, off, ok := o.attach(sh, pos)
		if !ok {
			continue
		}
		masked := append([]byte(nil), data[base:base+t.size]...)
		var parts []string
		for _, r := range ers {
			field := int(r.Off) - base
			size, _ := relocField(o.File.Machine, r.Type)
			for k := field; k < field+size && k < len(masked); k++ {
				masked[k] = 0
			}
			target := o.relocTarget(r, 0)
			if t.replLenOff > 0 && field == 4 {
				if s2, p2, ok := o.relocPos(r, 0); ok {
					target = "replacement{" + o.codeContent(s2, p2, uint64(data[base+t.replLenOff])) + "}"
				}
			}
			parts = append(parts, fmt.Sprintf("@%d=%s", field, target))
		}
		// The first field is the position the entry is attached by.
		desc := strings.Join(parts[1:], " ") + " bytes=" + hex.EncodeToString(masked)
		o.tables[unit] = append(o.tables[unit], tableEntry{table: t.name, piece: o.funcToken(piece), role: role, off: off, desc: desc})
	}
}

// codeContent describes n bytes of code at pos of section shndx that no
// function symbol covers (an alternative's replacement): bytes with
// relocated fields zeroed, and the relocations' targets.
func (o *Object) codeContent(shndx int, pos, n uint64) string {
	b := o.sectionBytes(shndx, pos)
	if uint64(len(b)) < n {
		return "?"
	}
	b = append([]byte(nil), b[:n]...)
	var parts []string
	for _, r := range o.File.RelocsIn(shndx, pos, pos+n) {
		field := int(r.Off - pos)
		size, _ := relocField(o.File.Machine, r.Type)
		for k := field; k < field+size && k < len(b); k++ {
			b[k] = 0
		}
		parts = append(parts, fmt.Sprintf("@%d=%s", field, o.relocTarget(r, 0)))
	}
	return strings.TrimSpace(hex.EncodeToString(b) + " " + strings.Join(parts, " "))
}

// coldParent returns the function cold piece c belongs to: the k-th
// function of its parent's name for the k-th piece of c's name, as the
// object reader pairs them.
func (o *Object) coldParent(c *object.Func) *object.Func {
	ps := o.File.Lookup(c.ColdOf)
	if len(ps) == 0 {
		return nil
	}
	for k, p := range o.File.Lookup(c.Name) {
		if p == c {
			if k < len(ps) {
				return ps[k]
			}
			return ps[0]
		}
	}
	return ps[0]
}

// coldPieces returns the cold pieces of fn in the order of fn.Cold.
func (o *Object) coldPieces(fn *object.Func) []*object.Func {
	if len(fn.Cold) == 0 {
		return nil
	}
	k := 0
	for i, p := range o.File.Lookup(fn.Name) {
		if p == fn {
			k = i
		}
	}
	var out []*object.Func
	for _, name := range fn.Cold {
		cs := o.File.Lookup(name)
		if k < len(cs) {
			out = append(out, cs[k])
		} else if len(cs) > 0 {
			out = append(out, cs[0])
		}
	}
	return out
}
