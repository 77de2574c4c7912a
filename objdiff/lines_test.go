package objdiff

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// TestLinesPerSection checks that the line table tells apart positions of
// different code sections of a relocatable object, which all start at 0:
// process is at .text+0 and process.cold at .text.unlikely+0, on other
// source lines.
func TestLinesPerSection(t *testing.T) {
	dir := fixture.Build(t, "diff-cold")
	o, err := Open(filepath.Join(dir, "orig.o"))
	if err != nil {
		t.Fatal(err)
	}
	if o.lines == nil {
		t.Fatalf("no line table: %v", o.linesErr)
	}
	hot, cold := o.File.Lookup("process"), o.File.Lookup("process.cold")
	if len(hot) != 1 || len(cold) != 1 || hot[0].Value != 0 || cold[0].Value != 0 || hot[0].Shndx == cold[0].Shndx {
		t.Fatalf("fixture: want process and process.cold at offset 0 of two sections, got %+v %+v", hot, cold)
	}
	src := filepath.Join(dir, "orig.c")
	f1, l1, ok1 := o.lines.at(hot[0].Shndx, 0)
	f2, l2, ok2 := o.lines.at(cold[0].Shndx, 0)
	if !ok1 || !ok2 || f1 != mainFile || f2 != mainFile {
		t.Fatalf("lines: %q:%d %v, %q:%d %v", f1, l1, ok1, f2, l2, ok2)
	}
	if want := sourceLine(t, src, "int process("); l1 < want || l1 > want+5 {
		t.Errorf("process+0 is on line %d, want one of the function's first lines (from %d)", l1, want)
	}
	// The cold piece starts with the load of report's message.
	if want := sourceLine(t, src, `report("negative"`); l2 != want {
		t.Errorf("process.cold+0 is on line %d, want %d (the report call)", l2, want)
	}
	// Beyond every sequence: nothing.
	if _, _, ok := o.lines.at(hot[0].Shndx, 1<<20); ok {
		t.Error("a position beyond the code has a line")
	}
}

// TestNoLineTable: an object without DWARF has no line table and no error.
func TestNoLineTable(t *testing.T) {
	dir := fixture.Build(t, "diff-line")
	o, err := Open(filepath.Join(dir, "orig-nog.o"))
	if err != nil {
		t.Fatal(err)
	}
	if o.lines != nil || o.linesErr != nil {
		t.Errorf("lines %v, error %v; want neither", o.lines, o.linesErr)
	}
}

// FuzzObject: NewObject never panics on mutated fixture objects; an
// object it returns compares with itself without a difference... or at
// least without a panic (mutations can make code undecodable the same
// way on both sides), and with a real object without a panic.
func FuzzObject(f *testing.F) {
	dir := fixture.Build(f, "diff-line")
	ref, err := Open(filepath.Join(dir, "orig.o"))
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range []string{"orig.o", "patched.o", "orig-nog.o"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := NewObject(bytes.NewReader(data), "fuzz.o")
		if err != nil {
			return
		}
		d := Compare(o, o)
		if len(d.Added)+len(d.Removed) > 0 {
			t.Errorf("an object compared with itself has added or removed functions: %+v", d)
		}
		Compare(ref, o)
		Compare(o, ref)
	})
}
