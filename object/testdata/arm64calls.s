// arm64calls: the object call graph of an AArch64 object, assembled at
// test time (no aarch64 gcc is needed):
//
//   llvm-mc -triple=aarch64-linux-gnu -filetype=obj -o arm64calls.o arm64calls.s
//
// llvm-mc 14 resolves the branches between local symbols of one section
// (bl callee_local, b tailee, cbz ... callee_local, adr) and leaves no
// relocation, as GNU as does; calls to ext_func (R_AARCH64_CALL26,
// R_AARCH64_CONDBR19), the adrp/add pair (R_AARCH64_ADR_PREL_PG_HI21 and
// _ADD_ABS_LO12_NC against .text), the calls from .text.other
// (R_AARCH64_CALL26 .text+0, R_AARCH64_JUMP26 caller) and the ops table
// (R_AARCH64_ABS64) have one. traced has a patchable entry, as arm64
// kernels built with -fpatchable-function-entry=2 do.
	.text
	.type	callee_local, %function
callee_local:
	ret
	.size	callee_local, .-callee_local

	.globl	caller
	.type	caller, %function
caller:
	stp	x29, x30, [sp, #-16]!
	bl	callee_local
	bl	ext_func
	adrp	x0, callee_local
	add	x0, x0, :lo12:callee_local
	adr	x1, callee_local
	ldp	x29, x30, [sp], #16
	b	tailee
	.size	caller, .-caller

	.type	tailee, %function
tailee:
	cbz	x0, callee_local
	b.ne	ext_func
	ret
	.size	tailee, .-tailee

	.globl	traced
	.type	traced, %function
traced:
	nop
	nop
	ret
	.size	traced, .-traced

	.section __patchable_function_entries,"aw",@progbits
	.xword	traced

	.section .text.other,"ax",@progbits
	.globl	other
	.type	other, %function
other:
	bl	callee_local
	b	caller
	.size	other, .-other

	.section .rodata
	.type	ops, %object
ops:
	.xword	caller
	.xword	callee_local
	.size	ops, 16
