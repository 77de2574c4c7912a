package objdiff

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/arch/loong64/loong64asm"
	"golang.org/x/arch/ppc64/ppc64asm"
	"golang.org/x/arch/s390x/s390xasm"

	"github.com/klp-audit/klp-audit/object"
)

// This file compares the code of the machines besides x86-64 and
// AArch64: ppc64le (and ppc64 ELFv2), s390x and LoongArch64. Each is
// decoded with its golang.org/x/arch decoder for instruction lengths and
// PC-relative operands; relocated fields are masked by the bits
// object.Relocation says the linker writes, and named by their targets.

// order returns the object's byte order.
func (o *Object) order() binary.ByteOrder {
	if o.File.Arch != nil {
		return o.File.Arch.Order
	}
	return binary.LittleEndian
}

// archReloc returns what a relocation type of o's machine patches.
func (o *Object) archReloc(typ uint32) (object.RelocType, bool) {
	return object.Relocation(o.File.Machine, o.order(), typ)
}

// otherArch says m is compared by this file's decoders.
func otherArch(m elf.Machine) bool {
	return m == elf.EM_PPC64 || m == elf.EM_S390 || m == elf.EM_LOONGARCH
}

// relocBias is what a PC-relative relocation of o's machine adds to
// symbol plus addend to give the target: s390x's *DBL fields sit 2 bytes
// into the instruction the CPU counts from. 0 on x86-64 (whose distance
// to the instruction's end fieldTargets adds) and AArch64.
func (o *Object) relocBias(typ uint32) int64 {
	if !otherArch(o.File.Machine) {
		return 0
	}
	if rt, ok := o.archReloc(typ); ok && rt.PCRel {
		return rt.Bias
	}
	return 0
}

// tocSection says section s of o is a ppc64 TOC: entries holding the
// addresses that TOC-relative code (R_PPC64_TOC16_HA/LO_DS) loads.
func (o *Object) tocSection(s *object.SectionHeader) bool {
	return o.File.Machine == elf.EM_PPC64 && (s.Name == ".toc" || s.Name == ".got")
}

// tocEntry names the TOC entry at pos of section shndx by what it holds:
// the target of its relocation (or, in a linked file, of the address it
// stores). A changed string literal reached through the TOC is then a
// changed target, and a TOC laid out anew is no change.
func (o *Object) tocEntry(shndx int, pos uint64) (string, bool) {
	for _, r := range o.File.RelocsIn(shndx, pos, pos+1) {
		if r.Off != pos {
			continue
		}
		if r.Sym > 0 && r.Sym < len(o.syms) {
			if s := &o.syms[r.Sym]; s.Defined() && s.Shndx < len(o.secs) && o.tocSection(&o.secs[s.Shndx]) {
				return "toc{" + o.relocTargetShallow(r) + "}", true // a TOC entry naming the TOC: no recursion
			}
		}
		return "toc{" + o.relocTarget(r, 0) + "}", true
	}
	if o.File.Linked() {
		if b := o.sectionBytes(shndx, pos); len(b) >= 8 {
			addr := o.order().Uint64(b)
			if sh := o.sectionOf(0, addr); sh > 0 && sh < len(o.secs) && !o.tocSection(&o.secs[sh]) {
				return "toc{" + o.posName(sh, addr) + "}", true
			}
			return fmt.Sprintf("toc{%#x}", addr), true
		}
	}
	return "", false
}

// decodeOther splits fn's code into normalised instructions on ppc64,
// s390x and LoongArch64.
func (o *Object) decodeOther(fn *object.Func, code []byte, relocs []object.Reloc) []insn {
	m := o.File.Machine
	bo := o.order()
	var out []insn
	ri := 0
	prevCall := false
	for off := 0; off < len(code); {
		br := archBranch(m, bo, code[off:])
		n := br.len
		if n <= 0 || off+n > len(code) {
			n = min(br.unit, len(code)-off)
			br = branchInfo{}
		}
		raw := code[off : off+n]
		in := insn{off: off, raw: raw, masked: append([]byte(nil), raw...), be: bo == binary.BigEndian}
		pos := fn.Value + uint64(off)
		pcOff := -1
		if br.ok {
			pcOff = br.field
		}
		covered := o.fieldTargets(&in, pos, pos+uint64(n), relocs, &ri, pcOff)
		if br.ok && !covered {
			// Resolved by the assembler or the linker: compare by target.
			tpos := uint64(int64(pos) + br.disp)
			t := o.posName(fn.Shndx, tpos)
			maskBits(bo, in.masked, br.field, br.size, br.mask)
			in.pcTarget = t
			in.targets = append(in.targets, fmt.Sprintf("@%d=%s", br.field, t))
			in.pcSlot = len(in.targets) - 1
			in.tgtSec, in.tgtPos, in.hasTgt = o.sectionOf(fn.Shndx, tpos), tpos, true
		}
		// ppc64: the word after a call is a nop the linker turns into
		// the TOC restore (ld r2,24(r1)) when the call goes through a
		// stub: the same call either way.
		if m == elf.EM_PPC64 && prevCall && n == 4 && bo.Uint32(raw) == ppcLdR2Save {
			bo.PutUint32(in.masked, ppcNop)
		}
		prevCall = br.call
		out = append(out, in)
		off += n
	}
	return out
}

const (
	ppcNop      = 0x60000000
	ppcLdR2Save = 0xe8410018
)

// branchInfo is what the decoder says of one instruction: its length
// and, for a PC-relative operand (ok), where the operand sits (field,
// size bytes, mask bits of them), the distance from the instruction to
// its target, and whether it is a call.
type branchInfo struct {
	len, unit   int
	ok, call    bool
	field, size int
	mask        uint64
	disp        int64
}

// archBranch decodes the instruction at the start of code.
func archBranch(m elf.Machine, bo binary.ByteOrder, code []byte) branchInfo {
	switch m {
	case elf.EM_PPC64:
		b := branchInfo{unit: 4}
		inst, err := ppc64asm.Decode(code, bo)
		if err != nil || inst.Len <= 0 {
			return b
		}
		b.len = inst.Len
		switch inst.Op {
		case ppc64asm.B, ppc64asm.BL, ppc64asm.BC, ppc64asm.BCL:
			for _, a := range inst.Args {
				if r, ok := a.(ppc64asm.PCRel); ok {
					b.ok, b.field, b.size, b.disp = true, 0, 4, int64(r)
					b.mask = 0x0000fffc
					if inst.Op == ppc64asm.B || inst.Op == ppc64asm.BL {
						b.mask = 0x03fffffc
					}
				}
			}
			b.call = inst.Op == ppc64asm.BL || inst.Op == ppc64asm.BCL
		}
		return b
	case elf.EM_S390:
		b := branchInfo{unit: 2}
		inst, err := s390xasm.Decode(code)
		if err != nil || inst.Len <= 0 {
			return b
		}
		b.len = inst.Len
		for _, a := range inst.Args {
			switch v := a.(type) {
			case s390xasm.RegIm16:
				b.ok, b.field, b.size, b.disp = true, 2, 2, int64(int16(v))*2
			case s390xasm.RegIm32:
				b.ok, b.field, b.size, b.disp = true, 2, 4, int64(int32(v))*2
			}
		}
		b.call = inst.Op == s390xasm.BRAS || inst.Op == s390xasm.BRASL
		return b
	case elf.EM_LOONGARCH:
		b := branchInfo{unit: 4}
		if len(code) < 4 {
			return b
		}
		inst, err := loong64asm.Decode(code[:4])
		if err != nil {
			return b
		}
		b.len = 4
		w := binary.LittleEndian.Uint32(code)
		switch inst.Op {
		case loong64asm.B, loong64asm.BL:
			b.mask = 0x03ffffff
			b.call = inst.Op == loong64asm.BL
		case loong64asm.BEQ, loong64asm.BNE, loong64asm.BLT, loong64asm.BGE, loong64asm.BLTU, loong64asm.BGEU:
			b.mask = 0x03fffc00
		case loong64asm.BEQZ, loong64asm.BNEZ, loong64asm.BCEQZ, loong64asm.BCNEZ:
			b.mask = 0x03fffc1f
		case loong64asm.PCADDI:
			v := int64(int32(((w>>5)&0xfffff)<<12)) >> 10 // si20 << 2
			b.ok, b.size, b.mask, b.disp = true, 4, 0x01ffffe0, v
			return b
		default:
			return b
		}
		for _, a := range inst.Args {
			if o, ok := a.(loong64asm.OffsetSimm); ok {
				b.ok, b.size, b.disp = true, 4, int64(o.Imm)
			}
		}
		return b
	}
	return branchInfo{unit: 4}
}

// maskBits zeroes the mask bits of the size-byte field at field of b
// (every bit when mask is 0).
func maskBits(bo binary.ByteOrder, b []byte, field, size int, mask uint64) {
	object.MaskField(bo, b, field, object.RelocType{Size: size, Mask: mask})
}

// otherImmediates returns the immediate operands that differ between
// two otherwise equal instructions (how __LINE__ reaches a call, or a
// store of it): on ppc64 and s390x the decoder's immediate operands,
// every other operand equal (li, addi, lghi, mvhi, ...); on LoongArch
// addi.w/addi.d/ori from $zero. The relocated and PC-relative fields
// are masked already.
func otherImmediates(m elf.Machine, bo binary.ByteOrder, a, b *insn) ([]immPair, bool) {
	if len(a.masked) != len(b.masked) {
		return nil, false
	}
	switch m {
	case elf.EM_PPC64:
		x, err1 := ppc64asm.Decode(a.masked, bo)
		y, err2 := ppc64asm.Decode(b.masked, bo)
		if err1 != nil || err2 != nil || x.Op != y.Op || x.Len != len(a.masked) || y.Len != x.Len {
			return nil, false
		}
		var pairs []immPair
		for i := range x.Args {
			p, q := x.Args[i], y.Args[i]
			if p == q {
				continue
			}
			pi, ok1 := p.(ppc64asm.Imm)
			qi, ok2 := q.(ppc64asm.Imm)
			if !ok1 || !ok2 {
				return nil, false
			}
			pairs = append(pairs, immPair{int64(pi), int64(qi)})
		}
		return pairs, len(pairs) > 0
	case elf.EM_S390:
		x, err1 := s390xasm.Decode(a.masked)
		y, err2 := s390xasm.Decode(b.masked)
		if err1 != nil || err2 != nil || x.Op != y.Op || x.Len != len(a.masked) || y.Len != x.Len {
			return nil, false
		}
		var pairs []immPair
		for i := range x.Args {
			p, q := x.Args[i], y.Args[i]
			if p == q {
				continue
			}
			pv, ok1 := s390Imm(p)
			qv, ok2 := s390Imm(q)
			if !ok1 || !ok2 {
				return nil, false
			}
			pairs = append(pairs, immPair{pv, qv})
		}
		return pairs, len(pairs) > 0
	case elf.EM_LOONGARCH:
		if len(a.masked) != 4 {
			return nil, false
		}
		wa, wb := bo.Uint32(a.masked), bo.Uint32(b.masked)
		const imm12 = 0x003ffc00
		op := wa >> 22
		if (op != 0x00a && op != 0x00b && op != 0x00e) || (wa>>5)&31 != 0 || wa&^imm12 != wb&^imm12 {
			return nil, false
		}
		x, y := int64((wa>>10)&0xfff), int64((wb>>10)&0xfff)
		if op != 0x00e { // addi: signed
			x, y = x<<52>>52, y<<52>>52
		}
		return []immPair{{x, y}}, true
	}
	return nil, false
}

// s390Imm returns the value of an s390x immediate operand.
func s390Imm(a s390xasm.Arg) (int64, bool) {
	switch v := a.(type) {
	case s390xasm.Imm:
		return int64(v), true
	case s390xasm.Sign8:
		return int64(v), true
	case s390xasm.Sign16:
		return int64(v), true
	case s390xasm.Sign32:
		return int64(v), true
	}
	return 0, false
}

// otherDisasm renders an instruction of ppc64, s390x or LoongArch64 in
// GNU syntax; ok is false when the decoder does not know it.
func otherDisasm(m elf.Machine, bo binary.ByteOrder, in *insn) (string, bool) {
	switch m {
	case elf.EM_PPC64:
		if inst, err := ppc64asm.Decode(in.raw, bo); err == nil && inst.Len == len(in.raw) {
			return ppc64asm.GNUSyntax(inst, 0), true
		}
	case elf.EM_S390:
		if inst, err := s390xasm.Decode(in.raw); err == nil && inst.Len == len(in.raw) {
			return strings.TrimSpace(s390xasm.GNUSyntax(inst, 0)), true
		}
	case elf.EM_LOONGARCH:
		if len(in.raw) == 4 {
			if inst, err := loong64asm.Decode(in.raw); err == nil {
				return loong64asm.GNUSyntax(inst), true
			}
		}
	}
	return "", false
}

// otherRelocSuffix marks the relocation types of ppc64, s390x and
// LoongArch64 whose target is not the symbol's address itself.
func otherRelocSuffix(m elf.Machine, bo binary.ByteOrder, typ uint32) string {
	rt, ok := object.Relocation(m, bo, typ)
	if !ok {
		return ""
	}
	switch rt.Class {
	case object.RelocGOT:
		return "@GOT"
	case object.RelocTLS:
		return "@TLS"
	}
	return ""
}

// otherDebugReloc returns the size of the field a relocation of a debug
// section patches with symbol plus addend, 0 for other types.
func otherDebugReloc(m elf.Machine, typ uint32) int {
	switch m {
	case elf.EM_PPC64:
		switch elf.R_PPC64(typ) {
		case elf.R_PPC64_ADDR64, elf.R_PPC64_UADDR64:
			return 8
		case elf.R_PPC64_ADDR32, elf.R_PPC64_UADDR32:
			return 4
		}
	case elf.EM_S390:
		switch elf.R_390(typ) {
		case elf.R_390_64:
			return 8
		case elf.R_390_32:
			return 4
		}
	case elf.EM_LOONGARCH:
		switch elf.R_LARCH(typ) {
		case elf.R_LARCH_64:
			return 8
		case elf.R_LARCH_32:
			return 4
		}
	}
	return 0
}

// isRelativeOther says typ is R_PPC64_RELATIVE, R_390_RELATIVE or
// R_LARCH_RELATIVE.
func isRelativeOther(m elf.Machine, typ uint32) bool {
	switch m {
	case elf.EM_PPC64:
		return elf.R_PPC64(typ) == elf.R_PPC64_RELATIVE
	case elf.EM_S390:
		return elf.R_390(typ) == elf.R_390_RELATIVE
	case elf.EM_LOONGARCH:
		return elf.R_LARCH(typ) == elf.R_LARCH_RELATIVE
	}
	return false
}

// bugPointerOther says typ fits a __bug_table pointer field on ppc64,
// s390x and LoongArch64: a 32-bit PC-relative word with relative
// pointers, a 64-bit address without.
func bugPointerOther(l BugLayout, m elf.Machine, typ uint32) bool {
	rt, ok := object.Relocation(m, binary.LittleEndian, typ)
	if !ok || rt.Class != object.RelocAddr {
		return false
	}
	if l.Relative {
		return rt.PCRel && rt.Size == 4
	}
	return !rt.PCRel && rt.Size == 8
}

// orderOf returns the byte order of an instruction's code.
func orderOf(_ elf.Machine, in *insn) binary.ByteOrder {
	if in.be {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// relocSuffixOf marks relocation types of o's machine whose target is
// not the symbol's address itself (a GOT slot, a TLS offset).
func (o *Object) relocSuffixOf(typ uint32) string {
	if otherArch(o.File.Machine) {
		return otherRelocSuffix(o.File.Machine, o.order(), typ)
	}
	return relocSuffix(o.File.Machine, typ)
}
