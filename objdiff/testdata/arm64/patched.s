// arm64/patched.s: an AArch64 comparison, assembled at test time (no aarch64
// gcc is needed):
//
//   llvm-mc -triple=aarch64-linux-gnu -filetype=obj -o patched.o patched.s
//
// With a hand-written line table (.loc) and compile unit, standing in for
// gcc -g. orig.s has callee, caller (bl callee without relocation, then
// "mov w0, #21" loading the line number 21, as report(__LINE__) does,
// and the string "goodbye" by adrp/add against .rodata.str1.1), konst
// ("mov w0, #5") and greet ("hello"). patched.s inserts pad between
// callee and caller (bl's displacement grows), moves caller's lines by 3
// (21 becomes 24), changes konst's constant to 6 on the same line and
// greet's string to "hello, world" ("goodbye" moves). So: caller is
// line-shift only, konst and greet are changed, pad is added, callee is
// unchanged.
	.file 1 "/src" "lines.c"
	.text
	.type	callee, %function
callee:
	.loc 1 10 0
	ret
	.size	callee, .-callee
	.type	pad, %function
pad:
	.loc 1 14 0
	nop
	nop
	nop
	ret
	.size	pad, .-pad
	.globl	caller
	.type	caller, %function
caller:
	.loc 1 23 0
	stp	x29, x30, [sp, #-16]!
	bl	callee
	.loc 1 24 0
	mov	w0, #24
	bl	report
	.loc 1 25 0
	adrp	x0, .Lbye
	add	x0, x0, :lo12:.Lbye
	bl	puts
	ldp	x29, x30, [sp], #16
	ret
	.size	caller, .-caller
	.globl	konst
	.type	konst, %function
konst:
	.loc 1 30 0
	mov	w0, #6
	ret
	.size	konst, .-konst
	.section .rodata.str1.1,"aMS",@progbits,1
.Lhello:
	.string "hello, world"
.Lbye:
	.string "goodbye"
	.text
	.globl	greet
	.type	greet, %function
greet:
	adrp	x0, .Lhello
	add	x0, x0, :lo12:.Lhello
	b	puts
	.size	greet, .-greet
	.section .debug_abbrev,"",@progbits
	.byte 1, 0x11, 0
	.byte 0x10, 0x17
	.byte 0x03, 0x08
	.byte 0x1b, 0x08
	.byte 0, 0
	.byte 0
	.section .debug_info,"",@progbits
	.word .Lcu_end - .Lcu_start
.Lcu_start:
	.hword 4
	.word .debug_abbrev
	.byte 8
	.byte 1
	.word .debug_line
	.asciz "lines.c"
	.asciz "/src"
.Lcu_end:
