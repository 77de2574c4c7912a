package dwarfinfo

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// This file is the fast path of Producers: it decodes only the first
// entry (the DW_TAG_compile_unit) of each unit, reading a few hundred bytes
// of .debug_info, the unit's abbreviation table, the strings it points to
// and, in a relocatable object, only the relocations of those few fields.
// elf.File.DWARF would decode and relocate every debug section: for the
// kernel's kernel/ and mm/ objects that is 58 MB of .rela.debug_info alone.
// Anything it does not handle returns errUnsupported, and Producers falls
// back to debug/dwarf.

// errUnsupported makes Producers fall back to debug/dwarf.
var errUnsupported = errors.New("not handled by the fast reader")

// DWARF constants (DWARF 5, section 7).
const (
	tagCompileUnit  = 0x11
	tagPartialUnit  = 0x3c
	tagSkeletonUnit = 0x4a

	atName           = 0x03
	atProducer       = 0x25
	atCompDir        = 0x1b
	atStrOffsetsBase = 0x72
)

// cuEntry is what the fast reader keeps of one unit.
type cuEntry struct {
	name, compDir, producer string
}

// cuReader reads the unit entries of one object.
type cuReader struct {
	f      *elf.File
	order  binary.ByteOrder
	class  elf.Class
	prefix string // "" or ".gnu.debuglto_"

	info       *elf.Section
	abbrev     []byte
	str        *elf.Section
	lineStr    *elf.Section
	strOffsets *elf.Section

	symtab *elf.Section
	rels   map[*elf.Section]*relStream
	cache  map[*elf.Section][]byte // decompressed sections
}

func newCUReader(f *elf.File, prefix string) (*cuReader, error) {
	r := &cuReader{f: f, order: f.ByteOrder, class: f.Class, prefix: prefix,
		rels: map[*elf.Section]*relStream{}, cache: map[*elf.Section][]byte{}}
	if r.order == nil {
		return nil, errUnsupported
	}
	if f.Type == elf.ET_REL && f.Machine == elf.EM_MIPS && f.Class == elf.ELFCLASS64 {
		return nil, errUnsupported // MIPS64 packs r_info differently
	}
	r.info = f.Section(prefix + ".debug_info")
	if r.info == nil || r.info.Type == elf.SHT_NOBITS {
		return nil, errUnsupported
	}
	as := f.Section(prefix + ".debug_abbrev")
	if as == nil {
		return nil, fmt.Errorf("%s.debug_info without %s.debug_abbrev", prefix, prefix)
	}
	var err error
	if r.abbrev, err = as.Data(); err != nil {
		return nil, fmt.Errorf("%s: %w", as.Name, err)
	}
	r.str = f.Section(prefix + ".debug_str")
	r.lineStr = f.Section(prefix + ".debug_line_str")
	r.strOffsets = f.Section(prefix + ".debug_str_offsets")
	r.symtab = f.Section(".symtab")
	return r, nil
}

// size returns the (decompressed) size of s.
func (r *cuReader) size(s *elf.Section) (int64, error) {
	if s.Flags&elf.SHF_COMPRESSED == 0 {
		return int64(s.Size), nil
	}
	if _, err := r.read(s, 0, 0); err != nil {
		return 0, err
	}
	return int64(len(r.cache[s])), nil
}

// read returns n bytes of section s at off (fewer at the end of s).
func (r *cuReader) read(s *elf.Section, off, n int64) ([]byte, error) {
	size := int64(s.Size)
	if s.Flags&elf.SHF_COMPRESSED != 0 {
		d, ok := r.cache[s]
		if !ok {
			var err error
			if d, err = s.Data(); err != nil {
				return nil, fmt.Errorf("%s: %w", s.Name, err)
			}
			r.cache[s] = d
		}
		size = int64(len(d))
		if off < 0 || off > size {
			return nil, fmt.Errorf("%s: offset %#x out of range", s.Name, off)
		}
		return d[off:min(off+n, size)], nil
	}
	if off < 0 || off > size {
		return nil, fmt.Errorf("%s: offset %#x out of range", s.Name, off)
	}
	n = min(n, size-off)
	b := make([]byte, n)
	if _, err := s.ReadAt(b, off); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	return b, nil
}

// cstring reads the NUL-terminated string at off in s.
func (r *cuReader) cstring(s *elf.Section, off uint64) (string, error) {
	if s == nil {
		return "", errors.New("string section missing")
	}
	var out []byte
	for chunk := int64(256); ; chunk *= 4 {
		b, err := r.read(s, int64(off)+int64(len(out)), chunk)
		if err != nil {
			return "", err
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			return string(append(out, b[:i]...)), nil
		}
		if len(b) == 0 {
			return "", fmt.Errorf("%s: unterminated string at %#x", s.Name, off)
		}
		out = append(out, b...)
		if len(out) > 1<<20 {
			return "", fmt.Errorf("%s: string at %#x longer than 1 MiB", s.Name, off)
		}
	}
}

// units decodes the first entry of every unit in .debug_info.
func (r *cuReader) units() ([]cuEntry, error) {
	var out []cuEntry
	size, err := r.size(r.info)
	if err != nil {
		return nil, err
	}
	for off := int64(0); off < size; {
		e, next, err := r.unit(off, size)
		if errors.Is(err, errUnsupported) {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: unit at %#x: %v", ErrCorrupt, r.info.Name, off, err)
		}
		if e != nil {
			out = append(out, *e)
		}
		off = next
	}
	return out, nil
}

// unit decodes the unit at off and returns its entry (nil for a type or
// empty unit) and the offset of the next unit.
func (r *cuReader) unit(off, size int64) (*cuEntry, int64, error) {
	hb, err := r.read(r.info, off, 32)
	if err != nil {
		return nil, 0, err
	}
	c := &cursor{b: hb, order: r.order, base: off}
	length := uint64(c.u32())
	offSize := 4
	if length == 0xffffffff {
		length, offSize = c.u64(), 8
	} else if length >= 0xfffffff0 {
		return nil, 0, fmt.Errorf("reserved unit length %#x", length)
	}
	c.offSize = offSize
	end := off + int64(c.pos) + int64(length)
	if length == 0 || end > size || end < off {
		return nil, 0, fmt.Errorf("unit length %#x runs past the section (%#x bytes)", length, size)
	}
	version := c.u16()
	var unitType uint8 = 1 // DW_UT_compile
	var abbrevField int64
	var abbrevOff uint64
	switch {
	case version == 5:
		unitType = c.u8()
		c.addrSize = int(c.u8())
		abbrevField = c.abs()
		abbrevOff = c.off()
		switch unitType {
		case 4, 5: // DW_UT_skeleton, DW_UT_split_compile: dwo_id
			c.skip(8)
		case 2, 6: // DW_UT_type, DW_UT_split_type
			return nil, end, nil
		}
	case version >= 2 && version <= 4:
		abbrevField = c.abs()
		abbrevOff = c.off()
		c.addrSize = int(c.u8())
	default:
		return nil, 0, fmt.Errorf("DWARF version %d", version)
	}
	if c.err != nil {
		return nil, 0, c.err
	}
	if abbrevOff, err = r.relocate(r.info, abbrevField, abbrevOff, offSize); err != nil {
		return nil, 0, err
	}
	dieOff := off + int64(c.pos)
	for n := int64(512); ; n *= 4 {
		b, err := r.read(r.info, dieOff, min(n, end-dieOff))
		if err != nil {
			return nil, 0, err
		}
		e, err := r.die(b, dieOff, abbrevOff, offSize, c.addrSize, version)
		if errors.Is(err, errShort) && int64(len(b)) < end-dieOff {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		return e, end, nil
	}
}

// errShort: the buffer ended inside the entry; read more.
var errShort = errors.New("entry runs past the data read")

// attrVal is one decoded attribute of interest.
type attrVal struct {
	form  uint64
	s     string // DW_FORM_string
	u     uint64 // offset, index or constant
	field int64  // offset of the value in .debug_info
	isSet bool
}

// die decodes the unit entry in b, which starts at dieOff in .debug_info.
func (r *cuReader) die(b []byte, dieOff int64, abbrevOff uint64, offSize, addrSize int, version uint16) (*cuEntry, error) {
	c := &cursor{b: b, order: r.order, base: dieOff, offSize: offSize, addrSize: addrSize}
	code := c.uleb()
	if c.err != nil {
		return nil, errShort
	}
	if code == 0 {
		return nil, nil // an empty unit
	}
	ab, err := findAbbrev(r.abbrev, abbrevOff, code)
	if err != nil {
		return nil, err
	}
	if ab.tag != tagCompileUnit && ab.tag != tagPartialUnit && ab.tag != tagSkeletonUnit {
		return nil, nil
	}
	var name, compDir, producer, strBase attrVal
	for _, a := range ab.attrs {
		form := a.form
		for form == 0x16 { // DW_FORM_indirect
			form = c.uleb()
		}
		v, err := c.value(form, version)
		if err != nil {
			return nil, err
		}
		if c.err != nil {
			return nil, errShort
		}
		switch a.attr {
		case atName:
			name = v
		case atCompDir:
			compDir = v
		case atProducer:
			producer = v
		case atStrOffsetsBase:
			strBase = v
		}
	}
	if strBase.isSet {
		if strBase.u, err = r.relocate(r.info, strBase.field, strBase.u, offSize); err != nil {
			return nil, err
		}
	}
	e := &cuEntry{}
	for _, p := range []struct {
		v   attrVal
		dst *string
	}{{producer, &e.producer}, {name, &e.name}, {compDir, &e.compDir}} {
		if !p.v.isSet {
			continue
		}
		s, err := r.stringAttr(p.v, offSize, strBase)
		if err != nil {
			return nil, err
		}
		*p.dst = s
	}
	return e, nil
}

// stringAttr resolves a string attribute.
func (r *cuReader) stringAttr(v attrVal, offSize int, strBase attrVal) (string, error) {
	switch v.form {
	case 0x08: // DW_FORM_string
		return v.s, nil
	case 0x0e: // DW_FORM_strp
		o, err := r.relocate(r.info, v.field, v.u, offSize)
		if err != nil {
			return "", err
		}
		return r.cstring(r.str, o)
	case 0x1f: // DW_FORM_line_strp
		o, err := r.relocate(r.info, v.field, v.u, offSize)
		if err != nil {
			return "", err
		}
		return r.cstring(r.lineStr, o)
	case 0x1a, 0x25, 0x26, 0x27, 0x28: // DW_FORM_strx, strx1..4
		if !strBase.isSet || r.strOffsets == nil {
			return "", errUnsupported
		}
		at := int64(strBase.u) + int64(v.u)*int64(offSize)
		eb, err := r.read(r.strOffsets, at, int64(offSize))
		if err != nil {
			return "", err
		}
		if len(eb) < offSize {
			return "", fmt.Errorf("%s: index %d out of range", r.strOffsets.Name, v.u)
		}
		var o uint64
		if offSize == 8 {
			o = r.order.Uint64(eb)
		} else {
			o = uint64(r.order.Uint32(eb))
		}
		if o, err = r.relocate(r.strOffsets, at, o, offSize); err != nil {
			return "", err
		}
		return r.cstring(r.str, o)
	}
	// Not a string form (or one kept in a supplementary or .dwo file).
	return "", errUnsupported
}

// relocate returns the value v of the size-byte field at off in section
// target after relocation: unchanged unless the object is relocatable.
func (r *cuReader) relocate(target *elf.Section, off int64, v uint64, size int) (uint64, error) {
	if r.f.Type != elf.ET_REL {
		return v, nil
	}
	rs, err := r.relStreamFor(target)
	if err != nil || rs == nil {
		return v, err
	}
	rel, ok, err := rs.at(uint64(off))
	if err != nil || !ok {
		return v, err
	}
	s, err := r.symValue(rel.sym)
	if err != nil {
		return 0, err
	}
	a := rel.addend
	if !rs.rela {
		a = int64(v) // REL: the addend is the field's content
	}
	if size == 4 {
		return uint64(uint32(s + uint64(a))), nil
	}
	return s + uint64(a), nil
}

// symValue returns st_value of symbol i of .symtab.
func (r *cuReader) symValue(i uint32) (uint64, error) {
	if i == 0 {
		return 0, nil
	}
	if r.symtab == nil {
		return 0, errors.New("relocation without .symtab")
	}
	if r.class == elf.ELFCLASS64 {
		b, err := r.read(r.symtab, int64(i)*24, 24)
		if err != nil || len(b) < 24 {
			return 0, fmt.Errorf(".symtab: symbol %d out of range", i)
		}
		return r.order.Uint64(b[8:]), nil
	}
	b, err := r.read(r.symtab, int64(i)*16, 16)
	if err != nil || len(b) < 16 {
		return 0, fmt.Errorf(".symtab: symbol %d out of range", i)
	}
	return uint64(r.order.Uint32(b[4:])), nil
}

// relStreamFor finds the relocation section that applies to target.
func (r *cuReader) relStreamFor(target *elf.Section) (*relStream, error) {
	if rs, ok := r.rels[target]; ok {
		return rs, nil
	}
	var rs *relStream
	for _, s := range r.f.Sections {
		if (s.Type != elf.SHT_RELA && s.Type != elf.SHT_REL) || int(s.Info) >= len(r.f.Sections) ||
			r.f.Sections[s.Info] != target {
			continue
		}
		size, err := r.size(s)
		if err != nil {
			return nil, err
		}
		rs = &relStream{r: r, sec: s, size: size, rela: s.Type == elf.SHT_RELA, sorted: true, m: map[uint64]rel{}}
		switch {
		case r.class == elf.ELFCLASS64 && rs.rela:
			rs.entSize = 24
		case r.class == elf.ELFCLASS64:
			rs.entSize = 16
		case rs.rela:
			rs.entSize = 12
		default:
			rs.entSize = 8
		}
		break
	}
	r.rels[target] = rs
	return rs, nil
}

// rel is one relocation: symbol index and addend.
type rel struct {
	sym    uint32
	addend int64
}

// relStream reads a relocation section lazily, in offset order, as far
// as the fields asked for need; an unsorted section is read whole.
type relStream struct {
	r       *cuReader
	sec     *elf.Section
	size    int64
	rela    bool
	entSize int
	next    int64
	sorted  bool
	last    uint64
	m       map[uint64]rel
}

func (rs *relStream) at(off uint64) (rel, bool, error) {
	for {
		if v, ok := rs.m[off]; ok {
			return v, true, nil
		}
		if rs.next >= rs.size || (rs.sorted && len(rs.m) > 0 && rs.last > off) {
			return rel{}, false, nil
		}
		b, err := rs.r.read(rs.sec, rs.next, int64(rs.entSize*256))
		if err != nil {
			return rel{}, false, err
		}
		n := len(b) / rs.entSize
		if n == 0 {
			rs.next = rs.size
			continue
		}
		o := rs.r.order
		for i := 0; i < n; i++ {
			e := b[i*rs.entSize:]
			var x rel
			var eoff uint64
			if rs.r.class == elf.ELFCLASS64 {
				eoff = o.Uint64(e)
				x.sym = uint32(o.Uint64(e[8:]) >> 32)
				if rs.rela {
					x.addend = int64(o.Uint64(e[16:]))
				}
			} else {
				eoff = uint64(o.Uint32(e))
				x.sym = o.Uint32(e[4:]) >> 8
				if rs.rela {
					x.addend = int64(int32(o.Uint32(e[8:])))
				}
			}
			if eoff < rs.last {
				rs.sorted = false
			}
			rs.last = max(rs.last, eoff)
			rs.m[eoff] = x
		}
		rs.next += int64(n * rs.entSize)
	}
}

// abbrevEntry is one abbreviation declaration.
type abbrevEntry struct {
	tag   uint64
	attrs []abbrevAttr
}

type abbrevAttr struct {
	attr, form uint64
	implicit   int64
}

// findAbbrev returns declaration code of the table at off.
func findAbbrev(data []byte, off, code uint64) (*abbrevEntry, error) {
	if off >= uint64(len(data)) {
		return nil, fmt.Errorf("abbreviation table offset %#x out of range", off)
	}
	c := &cursor{b: data[off:]}
	for {
		n := c.uleb()
		if c.err != nil || n == 0 {
			return nil, fmt.Errorf("abbreviation %d not in the table at %#x", code, off)
		}
		e := &abbrevEntry{tag: c.uleb()}
		c.u8() // DW_CHILDREN_*
		for {
			a := abbrevAttr{attr: c.uleb(), form: c.uleb()}
			if c.err != nil {
				return nil, fmt.Errorf("abbreviation table at %#x truncated", off)
			}
			if a.attr == 0 && a.form == 0 {
				break
			}
			if a.form == 0x21 { // DW_FORM_implicit_const
				a.implicit = c.sleb()
			}
			e.attrs = append(e.attrs, a)
		}
		if n == code {
			return e, nil
		}
	}
}

// cursor decodes DWARF values from b, which starts at section offset
// base. Reading past the end sets err (errShort) and returns zeros.
type cursor struct {
	b        []byte
	pos      int
	order    binary.ByteOrder
	base     int64
	offSize  int
	addrSize int
	err      error
}

func (c *cursor) need(n int) bool {
	if c.err != nil {
		return false
	}
	if n < 0 || c.pos+n > len(c.b) || c.pos+n < c.pos {
		c.err = errShort
		return false
	}
	return true
}

func (c *cursor) skip(n int) {
	if c.need(n) {
		c.pos += n
	}
}

// abs returns the absolute section offset of the next byte.
func (c *cursor) abs() int64 { return c.base + int64(c.pos) }

func (c *cursor) u8() uint8 {
	if !c.need(1) {
		return 0
	}
	c.pos++
	return c.b[c.pos-1]
}

func (c *cursor) u16() uint16 {
	if !c.need(2) {
		return 0
	}
	c.pos += 2
	return c.order.Uint16(c.b[c.pos-2:])
}

func (c *cursor) u32() uint32 {
	if !c.need(4) {
		return 0
	}
	c.pos += 4
	return c.order.Uint32(c.b[c.pos-4:])
}

func (c *cursor) u64() uint64 {
	if !c.need(8) {
		return 0
	}
	c.pos += 8
	return c.order.Uint64(c.b[c.pos-8:])
}

// off reads an offset of the unit's size (4 or 8 bytes).
func (c *cursor) off() uint64 {
	if c.offSize == 8 {
		return c.u64()
	}
	return uint64(c.u32())
}

func (c *cursor) uleb() uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if !c.need(1) {
			return 0
		}
		b := c.b[c.pos]
		c.pos++
		if shift < 64 {
			v |= uint64(b&0x7f) << shift
		}
		if b&0x80 == 0 {
			return v
		}
	}
}

func (c *cursor) sleb() int64 {
	var v int64
	var shift uint
	for {
		if !c.need(1) {
			return 0
		}
		b := c.b[c.pos]
		c.pos++
		if shift < 64 {
			v |= int64(b&0x7f) << shift
		}
		shift += 7
		if b&0x80 == 0 {
			if shift < 64 && b&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
	}
}

// value decodes (or skips) one attribute value of the given form.
func (c *cursor) value(form uint64, version uint16) (attrVal, error) {
	v := attrVal{form: form, field: c.abs(), isSet: true}
	switch form {
	case 0x08: // string
		i := bytes.IndexByte(c.b[min(c.pos, len(c.b)):], 0)
		if i < 0 {
			c.err = errShort
			return v, nil
		}
		v.s = string(c.b[c.pos : c.pos+i])
		c.pos += i + 1
	case 0x0e, 0x1f, 0x17, 0x1d, 0x1f21, 0x1f20: // strp, line_strp, sec_offset, strp_sup, GNU_strp_alt, GNU_ref_alt
		v.u = c.off()
	case 0x10: // ref_addr
		if version <= 2 {
			c.skip(c.addrSize)
		} else {
			c.skip(c.offSize)
		}
	case 0x01: // addr
		c.skip(c.addrSize)
	case 0x0b, 0x0c, 0x11: // data1, flag, ref1
		v.u = uint64(c.u8())
	case 0x05, 0x12: // data2, ref2
		v.u = uint64(c.u16())
	case 0x06, 0x13, 0x1c: // data4, ref4, ref_sup4
		v.u = uint64(c.u32())
	case 0x07, 0x14, 0x20, 0x24: // data8, ref8, ref_sig8, ref_sup8
		v.u = c.u64()
	case 0x1e: // data16
		c.skip(16)
	case 0x0d: // sdata
		v.u = uint64(c.sleb())
	case 0x0f, 0x15, 0x1a, 0x1b, 0x22, 0x23, 0x1f01, 0x1f02: // udata, ref_udata, strx, addrx, loclistx, rnglistx, GNU_addr_index, GNU_str_index
		v.u = c.uleb()
	case 0x25, 0x29: // strx1, addrx1
		v.u = uint64(c.u8())
	case 0x26, 0x2a: // strx2, addrx2
		v.u = uint64(c.u16())
	case 0x27, 0x2b: // strx3, addrx3
		if c.need(3) {
			b := c.b[c.pos:]
			if c.order == binary.BigEndian {
				v.u = uint64(b[0])<<16 | uint64(b[1])<<8 | uint64(b[2])
			} else {
				v.u = uint64(b[2])<<16 | uint64(b[1])<<8 | uint64(b[0])
			}
			c.pos += 3
		}
	case 0x28, 0x2c: // strx4, addrx4
		v.u = uint64(c.u32())
	case 0x0a: // block1
		c.skip(int(c.u8()))
	case 0x03: // block2
		c.skip(int(c.u16()))
	case 0x04: // block4
		c.skip(int(c.u32()))
	case 0x09, 0x18: // block, exprloc
		n := c.uleb()
		if n > uint64(len(c.b)) {
			c.err = errShort
			return v, nil
		}
		c.skip(int(n))
	case 0x19, 0x21: // flag_present, implicit_const (value in the abbreviation)
	default:
		return v, fmt.Errorf("attribute form %#x: %w", form, errUnsupported)
	}
	return v, nil
}
