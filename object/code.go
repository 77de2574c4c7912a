package object

import (
	"debug/elf"
	"fmt"
	"io"
	"sort"

	"github.com/klp-audit/klp-audit/internal/safeio"
)

// This file gives the raw material of a binary comparison (klp-audit
// diff): section contents, every relocation and the whole symbol table.
// Open and NewFile keep none of it, so the call graph of a whole build
// stays small; OpenCode and NewFileCode keep it as well.

// Symbol is one entry of an object's symbol table, as the file holds it
// (unlike Func, which only describes defined functions).
type Symbol struct {
	Name  string
	Type  elf.SymType // elf.STT_FUNC, STT_OBJECT, STT_SECTION, STT_NOTYPE, ...
	Bind  elf.SymBind
	Shndx int // section index, SHN_XINDEX resolved; SHN_UNDEF, SHN_ABS, SHN_COMMON as given
	// Value is the offset in the section (relocatable) or the address
	// (linked).
	Value uint64
	Size  uint64
}

// Defined says the symbol lives in a real section of this object.
func (s *Symbol) Defined() bool {
	return s.Shndx != int(elf.SHN_UNDEF) && s.Shndx < int(elf.SHN_LORESERVE)
}

// Reloc is one relocation that applies to an allocated section (code,
// data, or a table about code such as __bug_table or __jump_table).
type Reloc struct {
	// Off is the offset of the relocated field in its section
	// (relocatable object) or its address (linked file).
	Off    uint64
	Type   uint32 // elf.R_X86_64_PLT32, elf.R_AARCH64_CALL26, ...
	Sym    int    // index into Symbols; 0 for none
	Addend int64
}

// SectionHeader is what a binary comparison needs of a section header.
type SectionHeader struct {
	Name    string
	Type    elf.SectionType
	Flags   elf.SectionFlag // SHF_ALLOC, SHF_EXECINSTR, SHF_MERGE|SHF_STRINGS for string literals, ...
	Addr    uint64
	Size    uint64
	Entsize uint64
}

// code is what OpenCode keeps besides the File.
type code struct {
	syms    []Symbol
	headers []SectionHeader
	data    [][]byte  // by section index; nil for sections not kept
	relocs  [][]Reloc // by target section index, sorted by Off
}

// OpenCode reads the object at path as Open does and also keeps its
// allocated sections' contents, all their relocations and the symbol
// table, which Code, SectionData, SectionRelocs and Symbols return.
func OpenCode(path string) (*File, error) {
	fh, err := safeio.OpenObject(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return NewFileCode(fh.SectionReader(), path)
}

// NewFileCode reads an object from r as NewFile does and also keeps what
// OpenCode keeps. Corrupt input gives an error naming path, never a panic.
func NewFileCode(r io.ReaderAt, path string) (f *File, err error) {
	f, err = NewFile(r, path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			f = nil
			err = fmt.Errorf("%s: %w: %v", path, ErrCorrupt, p)
		}
	}()
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer ef.Close()
	rd := &reader{path: path, ef: ef, fileSize: -1, linked: f.linked}
	if s, ok := r.(interface{ Size() int64 }); ok {
		rd.fileSize = s.Size()
	}
	if err := rd.readSymbols(); err != nil {
		return nil, err
	}
	c := &code{
		syms:    make([]Symbol, len(rd.syms)),
		headers: make([]SectionHeader, len(ef.Sections)),
		data:    make([][]byte, len(ef.Sections)),
		relocs:  make([][]Reloc, len(ef.Sections)),
	}
	for i := range rd.syms {
		s := &rd.syms[i]
		c.syms[i] = Symbol{Name: s.name, Type: s.typ(), Bind: s.bind(), Shndx: int(s.shndx), Value: s.value, Size: s.size}
	}
	for i, s := range ef.Sections {
		c.headers[i] = SectionHeader{Name: s.Name, Type: s.Type, Flags: s.Flags, Addr: s.Addr, Size: s.Size, Entsize: s.Entsize}
		if i == 0 || s.Flags&elf.SHF_ALLOC == 0 || s.Type == elf.SHT_NOBITS {
			continue
		}
		d, err := rd.sectionData(s)
		if err != nil {
			return nil, rd.errorf("%w: section %s: %w", ErrCorrupt, s.Name, err)
		}
		c.data[i] = d
	}
	if err := rd.keepRelocs(c); err != nil {
		return nil, err
	}
	f.code = c
	return f, nil
}

// keepRelocs reads every SHT_RELA section that applies to an allocated
// section; a linked file's dynamic relocations are placed by address.
func (rd *reader) keepRelocs(c *code) error {
	ef := rd.ef
	le := ef.ByteOrder
	for _, s := range ef.Sections {
		if s.Type != elf.SHT_RELA {
			continue
		}
		tgt := int(s.Info)
		if s.Flags&elf.SHF_ALLOC != 0 && rd.linked {
			tgt = -1
		} else if tgt <= 0 || tgt >= len(ef.Sections) || ef.Sections[tgt].Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		data, err := rd.sectionData(s)
		if err != nil {
			return rd.errorf("%w: section %s: %w", ErrCorrupt, s.Name, err)
		}
		n := len(data) / rela64Size
		for i := 0; i < n; i++ {
			e := data[i*rela64Size:]
			info := le.Uint64(e[8:])
			r := Reloc{Off: le.Uint64(e), Type: uint32(info), Sym: int(info >> 32), Addend: int64(le.Uint64(e[16:]))}
			if r.Sym >= len(rd.syms) {
				return rd.errorf("%w: section %s: relocation %d: symbol index %d out of range", ErrCorrupt, s.Name, i, r.Sym)
			}
			t := tgt
			if t < 0 {
				t = sectionByAddr(c.headers, r.Off)
				if t < 0 {
					continue
				}
			}
			c.relocs[t] = append(c.relocs[t], r)
		}
	}
	for i, rs := range c.relocs {
		if !sort.SliceIsSorted(rs, func(a, b int) bool { return rs[a].Off < rs[b].Off }) {
			sort.SliceStable(rs, func(a, b int) bool { return rs[a].Off < rs[b].Off })
			c.relocs[i] = rs
		}
	}
	return nil
}

func sectionByAddr(hs []SectionHeader, addr uint64) int {
	for i, s := range hs {
		if s.Flags&elf.SHF_ALLOC != 0 && s.Type != elf.SHT_NOBITS && addr >= s.Addr && addr < s.Addr+s.Size {
			return i
		}
	}
	return -1
}

// HasCode says the File was read by OpenCode or NewFileCode, so Code,
// SectionData, SectionRelocs and Symbols answer.
func (f *File) HasCode() bool { return f.code != nil }

// Linked says the file is linked (vmlinux, ET_EXEC or ET_DYN): symbol
// values and relocation offsets are addresses, not section offsets.
func (f *File) Linked() bool { return f.linked }

// Symbols returns the symbol table, index 0 (the null symbol) included,
// so Reloc.Sym indexes it. Nil unless the File was read by OpenCode.
func (f *File) Symbols() []Symbol {
	if f.code == nil {
		return nil
	}
	return f.code.syms
}

// Sections returns the section headers, by section index. Nil unless the
// File was read by OpenCode.
func (f *File) Sections() []SectionHeader {
	if f.code == nil {
		return nil
	}
	return f.code.headers
}

// SectionData returns the contents of allocated section shndx (nil for
// other sections, SHT_NOBITS ones such as .bss, or a File not read by
// OpenCode). The caller must not modify it.
func (f *File) SectionData(shndx int) []byte {
	if f.code == nil || shndx < 0 || shndx >= len(f.code.data) {
		return nil
	}
	return f.code.data[shndx]
}

// SectionRelocs returns the relocations that apply to section shndx,
// sorted by Off. The caller must not modify them.
func (f *File) SectionRelocs(shndx int) []Reloc {
	if f.code == nil || shndx < 0 || shndx >= len(f.code.relocs) {
		return nil
	}
	return f.code.relocs[shndx]
}

// RelocsIn returns the relocations of section shndx whose field starts
// in [start, end): those of one function's code, say.
func (f *File) RelocsIn(shndx int, start, end uint64) []Reloc {
	rs := f.SectionRelocs(shndx)
	lo := sort.Search(len(rs), func(i int) bool { return rs[i].Off >= start })
	hi := sort.Search(len(rs), func(i int) bool { return rs[i].Off >= end })
	if hi < lo {
		hi = lo
	}
	return rs[lo:hi]
}

// Code returns fn's machine code and the relocations inside it (Off
// relative to the section, or the address in a linked file, like
// fn.Value). ok is false when the File was not read by OpenCode or fn's
// bytes lie outside its section's contents.
func (f *File) Code(fn *Func) (b []byte, relocs []Reloc, ok bool) {
	if f.code == nil || fn.Shndx <= 0 || fn.Shndx >= len(f.code.data) {
		return nil, nil, false
	}
	data := f.code.data[fn.Shndx]
	start := fn.Value
	if f.linked {
		h := f.code.headers[fn.Shndx]
		if start < h.Addr {
			return nil, nil, false
		}
		start -= h.Addr
	}
	if start > uint64(len(data)) || fn.Size > uint64(len(data))-start {
		return nil, nil, false
	}
	return data[start : start+fn.Size], f.RelocsIn(fn.Shndx, fn.Value, fn.Value+fn.Size), true
}
