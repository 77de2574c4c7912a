package object

import (
	"debug/elf"
	"encoding/binary"

	"golang.org/x/arch/ppc64/ppc64asm"
)

// ppc64Decoder reads Power code (ppc64le, and ppc64 ELFv2) with
// golang.org/x/arch/ppc64/ppc64asm: 4-byte words, 8 for prefixed
// instructions. Only the relative branches matter to the call graph (b,
// bl, bc, bcl); references to data and function addresses go through
// the TOC (R_PPC64_TOC16_HA/LO[_DS] against a .toc entry or, with
// -mcmodel=medium, the object itself), which relTarget follows.
type ppc64Decoder struct{ bo binary.ByteOrder }

func (ppc64Decoder) step() int { return 4 }

func (d ppc64Decoder) decode(code []byte) (insn, bool) {
	inst, err := ppc64asm.Decode(code, d.bo)
	if err != nil || inst.Len <= 0 {
		return insn{}, false
	}
	in := insn{len: inst.Len}
	switch inst.Op {
	case ppc64asm.B, ppc64asm.BL, ppc64asm.BC, ppc64asm.BCL:
		kind := TailCall
		if inst.Op == ppc64asm.BL || inst.Op == ppc64asm.BCL {
			kind = Call
		}
		for _, a := range inst.Args {
			if r, ok := a.(ppc64asm.PCRel); ok {
				// Relative to the instruction; decodeBody counts from
				// its end.
				in.kind, in.hasRel, in.rel = kind, true, int64(r)-int64(inst.Len)
				in.hasField, in.field = true, 0
			}
		}
	}
	return in, true
}

// ppc64 instructions of the function prologue before the ftrace call
// (-mprofile-kernel): mflr r0, and std r0,16(r1) from older GCCs.
const (
	ppcMflrR0  = 0x7c0802a6
	ppcStdR0LR = 0xf8010010
)

// entryPad skips the global entry point (the TOC pointer setup before
// the local entry) and the -mprofile-kernel prologue that precedes the
// _mcount call.
func (d ppc64Decoder) entryPad(code []byte, fn *Func) int {
	n := int(fn.LocalEntry)
	for _, w := range []uint32{ppcMflrR0, ppcStdR0LR} {
		if len(code) >= n+4 && d.bo.Uint32(code[n:]) == w {
			n += 4
		}
	}
	if n > len(code) {
		return 0
	}
	return n
}

func (ppc64Decoder) pcRelAdj(uint32, uint64, uint64) uint64 { return 0 }
func (ppc64Decoder) gotCall(uint32) bool                    { return false }

func (d ppc64Decoder) relocKind(code []byte, field int, typ uint32) (RefKind, int, uint64) {
	rt, ok := relocPPC64(d.bo, typ)
	if !ok {
		return 0, field, 0
	}
	start := field - rt.Insn
	switch rt.Class {
	case RelocBranch:
		if code != nil && field+4 <= len(code) && d.bo.Uint32(code[field:])&1 != 0 {
			return Call, field, 0 // LK set: bl, bcl
		}
		return TailCall, field, 0
	case RelocAddr, RelocTOC, RelocGOT:
		return AddrRef, max(start, 0), 0
	}
	return 0, field, 0
}

// ppc64LocalEntry decodes the local entry point offset of ELFv2's
// st_other (bits 5-7): 0 and 1 mean none, k means 1<<k bytes.
func ppc64LocalEntry(other uint8) uint64 {
	k := other >> 5
	if k < 2 || k > 6 {
		return 0
	}
	return 1 << k
}

// tocSection says section name holds a ppc64 TOC: the addresses that
// TOC-relative code loads. Its relocations are the targets of the code
// that reads them, not data of their own.
func tocSection(m elf.Machine, name string) bool {
	return m == elf.EM_PPC64 && (name == ".toc" || name == ".got")
}
