package object

import "debug/elf"

// RelocField returns the bytes, relative to the relocation's offset, that
// the linker may rewrite for relocation r of object f: the field the
// machine's relocation table gives (Relocation), and for x86-64's
// relaxable relocations the opcode bytes before it, which the linker
// rewrites too. Comparing an object's code with the linked file's outside
// these bytes tells whether they are the same function.
func RelocField(f *File, r Reloc) (lo, hi int64) {
	if f.Machine == elf.EM_X86_64 {
		switch elf.R_X86_64(r.Type) {
		case elf.R_X86_64_GOTPCRELX, elf.R_X86_64_REX_GOTPCRELX, elf.R_X86_64_GOTTPOFF:
			// The linker relaxes a GOT load into lea or a direct call,
			// rewriting the REX prefix, opcode and ModRM byte.
			return -3, 4
		case elf.R_X86_64_TLSGD, elf.R_X86_64_TLSLD, elf.R_X86_64_GOTPC32_TLSDESC, elf.R_X86_64_TLSDESC_CALL:
			// TLS sequences are rewritten whole.
			return -4, 12
		}
	}
	if f.Arch != nil {
		if rt, ok := Relocation(f.Machine, f.Arch.Order, r.Type); ok && rt.Size > 0 {
			return 0, int64(rt.Size)
		}
	}
	// Unknown: assume the widest field.
	return 0, 8
}
