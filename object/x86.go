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
	if in, ok := x86Fast(code); ok {
		return in, true
	}
	return x86Slow(code)
}

// x86Slow decodes one instruction with x86asm.
func x86Slow(code []byte) (insn, bool) {
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

// x86Fast decodes the most frequent instructions of compiled code
// without x86asm, which spends most of an object's reading decoding
// every instruction in full: those with no legacy prefix, an optional
// REX prefix, and an opcode that reaches no other code (ALU, test, mov
// and xchg between registers and memory, movzx, movsx, cmov, setcc,
// push and pop of a register, nop, ret, leave, int3), and the direct
// branches without a prefix (call, jmp, jcc with a rel8 or rel32). It
// gives what x86Slow gives (TestX86FastAsSlow compares them on compiled
// code and random bytes); false for anything else, which x86Slow
// decodes.
func x86Fast(code []byte) (insn, bool) {
	i := 0
	rex := false
	if len(code) > 0 && code[0]&0xf0 == 0x40 {
		i, rex = 1, true
	}
	if i >= len(code) {
		return insn{}, false
	}
	op := code[i]
	i++
	switch {
	case op < 0x40 && op&7 < 4: // add, or, adc, sbb, and, sub, xor, cmp: r/m, r and r, r/m
		return x86ModRM(code, i, 0)
	case op >= 0x84 && op <= 0x8b: // test, xchg, mov: r/m, r and r, r/m
		return x86ModRM(code, i, 0)
	case op == 0x83: // group 1: r/m, imm8
		return x86ModRM(code, i, 1)
	case op >= 0x50 && op <= 0x5f, op == 0x90, op == 0xc3, op == 0xc9, op == 0xcc:
		return insn{len: i}, true
	case rex:
		// Branches and two-byte opcodes with a REX prefix: rare.
		return insn{}, false
	case op == 0xe8 || op == 0xe9: // call, jmp rel32
		if len(code) < 5 {
			return insn{}, false
		}
		kind := TailCall
		if op == 0xe8 {
			kind = Call
		}
		rel := int64(int32(uint32(code[1]) | uint32(code[2])<<8 | uint32(code[3])<<16 | uint32(code[4])<<24))
		return insn{len: 5, kind: kind, hasRel: true, rel: rel, hasField: true, field: 1}, true
	case op == 0xeb || op >= 0x70 && op <= 0x7f: // jmp, jcc rel8
		if len(code) < 2 {
			return insn{}, false
		}
		return insn{len: 2, kind: TailCall, hasRel: true, rel: int64(int8(code[1])), hasField: true, field: 1}, true
	case op == 0x0f:
		if i >= len(code) {
			return insn{}, false
		}
		op2 := code[i]
		i++
		switch {
		case op2 >= 0x80 && op2 <= 0x8f: // jcc rel32
			if len(code) < 6 {
				return insn{}, false
			}
			rel := int64(int32(uint32(code[2]) | uint32(code[3])<<8 | uint32(code[4])<<16 | uint32(code[5])<<24))
			return insn{len: 6, kind: TailCall, hasRel: true, rel: rel, hasField: true, field: 2}, true
		case op2 >= 0x40 && op2 <= 0x4f, // cmovcc
			op2 == 0xb6, op2 == 0xb7, op2 == 0xbe, op2 == 0xbf, // movzx, movsx
			op2 == 0xaf: // imul r, r/m
			return x86ModRM(code, i, 0)
		case op2 >= 0x90 && op2 <= 0x9f: // setcc: reg field ignored
			return x86ModRM(code, i, 0)
		case op2 == 0x1f: // nop r/m
			if i < len(code) && (code[i]>>3)&7 == 0 {
				return x86ModRM(code, i, 0)
			}
		}
	}
	return insn{}, false
}

// x86ModRM returns the instruction whose ModRM byte is at code[i],
// followed by its SIB byte and displacement (64-bit addressing) and imm
// bytes of immediate.
func x86ModRM(code []byte, i, imm int) (insn, bool) {
	if i >= len(code) {
		return insn{}, false
	}
	m := code[i]
	i++
	mod, rm := m>>6, m&7
	if mod != 3 {
		if rm == 4 {
			if i >= len(code) {
				return insn{}, false
			}
			if mod == 0 && code[i]&7 == 5 {
				i += 4
			}
			i++
		} else if mod == 0 && rm == 5 {
			i += 4 // rip-relative
		}
		switch mod {
		case 1:
			i++
		case 2:
			i += 4
		}
	}
	i += imm
	if i > len(code) {
		return insn{}, false
	}
	return insn{len: i}, true
}
