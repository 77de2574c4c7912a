package object

import (
	"encoding/binary"

	"golang.org/x/arch/loong64/loong64asm"
)

// loong64Decoder reads LoongArch64 code with
// golang.org/x/arch/loong64/loong64asm: little-endian 4-byte words. The
// relative branches (b, bl, beq.., beqz.., bceqz..) and pcaddi reach
// other code; pcalau12i/addi.d pairs and pcaddu18i/jirl calls carry
// relocations in relocatable objects.
type loong64Decoder struct{}

func (loong64Decoder) step() int { return 4 }

func (loong64Decoder) decode(code []byte) (insn, bool) {
	if len(code) < 4 {
		return insn{}, false
	}
	inst, err := loong64asm.Decode(code[:4])
	if err != nil {
		return insn{}, false
	}
	in := insn{len: 4}
	var kind RefKind
	switch inst.Op {
	case loong64asm.BL:
		kind = Call
	case loong64asm.B, loong64asm.BEQ, loong64asm.BNE, loong64asm.BLT, loong64asm.BGE,
		loong64asm.BLTU, loong64asm.BGEU, loong64asm.BEQZ, loong64asm.BNEZ,
		loong64asm.BCEQZ, loong64asm.BCNEZ:
		kind = TailCall
	case loong64asm.PCADDI:
		w := binary.LittleEndian.Uint32(code)
		in.kind, in.hasRel, in.rel = AddrRef, true, signExtend((w>>5)&0xfffff, 20)*4-4
		in.hasField, in.field = true, 0
		return in, true
	default:
		return in, true
	}
	for _, a := range inst.Args {
		if o, ok := a.(loong64asm.OffsetSimm); ok {
			in.kind, in.hasRel, in.rel = kind, true, int64(o.Imm)-4
			in.hasField, in.field = true, 0
		}
	}
	return in, true
}

func (loong64Decoder) entryPad([]byte, *Func) int             { return 0 }
func (loong64Decoder) pcRelAdj(uint32, uint64, uint64) uint64 { return 0 }
func (loong64Decoder) gotCall(uint32) bool                    { return false }

func (loong64Decoder) relocKind(code []byte, field int, typ uint32) (RefKind, int, uint64) {
	rt, ok := relocLoong(typ)
	if !ok {
		return 0, field, 0
	}
	switch rt.Class {
	case RelocBranch:
		if code == nil || field+4 > len(code) {
			return TailCall, field, 0
		}
		w := binary.LittleEndian.Uint32(code[field:])
		if rt.Size == 8 { // R_LARCH_CALL36: pcaddu18i, then jirl rd
			if field+8 <= len(code) && binary.LittleEndian.Uint32(code[field+4:])&0x1f == 1 {
				return Call, field, 0 // jirl ra
			}
			return TailCall, field, 0
		}
		if w>>26 == 0x15 { // bl
			return Call, field, 0
		}
		return TailCall, field, 0
	case RelocAddr, RelocGOT:
		return AddrRef, field, 0
	}
	return 0, field, 0
}
