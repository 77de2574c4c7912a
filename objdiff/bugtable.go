package objdiff

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klp-audit/klp-audit/object"
)

// BugLayout is one layout of the kernel's struct bug_entry
// (include/asm-generic/bug.h), which WARN() and BUG() put in section
// __bug_table: where the code address, file, line and flags sit.
type BugLayout struct {
	// Size is sizeof(struct bug_entry).
	Size int
	// Relative says the pointers are 32-bit displacements from the field
	// itself (CONFIG_GENERIC_BUG_RELATIVE_POINTERS: x86-64, arm64,
	// powerpc64, riscv64), not absolute 64-bit addresses.
	Relative bool
	// Verbose says file and line are present (CONFIG_DEBUG_BUGVERBOSE).
	Verbose bool
	// Field offsets; FileOff and LineOff are -1 without Verbose.
	AddrOff, FileOff, LineOff, FlagsOff int
}

// BugLayouts are the layouts ParseBugTable recognises, in the order it
// tries them. Linux 6.1 x86-64 with CONFIG_GENERIC_BUG_RELATIVE_POINTERS
// and CONFIG_DEBUG_BUGVERBOSE (every distribution kernel) uses the first:
//
//	struct bug_entry {
//		signed int	bug_addr_disp;	// .long 1b - .
//		signed int	file_disp;	// .long __FILE__ - .
//		unsigned short	line;		// .word __LINE__
//		unsigned short	flags;
//	};				// 12 bytes (.org 2b+12)
var BugLayouts = []BugLayout{
	{Size: 12, Relative: true, Verbose: true, AddrOff: 0, FileOff: 4, LineOff: 8, FlagsOff: 10},
	{Size: 8, Relative: true, Verbose: false, AddrOff: 0, FileOff: -1, LineOff: -1, FlagsOff: 4},
	{Size: 24, Relative: false, Verbose: true, AddrOff: 0, FileOff: 8, LineOff: 16, FlagsOff: 18},
	{Size: 16, Relative: false, Verbose: false, AddrOff: 0, FileOff: -1, LineOff: -1, FlagsOff: 8},
}

// BugEntry is one struct bug_entry: a WARN or BUG site.
type BugEntry struct {
	// Off is the entry's offset in __bug_table.
	Off uint64
	// Addr and File are the relocations (indexes into the relocations
	// given to ParseBugTable) that say where the trapping instruction
	// and the file name string are. File is -1 without Verbose.
	Addr, File int
	Line       uint16
	Flags      uint16
}

// ErrBugLayout is wrapped by ParseBugTable's error when the section
// matches none of BugLayouts.
var ErrBugLayout = errors.New("__bug_table layout not recognised")

// BugTableError is an error in a __bug_table section, at byte Off.
type BugTableError struct {
	Off int64
	Err error
}

func (e *BugTableError) Error() string {
	return fmt.Sprintf("__bug_table+%#x: %v", e.Off, e.Err)
}

func (e *BugTableError) Unwrap() error { return e.Err }

// ParseBugTable reads the __bug_table section of a relocatable object
// (little-endian but on s390x; see ParseBugTableOrder) from its contents and its relocations (sorted by Off, offsets relative
// to the section). It finds the layout by the relocations: each entry
// has one at its code address field (and, verbose, at its file field) of
// the expected kind, and none elsewhere. Any input gives entries or an
// error (a *BugTableError), never a panic.
func ParseBugTable(data []byte, relocs []object.Reloc, m elf.Machine) (BugLayout, []BugEntry, error) {
	var bo binary.ByteOrder = binary.LittleEndian
	if m == elf.EM_S390 {
		bo = binary.BigEndian
	}
	return ParseBugTableOrder(data, relocs, m, bo)
}

// ParseBugTableOrder is ParseBugTable for an object of byte order bo:
// ppc64 is big-endian or little-endian, and the line and flags fields
// are read in the object's order.
func ParseBugTableOrder(data []byte, relocs []object.Reloc, m elf.Machine, bo binary.ByteOrder) (BugLayout, []BugEntry, error) {
	if len(data) == 0 {
		return BugLayout{}, nil, nil
	}
	for i := 1; i < len(relocs); i++ {
		if relocs[i].Off < relocs[i-1].Off {
			return BugLayout{}, nil, &BugTableError{Off: int64(relocs[i].Off), Err: errors.New("relocations not sorted by offset")}
		}
	}
	for _, l := range BugLayouts {
		if es, ok := tryBugLayout(l, data, relocs, m, bo); ok {
			return l, es, nil
		}
	}
	return BugLayout{}, nil, &BugTableError{Off: 0, Err: fmt.Errorf("%w: %d bytes, %d relocations", ErrBugLayout, len(data), len(relocs))}
}

func tryBugLayout(l BugLayout, data []byte, relocs []object.Reloc, m elf.Machine, le binary.ByteOrder) ([]BugEntry, bool) {
	if len(data)%l.Size != 0 {
		return nil, false
	}
	n := len(data) / l.Size
	want := n
	if l.Verbose {
		want = 2 * n
	}
	if len(relocs) != want {
		return nil, false
	}
	es := make([]BugEntry, n)
	ri := 0
	next := func(off uint64) (int, bool) {
		if ri >= len(relocs) || relocs[ri].Off != off || !bugPointer(l, relocs[ri].Type, m) {
			return -1, false
		}
		ri++
		return ri - 1, true
	}
	for k := 0; k < n; k++ {
		base := uint64(k * l.Size)
		e := BugEntry{Off: base, File: -1}
		var ok bool
		if e.Addr, ok = next(base + uint64(l.AddrOff)); !ok {
			return nil, false
		}
		if l.Verbose {
			if e.File, ok = next(base + uint64(l.FileOff)); !ok {
				return nil, false
			}
			e.Line = le.Uint16(data[base+uint64(l.LineOff):])
		}
		e.Flags = le.Uint16(data[base+uint64(l.FlagsOff):])
		es[k] = e
	}
	return es, true
}

// bugPointer says relocation type typ fits a pointer field of layout l.
func bugPointer(l BugLayout, typ uint32, m elf.Machine) bool {
	switch m {
	case elf.EM_X86_64:
		if l.Relative {
			return elf.R_X86_64(typ) == elf.R_X86_64_PC32
		}
		return elf.R_X86_64(typ) == elf.R_X86_64_64
	case elf.EM_AARCH64:
		if l.Relative {
			return elf.R_AARCH64(typ) == elf.R_AARCH64_PREL32
		}
		return elf.R_AARCH64(typ) == elf.R_AARCH64_ABS64
	}
	return bugPointerOther(l, m, typ)
}
