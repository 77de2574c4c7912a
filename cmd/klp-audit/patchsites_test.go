package main

import (
	"debug/elf"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// siteAt is a place in an object's code: a section and an offset in it.
type siteAt struct {
	sec string
	off uint64
}

// patchSite is an instruction the kernel patches at run time. note says
// what the table says of it (empty for a byte inside an alternative after
// its first).
type patchSite struct {
	note string
}

// rela is one relocation of a table: where in the table, against which
// symbol, with what addend.
type rela struct {
	off uint64
	typ elf.R_X86_64
	sym elf.Symbol
	add int64
}

// relasOf reads the SHT_RELA section applying to sec (x86-64, 64-bit).
func relasOf(t *testing.T, ef *elf.File, syms []elf.Symbol, sec *elf.Section) []rela {
	t.Helper()
	idx := -1
	for i, s := range ef.Sections {
		if s == sec {
			idx = i
		}
	}
	var out []rela
	for _, rs := range ef.Sections {
		if rs.Type != elf.SHT_RELA || int(rs.Info) != idx {
			continue
		}
		b, err := rs.Data()
		if err != nil {
			t.Fatalf("%s: %v", rs.Name, err)
		}
		if len(b)%24 != 0 {
			t.Fatalf("%s: %d bytes, not a whole number of 24-byte Elf64_Rela", rs.Name, len(b))
		}
		for i := 0; i+24 <= len(b); i += 24 {
			info := ef.ByteOrder.Uint64(b[i+8:])
			r := rela{off: ef.ByteOrder.Uint64(b[i:]), typ: elf.R_X86_64(uint32(info)), add: int64(ef.ByteOrder.Uint64(b[i+16:]))}
			if si := info >> 32; si > 0 && int(si) <= len(syms) {
				r.sym = syms[si-1]
			} else if si > 0 {
				t.Fatalf("%s: relocation at %#x names symbol %d of %d", rs.Name, r.off, si, len(syms))
			}
			out = append(out, r)
		}
	}
	return out
}

// patchSites reads obj's __jump_table and .altinstructions (Linux 6.1,
// x86-64) and returns the code they patch, by section and offset:
//
//	__jump_table      { s32 code, target; s64 key }                 16 bytes
//	.altinstructions  { s32 instr, repl; u16 feature; u8 instrlen, replen }  12
//
// The code and instr fields are relocated against the code section's
// symbol plus the site's offset (.text+0xe09: the assembler's "1b - ."),
// as readelf -rW shows in kernel/sched/core.o, where .text+0xe09 is the
// "xchg %ax,%ax" objtool wrote over preempt_notifier_register's static
// branch on preempt_notifier_key. A static branch's site is its one
// instruction (a NOP, or a jmp when the branch is likely), noted with its
// key and target; an alternative's is its instrlen bytes (the original
// instructions and the NOPs padding them to the replacement's length),
// noted with its feature word and both lengths at its first byte. Which
// replacement code runs is in .altinstr_replacement, which objdumpFuncs
// shows apart, as a function of its own.
func patchSites(t *testing.T, obj string) map[siteAt]patchSite {
	t.Helper()
	ef, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	jt, alt := ef.Section("__jump_table"), ef.Section(".altinstructions")
	if jt == nil && alt == nil {
		return nil
	}
	if ef.Class != elf.ELFCLASS64 || ef.Machine != elf.EM_X86_64 {
		t.Fatalf("%s: %s %s: patchSites reads x86-64 tables only", obj, ef.Class, ef.Machine)
	}
	syms, err := ef.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	secName := func(s elf.Symbol) string {
		if int(s.Section) < len(ef.Sections) && s.Section != elf.SHN_UNDEF {
			return ef.Sections[s.Section].Name
		}
		return ""
	}
	// place is where a relocation's symbol plus addend lands in its section.
	place := func(r rela) siteAt { return siteAt{secName(r.sym), r.sym.Value + uint64(r.add)} }
	// named writes a place as the symbol of kind typ covering it, +offset;
	// the section+offset when none does.
	named := func(p siteAt, typ elf.SymType) string {
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) == typ && secName(s) == p.sec && p.off >= s.Value && p.off < s.Value+max(s.Size, 1) {
				return fmt.Sprintf("%s+%#x", s.Name, p.off-s.Value)
			}
		}
		return fmt.Sprintf("%s+%#x", p.sec, p.off)
	}
	sites := map[siteAt]patchSite{}
	add := func(at siteAt, note string) {
		s := sites[at]
		if s.note != "" && note != "" {
			note = s.note + "; " + note
		} else if note == "" {
			note = s.note
		}
		sites[at] = patchSite{note: note}
	}

	if jt != nil {
		type entry struct {
			code, target siteAt
			key          string
			have         int
		}
		entries := map[uint64]*entry{}
		for _, r := range relasOf(t, ef, syms, jt) {
			e := entries[r.off/16]
			if e == nil {
				e = &entry{}
				entries[r.off/16] = e
			}
			switch r.off % 16 {
			case 0:
				e.code = place(r)
			case 4:
				e.target = place(r)
			case 8:
				if elf.ST_TYPE(r.sym.Info) == elf.STT_SECTION {
					e.key = named(place(r), elf.STT_OBJECT)
				} else {
					e.key = fmt.Sprintf("%s+%#x", r.sym.Name, r.add)
				}
			default:
				t.Fatalf("%s: __jump_table relocation at %#x: not a field of a 16-byte entry", obj, r.off)
			}
			e.have |= 1 << (r.off % 16 / 4)
		}
		for i, e := range entries {
			if e.have != 1|2|4 {
				t.Fatalf("%s: __jump_table entry %d (at %#x): relocations %b, want code, target and key", obj, i, i*16, e.have)
			}
			add(e.code, fmt.Sprintf("static branch on %s to <%s>", e.key, named(e.target, elf.STT_FUNC)))
		}
	}

	if alt != nil {
		b, err := alt.Data()
		if err != nil {
			t.Fatalf("%s: .altinstructions: %v", obj, err)
		}
		const size = 12
		if len(b)%size != 0 {
			t.Fatalf("%s: .altinstructions has %d bytes, not a whole number of %d-byte struct alt_instr", obj, len(b), size)
		}
		for _, r := range relasOf(t, ef, syms, alt) {
			if r.off%size != 0 {
				continue // the replacement's field
			}
			e := b[r.off : r.off+size]
			at, n := place(r), uint64(e[10])
			add(at, fmt.Sprintf("alternative feature %#x, %d bytes, replacement %d bytes", ef.ByteOrder.Uint16(e[8:]), n, e[11]))
			for o := at.off + 1; o < at.off+n; o++ {
				add(siteAt{at.sec, o}, "")
			}
		}
	}
	return sites
}

// TestCodeFuncsPatchSites: the truth of what code changed keeps a static
// branch. jump-label's orig.c and patched.c (see their header) differ in
// three functions whose instructions differ only in NOPs: gains has a
// second static branch site, rekeyed tests another key (its bytes are the
// same), padded only has more padding after it. codeFuncs says gains and
// rekeyed changed, not padded nor kept; the old truth, which took every
// NOP for padding (codeText without sites), saw no change at all. The
// fixture's sites are checked against readelf's relocations first.
func TestCodeFuncsPatchSites(t *testing.T) {
	fixture.NeedTools(t, "gcc", "objdump", "readelf")
	dir := fixture.Build(t, "jump-label")
	orig, patched := filepath.Join(dir, "orig.o"), filepath.Join(dir, "patched.o")

	// What the compiler produced: __jump_table relocations as readelf
	// prints them (Offset Info Type Value Name + Addend); the code field
	// of each 16-byte entry is at a multiple of 16.
	readelfSites := func(obj string) []string {
		b, err := exec.Command("readelf", "-rW", obj).Output()
		if err != nil {
			t.Fatalf("readelf -rW %s: %v", obj, err)
		}
		var out []string
		inJT := false
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Relocation section ") {
				inJT = strings.Contains(l, "'.rela__jump_table'")
				continue
			}
			f := strings.Fields(l)
			if !inJT || len(f) != 7 || f[5] != "+" {
				continue
			}
			var off uint64
			if _, err := fmt.Sscanf(f[0], "%x", &off); err == nil && off%16 == 0 {
				out = append(out, f[4]+"+0x"+f[6])
			}
		}
		return out
	}
	for obj, want := range map[string][]string{orig: {".text+0x0", ".text+0x20", ".text+0x40"}, patched: {".text+0x0", ".text+0x5", ".text+0x20", ".text+0x40"}} {
		got := readelfSites(obj)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("%s: readelf -rW: __jump_table code fields %v, want %v: the fixture no longer has the sites this test is about", filepath.Base(obj), got, want)
		}
		sites := patchSites(t, obj)
		for _, w := range want {
			var at siteAt
			fmt.Sscanf(strings.TrimPrefix(w, ".text+0x"), "%x", &at.off)
			at.sec = ".text"
			if !strings.HasPrefix(sites[at].note, "static branch on feature_") {
				t.Errorf("%s: patchSites at %s: %q, want a static branch on feature_a or feature_b", filepath.Base(obj), w, sites[at].note)
			}
		}
		if len(sites) != len(want) {
			t.Errorf("%s: patchSites %v, want the %d sites readelf shows", filepath.Base(obj), sites, len(want))
		}
	}

	// Each site is a 5-byte NOP in objdump; padded's padding grew.
	rawO, rawP := objdumpFuncs(t, orig), objdumpFuncs(t, patched)
	if got := strings.Count(rawP["gains"], "nopl   0x0(%rax,%rax,1)"); got != 2 {
		t.Errorf("patched gains has %d 5-byte NOPs, want its 2 sites:\n%s", got, rawP["gains"])
	}
	if rawO["rekeyed"] != rawP["rekeyed"] {
		t.Errorf("rekeyed's disassembly differs; the fixture means it to differ only in its key:\n%s\n%s", rawO["rekeyed"], rawP["rekeyed"])
	}
	if rawO["padded"] == rawP["padded"] || !strings.Contains(rawP["padded"], "nop") {
		t.Errorf("padded's padding did not change:\n%s", rawP["padded"])
	}

	differ := func(a, b map[string]string) []string {
		var out []string
		for _, n := range []string{"gains", "rekeyed", "kept", "padded", "after"} {
			if x, ok := a[n]; !ok || x != b[n] {
				out = append(out, n)
			}
		}
		return out
	}
	co, cp := codeFuncs(t, orig), codeFuncs(t, patched)
	if got := differ(co, cp); strings.Join(got, " ") != "gains rekeyed" {
		t.Errorf("codeFuncs differs in %v, want [gains rekeyed]\norig gains:\n%s\npatched gains:\n%s\norig rekeyed:\n%s\npatched rekeyed:\n%s",
			got, co["gains"], cp["gains"], co["rekeyed"], cp["rekeyed"])
	}
	if !strings.Contains(co["rekeyed"], "static branch on feature_a+0x0 to <rekeyed+0x10>") ||
		!strings.Contains(cp["rekeyed"], "static branch on feature_b+0x0 to <rekeyed+0x10>") {
		t.Errorf("rekeyed's site does not say its key and target:\n%s\n%s", co["rekeyed"], cp["rekeyed"])
	}
	// The old truth: every NOP taken as padding.
	oldO, oldP := codeText(objdumpFuncLines(t, orig), nil), codeText(objdumpFuncLines(t, patched), nil)
	if got := differ(oldO, oldP); len(got) != 0 {
		t.Errorf("without patch sites the truth differs in %v; the fixture means it to see no change", got)
	}
}
