package object

import (
	"debug/elf"
	"encoding/binary"
)

// Image is what a File holds once read, without the ELF file: the
// evidence a persistent index keeps of an object (klp-audit index), from
// which FromImage gives the File back without reading the object again.
// The code (OpenCode) is never part of an image.
type Image struct {
	Path    string
	Machine elf.Machine
	// ArchName, BigEndian and Insn describe the machine (Arch).
	ArchName  string
	BigEndian bool
	Insn      int
	Type      elf.Type
	Linked    bool
	HasDWARF  bool
	// Sections are the section headers by section index (name, type,
	// flags, address and size; Entsize is not kept).
	Sections []SectionHeader
	Funcs    []Func
	Refs     []Ref
	// ExternAddrs is File.ExternAddrs.
	ExternAddrs []string
}

// Image returns f's image. It shares f's slices: neither may be changed.
func (f *File) Image() Image {
	im := Image{Path: f.Path, Machine: f.Machine, Type: f.Type, Linked: f.linked, HasDWARF: f.HasDWARF,
		Funcs: f.Funcs, Refs: f.Refs, ExternAddrs: f.ExternAddrs}
	if f.Arch != nil {
		im.ArchName, im.Insn, im.BigEndian = f.Arch.Name, f.Arch.Insn, f.Arch.Order == binary.ByteOrder(binary.BigEndian)
	}
	im.Sections = make([]SectionHeader, len(f.sections))
	for i, s := range f.sections {
		im.Sections[i] = SectionHeader{Name: s.name, Type: s.typ, Flags: s.flags, Addr: s.addr, Size: s.size}
	}
	return im
}

// FromImage returns the File whose Image im is: the same functions,
// refs and lookups (Lookup, Callers, RefsTo, FuncAt) as the File read
// from the object. It keeps im's slices.
func FromImage(im Image) *File {
	var order binary.ByteOrder = binary.LittleEndian
	if im.BigEndian {
		order = binary.BigEndian
	}
	f := &File{Path: im.Path, Machine: im.Machine, Type: im.Type, linked: im.Linked, HasDWARF: im.HasDWARF,
		Arch:  &Arch{Machine: im.Machine, Name: im.ArchName, Order: order, Insn: im.Insn},
		Funcs: im.Funcs, Refs: im.Refs, ExternAddrs: im.ExternAddrs, HasCallGraph: true}
	f.sections = make([]section, len(im.Sections))
	for i, s := range im.Sections {
		f.sections[i] = section{name: s.Name, flags: s.Flags, typ: s.Type, addr: s.Addr, size: s.Size}
	}
	f.byName = make(map[string][]int32, len(f.Funcs))
	for i := range f.Funcs {
		n := f.Funcs[i].Name
		f.byName[n] = append(f.byName[n], int32(i))
	}
	f.index()
	return f
}
