package objdiff

import (
	"debug/elf"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// lineParams are the kernel functions that take __LINE__ as a
// parameter, with its 1-based position (checked against the Linux 6.1
// headers and, for ___might_sleep, against 5.14, which RHEL 9 ships):
//
//	include/linux/kernel.h:  void __might_resched(const char *file, int line, unsigned int offsets);
//	                         void __might_sleep(const char *file, int line);
//	                         void __cant_sleep(const char *file, int line, int preempt_offset);
//	                         void __cant_migrate(const char *file, int line);
//	                         void __might_fault(const char *file, int line);
//	before 5.16:             void ___might_sleep(const char *file, int line, int preempt_offset);
//	include/linux/lockdep.h: void lockdep_rcu_suspicious(const char *file, const int line, const char *s);
//	asm-generic/bug.h:       void warn_slowpath_fmt(const char *file, const int line, unsigned taint, const char *fmt, ...);
//
// __warn_printk(const char *fmt, ...) takes no line: WARN() passes the
// line of a __warn_printk call in its __bug_table entry, whose line
// field is compared exactly, so an immediate passed to __warn_printk is
// a format argument and stays a change.
var lineParams = map[string]int{
	"__might_sleep":          2,
	"___might_sleep":         2,
	"__might_resched":        2,
	"__might_fault":          2,
	"__cant_sleep":           2,
	"__cant_migrate":         2,
	"lockdep_rcu_suspicious": 2,
	"warn_slowpath_fmt":      2,
}

// lineScanLimit bounds how many instructions lineCallee looks ahead.
const lineScanLimit = 32

// lineCallee says the immediate loaded by instruction k of p only feeds
// the line parameter of a function of lineParams, and names it. This is
// the test used when a line table is missing: the instruction must load
// the immediate into the parameter's register, and the instructions
// that follow, straight-line, must neither touch that register nor
// branch, until the call (or tail call) of that function. The
// parameter registers are those of each psABI: x86-64 System V (rdi,
// rsi, rdx, rcx, r8, r9), AArch64 AAPCS64 (x0-x7), 64-bit PowerPC ELFv2
// (r3-r10), s390x ELF (r2-r6) and LoongArch LP64 (a0-a7, r4-r11); see
// linearch.go for the others than x86-64.
func lineCallee(m elf.Machine, p *piece, k int) (string, bool) {
	if k < 0 || k >= len(p.insns) {
		return "", false
	}
	if m != elf.EM_X86_64 {
		return otherLineCallee(m, p, k)
	}
	in := p.insns[k].x86
	if in == nil || in.Op != x86asm.MOV {
		return "", false
	}
	dst, ok := in.Args[0].(x86asm.Reg)
	if _, imm := in.Args[1].(x86asm.Imm); !ok || !imm {
		return "", false
	}
	param := x86Param(dst)
	if param == 0 || dst != x86Reg32[param-1] && dst != x86Reg64[param-1] {
		return "", false // a 32-bit int: mov $line,%esi (or %rsi)
	}
	for j := k + 1; j < len(p.insns) && j <= k+lineScanLimit; j++ {
		next := &p.insns[j]
		x := next.x86
		if x == nil {
			return "", false
		}
		if (x.Op == x86asm.CALL || x.Op == x86asm.JMP) && isRelBranch(x) {
			return takesLine(next.pcTarget, param)
		}
		if x86Control(x) || x86Uses(x, param) {
			return "", false
		}
	}
	return "", false
}

// takesLine says callee (a branch target) is a function of lineParams
// whose line is parameter param, and names it.
func takesLine(callee string, param int) (string, bool) {
	if i := strings.IndexByte(callee, '#'); i >= 0 {
		callee = callee[:i] // a local definition's old_sympos
	}
	if param > 0 && lineParams[callee] == param {
		return callee, true
	}
	return "", false
}

// x86Reg32 and x86Reg64 are the System V integer parameter registers.
var (
	x86Reg32 = []x86asm.Reg{x86asm.EDI, x86asm.ESI, x86asm.EDX, x86asm.ECX, x86asm.R8L, x86asm.R9L}
	x86Reg64 = []x86asm.Reg{x86asm.RDI, x86asm.RSI, x86asm.RDX, x86asm.RCX, x86asm.R8, x86asm.R9}
	// x86RegParts are every name of each parameter register.
	x86RegParts = [][]x86asm.Reg{
		{x86asm.DIB, x86asm.DI, x86asm.EDI, x86asm.RDI},
		{x86asm.SIB, x86asm.SI, x86asm.ESI, x86asm.RSI},
		{x86asm.DL, x86asm.DH, x86asm.DX, x86asm.EDX, x86asm.RDX},
		{x86asm.CL, x86asm.CH, x86asm.CX, x86asm.ECX, x86asm.RCX},
		{x86asm.R8B, x86asm.R8W, x86asm.R8L, x86asm.R8},
		{x86asm.R9B, x86asm.R9W, x86asm.R9L, x86asm.R9},
	}
)

// x86Param returns the 1-based parameter that register r carries, 0 if
// none.
func x86Param(r x86asm.Reg) int {
	for i, parts := range x86RegParts {
		for _, p := range parts {
			if p == r {
				return i + 1
			}
		}
	}
	return 0
}

// x86Uses says inst names the register of parameter param, explicitly
// or, for string instructions, implicitly.
func x86Uses(inst *x86asm.Inst, param int) bool {
	for _, a := range inst.Args {
		switch v := a.(type) {
		case x86asm.Reg:
			if x86Param(v) == param {
				return true
			}
		case x86asm.Mem:
			if x86Param(v.Base) == param || x86Param(v.Index) == param {
				return true
			}
		}
	}
	switch inst.Op {
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ, x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ,
		x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ, x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD,
		x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ, x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ,
		x86asm.INSB, x86asm.INSW, x86asm.INSD, x86asm.XCHG, x86asm.CMPXCHG, x86asm.CPUID:
		return true
	}
	return false
}

// x86Control says inst transfers control other than by a direct call
// or jump: a conditional or indirect branch, a return, a trap.
func x86Control(inst *x86asm.Inst) bool {
	switch inst.Op {
	case x86asm.CALL, x86asm.JMP, x86asm.RET, x86asm.LRET, x86asm.IRET, x86asm.IRETD, x86asm.IRETQ,
		x86asm.UD0, x86asm.UD1, x86asm.UD2, x86asm.INT, x86asm.HLT, x86asm.SYSCALL, x86asm.SYSENTER,
		x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE:
		return true
	}
	return strings.HasPrefix(inst.Op.String(), "J")
}
