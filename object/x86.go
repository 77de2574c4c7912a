package object

import (
	"debug/elf"

	"golang.org/x/arch/x86/x86asm"
)

// x86Decoder decodes x86-64 with golang.org/x/arch/x86/x86asm. Only the
// instruction length and the few instructions that reach other code
// matter: call and jmp (rel8, rel32, or through a GOT slot), the
// conditional jumps and loops, lea of a rip-relative address, and
// immediates moved or pushed (function addresses in a linked,
// non-PIE file).
type x86Decoder struct{}

func (x86Decoder) step() int { return 1 }

func (x86Decoder) decode(code []byte) (insn, bool) {
	inst, err := x86asm.Decode(code, 64)
	if err != nil || inst.Len <= 0 {
		return insn{}, false
	}
	in := insn{len: inst.Len}
	kind := TailCall
	switch inst.Op {
	case x86asm.CALL:
		kind = Call
		fallthrough
	case x86asm.JMP, x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE, x86asm.JE,
		x86asm.JG, x86asm.JGE, x86asm.JL, x86asm.JLE, x86asm.JNE, x86asm.JNO,
		x86asm.JNP, x86asm.JNS, x86asm.JO, x86asm.JP, x86asm.JS,
		x86asm.JCXZ, x86asm.JECXZ, x86asm.JRCXZ,
		x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE:
		switch a := inst.Args[0].(type) {
		case x86asm.Rel:
			in.kind, in.hasRel, in.rel = kind, true, int64(a)
			in.hasField, in.field = inst.PCRel > 0, inst.PCRelOff
		case x86asm.Mem:
			if a.Base == x86asm.RIP {
				in.kind, in.mem = kind, true
				in.hasField, in.field = inst.PCRel > 0, inst.PCRelOff
			}
		}
	case x86asm.LEA:
		if m, ok := inst.Args[1].(x86asm.Mem); ok && m.Base == x86asm.RIP {
			in.kind, in.hasRel, in.rel = AddrRef, true, int64(int32(m.Disp)) // x86asm leaves disp32 zero-extended
			in.hasField, in.field = inst.PCRel > 0, inst.PCRelOff
		}
	case x86asm.MOV, x86asm.PUSH:
		for _, a := range inst.Args {
			if imm, ok := a.(x86asm.Imm); ok {
				in.kind, in.hasImm, in.imm = AddrRef, true, uint64(int64(imm))
			}
		}
	}
	return in, true
}

// entryPad recognises endbr64 (f3 0f 1e fa), which IBT kernels put
// before the __fentry__ call.
func (x86Decoder) entryPad(code []byte, _ *Func) int {
	if len(code) >= 4 && code[0] == 0xf3 && code[1] == 0x0f && code[2] == 0x1e && code[3] == 0xfa {
		return 4
	}
	return 0
}

func x86PCRel(typ uint32) bool {
	switch elf.R_X86_64(typ) {
	case elf.R_X86_64_PC32, elf.R_X86_64_PLT32, elf.R_X86_64_PC64,
		elf.R_X86_64_GOTPCREL, elf.R_X86_64_GOTPCRELX, elf.R_X86_64_REX_GOTPCRELX:
		return true
	}
	return false
}

func (x86Decoder) pcRelAdj(typ uint32, field, end uint64) uint64 {
	if x86PCRel(typ) && end > field {
		return end - field
	}
	return 0
}

func (x86Decoder) gotCall(typ uint32) bool {
	switch elf.R_X86_64(typ) {
	case elf.R_X86_64_GOTPCREL, elf.R_X86_64_GOTPCRELX, elf.R_X86_64_REX_GOTPCRELX:
		return true
	}
	return false
}

// relocKind guesses from the opcode bytes before a relocated field:
// e8 call, e9 jmp, 0f 8x jcc, ff 15 call *, ff 25 jmp * (each possibly
// after a cs prefix, as retpoline kernels emit). Anything else is an
// address the code computes.
func (x86Decoder) relocKind(code []byte, field int, typ uint32) (RefKind, int, uint64) {
	if x86PCRel(typ) {
		kind, start := RefKind(0), field
		switch {
		case field >= 1 && code[field-1] == 0xe8:
			kind, start = Call, field-1
		case field >= 1 && code[field-1] == 0xe9:
			kind, start = TailCall, field-1
		case field >= 2 && code[field-2] == 0x0f && code[field-1]&0xf0 == 0x80:
			kind, start = TailCall, field-2
		case field >= 2 && code[field-2] == 0xff && code[field-1] == 0x15:
			kind, start = Call, field-2
		case field >= 2 && code[field-2] == 0xff && code[field-1] == 0x25:
			kind, start = TailCall, field-2
		}
		if kind != 0 {
			if start >= 1 && code[start-1] == 0x2e {
				start--
			}
			return kind, start, 4
		}
		return AddrRef, field, 4
	}
	switch elf.R_X86_64(typ) {
	case elf.R_X86_64_32, elf.R_X86_64_32S, elf.R_X86_64_64:
		return AddrRef, field, 0
	}
	return 0, field, 0
}
