package object

import (
	"debug/elf"
	"encoding/binary"

	"golang.org/x/arch/arm64/arm64asm"
)

// arm64Decoder reads AArch64 code with golang.org/x/arch/arm64/arm64asm:
// fixed 4-byte words, of which only the branches (bl, b, b.cond,
// cbz/cbnz, tbz/tbnz) and adr matter. Relocations say the rest (CALL26,
// JUMP26, ADRP/ADD pairs). adrp+add pairs without relocations, in linked
// files, are not followed.
type arm64Decoder struct{}

func (arm64Decoder) step() int { return 4 }

func signExtend(v uint32, bits uint) int64 {
	shift := 64 - bits
	return int64(uint64(v)<<shift) >> shift
}

func (arm64Decoder) decode(code []byte) (insn, bool) {
	if len(code) < 4 {
		return insn{}, false
	}
	in := insn{len: 4, hasField: true}
	inst, err := arm64asm.Decode(code[:4])
	if err != nil {
		return in, true // an opcode arm64asm does not know: no branch
	}
	var kind RefKind
	switch inst.Op {
	case arm64asm.BL:
		kind = Call
	case arm64asm.B, arm64asm.CBZ, arm64asm.CBNZ, arm64asm.TBZ, arm64asm.TBNZ:
		kind = TailCall
	case arm64asm.ADR:
		kind = AddrRef
	default:
		return in, true
	}
	for _, a := range inst.Args {
		if r, ok := a.(arm64asm.PCRel); ok {
			// Branch targets are relative to the instruction itself;
			// decodeBody counts from the end, so subtract the length.
			in.kind, in.hasRel, in.rel = kind, true, int64(r)-4
		}
	}
	return in, true
}

// entryPad recognises bti c and paciasp before the patchable entry.
func (arm64Decoder) entryPad(code []byte, _ *Func) int {
	if len(code) >= 4 {
		switch binary.LittleEndian.Uint32(code) {
		case 0xd503245f, 0xd503233f:
			return 4
		}
	}
	return 0
}

func (arm64Decoder) pcRelAdj(uint32, uint64, uint64) uint64 { return 0 }
func (arm64Decoder) gotCall(uint32) bool                    { return false }

// relocKind: AArch64 relocations say what they are by their type.
func (arm64Decoder) relocKind(_ []byte, field int, typ uint32) (RefKind, int, uint64) {
	switch elf.R_AARCH64(typ) {
	case elf.R_AARCH64_CALL26:
		return Call, field, 0
	case elf.R_AARCH64_JUMP26, elf.R_AARCH64_CONDBR19, elf.R_AARCH64_TSTBR14:
		return TailCall, field, 0
	case elf.R_AARCH64_ADR_PREL_LO21, elf.R_AARCH64_ADR_PREL_PG_HI21,
		elf.R_AARCH64_ADR_PREL_PG_HI21_NC, elf.R_AARCH64_ADR_GOT_PAGE,
		elf.R_AARCH64_ABS64, elf.R_AARCH64_PREL32:
		return AddrRef, field, 0
	}
	return 0, field, 0
}
