// Package object reads the evidence that only a build's objects hold: which
// functions exist as symbols (and so can be replaced by a livepatch), their
// binding, section, size and aliases, old_sympos, hot/cold pieces, whether a
// function starts with an ftrace entry, and the object call graph (direct
// calls, tail calls and address references), from ELF relocatable objects
// (.o, .ko, vmlinux.o) and linked vmlinux files.
//
// The call graph does not rely on relocations alone: in objects built
// without -ffunction-sections (distribution kernels), a call to a local
// function in the same section has no relocation, because the assembler
// resolved it. Such calls are found by decoding the machine code.
//
// # How the call graph is read
//
// Every function body is decoded from its first byte to its end with
// the golang.org/x/arch decoder of the machine (x86asm, arm64asm,
// ppc64asm, s390xasm, loong64asm; see arch.go for the machines read and
// their relocation types). For each call, jump or conditional jump:
//
//   - when a relocation sits in the instruction's relative field, it names
//     the target: a symbol, or a section symbol plus addend (the target
//     offset is addend plus the distance from the field to the end of the
//     instruction: addend+4 for a call with R_X86_64_PLT32 or _PC32);
//   - otherwise the instruction was resolved by the assembler or the
//     linker, and the target is the end of the instruction plus its
//     displacement, in the same section (relocatable) or at that address
//     (linked).
//
// A jump to another function is a TailCall, conditional or not, and so
// is the jump between a function and its cold piece (foo to foo.cold,
// and foo.cold back into the middle of foo); jumps inside the function
// are not refs, and neither is the ftrace entry call (Func.Fentry
// records it). An indirect call through a GOT slot (call
// *f@GOTPCREL(%rip)) is a Call of f; other indirect calls are no refs. Bytes that do not decode (data in text) are
// skipped one at a time; a target found by decoding alone must be a
// function's first byte (or, for a jump, the cold piece or parent of the
// jumping function), so misdecoded bytes give no ref.
//
// Other relocations in code that lead to a function's first byte, and
// lea of a rip-relative function address, are AddrRefs; in a linked file
// an immediate moved or pushed that equals a function's address is one
// too. Relocations in allocated data sections (.data, .rodata,
// .data.rel.ro, .init.data, ops tables, initcalls, ksymtab entries)
// that store a function's address are DataRefs; the bookkeeping tables
// about code (__mcount_loc, __jump_table, __ex_table, .orc_unwind*,
// .altinstructions, .eh_frame, .discard.*, ...) are not.
//
// Limits, by design: a call or jump to an undefined symbol is a ref to
// that name, but an address reference to an undefined symbol is not
// (a relocatable object does not say whether an undefined symbol is a
// function or a variable). A linked file's data holds no relocations
// unless it was linked with --emit-relocs (x86 vmlinux is) or is ET_DYN
// (R_X86_64_RELATIVE); calls through a PLT and AArch64 adrp/add pairs
// without relocations are not followed. Calls to retpoline and return
// thunks (__x86_indirect_thunk_rax, __x86_return_thunk) are kept: they are
// what the code calls.
package object

import (
	"debug/elf"
	"sync"
)

// Binding is a symbol's ELF binding.
type Binding = elf.SymBind

// Func is one function symbol (STT_FUNC, defined) of an object: a
// candidate klp_func.old_name.
type Func struct {
	// Name is the symbol name, clone suffixes included
	// (big.constprop.0, leafy.isra.0, splitme.part.0, foo.cold).
	Name    string
	Bind    Binding // elf.STB_LOCAL, elf.STB_GLOBAL or elf.STB_WEAK
	Section string  // section name: ".text", ".text.unlikely", ".init.text", ...
	Shndx   int     // section index
	Value   uint64  // offset in the section (relocatable) or address (linked)
	// Size is the symbol's size in bytes (0 for asm labels without .size).
	Size uint64
	// LocalEntry is the offset of the local entry point on ppc64 ELFv2
	// (from st_other): local callers branch there, past the global
	// entry's TOC pointer setup. 0 on other machines.
	LocalEntry uint64
	// Sympos is the 1-based position of this symbol among the local
	// function symbols of the same name in this object, in symbol-table
	// order: klp_func.old_sympos. 0 when the name is unique in the object
	// (old_sympos 0 means "the only one"), and for global symbols. In a
	// linked file the order is by address, as vmlinux's kallsyms are.
	// The kernel counts every kallsyms entry of the name, so a local
	// function that shares its name with a global one gets 1 here, not 0.
	Sympos int
	// Aliases are the other function symbols at the same section and
	// value: one body, several names (identical code folding, or aliases).
	// Sorted; nil when there are none. Refs name such a body by one of
	// its names only: the largest symbol, then the first in symbol-table
	// order (Callers and Callees look through aliases).
	Aliases []string
	// Cold names the pieces of this function that GCC's hot/cold
	// splitting moved out (foo.cold, foo.cold.1 in .text.unlikely;
	// foo.part.0.cold belongs to foo.part.0). Replacing foo replaces
	// them. The pieces are listed in Funcs too. A piece whose parent is
	// not in the object is left unattached.
	Cold []string
	// ColdOf is set on a cold piece: the function it belongs to.
	ColdOf string
	// Fentry says the function starts with a call to __fentry__ (or
	// mcount): ftrace, and so a livepatch, can redirect it. False for
	// notrace code (kernel inline functions, noinstr, .init.text) and for
	// cold pieces. It is true when the first instruction (after an
	// endbr64 or bti landing pad) calls __fentry__/mcount, by relocation
	// or, in a linked file, by a call to that symbol's address; or when
	// the function's entry is listed in __mcount_loc (-mrecord-mcount,
	// also with -mnop-mcount's 5-byte nop), __patchable_function_entries
	// (-fpatchable-function-entry, arm64 kernels), or vmlinux's
	// __start_mcount_loc..__stop_mcount_loc table.
	Fentry bool
}

// RefKind says how one function reaches another.
type RefKind uint8

const (
	// Call is a direct call instruction.
	Call RefKind = iota + 1
	// TailCall is a direct jump to another function (a sibling call).
	TailCall
	// AddrRef takes the address of a function in code (lea, mov $f).
	AddrRef
	// DataRef stores a function's address in data (an ops table, say);
	// From is then the data symbol, or the section when no symbol covers it.
	DataRef
)

// Ref is one edge of the object call graph: From's code (or data) reaches
// To. A livepatch that replaces To changes what From calls; when To's old
// behaviour was assumed by From's code (IPA-RA, pure-const, modref),
// From may need replacing too.
type Ref struct {
	From string  // the calling function (or data symbol, for DataRef)
	To   string  // the function called or referenced
	Kind RefKind // how: Call, TailCall, AddrRef or DataRef
	// Site is the offset of the instruction (or data word) in From's
	// section; for linked files, its address.
	Site uint64
	// Reloc says a relocation names the target; otherwise the target was
	// found by decoding an already resolved instruction.
	Reloc bool
	// FromSympos and ToSympos are the Sympos (old_sympos) of From and To
	// when those are function symbols of this object: they tell apart
	// the same-named static functions of the units linked into one
	// module or vmlinux. 0 when the name is unique, or not a function
	// of this object.
	FromSympos, ToSympos int
}

// File is what klp-audit reads from one object. It is read-only once
// NewFile returns, and safe for concurrent use.
type File struct {
	Path    string      // the path given to Open or NewFile
	Machine elf.Machine // elf.EM_X86_64, elf.EM_AARCH64, ...
	// Arch is the machine's description: name, byte order, instruction
	// unit. Never nil in a File that NewFile returns.
	Arch *Arch
	Type elf.Type // elf.ET_REL for .o/.ko/vmlinux.o, elf.ET_EXEC for vmlinux
	// Funcs are the defined function symbols, in symbol-table order.
	Funcs []Func
	// Refs is the object call graph, sorted by From, Site.
	Refs []Ref
	// ExternAddrs are the undefined symbols whose address the object's
	// code or data takes (ops tables, function pointers, ksymtab
	// entries), sorted: the symbol table does not say whether such a
	// symbol is a function, so they are no Refs, but one defined as a
	// function elsewhere is reached through a pointer from here.
	ExternAddrs []string
	// HasDWARF says the object carries .debug_info.
	HasDWARF bool
	// HasCallGraph says Refs was computed. It is true for every File
	// NewFile returns: a machine without a decoder is not read at all.
	HasCallGraph bool

	linked   bool               // ET_EXEC/ET_DYN: values are addresses
	sections []section          // by section index
	byName   map[string][]int32 // Funcs indexes by name
	canon    []int32            // Funcs index -> the Funcs index naming its code
	bodies   []body             // code ranges, sorted by bodyKey
	code     *code              // kept by OpenCode only: see code.go
	// refsTo indexes Refs by target, built by Callers on first use.
	refsTo struct {
		once sync.Once
		m    map[string][]int32
	}
}
