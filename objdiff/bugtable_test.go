package objdiff

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/object"
)

// bugSection builds a __bug_table of entries (line, flags) in layout l,
// with the relocations an assembler would emit.
func bugSection(l BugLayout, m elf.Machine, lines ...uint16) ([]byte, []object.Reloc) {
	data := make([]byte, l.Size*len(lines))
	var rs []object.Reloc
	ptr := uint32(elf.R_X86_64_PC32)
	switch {
	case m == elf.EM_X86_64 && !l.Relative:
		ptr = uint32(elf.R_X86_64_64)
	case m == elf.EM_AARCH64 && l.Relative:
		ptr = uint32(elf.R_AARCH64_PREL32)
	case m == elf.EM_AARCH64:
		ptr = uint32(elf.R_AARCH64_ABS64)
	}
	for i, line := range lines {
		base := uint64(i * l.Size)
		rs = append(rs, object.Reloc{Off: base + uint64(l.AddrOff), Type: ptr, Sym: 1, Addend: int64(8 * i)})
		if l.Verbose {
			rs = append(rs, object.Reloc{Off: base + uint64(l.FileOff), Type: ptr, Sym: 2})
			binary.LittleEndian.PutUint16(data[base+uint64(l.LineOff):], line)
		}
		binary.LittleEndian.PutUint16(data[base+uint64(l.FlagsOff):], uint16(i))
	}
	return data, rs
}

func TestParseBugTable(t *testing.T) {
	for _, l := range BugLayouts {
		for _, m := range []elf.Machine{elf.EM_X86_64, elf.EM_AARCH64} {
			data, rs := bugSection(l, m, 770, 1051, 65535)
			t.Run(m.String()+"/"+strings.TrimSpace(strings.Repeat("verbose ", b2i(l.Verbose)))+map[bool]string{true: "relative", false: "absolute"}[l.Relative], func(t *testing.T) {
				got, es, err := ParseBugTable(data, rs, m)
				if err != nil {
					t.Fatalf("layout %+v: %v", l, err)
				}
				if got != l {
					t.Fatalf("layout %+v, want %+v", got, l)
				}
				if len(es) != 3 {
					t.Fatalf("%d entries, want 3", len(es))
				}
				for i, e := range es {
					wantLine := uint16(0)
					if l.Verbose {
						wantLine = []uint16{770, 1051, 65535}[i]
					}
					if e.Off != uint64(i*l.Size) || e.Line != wantLine || e.Flags != uint16(i) || rs[e.Addr].Addend != int64(8*i) ||
						(l.Verbose != (e.File >= 0)) {
						t.Errorf("entry %d: %+v", i, e)
					}
				}
			})
		}
	}
	bad := []struct {
		name   string
		data   []byte
		relocs []object.Reloc
	}{
		{"no relocations", make([]byte, 12), nil},
		{"size fits no layout", make([]byte, 13), nil},
		{"wrong relocation type", make([]byte, 12), []object.Reloc{{Off: 0, Type: uint32(elf.R_X86_64_32)}, {Off: 4, Type: uint32(elf.R_X86_64_32)}}},
		{"relocation in the line field", make([]byte, 12), []object.Reloc{{Off: 0, Type: uint32(elf.R_X86_64_PC32)}, {Off: 8, Type: uint32(elf.R_X86_64_PC32)}}},
		{"unsorted", make([]byte, 24), []object.Reloc{{Off: 12, Type: 2}, {Off: 0, Type: 2}}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, es, err := ParseBugTable(tt.data, tt.relocs, elf.EM_X86_64)
			var be *BugTableError
			if err == nil || !errors.As(err, &be) {
				t.Fatalf("got %d entries, error %v; want a *BugTableError", len(es), err)
			}
		})
	}
	if _, es, err := ParseBugTable(nil, nil, elf.EM_X86_64); err != nil || es != nil {
		t.Errorf("empty section: %v %v, want no entries and no error", es, err)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestBugLayoutKernel checks BugLayouts[0] against the kernel tree's
// headers and configuration, and the parser against its objects.
func TestBugLayoutKernel(t *testing.T) {
	tree := fixture.KernelTree(t)
	cfg, err := os.ReadFile(filepath.Join(tree, ".config"))
	if err != nil {
		t.Fatal(err)
	}
	for _, opt := range []string{"CONFIG_GENERIC_BUG=y", "CONFIG_GENERIC_BUG_RELATIVE_POINTERS=y", "CONFIG_DEBUG_BUGVERBOSE=y"} {
		if !strings.Contains(string(cfg), "\n"+opt+"\n") {
			t.Errorf(".config lacks %s", opt)
		}
	}
	hdr, err := os.ReadFile(filepath.Join(tree, "include/asm-generic/bug.h"))
	if err != nil {
		t.Fatal(err)
	}
	// struct bug_entry, with both options set: s32, s32, u16, u16.
	re := regexp.MustCompile(`(?s)struct bug_entry \{.*?#else\s+signed int\s+bug_addr_disp;.*?#else\s+signed int\s+file_disp;\s+#endif\s+unsigned short\s+line;\s+#endif\s+unsigned short\s+flags;\s+\};`)
	if !re.Match(hdr) {
		t.Error("include/asm-generic/bug.h: struct bug_entry is not {s32 bug_addr_disp; s32 file_disp; u16 line; u16 flags}")
	}
	x86, err := os.ReadFile(filepath.Join(tree, "arch/x86/include/asm/bug.h"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`__BUG_REL(val)	".long " __stringify(val) " - ."`, `"\t.word %c1"        "\t# bug_entry::line\n"`, `"\t.org 2b+%c3\n"`} {
		if !strings.Contains(string(x86), s) {
			t.Errorf("arch/x86/include/asm/bug.h lacks %q", s)
		}
	}
	for _, obj := range []string{"mm/memblock.o", "mm/page_alloc.o", "kernel/workqueue.o"} {
		o, err := Open(filepath.Join(tree, obj))
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range o.secs {
			if s.Name != "__bug_table" {
				continue
			}
			l, es, err := ParseBugTable(o.File.SectionData(i), o.File.SectionRelocs(i), o.File.Machine)
			if err != nil {
				t.Fatalf("%s: %v", obj, err)
			}
			if l != BugLayouts[0] || len(es) == 0 {
				t.Errorf("%s: layout %+v, %d entries", obj, l, len(es))
			}
			for _, e := range es {
				if e.Line == 0 || e.Flags&0xf0 != 0 { // BUGFLAG_* in the low nibble, the taint in the high byte
					t.Errorf("%s: implausible entry %+v", obj, e)
				}
			}
		}
	}
}

// FuzzParseBugTable: any section contents and relocations give entries
// that lie inside the section, or a *BugTableError; never a panic.
func FuzzParseBugTable(f *testing.F) {
	for _, l := range BugLayouts {
		data, rs := bugSection(l, elf.EM_X86_64, 1, 2)
		f.Add(data, encodeRelocs(rs), uint16(elf.EM_X86_64))
	}
	data, rs := bugSection(BugLayouts[0], elf.EM_AARCH64, 7)
	f.Add(data, encodeRelocs(rs), uint16(elf.EM_AARCH64))
	f.Add([]byte{}, []byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, data, relocs []byte, machine uint16) {
		rs := decodeRelocs(relocs)
		l, es, err := ParseBugTable(data, rs, elf.Machine(machine))
		if err != nil {
			var be *BugTableError
			if !errors.As(err, &be) {
				t.Fatalf("error %v is not a *BugTableError", err)
			}
			return
		}
		for _, e := range es {
			if l.Size == 0 || e.Off+uint64(l.Size) > uint64(len(data)) || e.Addr < 0 || e.Addr >= len(rs) || e.File >= len(rs) {
				t.Fatalf("entry %+v outside the section (%d bytes, %d relocations)", e, len(data), len(rs))
			}
		}
	})
}

// encodeRelocs packs relocations as the fuzzer's bytes: 12 bytes each
// (u32 offset, u32 type, u32 addend).
func encodeRelocs(rs []object.Reloc) []byte {
	b := make([]byte, 12*len(rs))
	for i, r := range rs {
		binary.LittleEndian.PutUint32(b[12*i:], uint32(r.Off))
		binary.LittleEndian.PutUint32(b[12*i+4:], r.Type)
		binary.LittleEndian.PutUint32(b[12*i+8:], uint32(r.Addend))
	}
	return b
}

func decodeRelocs(b []byte) []object.Reloc {
	var rs []object.Reloc
	for i := 0; i+12 <= len(b); i += 12 {
		rs = append(rs, object.Reloc{Off: uint64(binary.LittleEndian.Uint32(b[i:])), Type: binary.LittleEndian.Uint32(b[i+4:]),
			Sym: 1, Addend: int64(int32(binary.LittleEndian.Uint32(b[i+8:])))})
	}
	return rs
}
