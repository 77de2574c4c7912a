package object

import (
	"strings"

	"golang.org/x/arch/s390x/s390xasm"
)

// s390xDecoder reads z/Architecture code with
// golang.org/x/arch/s390x/s390xasm: 2-, 4- and 6-byte big-endian
// instructions. Relative operands count halfwords from the start of the
// instruction and sit at byte 2 (brasl, brcl, larl: 32 bits; brc, brct,
// the compare-and-branch family: 16 bits).
type s390xDecoder struct{}

func (s390xDecoder) step() int { return 2 }

func (s390xDecoder) decode(code []byte) (insn, bool) {
	inst, err := s390xasm.Decode(code)
	if err != nil || inst.Len <= 0 {
		return insn{}, false
	}
	in := insn{len: inst.Len}
	var disp int64
	found := false
	for _, a := range inst.Args {
		switch v := a.(type) {
		case s390xasm.RegIm16:
			disp, found = int64(int16(v))*2, true
		case s390xasm.RegIm32:
			disp, found = int64(int32(v))*2, true
		}
	}
	if !found {
		return in, true
	}
	in.kind = s390xKind(inst.Op)
	in.hasRel, in.rel = true, disp-int64(inst.Len)
	in.hasField, in.field = true, 2
	return in, true
}

// s390xKind says what a relative operand of op is: a call (bras,
// brasl), a jump (brc, brcl, brct, crj, cgij, ...), or an address (larl,
// and the relative loads and stores lgrl, strl, ..., which only matter
// when they name a function).
func s390xKind(op s390xasm.Op) RefKind {
	switch op {
	case s390xasm.BRAS, s390xasm.BRASL:
		return Call
	}
	name := op.String()
	if strings.HasPrefix(name, "br") || strings.HasSuffix(name, "j") {
		return TailCall
	}
	return AddrRef
}

func (s390xDecoder) entryPad([]byte, *Func) int { return 0 }

// pcRelAdj: the *DBL relocations count from the instruction, 2 bytes
// before their field.
func (s390xDecoder) pcRelAdj(typ uint32, _, _ uint64) uint64 {
	if rt, ok := relocS390(typ); ok && rt.PCRel {
		return uint64(rt.Bias)
	}
	return 0
}

func (s390xDecoder) gotCall(uint32) bool { return false }

func (d s390xDecoder) relocKind(code []byte, field int, typ uint32) (RefKind, int, uint64) {
	rt, ok := relocS390(typ)
	if !ok {
		return 0, field, 0
	}
	start := field
	if rt.Insn > 0 {
		start = field - rt.Insn
	}
	adj := d.pcRelAdj(typ, 0, 0)
	switch rt.Class {
	case RelocBranch:
		if code != nil && start >= 0 {
			if in, ok := d.decode(code[start:]); ok && in.hasField && in.field == field-start {
				return in.kind, start, adj
			}
		}
		return AddrRef, max(start, 0), adj
	case RelocAddr, RelocGOT:
		return AddrRef, max(start, 0), adj
	}
	return 0, field, 0
}
