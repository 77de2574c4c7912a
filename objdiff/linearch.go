package objdiff

import (
	"debug/elf"
	"encoding/binary"
	"strings"

	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/loong64/loong64asm"
	"golang.org/x/arch/ppc64/ppc64asm"
	"golang.org/x/arch/s390x/s390xasm"
)

// The __LINE__-without-DWARF test (lineCallee) on AArch64, ppc64, s390x
// and LoongArch64. What GCC 12 emits for might_sleep() (objdump -dr):
//
//	aarch64:  mov w1, #0x20;  bl __might_sleep            (x1: 2nd parameter)
//	ppc64le:  li r4,32; addi r3,r3,0; ...; bl __might_sleep  (r4)
//	s390x:    lghi %r3,32; ...; larl %r2,.LC0; brasl %r14,__might_sleep  (r3)
//	loongarch64: ori $a1,$zero,32 (or addi.w); bl __might_sleep  (a1 = r5; untested)
//
// The immediate must be loaded by one of those instructions into the
// line parameter's register; every instruction from there to the call
// must neither name that register (as operand, base or index, or in a
// register range or pair) nor transfer control.

// lineStep is what an instruction between the load and the call is.
type lineStep uint8

const (
	stepGo   lineStep = iota // neither touches the register nor branches
	stepStop                 // touches it, branches, or cannot be read
	stepCall                 // a direct call or tail call: its target decides
)

// otherLineCallee is lineCallee for the machines besides x86-64.
func otherLineCallee(m elf.Machine, p *piece, k int) (string, bool) {
	bo := orderOf(m, &p.insns[k])
	reg, ok := lineLoad(m, bo, p.insns[k].raw)
	if !ok {
		return "", false
	}
	param := paramOf(m, reg)
	if param == 0 {
		return "", false
	}
	for j := k + 1; j < len(p.insns) && j <= k+lineScanLimit; j++ {
		next := &p.insns[j]
		switch lineStepOf(m, bo, next.raw, reg) {
		case stepCall:
			if next.pcTarget == "" {
				return "", false
			}
			return takesLine(next.pcTarget, param)
		case stepStop:
			return "", false
		}
	}
	return "", false
}

// paramOf returns the 1-based integer parameter that general register
// reg carries on machine m, 0 if none.
func paramOf(m elf.Machine, reg int) int {
	lo, hi := 0, -1
	switch m {
	case elf.EM_AARCH64:
		lo, hi = 0, 7
	case elf.EM_PPC64:
		lo, hi = 3, 10
	case elf.EM_S390:
		lo, hi = 2, 6
	case elf.EM_LOONGARCH:
		lo, hi = 4, 11
	}
	if reg < lo || reg > hi {
		return 0
	}
	return reg - lo + 1
}

// lineLoad says raw loads an immediate into a general register, the
// way a __LINE__ argument is loaded, and returns the register.
func lineLoad(m elf.Machine, bo binary.ByteOrder, raw []byte) (int, bool) {
	switch m {
	case elf.EM_AARCH64:
		if len(raw) != 4 {
			return 0, false
		}
		w := binary.LittleEndian.Uint32(raw)
		if w&0x7fe00000 == 0x52800000 { // movz wD/xD, #imm16 (hw 0)
			return int(w & 31), true
		}
	case elf.EM_PPC64:
		if len(raw) != 4 {
			return 0, false
		}
		w := bo.Uint32(raw)
		if w>>26 == 14 && (w>>16)&31 == 0 { // li rD,imm (addi rD,0,imm)
			return int((w >> 21) & 31), true
		}
	case elf.EM_S390:
		if len(raw) == 4 && raw[0] == 0xa7 && (raw[1]&0x0f == 8 || raw[1]&0x0f == 9) { // lhi, lghi
			return int(raw[1] >> 4), true
		}
	case elf.EM_LOONGARCH:
		if len(raw) != 4 {
			return 0, false
		}
		w := binary.LittleEndian.Uint32(raw)
		if op := w >> 22; (op == 0x00a || op == 0x00b || op == 0x00e) && (w>>5)&31 == 0 { // addi.w, addi.d, ori from $zero
			return int(w & 31), true
		}
	}
	return 0, false
}

// lineStepOf classifies an instruction between the load of register reg
// and the call.
func lineStepOf(m elf.Machine, bo binary.ByteOrder, raw []byte, reg int) lineStep {
	switch m {
	case elf.EM_AARCH64:
		return arm64LineStep(raw, reg)
	case elf.EM_PPC64:
		return ppc64LineStep(bo, raw, reg)
	case elf.EM_S390:
		return s390LineStep(raw, reg)
	case elf.EM_LOONGARCH:
		return loongLineStep(raw, reg)
	}
	return stepStop
}

func arm64LineStep(raw []byte, reg int) lineStep {
	if len(raw) != 4 {
		return stepStop
	}
	w := binary.LittleEndian.Uint32(raw)
	switch {
	case w&0x7c000000 == 0x14000000: // b, bl
		return stepCall
	case w&0xfe000000 == 0x54000000, w&0x7e000000 == 0x34000000, w&0x7e000000 == 0x36000000,
		w&0xfe000000 == 0xd6000000, w&0xffe00000 == 0xd4000000: // b.cond, cbz, tbz, br/blr/ret, brk/svc/hlt
		return stepStop
	}
	inst, err := arm64asm.Decode(raw)
	if err != nil {
		return stepStop
	}
	text := arm64asm.GNUSyntax(inst)
	sp := strings.IndexByte(text, ' ')
	if sp < 0 {
		return stepGo
	}
	for _, o := range strings.Split(text[sp+1:], ",") {
		if arm64Names(strings.TrimSpace(o), reg) {
			return stepStop
		}
	}
	return stepGo
}

func ppc64LineStep(bo binary.ByteOrder, raw []byte, reg int) lineStep {
	if len(raw) != 4 {
		return stepStop
	}
	w := bo.Uint32(raw)
	switch w >> 26 {
	case 18: // b, bl
		if w&2 != 0 {
			return stepStop // absolute
		}
		return stepCall
	case 16, 17, 2, 3: // bc, sc, tdi, twi
		return stepStop
	case 19: // bclr, bcctr, rfi, isync...: stop but for the plain ones
		return stepStop
	case 31:
		switch (w >> 1) & 0x3ff {
		case 4, 68: // tw, td
			return stepStop
		}
	case 46, 47: // lmw, stmw: rT..r31
		if int((w>>21)&31) <= reg {
			return stepStop
		}
	}
	inst, err := ppc64asm.Decode(raw, bo)
	if err != nil || inst.Len != 4 {
		return stepStop
	}
	for _, a := range inst.Args {
		if r, ok := a.(ppc64asm.Reg); ok && r >= ppc64asm.R0 && r <= ppc64asm.R31 && int(r-ppc64asm.R0) == reg {
			return stepStop
		}
	}
	return stepGo
}

// s390PairOps are the s390x instructions whose first register names an
// even/odd pair.
var s390PairOps = map[string]bool{
	"mr": true, "m": true, "mfy": true, "mlr": true, "ml": true, "mlgr": true, "mlg": true, "mgrk": true, "mg": true,
	"dr": true, "d": true, "dlr": true, "dl": true, "dlgr": true, "dlg": true, "dsgr": true, "dsg": true, "dsgfr": true, "dsgf": true,
	"mvcl": true, "mvcle": true, "clcl": true, "clcle": true, "cds": true, "cdsy": true, "cdsg": true, "lpq": true, "stpq": true,
	"srda": true, "srdl": true, "slda": true, "sldl": true,
}

func s390LineStep(raw []byte, reg int) lineStep {
	inst, err := s390xasm.Decode(raw)
	if err != nil || inst.Len != len(raw) {
		return stepStop
	}
	op := inst.Op.String()
	switch {
	case op == "":
		return stepStop
	case op == "brasl" || op == "bras":
		return stepCall
	case op == "brc" || op == "brcl":
		if mk, ok := inst.Args[0].(s390xasm.Mask); ok {
			switch mk {
			case 0:
				return stepGo // jgnop, the ftrace site
			case 15:
				return stepCall // j, jg: a tail call if it leaves the function
			}
		}
		return stepStop
	case op == "bcr":
		if mk, ok := inst.Args[0].(s390xasm.Mask); ok && mk == 0 {
			return stepGo // nopr
		}
		return stepStop
	case op[0] == 'b', op[0] == 'c' && (strings.HasSuffix(op, "j") || strings.HasSuffix(op, "b") || strings.HasSuffix(op, "t")),
		op == "mc", op == "ex", op == "exrl", op == "svc", strings.HasPrefix(op, "lpsw"):
		return stepStop // branches, compare-and-branch or trap, monitor call, execute
	case op == "lmg" || op == "lm" || op == "lmy" || op == "stmg" || op == "stm" || op == "stmy":
		lo, _ := inst.Args[0].(s390xasm.Reg)
		hi, _ := inst.Args[1].(s390xasm.Reg)
		r := s390xasm.R0 + s390xasm.Reg(reg)
		if lo <= r && r <= hi || lo > hi && (r >= lo || r <= hi) {
			return stepStop
		}
	}
	for i, a := range inst.Args {
		switch v := a.(type) {
		case s390xasm.Reg:
			if v >= s390xasm.R0 && v <= s390xasm.R15 {
				n := int(v - s390xasm.R0)
				if n == reg || i == 0 && s390PairOps[op] && n%2 == 0 && n+1 == reg {
					return stepStop
				}
			}
		case s390xasm.Base:
			if int(v-s390xasm.B0) == reg {
				return stepStop
			}
		case s390xasm.Index:
			if int(v-s390xasm.X0) == reg {
				return stepStop
			}
		}
	}
	return stepGo
}

func loongLineStep(raw []byte, reg int) lineStep {
	if len(raw) != 4 {
		return stepStop
	}
	inst, err := loong64asm.Decode(raw)
	if err != nil {
		return stepStop
	}
	switch inst.Op {
	case loong64asm.B, loong64asm.BL:
		return stepCall
	case loong64asm.BEQ, loong64asm.BNE, loong64asm.BLT, loong64asm.BGE, loong64asm.BLTU, loong64asm.BGEU,
		loong64asm.BEQZ, loong64asm.BNEZ, loong64asm.BCEQZ, loong64asm.BCNEZ, loong64asm.JIRL,
		loong64asm.BREAK, loong64asm.SYSCALL:
		return stepStop
	}
	for _, a := range inst.Args {
		if r, ok := a.(loong64asm.Reg); ok && r >= loong64asm.R0 && r <= loong64asm.R31 && int(r-loong64asm.R0) == reg {
			return stepStop
		}
	}
	return stepGo
}
