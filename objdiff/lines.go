package objdiff

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"

	"github.com/klp-audit/klp-audit/object"
)

// lineTable maps code positions to source lines: the DWARF line program
// of every compilation unit. It is what tells a __LINE__ shift from a
// changed constant.
type lineTable struct {
	// seqs holds the line programs' sequences by section index in a
	// relocatable object (every code section starts at 0 there), by
	// address under key 0 in a linked file; sorted by start.
	seqs map[int][]lineSeq
}

// lineSeq is one sequence of a line program: rows in address order,
// covering [start, end).
type lineSeq struct {
	start, end uint64
	rows       []lineRow
}

type lineRow struct {
	pos  uint64
	file string
	line int
}

// mainFile stands for a compilation unit's own source file in line rows.
const mainFile = "<main>"

// sectionShift places each code section of a relocatable object at its own
// synthetic base address (index << sectionShift) while the line program is
// read, so positions in .text and .init.text do not collide.
const sectionShift = 40

// debugSections are the DWARF sections a line program needs.
var debugSections = []string{".debug_abbrev", ".debug_info", ".debug_line", ".debug_str",
	".debug_line_str", ".debug_str_offsets", ".debug_addr", ".debug_rnglists", ".debug_ranges"}

// readLines reads the line programs of the object in r. An object
// without .debug_line gives (nil, nil): no line evidence.
func readLines(r io.ReaderAt, syms []object.Symbol) (lt *lineTable, err error) {
	defer func() {
		if p := recover(); p != nil {
			lt, err = nil, fmt.Errorf("line table: %v", p)
		}
	}()
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	defer ef.Close()
	if ef.Section(".debug_line") == nil || ef.Section(".debug_info") == nil {
		return nil, nil
	}
	var d *dwarf.Data
	linked := ef.Type != elf.ET_REL
	if linked {
		d, err = ef.DWARF()
	} else {
		d, err = relocatedDWARF(ef, syms)
	}
	if err != nil {
		return nil, err
	}
	lt = &lineTable{seqs: map[int][]lineSeq{}}
	rd := d.Reader()
	last := dwarf.Offset(0)
	for n := 0; ; n++ {
		e, err := rd.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			break
		}
		// Corrupt input can make debug/dwarf return the same null entry
		// forever: top-level entries must move forward.
		if n > 0 && e.Offset <= last {
			return nil, fmt.Errorf("corrupt .debug_info: entry at %#x does not follow %#x", e.Offset, last)
		}
		last = e.Offset
		if e.Tag != dwarf.TagCompileUnit && e.Tag != dwarf.TagPartialUnit {
			rd.SkipChildren()
			continue
		}
		rd.SkipChildren()
		// The unit's own source file is matched across the two sides
		// even when its name differs (orig.c, patched.c).
		main, _ := e.Val(dwarf.AttrName).(string)
		if dir, _ := e.Val(dwarf.AttrCompDir).(string); main != "" && !path.IsAbs(main) && dir != "" {
			main = path.Join(dir, main)
		}
		main = path.Clean(main)
		lr, err := d.LineReader(e)
		if err != nil {
			return nil, err
		}
		if lr == nil {
			continue
		}
		var le dwarf.LineEntry
		var cur []lineRow
		for {
			if err := lr.Next(&le); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, err
			}
			key, pos := 0, le.Address
			if !linked {
				key, pos = int(le.Address>>sectionShift), le.Address&(1<<sectionShift-1)
			}
			name := ""
			if le.File != nil {
				name = le.File.Name
				if path.Clean(name) == main {
					name = mainFile
				}
			}
			if le.EndSequence {
				if len(cur) > 0 && pos >= cur[0].pos {
					lt.seqs[key] = append(lt.seqs[key], lineSeq{start: cur[0].pos, end: pos, rows: cur})
				}
				cur = nil
				continue
			}
			if len(cur) > 0 && pos < cur[len(cur)-1].pos {
				cur = nil // addresses went back: not a well-formed sequence
			}
			cur = append(cur, lineRow{pos: pos, file: name, line: le.Line})
		}
	}
	for k, seqs := range lt.seqs {
		sort.SliceStable(seqs, func(i, j int) bool { return seqs[i].start < seqs[j].start })
		lt.seqs[k] = seqs
	}
	return lt, nil
}

// relocatedDWARF loads the DWARF of a relocatable object, applying the
// relocations of its debug sections itself: debug/elf would resolve a
// reference to .init.text+0x10 and one to .text+0x10 to the same address.
func relocatedDWARF(ef *elf.File, syms []object.Symbol) (*dwarf.Data, error) {
	secs := map[string][]byte{}
	for _, name := range debugSections {
		s := ef.Section(name)
		if s == nil || s.Type == elf.SHT_NOBITS {
			continue
		}
		b, err := s.Data()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		b = append([]byte(nil), b...)
		if err := applyRelocs(ef, s, b, syms); err != nil {
			return nil, err
		}
		secs[name] = b
	}
	d, err := dwarf.New(secs[".debug_abbrev"], nil, nil, secs[".debug_info"], secs[".debug_line"], nil, secs[".debug_ranges"], secs[".debug_str"])
	if err != nil {
		return nil, err
	}
	for _, name := range []string{".debug_line_str", ".debug_str_offsets", ".debug_addr", ".debug_rnglists"} {
		if b, ok := secs[name]; ok {
			if err := d.AddSection(name, b); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// applyRelocs applies the RELA relocations that target section s to b,
// its contents. A symbol in a code section counts from that section's
// synthetic base (see sectionShift); other symbols from 0.
func applyRelocs(ef *elf.File, s *elf.Section, b []byte, syms []object.Symbol) error {
	idx := -1
	for i, x := range ef.Sections {
		if x == s {
			idx = i
		}
	}
	le := ef.ByteOrder
	for _, rs := range ef.Sections {
		if rs.Type != elf.SHT_RELA || int(rs.Info) != idx {
			continue
		}
		data, err := rs.Data()
		if err != nil {
			return fmt.Errorf("%s: %w", rs.Name, err)
		}
		for i := 0; i+24 <= len(data); i += 24 {
			off := le.Uint64(data[i:])
			info := le.Uint64(data[i+8:])
			addend := int64(le.Uint64(data[i+16:]))
			symi, typ := info>>32, uint32(info)
			var val uint64
			if symi > 0 {
				if symi >= uint64(len(syms)) {
					return fmt.Errorf("%s: relocation symbol %d out of range", rs.Name, symi)
				}
				sy := &syms[symi]
				val = sy.Value
				if sh := sy.Shndx; sy.Defined() && sh > 0 && sh < len(ef.Sections) && ef.Sections[sh].Flags&elf.SHF_EXECINSTR != 0 {
					val += uint64(sh) << sectionShift
				}
			}
			v := val + uint64(addend)
			size := 0
			switch ef.Machine {
			case elf.EM_X86_64:
				switch elf.R_X86_64(typ) {
				case elf.R_X86_64_64:
					size = 8
				case elf.R_X86_64_32, elf.R_X86_64_32S:
					size = 4
				}
			case elf.EM_AARCH64:
				switch elf.R_AARCH64(typ) {
				case elf.R_AARCH64_ABS64:
					size = 8
				case elf.R_AARCH64_ABS32:
					size = 4
				}
			default:
				size = otherDebugReloc(ef.Machine, typ)
			}
			if size == 0 || off > uint64(len(b)) || uint64(len(b))-off < uint64(size) {
				continue
			}
			if size == 8 {
				le.PutUint64(b[off:], v)
			} else {
				le.PutUint32(b[off:], uint32(v))
			}
		}
	}
	return nil
}

// at returns the source line of the code at pos of section shndx (pos is
// an address and shndx 0 in a linked file): the last row at or before pos
// in the sequence covering it.
func (lt *lineTable) at(shndx int, pos uint64) (file string, line int, ok bool) {
	if lt == nil {
		return "", 0, false
	}
	seqs := lt.seqs[shndx]
	i := sort.Search(len(seqs), func(i int) bool { return seqs[i].start > pos }) - 1
	for n := 0; i >= 0 && n < 8; i, n = i-1, n+1 {
		sq := &seqs[i]
		if pos >= sq.end {
			continue
		}
		j := sort.Search(len(sq.rows), func(j int) bool { return sq.rows[j].pos > pos }) - 1
		if j >= 0 {
			return sq.rows[j].file, sq.rows[j].line, true
		}
	}
	return "", 0, false
}

// within returns the rows that start in [start, end) of section shndx.
func (lt *lineTable) within(shndx int, start, end uint64) []lineRow {
	if lt == nil {
		return nil
	}
	var out []lineRow
	for _, sq := range lt.seqs[shndx] {
		if sq.end <= start || sq.start >= end {
			continue
		}
		for _, r := range sq.rows {
			if r.pos >= start && r.pos < end {
				out = append(out, r)
			}
		}
	}
	return out
}
