package object

import (
	"debug/elf"
	"testing"
)

// TestRelocField: the bytes a linker may rewrite.
func TestRelocField(t *testing.T) {
	tests := []struct {
		m      elf.Machine
		typ    uint32
		lo, hi int64
	}{
		{elf.EM_X86_64, uint32(elf.R_X86_64_PLT32), 0, 4},
		{elf.EM_X86_64, uint32(elf.R_X86_64_64), 0, 8},
		{elf.EM_X86_64, uint32(elf.R_X86_64_REX_GOTPCRELX), -3, 4},
		{elf.EM_AARCH64, uint32(elf.R_AARCH64_CALL26), 0, 4},
		{elf.EM_AARCH64, uint32(elf.R_AARCH64_ABS64), 0, 8},
	}
	for _, tt := range tests {
		lo, hi := RelocField(tt.m, Reloc{Type: tt.typ})
		if lo != tt.lo || hi != tt.hi {
			t.Errorf("%v type %d: [%d,%d), want [%d,%d)", tt.m, tt.typ, lo, hi, tt.lo, tt.hi)
		}
	}
}
