// Package dwarfinfo reads what an object's DWARF says about how it was
// compiled and where functions were inlined: the two facts about a build
// that the -fdump-ipa-clones dump does not give a livepatch author.
//
// # Build flags
//
// GCC records the command-line switches of every compilation unit in its
// DW_AT_producer attribute, for example
//
//	GNU C11 12.2.0 -mrecord-mcount -mfentry -march=x86-64 -g -O2 -p ...
//
// (GCC spells -pg as "-p" there). [Producers] streams the producer of every
// unit of an object without decoding the rest of the DWARF (a kernel's
// kernel/ and mm/ objects take milliseconds), [ParseProducer] turns one
// into [Flags], and [Flags.Analyses] derives which inter-procedural
// analyses GCC ran, with the reason for each verdict. The rules are GCC
// 12's: the -O level defaults of opts.cc's default_options_table (as
// "Options That Control Optimization" in the GCC 12 manual documents them
// and `gcc -Q --help=optimizers` prints them), explicit -f/-fno- switches,
// -flive-patching, and the adjustments toplev.cc's process_options makes
// afterwards (-p/-pg and -fpatchable-function-entry turn -fipa-ra off).
// The tests check the derivation against the installed gcc itself.
//
// Analyses split in two kinds. Inlining, IPA-CP cloning, IPA-SRA and
// ipa-split (partial inlining) leave a line in the ipa-clones dump for every
// function they copy, so klp-audit impacted follows them. The others
// (IPA-RA, pure-const, modref, reference, IPA-VRP, bit-CP, ICF, stack
// alignment, PTA) leave no trace in the dump: their effect is an assumption
// a caller makes about its callee (or a callee about its callers), so a
// livepatch replacing one side must be checked against the other. Which of
// them were live is exactly what the flags tell.
//
// A slim LTO object (-flto without -ffat-lto-objects) has no .debug_info;
// GCC 11 and later keep its early debug info, producer included, in
// .gnu.debuglto_ sections, and [Producers] reads those. Without any debug
// info it falls back to the .gnu.lto_.opts section, which lists the
// options of an LTO compilation. An object with neither gives [ErrNoDWARF]:
// the flags are unknown and every analysis must be assumed live.
//
// # Inlining
//
// [Inlines] walks the DW_TAG_subprogram and DW_TAG_inlined_subroutine
// entries: for each function with machine code (resolved to its ELF symbol,
// so a clone is named splitme.part.0 or big.constprop.0 although DWARF
// names its origin splitme or big) it lists every function inlined into it
// at any depth, with the call site. This is the compiler's account of where
// each function's code ended up; it also works for clang builds, which have
// no ipa-clones dump.
//
// Errors name the file. Corrupt input never panics: a panic inside
// debug/dwarf is turned into an error wrapping [ErrCorrupt].
package dwarfinfo
