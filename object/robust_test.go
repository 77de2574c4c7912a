package object

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// patchSection returns a copy of obj with field (a byte offset into the
// ELF64 section header) of section name overwritten by v.
func patchSection(t *testing.T, obj []byte, name string, field int, v uint32) []byte {
	t.Helper()
	ef, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	idx := -1
	for i, s := range ef.Sections {
		if s.Name == name {
			idx = i
			break
		}
	}
	if idx < 0 {
		t.Fatalf("no section %s", name)
	}
	shoff := binary.LittleEndian.Uint64(obj[0x28:])
	out := append([]byte(nil), obj...)
	binary.LittleEndian.PutUint32(out[int(shoff)+idx*64+field:], v)
	return out
}

const (
	shType = 4  // sh_type in Elf64_Shdr
	shOff  = 24 // low half of sh_offset
	shLink = 40 // sh_link
)

// TestBadInput checks that unreadable input gives an error naming the
// file, wrapping the documented sentinel where there is one, and never a
// panic.
func TestBadInput(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(fixtureDir(t, "objcalls"), "objcalls.o"))
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	relaText := ef.Section(".rela.text")
	firstRela := int(relaText.Offset)
	badRelocSym := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(badRelocSym[firstRela+12:], 0xfffffff) // r_info's symbol half
	tests := []struct {
		name  string
		data  []byte
		is    error // nil: any error
		noErr bool  // input that still reads (e.g. only padding cut)
	}{
		{name: "empty", data: nil},
		{name: "not ELF", data: []byte("#!/bin/sh\necho this is not an object\n")},
		{name: "garbage", data: bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 300)},
		{name: "ELF magic only", data: []byte("\x7fELF")},
		{name: "truncated to the header", data: good[:64]},
		{name: "truncated by half", data: good[:len(good)/2]},
		{name: "last byte missing", data: good[:len(good)-1]},
		{name: "no symbol table", data: patchSection(t, good, ".symtab", shType, uint32(elf.SHT_PROGBITS)), is: ErrNoSymbols},
		{name: "symbol table with a bad string table link", data: patchSection(t, good, ".symtab", shLink, 9999), is: ErrCorrupt},
		{name: "symbol table beyond the file", data: patchSection(t, good, ".symtab", shOff, 0x7fffff00)},
		{name: "string table is NOBITS", data: patchSection(t, good, ".strtab", shType, uint32(elf.SHT_NOBITS)), is: ErrCorrupt},
		{name: ".text beyond the file", data: patchSection(t, good, ".text", shOff, 0x7fffff00), is: ErrCorrupt},
		{name: "relocation names a symbol that does not exist", data: badRelocSym, is: ErrCorrupt},
		{name: "32-bit class", data: func() []byte { b := append([]byte(nil), good...); b[4] = byte(elf.ELFCLASS32); return b }()},
		{name: "big-endian", data: func() []byte { b := append([]byte(nil), good...); b[5] = byte(elf.ELFDATA2MSB); return b }()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const path = "testdata/broken.o"
			f, err := NewFile(bytes.NewReader(tc.data), path)
			if tc.noErr {
				if err != nil {
					t.Fatalf("NewFile: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("NewFile read %d functions from bad input, want an error", len(f.Funcs))
			}
			if f != nil {
				t.Errorf("NewFile returned a File with error %v", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q does not wrap %v", err, tc.is)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.o")
		if _, err := Open(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("Open(missing) = %v, want an error naming %s", err, path)
		}
	})
	t.Run("every truncation", func(t *testing.T) {
		// Cutting the file anywhere gives an error or a File, never a
		// panic; the section headers sit at the end of gcc's objects.
		for n := 0; n < len(good); n += 97 {
			f, err := NewFile(bytes.NewReader(good[:n]), "cut.o")
			if err == nil {
				t.Errorf("truncated to %d of %d bytes: read %d functions, want an error", n, len(good), len(f.Funcs))
			} else if !strings.Contains(err.Error(), "cut.o") {
				t.Errorf("truncated to %d: error %q does not name the file", n, err)
			}
		}
	})
}

// TestOpenAll checks the parallel opener: order kept, a bad file reported
// by name in the joined error, the others still read.
func TestOpenAll(t *testing.T) {
	dir := fixtureDir(t, "objcalls")
	bad := filepath.Join(t.TempDir(), "bad.o")
	if err := os.WriteFile(bad, []byte("not an object"), 0o644); err != nil {
		t.Fatal(err)
	}
	paths := []string{filepath.Join(dir, "objcalls.o"), bad, filepath.Join(dir, "objcalls-fs.o")}
	for _, workers := range []int{0, 1, 2, 8} {
		files, err := OpenAll(paths, workers)
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("workers %d: error %v, want one naming %s", workers, err, bad)
		}
		if len(files) != 3 || files[0] == nil || files[1] != nil || files[2] == nil {
			t.Fatalf("workers %d: files %v, want [File nil File]", workers, files)
		}
		if files[0].Path != paths[0] || files[2].Path != paths[2] {
			t.Errorf("workers %d: order lost: %s, %s", workers, files[0].Path, files[2].Path)
		}
	}
}

// TestARM64 checks an AArch64 object assembled by llvm-mc.
func TestARM64(t *testing.T) {
	mc, err := exec.LookPath("llvm-mc")
	if err != nil {
		t.Skip("llvm-mc not installed")
	}
	obj := filepath.Join(t.TempDir(), "arm64calls.o")
	if out, err := exec.Command(mc, "-triple=aarch64-linux-gnu", "-filetype=obj", "-o", obj, "testdata/arm64calls.s").CombinedOutput(); err != nil {
		t.Skipf("llvm-mc cannot assemble for aarch64: %v\n%s", err, out)
	}
	f, err := Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	if f.Machine != elf.EM_AARCH64 || !f.HasCallGraph {
		t.Fatalf("machine %v, call graph %v", f.Machine, f.HasCallGraph)
	}
	want := []string{
		"caller AddrRef callee_local",
		"caller AddrRef callee_local reloc",
		"caller Call callee_local",
		"caller Call ext_func reloc",
		"caller TailCall tailee",
		"ops DataRef callee_local reloc",
		"ops DataRef caller reloc",
		"other Call callee_local reloc",
		"other TailCall caller reloc",
		"tailee TailCall callee_local",
		"tailee TailCall ext_func reloc",
	}
	if got := edges(f.Refs); !reflect.DeepEqual(got, want) {
		t.Errorf("refs\n got %q\nwant %q", got, want)
	}
	var fentry []string
	for _, fn := range f.Funcs {
		if fn.Fentry {
			fentry = append(fentry, fn.Name)
		}
	}
	sort.Strings(fentry)
	if !reflect.DeepEqual(fentry, []string{"traced"}) {
		t.Errorf("functions with a patchable entry: %v, want [traced]", fentry)
	}
}

// FuzzOpen feeds NewFile mutated fixture objects: it must never panic,
// every error must name the file, and a File it returns must answer the
// lookups.
func FuzzOpen(f *testing.F) {
	for _, o := range fixtureObjects {
		data, err := os.ReadFile(filepath.Join(fixtureDir(f, o.fixture), o.obj))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const path = "fuzz.o"
		file, err := NewFile(bytes.NewReader(data), path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		for i := range file.Funcs {
			fn := &file.Funcs[i]
			_ = file.FuncAt(fn.Shndx, fn.Value)
			_ = file.Lookup(fn.Name)
			_ = file.RefsTo(fn)
			_ = file.RefsFrom(fn)
			_ = file.Callers(fn.Name)
		}
		for i := 1; i < len(file.Refs); i++ {
			if refLess(&file.Refs[i], &file.Refs[i-1]) {
				t.Errorf("refs not sorted: %+v before %+v", file.Refs[i-1], file.Refs[i])
			}
		}
	})
}
