package dwarfinfo_test

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/internal/fixture"
)

// TestInlinesClones checks Inlines against the facts the clones fixture
// documents for gcc 12.2.
func TestInlinesClones(t *testing.T) {
	dir := fixture.Build(t, "clones")
	in, err := dwarfinfo.Inlines(filepath.Join(dir, "clones.o"))
	if err != nil {
		t.Fatal(err)
	}
	if !sort.SliceIsSorted(in.Funcs, func(i, j int) bool { return in.Funcs[i].Symbol < in.Funcs[j].Symbol }) {
		t.Error("Funcs not sorted by symbol")
	}
	// Clones are named by their symbol, with their origin.
	for sym, origin := range map[string]string{
		"big.constprop.0": "big", "splitme.part.0": "splitme", "leafy.constprop.0.isra.0": "leafy",
		"usesx.constprop.0": "usesx", "use_add": "use_add",
	} {
		fn, ok := in.Func(sym)
		if !ok {
			t.Errorf("no function %s", sym)
			continue
		}
		if fn.Origin != origin || fn.NoSymbol || fn.Size == 0 {
			t.Errorf("%s: origin %q NoSymbol %v size %d, want origin %q", sym, fn.Origin, fn.NoSymbol, fn.Size, origin)
		}
	}
	// Inlined copies with their call sites.
	for _, c := range []struct {
		into, name string
		line       int
	}{
		{"use_add", "add1", 16}, {"sp1", "splitme", 61}, {"sp2", "splitme", 62}, {"sp3", "splitme", 63},
		{"usefact", "fact", 67},
	} {
		fn, ok := in.Func(c.into)
		if !ok {
			t.Errorf("no function %s", c.into)
			continue
		}
		i := slices.IndexFunc(fn.Inlined, func(i dwarfinfo.Inline) bool { return i.Name == c.name })
		if i < 0 {
			t.Errorf("%s: %s not inlined; inlined: %+v", c.into, c.name, fn.Inlined)
			continue
		}
		got := fn.Inlined[i]
		if got.Into != c.into || got.Depth != 1 || got.File != "clones.c" || got.Line != c.line {
			t.Errorf("%s: %+v, want %s inlined at clones.c:%d, depth 1", c.into, got, c.name, c.line)
		}
	}
	cont := in.Containment()
	for x, want := range map[string][]string{
		"splitme": {"splitme.part.0", "sp1", "sp2", "sp3"},
		"add1":    {"use_add"},
		"big":     {"big.constprop.0"},
		"leafy":   {"leafy.constprop.0.isra.0"},
		"fact":    {"usefact"},
	} {
		var got []string
		for h := range cont[x] {
			got = append(got, h)
		}
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("Containment()[%s] = %v, want %v", x, got, want)
		}
	}
}

// TestInlinesNested: a function inlined into an inlined copy is listed
// with depth 2 and the copy it went into.
func TestInlinesNested(t *testing.T) {
	dir := fixture.Build(t, "livepatch-flags")
	in, err := dwarfinfo.Inlines(filepath.Join(dir, "plain.o"))
	if err != nil {
		t.Fatal(err)
	}
	fn, ok := in.Func("use_add2")
	if !ok {
		t.Fatal("no use_add2")
	}
	want := []dwarfinfo.Inline{
		{Name: "add2", Into: "use_add2", Depth: 1, File: "lp.c", Line: 37, DeclFile: "lp.c", DeclLine: 36},
		{Name: "add1", Into: "add2", Depth: 2, File: "lp.c", Line: 36, DeclFile: "lp.c", DeclLine: 34},
	}
	if !slices.Equal(fn.Inlined, want) {
		t.Errorf("use_add2 inlined %+v, want %+v", fn.Inlined, want)
	}
	holders := in.Containment()["add1"]
	if !holders["use_add"] || !holders["use_add2"] || len(holders) != 2 {
		t.Errorf("add1 held by %v, want use_add and use_add2", holders)
	}
}

// TestInlinesICF: same2 folded into same1 is an alias of it.
func TestInlinesICF(t *testing.T) {
	dir := fixture.Build(t, "livepatch-flags")
	for obj, want := range map[string][]string{"plain.o": {"same2"}, "lp.o": nil, "ftrace.o": {"same2"}} {
		in, err := dwarfinfo.Inlines(filepath.Join(dir, obj))
		if err != nil {
			t.Fatal(err)
		}
		fn, ok := in.Func("same1")
		if !ok {
			t.Fatalf("%s: no same1", obj)
		}
		if !slices.Equal(fn.Aliases, want) {
			t.Errorf("%s: same1 aliases %v, want %v", obj, fn.Aliases, want)
		}
	}
}

// coldC has a hot/cold split: the path calling report (declared cold) is
// moved into process.cold in .text.unlikely.
const coldC = `volatile int sink;
extern void report(const char *, int) __attribute__((cold));
static inline int check(int v, int i) { if (v < 0) { report("negative", i); sink = i; } return v; }
int process(int *p, int n)
{
	int r = 0;
	for (int i = 0; i < n; i++)
		r += check(p[i], i) * 3;
	return r;
}
`

// TestInlinesColdPieces: the .cold part of a hot/cold split is a piece of
// its function, with or without -ffunction-sections (where every hot and
// cold part starts at address 0 of its own section).
func TestInlinesColdPieces(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "cold.c")
	if err := os.WriteFile(src, []byte(coldC), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flags := range [][]string{{"-O2", "-g"}, {"-O2", "-g", "-ffunction-sections"}} {
		t.Run(strings.Join(flags, " "), func(t *testing.T) {
			obj := filepath.Join(dir, "cold.o")
			args := append(append([]string{}, flags...), "-c", "-o", obj, src)
			if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
				t.Fatalf("gcc %v: %v\n%s", args, err, out)
			}
			in, err := dwarfinfo.Inlines(obj)
			if err != nil {
				t.Fatal(err)
			}
			fn, ok := in.Func("process")
			if !ok {
				t.Fatalf("no process in %+v", in.Funcs)
			}
			if !slices.Equal(fn.Pieces, []string{"process.cold"}) {
				t.Errorf("process pieces %v, want [process.cold]", fn.Pieces)
			}
			if h := in.Containment()["check"]; !h["process"] || !h["process.cold"] {
				t.Errorf("check held by %v, want process and its cold piece", h)
			}
			if _, ok := in.Func("process.cold"); ok {
				t.Error("process.cold listed as a function of its own")
			}
		})
	}
}

// TestInlinesOriginOutOfRange: an inlined copy whose DW_AT_abstract_origin
// points past .debug_info fails the read, naming the object and the
// entry's offset (the copy was dropped, and with it a holder of the
// inlined function's code).
func TestInlinesOriginOutOfRange(t *testing.T) {
	dir := fixture.Build(t, "clones")
	obj := filepath.Join(dir, "clones.o")
	ef, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ef.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	sec := ef.Section(".debug_info")
	if sec == nil || sec.Flags&elf.SHF_COMPRESSED != 0 {
		t.Fatal("want an uncompressed .debug_info")
	}
	secOff := sec.Offset
	// The first inlined copy, and the unit it is in.
	r := d.Reader()
	var unit, inl dwarf.Offset
	var origin dwarf.Offset
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			t.Fatalf("no inlined copy in %s (%v)", obj, err)
		}
		if e.Tag == dwarf.TagCompileUnit {
			unit = e.Offset
		}
		if e.Tag == dwarf.TagInlinedSubroutine {
			inl = e.Offset
			origin, _ = e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
			break
		}
	}
	ef.Close()
	b, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	// GCC writes the origin as DW_FORM_ref4, relative to the unit's
	// header, which starts a few bytes before its compile unit entry;
	// the reference follows the entry's abbrev code.
	var at = -1
	for hdr := int(unit) - 16; hdr <= int(unit); hdr++ {
		var v [4]byte
		binary.LittleEndian.PutUint32(v[:], uint32(int(origin)-hdr))
		win := b[int(secOff)+int(inl) : int(secOff)+int(inl)+8]
		if i := bytes.Index(win, v[:]); i >= 0 {
			at = int(secOff) + int(inl) + i
			break
		}
	}
	if at < 0 {
		t.Fatalf("DW_AT_abstract_origin %#x of the entry at %#x not found as a ref4", origin, inl)
	}
	binary.LittleEndian.PutUint32(b[at:], 0x7fff0000)
	bad := filepath.Join(t.TempDir(), "bad.o")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := dwarfinfo.Inlines(bad)
	if err == nil {
		t.Fatalf("Inlines(%s) = %d functions, no error; want the out-of-range origin reported", bad, len(in.Funcs))
	}
	want := fmt.Sprintf("%#x", int(inl))
	if !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), want) || !errors.Is(err, dwarfinfo.ErrCorrupt) {
		t.Errorf("Inlines: %v, want a corrupt-DWARF error naming %s and offset %s", err, bad, want)
	}
}
