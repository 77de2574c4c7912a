package object

import (
	"debug/elf"
	"encoding/binary"
	"testing"
)

// TestRelocField: the bytes a linker may rewrite.
func TestRelocField(t *testing.T) {
	x86 := &File{Machine: elf.EM_X86_64, Arch: &Arch{Machine: elf.EM_X86_64, Order: binary.LittleEndian}}
	arm := &File{Machine: elf.EM_AARCH64, Arch: &Arch{Machine: elf.EM_AARCH64, Order: binary.LittleEndian}}
	tests := []struct {
		f      *File
		typ    uint32
		lo, hi int64
	}{
		{x86, uint32(elf.R_X86_64_PLT32), 0, 4},
		{x86, uint32(elf.R_X86_64_64), 0, 8},
		{x86, uint32(elf.R_X86_64_REX_GOTPCRELX), -3, 4},
		{arm, uint32(elf.R_AARCH64_CALL26), 0, 4},
		{arm, uint32(elf.R_AARCH64_ABS64), 0, 8},
	}
	for _, tt := range tests {
		lo, hi := RelocField(tt.f, Reloc{Type: tt.typ})
		if lo != tt.lo || hi != tt.hi {
			t.Errorf("%v type %d: [%d,%d), want [%d,%d)", tt.f.Machine, tt.typ, lo, hi, tt.lo, tt.hi)
		}
	}
}
