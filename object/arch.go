package object

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"strings"
)

// This file is what klp-audit knows of each machine it reads: the
// livepatch architectures (x86-64, AArch64, ppc64le and ppc64 ELFv2,
// s390x, LoongArch64) and, for each, what every relocation type does to
// the bytes it patches. Anything else is an ErrUnsupported input error,
// never read as another machine.

// Arch describes one supported machine.
type Arch struct {
	Machine elf.Machine
	// Name is the kernel's name of the architecture: "x86_64",
	// "aarch64", "ppc64le", "ppc64", "s390x", "loongarch64".
	Name string
	// Order is the byte order of the machine's objects.
	Order binary.ByteOrder
	// Insn is the size of the machine's instruction unit: every
	// instruction starts at a multiple of it (1 on x86-64, 2 on s390x,
	// 4 on the others).
	Insn int
}

// archOf returns the Arch of an ELF header, or an error wrapping
// ErrUnsupported that names what is not supported.
func archOf(class elf.Class, data elf.Data, m elf.Machine, flags uint32) (*Arch, error) {
	if class != elf.ELFCLASS64 {
		return nil, fmt.Errorf("%w: machine %v, class %v (only 64-bit objects are read)", ErrUnsupported, m, class)
	}
	le := data == elf.ELFDATA2LSB
	if !le && data != elf.ELFDATA2MSB {
		return nil, fmt.Errorf("%w: machine %v, data encoding %v", ErrUnsupported, m, data)
	}
	var a Arch
	switch m {
	case elf.EM_X86_64:
		a = Arch{Name: "x86_64", Insn: 1}
	case elf.EM_AARCH64:
		a = Arch{Name: "aarch64", Insn: 4}
	case elf.EM_PPC64:
		a = Arch{Name: "ppc64le", Insn: 4}
		if !le {
			a.Name = "ppc64"
		}
		// e_flags' low bits give the ABI: 1 is ELFv1 with function
		// descriptors (.opd), whose symbols do not point at code; 0 is
		// unspecified (relocatable objects of ELFv1 toolchains say so).
		if abi := flags & 3; abi != 2 && (!le || abi == 1) {
			return nil, fmt.Errorf("%w: %s ELFv1 object (e_flags %#x): function descriptors (.opd) are not read, only ELFv2", ErrUnsupported, a.Name, flags)
		}
	case elf.EM_S390:
		a = Arch{Name: "s390x", Insn: 2}
	case elf.EM_LOONGARCH:
		a = Arch{Name: "loongarch64", Insn: 4}
	default:
		return nil, fmt.Errorf("%w: machine %v (read: x86_64, aarch64, ppc64le, ppc64 ELFv2, s390x, loongarch64)", ErrUnsupported, m)
	}
	a.Machine = m
	a.Order = binary.ByteOrder(binary.LittleEndian)
	if !le {
		a.Order = binary.BigEndian
	}
	if a.Machine != elf.EM_S390 && a.Machine != elf.EM_PPC64 && !le {
		return nil, fmt.Errorf("%w: big-endian %s (only little-endian %s objects exist for livepatch kernels)", ErrUnsupported, a.Name, a.Name)
	}
	if a.Machine == elf.EM_S390 && le {
		return nil, fmt.Errorf("%w: little-endian s390x object", ErrUnsupported)
	}
	return &a, nil
}

// RelocClass says what a relocation type makes of its field.
type RelocClass uint8

const (
	// RelocOther is a known type that is no plain reference to its
	// symbol: section offsets, sizes, the TOC base, linker arithmetic
	// (R_LARCH_ADD32). Its field is still masked and its target compared.
	RelocOther RelocClass = iota
	// RelocMarker patches nothing: R_*_NONE, R_LARCH_RELAX and
	// R_LARCH_ALIGN, R_PPC64_TLSGD and R_PPC64_TOCSAVE, hints to the
	// linker about the instruction at the offset.
	RelocMarker
	// RelocBranch is the target of a call or a jump; which of the two
	// the instruction tells (bl or b, brasl or brcl).
	RelocBranch
	// RelocAddr is the address of the symbol, absolute or PC-relative:
	// code computing an address (adrp/add, pcalau12i/addi, larl, lea),
	// or a data word holding it.
	RelocAddr
	// RelocTOC is a ppc64 offset from the TOC pointer (r2) to the
	// symbol: an entry of .toc (which holds the address of the real
	// target) or, with -mcmodel=medium, the object itself.
	RelocTOC
	// RelocGOT is the address of, or the offset to, the symbol's GOT or
	// PLT slot.
	RelocGOT
	// RelocTLS is an offset in, or the slot of, thread-local storage.
	RelocTLS
)

// RelocType is what one relocation type of one machine patches.
type RelocType struct {
	Name  string
	Class RelocClass
	// Size is the number of bytes, from the relocation's offset, that
	// hold the field (0 for a marker).
	Size int
	// Mask is the bits of those Size bytes, read in the object's byte
	// order, that the linker writes; 0 means all of them.
	Mask uint64
	// PCRel says the value is relative to a position in the code; the
	// target is then the symbol plus addend plus Bias, or (EndRel, on
	// x86-64) plus the distance from the field to the instruction's end.
	PCRel  bool
	EndRel bool
	Bias   int64
	// Insn is the offset of the field in its instruction, where fixed
	// (s390x puts its 32-bit relative fields at byte 2); -1 when only
	// the instruction tells (x86-64).
	Insn int
}

// Relocation returns what relocation type typ of machine m (objects of
// byte order bo) patches. ok is false for a type the machine's ABI does
// not define, or one klp-audit does not read (LoongArch's stack-based
// R_LARCH_SOP_*, from binutils before 2.40): a relocation of code of
// such a type makes the object unreadable, since a call or an address
// could hide behind it.
func Relocation(m elf.Machine, bo binary.ByteOrder, typ uint32) (RelocType, bool) {
	switch m {
	case elf.EM_X86_64:
		return relocX86(typ)
	case elf.EM_AARCH64:
		return relocARM64(typ)
	case elf.EM_PPC64:
		return relocPPC64(bo, typ)
	case elf.EM_S390:
		return relocS390(typ)
	case elf.EM_LOONGARCH:
		return relocLoong(typ)
	}
	return RelocType{}, false
}

// known says debug/elf names the type (its String has no "+N").
func known(name string) bool { return !strings.Contains(name, "+") }

// bySize guesses the field of a known type from its name: the number
// in it (R_390_TLS_GOTIE20, R_X86_64_DTPOFF32) is usually the width in
// bits; the default is one 32-bit word.
func bySize(name string) int {
	switch {
	case strings.Contains(name, "64"):
		return 8
	case strings.Contains(name, "16"), strings.Contains(name, "12"):
		return 2
	case strings.HasSuffix(name, "_8"):
		return 1
	}
	return 4
}

// byName classes a known type from its name.
func byName(name string) RelocClass {
	switch {
	case strings.Contains(name, "TLS"), strings.Contains(name, "TPREL"), strings.Contains(name, "TPOFF"),
		strings.Contains(name, "DTPMOD"), strings.Contains(name, "DTPOFF"):
		return RelocTLS
	case strings.Contains(name, "GOT"), strings.Contains(name, "PLT"):
		return RelocGOT
	}
	return RelocOther
}

func relocX86(typ uint32) (RelocType, bool) {
	t := elf.R_X86_64(typ)
	r := RelocType{Name: t.String(), Insn: -1, Size: 4}
	if !known(r.Name) {
		return r, false
	}
	r.Class = byName(r.Name)
	switch t {
	case elf.R_X86_64_NONE:
		r.Class, r.Size = RelocMarker, 0
	case elf.R_X86_64_64, elf.R_X86_64_RELATIVE, elf.R_X86_64_GLOB_DAT, elf.R_X86_64_JMP_SLOT:
		r.Class, r.Size = RelocAddr, 8
	case elf.R_X86_64_32, elf.R_X86_64_32S:
		r.Class = RelocAddr
	case elf.R_X86_64_16:
		r.Class, r.Size = RelocAddr, 2
	case elf.R_X86_64_8:
		r.Class, r.Size = RelocAddr, 1
	case elf.R_X86_64_PLT32:
		r.Class, r.PCRel, r.EndRel = RelocBranch, true, true
	case elf.R_X86_64_PC32:
		// call, jmp, lea or a data access: the opcode tells.
		r.Class, r.PCRel, r.EndRel = RelocAddr, true, true
	case elf.R_X86_64_PC64:
		r.Class, r.Size, r.PCRel, r.EndRel = RelocAddr, 8, true, true
	case elf.R_X86_64_PC16:
		r.Class, r.Size, r.PCRel, r.EndRel = RelocAddr, 2, true, true
	case elf.R_X86_64_PC8:
		r.Class, r.Size, r.PCRel, r.EndRel = RelocAddr, 1, true, true
	case elf.R_X86_64_GOTPCREL, elf.R_X86_64_GOTPCRELX, elf.R_X86_64_REX_GOTPCRELX, elf.R_X86_64_GOTPC32,
		elf.R_X86_64_GOTTPOFF, elf.R_X86_64_TLSGD, elf.R_X86_64_TLSLD, elf.R_X86_64_GOTPC32_TLSDESC:
		r.PCRel, r.EndRel = true, true
	case elf.R_X86_64_GOTPCREL64, elf.R_X86_64_GOTPC64:
		r.Size, r.PCRel, r.EndRel = 8, true, true
	case elf.R_X86_64_TLSDESC_CALL:
		r.Class, r.Size = RelocMarker, 0
	default:
		r.Size = bySize(r.Name)
	}
	return r, true
}

func relocARM64(typ uint32) (RelocType, bool) {
	t := elf.R_AARCH64(typ)
	r := RelocType{Name: t.String(), Size: 4}
	if !known(r.Name) {
		return r, false
	}
	r.Class = byName(r.Name)
	switch t {
	case elf.R_AARCH64_NONE:
		r.Class, r.Size = RelocMarker, 0
	case elf.R_AARCH64_ABS64, elf.R_AARCH64_RELATIVE, elf.R_AARCH64_GLOB_DAT, elf.R_AARCH64_JUMP_SLOT:
		r.Class, r.Size = RelocAddr, 8
	case elf.R_AARCH64_PREL64:
		r.Class, r.Size, r.PCRel = RelocAddr, 8, true
	case elf.R_AARCH64_ABS32:
		r.Class = RelocAddr
	case elf.R_AARCH64_PREL32:
		r.Class, r.PCRel = RelocAddr, true
	case elf.R_AARCH64_ABS16:
		r.Class, r.Size = RelocAddr, 2
	case elf.R_AARCH64_PREL16:
		r.Class, r.Size, r.PCRel = RelocAddr, 2, true
	case elf.R_AARCH64_CALL26, elf.R_AARCH64_JUMP26:
		r.Class, r.Mask, r.PCRel = RelocBranch, 0x03ffffff, true
	case elf.R_AARCH64_CONDBR19:
		r.Class, r.Mask, r.PCRel = RelocBranch, 0x00ffffe0, true
	case elf.R_AARCH64_TSTBR14:
		r.Class, r.Mask, r.PCRel = RelocBranch, 0x0007ffe0, true
	case elf.R_AARCH64_LD_PREL_LO19:
		r.Class, r.Mask, r.PCRel = RelocAddr, 0x00ffffe0, true
	case elf.R_AARCH64_ADR_PREL_LO21, elf.R_AARCH64_ADR_PREL_PG_HI21, elf.R_AARCH64_ADR_PREL_PG_HI21_NC:
		r.Class, r.Mask, r.PCRel = RelocAddr, 0x60ffffe0, true
	case elf.R_AARCH64_ADR_GOT_PAGE:
		r.Mask, r.PCRel = 0x60ffffe0, true
	case elf.R_AARCH64_ADD_ABS_LO12_NC, elf.R_AARCH64_LDST8_ABS_LO12_NC, elf.R_AARCH64_LDST16_ABS_LO12_NC,
		elf.R_AARCH64_LDST32_ABS_LO12_NC, elf.R_AARCH64_LDST64_ABS_LO12_NC, elf.R_AARCH64_LDST128_ABS_LO12_NC:
		r.Class, r.Mask = RelocAddr, 0x003ffc00
	case elf.R_AARCH64_LD64_GOT_LO12_NC:
		r.Mask = 0x003ffc00
	case elf.R_AARCH64_MOVW_UABS_G0, elf.R_AARCH64_MOVW_UABS_G0_NC, elf.R_AARCH64_MOVW_UABS_G1,
		elf.R_AARCH64_MOVW_UABS_G1_NC, elf.R_AARCH64_MOVW_UABS_G2, elf.R_AARCH64_MOVW_UABS_G2_NC,
		elf.R_AARCH64_MOVW_UABS_G3:
		r.Class, r.Mask = RelocAddr, 0x001fffe0
	}
	// Every other instruction relocation patches bits of one word.
	return r, true
}

// ppc64 masks of one 16-bit field, of a DS-form one (the low 2 bits are
// opcode), and of the I-form and B-form branch displacements.
const (
	ppcHalf  = 0xffff
	ppcDS    = 0xfffc
	ppcLI    = 0x03fffffc
	ppcBD    = 0x0000fffc
	ppcDX    = 0x001fffc1
	ppcPre34 = 0x0003ffff // the prefix word's share of a 34-bit field
)

func relocPPC64(bo binary.ByteOrder, typ uint32) (RelocType, bool) {
	t := elf.R_PPC64(typ)
	r := RelocType{Name: t.String()}
	if !known(r.Name) {
		return r, false
	}
	r.Class = byName(r.Name)
	// A 16-bit field is the low half of its instruction: at the word's
	// offset on little-endian, 2 bytes on on big-endian, which is where
	// r_offset points.
	half := func(mask uint64) {
		r.Size, r.Mask = 2, mask
		if bo == binary.BigEndian {
			r.Insn = 2
		}
	}
	// A 34-bit field of a prefixed instruction: the prefix word, then
	// the suffix word, each in the object's byte order.
	pre34 := func() {
		r.Size = 8
		if bo == binary.BigEndian {
			r.Mask = ppcPre34<<32 | ppcHalf
		} else {
			r.Mask = ppcHalf<<32 | ppcPre34
		}
	}
	name := strings.TrimPrefix(r.Name, "R_PPC64_")
	switch t {
	case elf.R_PPC64_NONE, elf.R_PPC64_TLS, elf.R_PPC64_TLSGD, elf.R_PPC64_TLSLD, elf.R_PPC64_TOCSAVE,
		elf.R_PPC64_ENTRY, elf.R_PPC64_PLTSEQ, elf.R_PPC64_PLTSEQ_NOTOC, elf.R_PPC64_PLTCALL, elf.R_PPC64_PLTCALL_NOTOC,
		elf.R_PPC64_PCREL_OPT, elf.R_PPC64_GNU_VTINHERIT, elf.R_PPC64_GNU_VTENTRY:
		r.Class = RelocMarker
	case elf.R_PPC64_ADDR64, elf.R_PPC64_UADDR64, elf.R_PPC64_RELATIVE, elf.R_PPC64_GLOB_DAT, elf.R_PPC64_JMP_SLOT:
		r.Class, r.Size = RelocAddr, 8
	case elf.R_PPC64_REL64:
		r.Class, r.Size, r.PCRel = RelocAddr, 8, true
	case elf.R_PPC64_ADDR32, elf.R_PPC64_UADDR32:
		r.Class, r.Size = RelocAddr, 4
	case elf.R_PPC64_REL32:
		r.Class, r.Size, r.PCRel = RelocAddr, 4, true
	case elf.R_PPC64_ADDR16, elf.R_PPC64_UADDR16, elf.R_PPC64_ADDR16_LO, elf.R_PPC64_ADDR16_HI, elf.R_PPC64_ADDR16_HA,
		elf.R_PPC64_ADDR16_HIGH, elf.R_PPC64_ADDR16_HIGHA, elf.R_PPC64_ADDR16_HIGHER, elf.R_PPC64_ADDR16_HIGHERA,
		elf.R_PPC64_ADDR16_HIGHEST, elf.R_PPC64_ADDR16_HIGHESTA:
		r.Class = RelocAddr
		half(ppcHalf)
	case elf.R_PPC64_ADDR16_DS, elf.R_PPC64_ADDR16_LO_DS:
		r.Class = RelocAddr
		half(ppcDS)
	case elf.R_PPC64_REL16, elf.R_PPC64_REL16_LO, elf.R_PPC64_REL16_HI, elf.R_PPC64_REL16_HA:
		// The global entry's TOC pointer setup (.TOC.-.LCF0@ha).
		r.Class, r.PCRel = RelocOther, true
		half(ppcHalf)
	case elf.R_PPC64_REL16DX_HA:
		r.Class, r.Size, r.Mask, r.PCRel = RelocOther, 4, ppcDX, true
	case elf.R_PPC64_TOC16, elf.R_PPC64_TOC16_LO, elf.R_PPC64_TOC16_HI, elf.R_PPC64_TOC16_HA:
		r.Class = RelocTOC
		half(ppcHalf)
	case elf.R_PPC64_TOC16_DS, elf.R_PPC64_TOC16_LO_DS:
		r.Class = RelocTOC
		half(ppcDS)
	case elf.R_PPC64_TOC:
		r.Class, r.Size = RelocOther, 8
	case elf.R_PPC64_REL24, elf.R_PPC64_REL24_NOTOC, elf.R_PPC64_REL24_P9NOTOC:
		r.Class, r.Size, r.Mask, r.PCRel = RelocBranch, 4, ppcLI, true
	case elf.R_PPC64_ADDR24:
		r.Class, r.Size, r.Mask = RelocBranch, 4, ppcLI
	case elf.R_PPC64_REL14, elf.R_PPC64_REL14_BRTAKEN, elf.R_PPC64_REL14_BRNTAKEN:
		r.Class, r.Size, r.Mask, r.PCRel = RelocBranch, 4, ppcBD, true
	case elf.R_PPC64_ADDR14, elf.R_PPC64_ADDR14_BRTAKEN, elf.R_PPC64_ADDR14_BRNTAKEN:
		r.Class, r.Size, r.Mask = RelocBranch, 4, ppcBD
	case elf.R_PPC64_PCREL34:
		r.Class, r.PCRel = RelocAddr, true
		pre34()
	case elf.R_PPC64_D34, elf.R_PPC64_D34_LO, elf.R_PPC64_D34_HI30, elf.R_PPC64_D34_HA30:
		r.Class = RelocAddr
		pre34()
	default:
		switch {
		case strings.Contains(name, "34"):
			r.PCRel = strings.Contains(name, "PCREL")
			pre34()
		case strings.Contains(name, "16") && strings.HasSuffix(name, "_DS"):
			half(ppcDS)
		case strings.Contains(name, "16"):
			half(ppcHalf)
		default:
			r.Size = bySize(name)
		}
	}
	return r, true
}

// s390x relocation types that debug/elf does not name (bpp, bprp).
const (
	r390PC12DBL  = 62
	r390PLT12DBL = 63
	r390PC24DBL  = 64
	r390PLT24DBL = 65
)

func relocS390(typ uint32) (RelocType, bool) {
	t := elf.R_390(typ)
	r := RelocType{Name: t.String()}
	switch typ {
	case r390PC12DBL, r390PLT12DBL:
		r.Name = "R_390_PC12DBL"
		r.Class, r.Size, r.Mask, r.PCRel, r.Bias, r.Insn = RelocBranch, 2, 0x0fff, true, -1, 1
		return r, true
	case r390PC24DBL, r390PLT24DBL:
		r.Name = "R_390_PC24DBL"
		r.Class, r.Size, r.PCRel, r.Bias, r.Insn = RelocBranch, 3, true, -3, 3
		return r, true
	}
	if !known(r.Name) {
		return r, false
	}
	r.Class = byName(r.Name)
	name := strings.TrimPrefix(r.Name, "R_390_")
	switch t {
	case elf.R_390_NONE, elf.R_390_TLS_LOAD, elf.R_390_TLS_GDCALL, elf.R_390_TLS_LDCALL:
		r.Class = RelocMarker
		return r, true
	case elf.R_390_64, elf.R_390_RELATIVE, elf.R_390_GLOB_DAT, elf.R_390_JMP_SLOT:
		r.Class, r.Size = RelocAddr, 8
	case elf.R_390_32:
		r.Class, r.Size = RelocAddr, 4
	case elf.R_390_16:
		r.Class, r.Size = RelocAddr, 2
	case elf.R_390_8:
		r.Class, r.Size = RelocAddr, 1
	case elf.R_390_12:
		r.Class, r.Size, r.Mask = RelocAddr, 2, 0x0fff
	case elf.R_390_20:
		r.Class, r.Size, r.Mask = RelocAddr, 4, 0x0fffff00
	case elf.R_390_PC64:
		r.Class, r.Size, r.PCRel = RelocAddr, 8, true
	case elf.R_390_PC32:
		r.Class, r.Size, r.PCRel = RelocAddr, 4, true
	case elf.R_390_PC16:
		r.Class, r.Size, r.PCRel = RelocAddr, 2, true
	case elf.R_390_PC32DBL, elf.R_390_PLT32DBL:
		// brasl, brcl (jg), larl, lgrl, ...: counted in halfwords from
		// the instruction, whose field starts at byte 2.
		r.Class, r.Size, r.PCRel, r.Bias, r.Insn = RelocBranch, 4, true, -2, 2
	case elf.R_390_PC16DBL, elf.R_390_PLT16DBL:
		r.Class, r.Size, r.PCRel, r.Bias, r.Insn = RelocBranch, 2, true, -2, 2
	case elf.R_390_GOTENT, elf.R_390_GOTPCDBL, elf.R_390_GOTPLTENT, elf.R_390_TLS_IEENT:
		r.Size, r.PCRel, r.Bias, r.Insn = 4, true, -2, 2
	default:
		switch {
		case strings.HasSuffix(name, "20"):
			r.Size, r.Mask = 4, 0x0fffff00
		case strings.HasSuffix(name, "12"):
			r.Size, r.Mask = 2, 0x0fff
		case strings.HasSuffix(name, "16"):
			r.Size = 2
		default:
			r.Size = bySize(name)
		}
	}
	return r, true
}

// LoongArch instruction fields: si20 (lu12i.w, pcalau12i, pcaddu18i),
// si12/ui12 (addi.d, ld.d, ori, lu52i.d), offs16, offs21, offs26.
const (
	larchSI20   = 0x01ffffe0
	larchSI12   = 0x003ffc00
	larchOffs16 = 0x03fffc00
	larchOffs21 = 0x03fffc1f
	larchOffs26 = 0x03ffffff
)

// rLarchCall36 is R_LARCH_CALL36 (pcaddu18i+jirl), which debug/elf
// names from Go 1.26 on only.
const rLarchCall36 = 110

func relocLoong(typ uint32) (RelocType, bool) {
	t := elf.R_LARCH(typ)
	r := RelocType{Name: t.String(), Size: 4}
	if typ == rLarchCall36 {
		r.Name = "R_LARCH_CALL36"
	}
	if !known(r.Name) || strings.HasPrefix(r.Name, "R_LARCH_SOP_") {
		return r, false
	}
	r.Class = byName(r.Name)
	name := strings.TrimPrefix(r.Name, "R_LARCH_")
	switch t {
	case elf.R_LARCH_NONE, elf.R_LARCH_RELAX, elf.R_LARCH_ALIGN, elf.R_LARCH_MARK_LA, elf.R_LARCH_MARK_PCREL,
		elf.R_LARCH_GNU_VTINHERIT, elf.R_LARCH_GNU_VTENTRY:
		r.Class, r.Size = RelocMarker, 0
	case elf.R_LARCH_64, elf.R_LARCH_RELATIVE, elf.R_LARCH_JUMP_SLOT:
		r.Class, r.Size = RelocAddr, 8
	case elf.R_LARCH_32:
		r.Class = RelocAddr
	case elf.R_LARCH_32_PCREL:
		r.Class, r.PCRel = RelocAddr, true
	case elf.R_LARCH_64_PCREL:
		r.Class, r.Size, r.PCRel = RelocAddr, 8, true
	case elf.R_LARCH_B16:
		r.Class, r.Mask, r.PCRel = RelocBranch, larchOffs16, true
	case elf.R_LARCH_B21:
		r.Class, r.Mask, r.PCRel = RelocBranch, larchOffs21, true
	case elf.R_LARCH_B26:
		r.Class, r.Mask, r.PCRel = RelocBranch, larchOffs26, true
	case rLarchCall36:
		// pcaddu18i then jirl: two little-endian words.
		r.Class, r.Size, r.Mask, r.PCRel = RelocBranch, 8, larchOffs16<<32|larchSI20, true
	case elf.R_LARCH_ABS_HI20, elf.R_LARCH_ABS64_LO20:
		r.Class, r.Mask = RelocAddr, larchSI20
	case elf.R_LARCH_ABS_LO12, elf.R_LARCH_ABS64_HI12:
		r.Class, r.Mask = RelocAddr, larchSI12
	case elf.R_LARCH_PCALA_HI20, elf.R_LARCH_PCALA64_LO20, elf.R_LARCH_PCREL20_S2:
		r.Class, r.Mask, r.PCRel = RelocAddr, larchSI20, true
	case elf.R_LARCH_PCALA_LO12, elf.R_LARCH_PCALA64_HI12:
		r.Class, r.Mask = RelocAddr, larchSI12
	default:
		switch {
		case strings.HasPrefix(name, "ADD") || strings.HasPrefix(name, "SUB"):
			// Linker arithmetic on data (label differences).
			r.Class = RelocOther
			switch strings.TrimLeft(name, "ADSUB") {
			case "8", "6":
				r.Size = 1
			case "16":
				r.Size = 2
			case "24":
				r.Size = 3
			case "64":
				r.Size = 8
			case "_ULEB128":
				r.Size = 1
			}
		case strings.HasSuffix(name, "HI20"), strings.HasSuffix(name, "LO20"), strings.HasSuffix(name, "_S2"):
			r.Mask = larchSI20
			r.PCRel = strings.Contains(name, "PC")
		case strings.HasSuffix(name, "LO12"), strings.HasSuffix(name, "HI12"):
			r.Mask = larchSI12
		case strings.HasSuffix(name, "DESC_CALL"):
			r.Mask = larchOffs16
		default:
			r.Size = bySize(name)
		}
	}
	return r, true
}

// readField reads the Size bytes of a field at b in order bo, as an
// unsigned number (sizes 1, 2, 3, 4, 8).
func readField(bo binary.ByteOrder, b []byte, size int) (uint64, bool) {
	if len(b) < size {
		return 0, false
	}
	switch size {
	case 1:
		return uint64(b[0]), true
	case 2:
		return uint64(bo.Uint16(b)), true
	case 4:
		return uint64(bo.Uint32(b)), true
	case 8:
		return bo.Uint64(b), true
	case 3:
		if bo == binary.BigEndian {
			return uint64(b[0])<<16 | uint64(b[1])<<8 | uint64(b[2]), true
		}
		return uint64(b[2])<<16 | uint64(b[1])<<8 | uint64(b[0]), true
	}
	return 0, false
}

// MaskField zeroes, in b, the bits that relocation r of the given type
// patches at field (an offset in b): the whole field, or the bits of
// Mask. Bytes outside b are left alone.
func MaskField(bo binary.ByteOrder, b []byte, field int, r RelocType) {
	if field < 0 || field >= len(b) || r.Size == 0 {
		return
	}
	if r.Mask == 0 || field+r.Size > len(b) {
		for k := field; k < field+r.Size && k < len(b); k++ {
			b[k] = 0
		}
		return
	}
	v, _ := readField(bo, b[field:], r.Size)
	v &^= r.Mask
	switch r.Size {
	case 1:
		b[field] = byte(v)
	case 2:
		bo.PutUint16(b[field:], uint16(v))
	case 4:
		bo.PutUint32(b[field:], uint32(v))
	case 8:
		bo.PutUint64(b[field:], v)
	case 3:
		if bo == binary.BigEndian {
			b[field], b[field+1], b[field+2] = byte(v>>16), byte(v>>8), byte(v)
		} else {
			b[field], b[field+1], b[field+2] = byte(v), byte(v>>8), byte(v>>16)
		}
	}
}
