package dwarfinfo

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"math"
	"strings"
)

// Why not (*elf.File).DWARF alone: for a relocatable object it reads
// and relocates every .debug_* section, the location lists, frames and
// address ranges too, which debug/dwarf then ignores; and it decodes
// each relocation with reflection (encoding/binary.Read). A kernel
// object's .debug_info carries some 18,000 relocations: checking the
// dumps of the 48 units that inline one header function spent more time
// relocating than walking the DWARF.
//
// loadDWARF reads only the sections debug/dwarf uses and, for the one
// case that is every object of an x86-64 kernel build (ELF64,
// little-endian, x86-64, relocatable, RELA, nothing compressed),
// applies the relocations itself, exactly as debug/elf does: symbol
// plus addend for R_X86_64_64 and R_X86_64_32 against a symbol defined
// in a section, every other relocation left alone. Anything else goes
// to (*elf.File).DWARF. TestLoadDWARF holds the two to the same DWARF on
// every fixture and on kernel objects.

// dwarfSections are the sections debug/dwarf reads: the five dwarf.New
// takes, and those AddSection keeps.
var dwarfSections = map[string]bool{
	"abbrev": true, "info": true, "str": true, "line": true, "ranges": true,
	"addr": true, "line_str": true, "str_offsets": true, "rnglists": true,
}

// loadDWARF returns f's DWARF, as (*elf.File).DWARF does.
func loadDWARF(f *elf.File) (*dwarf.Data, error) {
	if d, ok, err := fastDWARF(f); ok {
		return d, err
	}
	return f.DWARF()
}

// fastDWARF is loadDWARF's own reading; false when f is not the case it
// reads (f.DWARF() answers then).
func fastDWARF(f *elf.File) (*dwarf.Data, bool, error) {
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_REL {
		return nil, false, nil
	}
	relaOf := map[int]*elf.Section{} // a section's index: its relocations
	for _, s := range f.Sections {
		switch {
		case strings.HasPrefix(s.Name, ".zdebug_"), strings.HasPrefix(s.Name, ".debug_") && s.Flags&elf.SHF_COMPRESSED != 0,
			s.Name == ".debug_types":
			return nil, false, nil
		case s.Type == elf.SHT_REL:
			return nil, false, nil
		case s.Type == elf.SHT_RELA:
			if relaOf[int(s.Info)] != nil {
				return nil, false, nil // two relocation sections for one: unusual
			}
			relaOf[int(s.Info)] = s
		}
	}
	var syms []elf.Symbol
	symsRead := false
	dat := map[string][]byte{}
	for i, s := range f.Sections {
		suffix, ok := strings.CutPrefix(s.Name, ".debug_")
		if !ok || !dwarfSections[suffix] {
			continue
		}
		b, err := s.Data()
		if err != nil && uint64(len(b)) < s.Size {
			return nil, true, err
		}
		if r := relaOf[i]; r != nil {
			if !symsRead {
				symsRead = true
				if syms, err = f.Symbols(); err != nil {
					return nil, false, nil // f.DWARF() says what is wrong
				}
			}
			rd, err := r.Data()
			if err != nil {
				return nil, true, err
			}
			if err := relocateAMD64(b, rd, syms); err != nil {
				return nil, true, err
			}
		}
		dat[suffix] = b
	}
	d, err := dwarf.New(dat["abbrev"], nil, nil, dat["info"], dat["line"], nil, dat["ranges"], dat["str"])
	if err != nil {
		return nil, true, err
	}
	for _, n := range []string{"addr", "line_str", "str_offsets", "rnglists"} {
		if b, ok := dat[n]; ok {
			if err := d.AddSection(".debug_"+n, b); err != nil {
				return nil, true, err
			}
		}
	}
	return d, true, nil
}

// relocateAMD64 applies the RELA relocations rels to dst as debug/elf's
// applyRelocationsAMD64 does; syms are the object's symbols as
// (*elf.File).Symbols returns them (without the null symbol).
func relocateAMD64(dst, rels []byte, syms []elf.Symbol) error {
	const relaSize = 24 // Rela64
	if len(rels)%relaSize != 0 {
		return errors.New("length of relocation section is not a multiple of 24")
	}
	le := binary.LittleEndian
	for ; len(rels) > 0; rels = rels[relaSize:] {
		off := le.Uint64(rels)
		info := le.Uint64(rels[8:])
		addend := int64(le.Uint64(rels[16:]))
		symNo := info >> 32
		if symNo == 0 || symNo > uint64(len(syms)) {
			continue
		}
		sym := &syms[symNo-1]
		if sym.Section == elf.SHN_UNDEF || sym.Section >= elf.SHN_LORESERVE {
			continue
		}
		var n uint64
		switch elf.R_X86_64(info & 0xffff) {
		case elf.R_X86_64_64:
			n = 8
		case elf.R_X86_64_32:
			n = 4
		default:
			continue
		}
		if addend < 0 || off+n > uint64(len(dst)) || math.MaxUint64-off < n {
			continue
		}
		if n == 8 {
			le.PutUint64(dst[off:], sym.Value+uint64(addend))
		} else {
			le.PutUint32(dst[off:], uint32(sym.Value)+uint32(addend))
		}
	}
	return nil
}
