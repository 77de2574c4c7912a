package object

import "debug/elf"

// RelocField returns the bytes, relative to the relocation's offset, that
// the linker may rewrite for relocation r of an object of machine m: the
// field itself, and for the relaxable relocations the opcode bytes before
// it. Comparing an object's code with the linked file's outside these
// bytes tells whether they are the same function.
func RelocField(m elf.Machine, r Reloc) (lo, hi int64) {
	switch m {
	case elf.EM_X86_64:
		switch elf.R_X86_64(r.Type) {
		case elf.R_X86_64_64, elf.R_X86_64_PC64, elf.R_X86_64_GOTOFF64, elf.R_X86_64_GOTPC64,
			elf.R_X86_64_GOT64, elf.R_X86_64_GOTPCREL64, elf.R_X86_64_GOTPLT64, elf.R_X86_64_PLTOFF64,
			elf.R_X86_64_SIZE64, elf.R_X86_64_DTPOFF64, elf.R_X86_64_TPOFF64, elf.R_X86_64_DTPMOD64:
			return 0, 8
		case elf.R_X86_64_16, elf.R_X86_64_PC16:
			return 0, 2
		case elf.R_X86_64_8, elf.R_X86_64_PC8:
			return 0, 1
		case elf.R_X86_64_GOTPCRELX, elf.R_X86_64_REX_GOTPCRELX, elf.R_X86_64_GOTTPOFF:
			// The linker relaxes a GOT load into lea or a direct call,
			// rewriting the REX prefix, opcode and ModRM byte.
			return -3, 4
		case elf.R_X86_64_TLSGD, elf.R_X86_64_TLSLD, elf.R_X86_64_GOTPC32_TLSDESC, elf.R_X86_64_TLSDESC_CALL:
			// TLS sequences are rewritten whole.
			return -4, 12
		}
		return 0, 4
	case elf.EM_AARCH64:
		switch elf.R_AARCH64(r.Type) {
		case elf.R_AARCH64_ABS64, elf.R_AARCH64_PREL64:
			return 0, 8
		}
		// The field is bits of the 4-byte instruction.
		return 0, 4
	}
	return 0, 8
}
