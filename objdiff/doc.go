// Package objdiff compares the original and the patched build of the same
// code function by function: which functions a livepatch must replace
// because their machine code changed, which are new and which are gone.
// It is the check after building: GCC's inlining, cloning and
// inter-procedural analyses move with every change, so functions the
// source patch never touched change too (a static helper inlined into its
// callers, a caller that relied on its callee being pure), and only the
// objects show it.
//
// # Pairing
//
// A function is a defined STT_FUNC symbol; its cold pieces (foo.cold,
// foo.cold.1, which GCC's hot/cold splitting moves to .text.unlikely) are
// compared as part of it, in order, and never reported on their own.
// Before comparing, the symbols of the two objects are correlated
// (correlate.go):
//
//   - functions by name and, among same-named local functions (static
//     functions of several units linked into one module or vmlinux.o),
//     by position, as klp_func.old_sympos counts them;
//   - clones whose names carry GCC's numbers (foo.constprop.N, .isra.N,
//     .part.N, .lto_priv.N and chains of them) by base name, the numbers
//     stripped, within one binding and source file (STT_FILE), preferring
//     the candidate with equal code: one new clone renumbers the others;
//   - data symbols by name, and function-local statics (any local
//     NAME.N: __already_done.N, __key.N, __warned.N, descriptor.N, _rs.N,
//     __func__.N, CSWTCH.N) by base name and owning functions (those whose
//     code references them), in reference order, equal content first.
//
// A reference to a correlated symbol counts as equal whatever its name,
// and ObjectDiff.Renames lists the pairs whose names differ. Candidates
// equally good are never guessed between: they stay unpaired (reported
// as removed and added) and ObjectDiff.Ambiguities says so. A function
// only in the patched object is added, one only in the original removed;
// a clone that GCC renamed (should_skip_region becoming
// should_skip_region.isra.0) is one of each.
//
// # What counts as equal
//
// Code is decoded instruction by instruction (x86-64 with
// golang.org/x/arch/x86/x86asm; AArch64 as 4-byte words whose immediate
// bits are masked where a relocation or a PC-relative branch puts an
// address; ppc64, s390x and LoongArch64 with their x/arch decoders, the
// bits each relocation type patches masked, as object.Relocation gives
// them; see arch.go). A position in ppc64's .toc counts by what the
// entry there holds.
// Two instructions are equal when their bytes are, with these fields
// replaced by what they lead to:
//
//   - A relocated field counts by its symbolic target, never by the bytes
//     or the addend alone. A named symbol is its name plus offset (for a
//     PC-relative type the distance from the field to the end of the
//     instruction is added, so "call foo" is foo whatever the encoding).
//     A section symbol plus addend (the assembler's form for anything
//     local) becomes the function it lands in plus the offset into it, or
//     the data symbol plus offset; a position in a string-literal section
//     (SHF_MERGE|SHF_STRINGS, .rodata.str*) becomes the string's content,
//     so re-laid-out literals compare equal and a changed literal does
//     not; a mergeable constant (.rodata.cst8) becomes its bytes.
//     Local read-only data (__func__, CSWTCH tables) carries a digest of
//     its content (string pointers in it by the string), since a new
//     function copy would carry the new content; a function-local static
//     counts by the static it was correlated with, not by GCC's number.
//   - A PC-relative field without relocation (a call or jump the assembler
//     resolved, to a local function in the same .text of an object built
//     without -ffunction-sections; every one in a linked file) counts by
//     its target function and offset, not by the displacement. So code
//     added between a function and its callers leaves the callers equal.
//   - A direct call or jump compares by its operation and target only, not
//     by the size of its displacement (jmp rel8 and jmp rel32 to the same
//     function are equal), and a target inside the function's own pieces
//     counts by instruction index, not byte offset.
//   - The ftrace entry call (call __fentry__) is an ordinary relocated
//     call.
//
// Besides the code, the kernel's tables about code are compared, entry by
// entry, attached to the function whose code their first field points
// at: __bug_table (WARN/BUG sites; see ParseBugTable), __jump_table
// (static keys: a static_branch on another key is the same nop),
// __ex_table, .static_call_sites, .altinstructions (replacement code by
// content) and .parainstructions, with their Linux 6.1 layouts. A table
// whose layout is not the expected one is skipped, with a note.
//
// # Line shifts
//
// Lines added above a function change the __LINE__ numbers it holds:
// WARN and BUG put theirs in struct bug_entry (__bug_table), and code may
// load one as an immediate (report(__LINE__), printk("%d", __LINE__)). A
// function whose every difference is such a number is "line-shift only",
// reported apart from the changed ones. The test is conservative:
//
//   - every differing instruction must differ in immediate operands only
//     (same length, opcode, prefixes, other operands and targets), and
//     each immediate must be shown to be a line number by the DWARF line
//     table of both objects: either the instruction's own line is the
//     immediate's value on each side, or the function's line rows, paired
//     by offset across the two objects, map the original value to the
//     patched one. Without a line table on either side (no -g, or
//     stripped) the test is a heuristic, and the LineShift says so
//     (Heuristic, Callee): an immediate counts as a line number only
//     when it is loaded into the line parameter's register of a kernel
//     function taking (file, line) (__might_sleep, ___might_sleep,
//     __might_resched, __might_fault, __cant_sleep, __cant_migrate,
//     lockdep_rcu_suspicious, warn_slowpath_fmt; see lineParams) and
//     nothing but that call uses it: straight-line code up to the call
//     or tail call, the register untouched. __warn_printk takes no line.
//     The registers are each psABI's: x86-64 (rsi for the 2nd
//     parameter), AArch64 (x1), ppc64 (r4), s390x (%r3), LoongArch64
//     (a1, untested: no cross compiler here); any other immediate is a
//     change;
//   - a __bug_table entry may differ in its line field alone; its file
//     string and flags must be equal.
//
// Anything else makes the function changed, and the first real difference
// is shown.
//
// # Data
//
// Data objects (STT_OBJECT and TLS symbols in allocated, non-code
// sections; tables about code, module metadata and init data aside) are
// compared after correlation, by section, size and content (relocated
// fields by their targets): ObjectDiff.DataChanges lists those added,
// removed or changed (an initial value, a size, a move to
// .data..read_mostly) with the functions whose code references them. A
// dynamic-debug descriptor (__dyndbg) whose lineno alone moved is a line
// shift, not a change.
//
// # Reports
//
// Report, ObjectDiff, Change, Difference, LineShift and Function are the
// YAML/JSON schema (SchemaVersion); klp-audit diff prints them.
// CompareFiles compares two objects, CompareTrees two build trees (objects
// paired by relative path).
package objdiff
