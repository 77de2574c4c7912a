package callgraph

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/internal/safeio"
)

// checkLacks fails when elfLacks says an object lacks name but debug/elf
// (as definedFuncs reads it) fails on it or finds a function symbol
// named name.
func checkLacks(t *testing.T, data []byte, name string) bool {
	t.Helper()
	if !elfLacks(bytes.NewReader(data), int64(len(data)), name, &lackBuf{}) {
		return false
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("elfLacks(%q) true, but elf.NewFile: %v", name, err)
	}
	if err := safeio.CheckCompressed(f, "x.o", int64(len(data))); err != nil {
		t.Fatalf("elfLacks(%q) true, but %v", name, err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("elfLacks(%q) true, but Symbols: %v", name, err)
	}
	for _, s := range syms {
		if s.Name == name {
			t.Fatalf("elfLacks(%q) true, but a symbol is named so: %+v", name, s)
		}
	}
	return true
}

// lackSeeds returns a compiled object of the fixtures and the names of
// its function symbols.
func lackSeeds(tb testing.TB) ([]byte, []string) {
	ps, err := filepath.Glob(filepath.Join(fixture.Build(tb, "statics"), "*.o"))
	if err != nil || len(ps) == 0 {
		tb.Fatalf("no objects: %v", err)
	}
	data, err := os.ReadFile(ps[0])
	if err != nil {
		tb.Fatal(err)
	}
	names, _, err := definedFuncs(ps[0], false)
	if err != nil || len(names) == 0 {
		tb.Fatalf("%s: %v, %d functions", ps[0], err, len(names))
	}
	return data, names
}

// TestElfLacks: of a real object, the names of its functions are not
// lacked and others are; an object changed where debug/elf would fail,
// or decompress, or where the check does not look, is never said to
// lack a name.
func TestElfLacks(t *testing.T) {
	data, names := lackSeeds(t)
	for _, n := range names {
		if checkLacks(t, data, n) {
			t.Errorf("elfLacks(%q) true of the object that defines it", n)
		}
	}
	if !checkLacks(t, data, "no_such_function") {
		t.Error(`elfLacks("no_such_function") false of a plain object`)
	}
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	bo := ef.ByteOrder
	shoff := int(bo.Uint64(data[0x28:]))
	shstrndx := int(bo.Uint16(data[0x3e:]))
	var symtab int
	for i, s := range ef.Sections {
		if s.Type == elf.SHT_SYMTAB {
			symtab = i
		}
	}
	sh := func(i int) int { return shoff + i*64 }
	for _, c := range []struct {
		what   string
		change func(b []byte)
	}{
		{"32-bit class", func(b []byte) { b[elf.EI_CLASS] = byte(elf.ELFCLASS32) }},
		{"bad version", func(b []byte) { bo.PutUint32(b[20:], 2) }},
		{"program headers", func(b []byte) { bo.PutUint16(b[0x38:], 1) }},
		{"section headers past the end", func(b []byte) { bo.PutUint64(b[0x28:], uint64(len(b)-10)) }},
		{"no section names", func(b []byte) { bo.PutUint16(b[0x3e:], 0) }},
		{"a compressed section", func(b []byte) { bo.PutUint64(b[sh(1)+8:], bo.Uint64(b[sh(1)+8:])|uint64(elf.SHF_COMPRESSED)) }},
		{"a .zdebug section", func(b []byte) {
			name := int(bo.Uint32(b[sh(1):]))
			copy(b[int(ef.Sections[shstrndx].Offset)+name:], ".zdebug")
		}},
		{"a section name past its table", func(b []byte) { bo.PutUint32(b[sh(1):], uint32(ef.Sections[shstrndx].Size)) }},
		{"section names without their NUL", func(b []byte) {
			s := ef.Sections[shstrndx]
			b[int(s.Offset+s.Size)-1] = 'x'
		}},
		{"no symbol table", func(b []byte) { bo.PutUint32(b[sh(symtab)+4:], uint32(elf.SHT_PROGBITS)) }},
		{"symbol table link 0", func(b []byte) { bo.PutUint32(b[sh(symtab)+40:], 0) }},
		{"symbol table of part of an entry", func(b []byte) { bo.PutUint64(b[sh(symtab)+32:], bo.Uint64(b[sh(symtab)+32:])-1) }},
		{"string table past the end", func(b []byte) {
			str := sh(int(ef.Sections[symtab].Link))
			bo.PutUint64(b[str+24:], uint64(len(b)))
		}},
		{"string table of no bits", func(b []byte) {
			bo.PutUint32(b[sh(int(ef.Sections[symtab].Link))+4:], uint32(elf.SHT_NOBITS))
		}},
		{"cut short", nil},
	} {
		b := append([]byte(nil), data...)
		if c.change != nil {
			c.change(b)
		} else {
			b = b[:len(b)-1]
		}
		if checkLacks(t, b, "no_such_function") {
			t.Errorf("%s: elfLacks true", c.what)
		}
		if checkUndefined(t, b) {
			t.Errorf("%s: readSymtab read it", c.what)
		}
	}
}

// FuzzElfLacks: whatever the bytes, an object elfLacks says lacks a name
// is one debug/elf reads without error, without a symbol of that name.
func FuzzElfLacks(f *testing.F) {
	data, names := lackSeeds(f)
	f.Add(data, names[0])
	f.Add(data, "no_such_function")
	f.Add(data[:200], "x")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		checkLacks(t, data, name)
		checkUndefined(t, data)
	})
}

// checkUndefined fails when readSymtab reads an object that debug/elf
// (as undefinedNames reads it) fails on, or whose undefined symbols
// debug/elf names otherwise; it reports whether readSymtab read it.
func checkUndefined(t *testing.T, data []byte) bool {
	t.Helper()
	rs, ok := readSymtab(bytes.NewReader(data), int64(len(data)), &lackBuf{}, true)
	if !ok {
		return false
	}
	got := rs.undefined()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("readSymtab read it, but elf.NewFile: %v", err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("readSymtab read it, but Symbols: %v", err)
	}
	var want []string
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF && s.Name != "" {
			want = append(want, s.Name)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("undefined symbols %q, debug/elf %q", got, want)
	}
	return true
}

// TestRawUndefined: the undefined symbols read from the raw symbol
// table are debug/elf's, on every object of three fixtures (the
// damaged objects of TestElfLacks are never read: checkUndefined runs
// in FuzzElfLacks too).
func TestRawUndefined(t *testing.T) {
	var paths []string
	for _, n := range []string{"objcalls", "rule-callers", "statics"} {
		ps, _ := filepath.Glob(filepath.Join(fixture.Build(t, n), "*.o"))
		paths = append(paths, ps...)
	}
	checkRawUndefined(t, paths)
}

// TestKernelRawUndefined is TestRawUndefined on kernel/'s objects.
func TestKernelRawUndefined(t *testing.T) {
	ps, _ := filepath.Glob(filepath.Join(fixture.KernelTree(t), "kernel", "*.o"))
	checkRawUndefined(t, ps)
}

func checkRawUndefined(t *testing.T, paths []string) {
	t.Helper()
	read, undef := 0, 0
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		checkDefined(t, p)
		if checkUndefined(t, data) {
			read++
			rs, _ := readSymtab(bytes.NewReader(data), int64(len(data)), &lackBuf{}, true)
			undef += len(rs.undefined())
		}
	}
	if read != len(paths) || undef == 0 {
		t.Errorf("%d of %d objects read, %d undefined symbols", read, len(paths), undef)
	}
}

// checkDefined fails when definedFuncs (which reads the raw symbol
// table) names other function symbols, or other weak ones, than
// debug/elf's File.Symbols gives for the object at path.
func checkDefined(t *testing.T, path string) {
	t.Helper()
	names, weak, err := definedFuncs(path, false)
	f, ferr := elf.Open(path)
	if ferr != nil {
		t.Fatal(ferr)
	}
	defer f.Close()
	syms, ferr := f.Symbols()
	if err != nil || ferr != nil {
		t.Fatalf("%s: %v, debug/elf: %v", path, err, ferr)
	}
	var want []string
	wantWeak := map[string]bool{}
	strong := map[string]bool{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF {
			want = append(want, s.Name)
			if elf.ST_BIND(s.Info) == elf.STB_WEAK {
				wantWeak[s.Name] = true
			} else {
				strong[s.Name] = true
			}
		}
	}
	for n := range strong {
		delete(wantWeak, n)
	}
	if !slices.Equal(names, want) || len(weak) != len(wantWeak) {
		t.Fatalf("%s: functions %q weak %v; debug/elf %q weak %v", path, names, weak, want, wantWeak)
	}
	for n := range weak {
		if !wantWeak[n] {
			t.Fatalf("%s: weak %q; debug/elf %v", path, n, wantWeak)
		}
	}
}
