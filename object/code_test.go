package object

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenCode checks the raw material OpenCode keeps against debug/elf,
// which reads the same file independently.
func TestOpenCode(t *testing.T) {
	path := filepath.Join(fixtureDir(t, "objcalls"), "objcalls.o")
	plain, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if plain.HasCode() || plain.Symbols() != nil || plain.SectionData(1) != nil {
		t.Error("Open keeps code; only OpenCode should")
	}
	f, err := OpenCode(path)
	if err != nil {
		t.Fatal(err)
	}
	if !f.HasCode() || f.Linked() {
		t.Fatalf("HasCode %v Linked %v, want true false", f.HasCode(), f.Linked())
	}
	// OpenCode answers everything Open does, the same way.
	if len(f.Funcs) != len(plain.Funcs) || len(f.Refs) != len(plain.Refs) {
		t.Errorf("OpenCode: %d funcs %d refs, Open: %d funcs %d refs", len(f.Funcs), len(f.Refs), len(plain.Funcs), len(plain.Refs))
	}
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	esyms, err := ef.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	syms := f.Symbols()
	if len(syms) != len(esyms)+1 { // debug/elf drops the null symbol
		t.Fatalf("%d symbols, debug/elf has %d (+1 null)", len(syms), len(esyms))
	}
	for i, es := range esyms {
		s := syms[i+1]
		if s.Name != es.Name || s.Value != es.Value || s.Size != es.Size || s.Shndx != int(es.Section) ||
			s.Type != elf.ST_TYPE(es.Info) || s.Bind != elf.ST_BIND(es.Info) {
			t.Errorf("symbol %d: %+v, debug/elf %+v", i+1, s, es)
		}
	}
	if len(f.Sections()) != len(ef.Sections) {
		t.Fatalf("%d sections, debug/elf %d", len(f.Sections()), len(ef.Sections))
	}
	for i, s := range ef.Sections {
		h := f.Sections()[i]
		if h.Name != s.Name || h.Flags != s.Flags || h.Size != s.Size || h.Entsize != s.Entsize {
			t.Errorf("section %d: %+v, debug/elf %+v", i, h, s.SectionHeader)
		}
		d := f.SectionData(i)
		switch {
		case s.Flags&elf.SHF_ALLOC != 0 && s.Type == elf.SHT_PROGBITS:
			want, _ := s.Data()
			if !bytes.Equal(d, want) {
				t.Errorf("section %s: contents differ from debug/elf's", s.Name)
			}
		case d != nil:
			t.Errorf("section %s (%v, %v): data kept, want nil", s.Name, s.Type, s.Flags)
		}
	}
	// Relocations: .rela.text against .text, sorted.
	text := -1
	for i, s := range ef.Sections {
		if s.Name == ".text" {
			text = i
		}
	}
	rs := f.SectionRelocs(text)
	if len(rs) == 0 {
		t.Fatal("no relocations of .text")
	}
	for i := 1; i < len(rs); i++ {
		if rs[i].Off < rs[i-1].Off {
			t.Fatal("relocations not sorted")
		}
	}
	// Code and RelocsIn of one function: top calls ext_helper through a
	// relocation (R_X86_64_PLT32 ext_helper - 4).
	top := f.Lookup("top")
	if len(top) != 1 {
		t.Fatal("no top")
	}
	code, relocs, ok := f.Code(top[0])
	if !ok || uint64(len(code)) != top[0].Size {
		t.Fatalf("Code(top): %d bytes ok=%v, want %d", len(code), ok, top[0].Size)
	}
	data, _ := ef.Sections[text].Data()
	if !bytes.Equal(code, data[top[0].Value:top[0].Value+top[0].Size]) {
		t.Error("Code(top) is not top's bytes")
	}
	var names []string
	for _, r := range relocs {
		if r.Off < top[0].Value || r.Off >= top[0].Value+top[0].Size {
			t.Errorf("relocation at %#x outside top", r.Off)
		}
		names = append(names, syms[r.Sym].Name)
	}
	if !strings.Contains(strings.Join(names, " "), "ext_helper") {
		t.Errorf("top's relocations name %v, want ext_helper among them", names)
	}
	// A function of a plain File has no code to give.
	if _, _, ok := plain.Code(&plain.Funcs[0]); ok {
		t.Error("Code on a File read by Open: ok, want false")
	}
}

// FuzzOpenCode: NewFileCode never panics, names the file in its errors,
// and a File it returns answers its accessors within bounds.
func FuzzOpenCode(f *testing.F) {
	for _, o := range fixtureObjects {
		data, err := os.ReadFile(filepath.Join(fixtureDir(f, o.fixture), o.obj))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const path = "fuzz.o"
		file, err := NewFileCode(bytes.NewReader(data), path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		syms := file.Symbols()
		for i := range file.Sections() {
			_ = file.SectionData(i)
			for _, r := range file.SectionRelocs(i) {
				if r.Sym < 0 || r.Sym >= len(syms) {
					t.Fatalf("relocation symbol %d out of range", r.Sym)
				}
			}
		}
		for i := range file.Funcs {
			file.Code(&file.Funcs[i])
		}
	})
}
