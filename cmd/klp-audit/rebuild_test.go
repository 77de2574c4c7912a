package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/report"
)

// writeCmd writes kbuild's .NAME.o.cmd for obj, compiled from src in dir
// by the gcc command words.
func writeCmd(t *testing.T, dir, obj, src, gcc string) {
	t.Helper()
	cmd := "cmd_" + obj + " := " + gcc + "\n\nsource_" + obj + " := " + src + "\n\ndeps_" + obj + " := \\\n\n" +
		obj + ": $(deps_" + obj + ")\n\n$(deps_" + obj + "):\n"
	if err := os.WriteFile(filepath.Join(dir, "."+obj+".cmd"), []byte(cmd), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCheckLineNeutralFixture: the fix adds two lines to fixed() and
// changes limit(); the functions in between hold line numbers the fix
// only moves (passed to a function, scaled, in a __bug_table entry, in
// a macro call spanning lines). check's third, line-neutral build tells
// them apart exactly. The truth is gcc's: objdump of line.o against
// joined.o (the same change made without moving a line) differs in
// exactly fixed and limit, while objdump of the patched file compiled
// as it is differs in the line-holding functions too. warn_big's code
// does not differ at all: its line is in its __bug_table entry, which
// the test reads from the objects (debug/elf) to show that the line
// field, moved by two, is the only difference there.
func TestCheckLineNeutralFixture(t *testing.T) {
	if _, err := exec.LookPath("objdump"); err != nil {
		t.Skip("objdump not installed")
	}
	dir := fixture.Build(t, "rebuild-line")
	writeCmd(t, dir, "line.o", "line.c", "gcc -Wp,-MMD,./.line.o.d -O2 -g -fdump-ipa-clones -c -o line.o line.c")
	os.WriteFile(filepath.Join(dir, "lp.yaml"), []byte("- old_name: fixed\n- old_name: limit\n"), 0o644)

	// gcc's truth.
	orig, joined := objdumpFuncs(t, filepath.Join(dir, "line.o")), objdumpFuncs(t, filepath.Join(dir, "joined.o"))
	joinedBug := readBugTable(t, filepath.Join(dir, "joined.o"))
	os.Remove(filepath.Join(dir, "joined.o")) // not part of the build
	var real []string
	for n, body := range orig {
		if joined[n] != body {
			real = append(real, n)
		}
	}
	sort.Strings(real)
	if strings.Join(real, ",") != "fixed,limit" {
		t.Fatalf("objdump of line.o and joined.o differs in %v, want fixed and limit", real)
	}
	pdir := t.TempDir()
	src, _ := os.ReadFile(filepath.Join(dir, "line.c"))
	ptext := strings.Replace(strings.Replace(string(src), "{\n\treturn x * 3;", "{\n\tif (x < 0) return 0;\n\tif (x > 1000) return 1;\n\treturn x * 3;", 1),
		"return x > 62;", "return x > 64;", 1)
	os.WriteFile(filepath.Join(pdir, "line.c"), []byte(ptext), 0o644)
	gcc := exec.Command("gcc", "-O2", "-g", "-c", "-o", "line.o", "line.c")
	gcc.Dir = pdir
	if out, err := gcc.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	patched := objdumpFuncs(t, filepath.Join(pdir, "line.o"))
	shifted := []string{"report_args", "report_line", "report_scaled"}
	for _, n := range shifted {
		if patched[n] == orig[n] {
			t.Fatalf("%s: objdump of the patched build equals the original: the fixture shows no line shift", n)
		}
	}
	// warn_big's line sits in its __bug_table entry, not in its code:
	// gcc's objects must differ there alone, by the two lines the fix
	// adds above it, and the joined build must keep the original's line.
	if patched["warn_big"] != orig["warn_big"] {
		t.Fatalf("warn_big: objdump of the patched build differs from the original: its code changed, the fixture shows no line shift")
	}
	warnLine := func(text string) int {
		for i, l := range strings.Split(text, "\n") {
			if strings.Contains(l, "return WARN_ON(x > 100);") {
				return i + 1
			}
		}
		t.Fatal("no WARN_ON in warn_big")
		return 0
	}
	origBug, patchedBug := readBugTable(t, filepath.Join(dir, "line.o")), readBugTable(t, filepath.Join(pdir, "line.o"))
	wantOrig, wantPatched := warnLine(string(src)), warnLine(ptext)
	if wantPatched != wantOrig+2 {
		t.Fatalf("warn_big's WARN_ON moves from line %d to %d, want 2 lines down", wantOrig, wantPatched)
	}
	for _, b := range []struct {
		name string
		bt   bugTable
		line int
	}{{"line.o", origBug, wantOrig}, {"the patched line.o", patchedBug, wantPatched}} {
		if len(b.bt.entries) != 1 || b.bt.entries[0].fn != "warn_big" || b.bt.entries[0].file != "line.c" || b.bt.entries[0].line != b.line {
			t.Fatalf("%s: __bug_table %+v, want one entry of warn_big at line.c:%d", b.name, b.bt.entries, b.line)
		}
	}
	if o, p := origBug.entries[0], patchedBug.entries[0]; o.fnOff != p.fnOff || o.flags != p.flags {
		t.Errorf("warn_big's __bug_table entry differs beyond its line: %+v, patched %+v", o, p)
	}
	if !slices.Equal(origBug.relocs, patchedBug.relocs) {
		t.Errorf("__bug_table relocations differ: %v, patched %v", origBug.relocs, patchedBug.relocs)
	}
	var differ []int
	for i := range max(len(origBug.data), len(patchedBug.data)) {
		if i >= len(origBug.data) || i >= len(patchedBug.data) || origBug.data[i] != patchedBug.data[i] {
			differ = append(differ, i)
		}
	}
	if line := origBug.entries[0].off + bugLineOff; !slices.Equal(differ, []int{line, line + 1}) && !slices.Equal(differ, []int{line}) {
		t.Errorf("__bug_table bytes differ at %v, want only warn_big's line field (%#x)", differ, line)
	}
	if !slices.Equal(joinedBug.data, origBug.data) || !slices.Equal(joinedBug.relocs, origBug.relocs) {
		t.Errorf("__bug_table of joined.o %+v differs from line.o's %+v: the joined build should keep every line", joinedBug.entries, origBug.entries)
	}

	_, res, errs := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--funcs", "lp.yaml", "--rebuild-cache", "off")
	rb := res.Rebuild
	if rb == nil || !rb.Rebuilt || len(rb.Units) != 1 || !rb.Units[0].Faithful || !rb.Units[0].LineNeutral {
		t.Fatalf("rebuild %+v\nproblems %+v\n%s", rb, res.Problems, errs)
	}
	var changed, lines []string
	for _, f := range rb.Functions {
		if f.Cause == report.CauseLineShift {
			lines = append(lines, f.Name)
			if !strings.Contains(f.Detail, "line-neutral build") {
				t.Errorf("%s: line shift %q, want it proven by the line-neutral build", f.Name, f.Detail)
			}
			continue
		}
		changed = append(changed, f.Name)
	}
	sort.Strings(changed)
	sort.Strings(lines)
	if !slices.Equal(changed, real) {
		t.Errorf("changed %v, want %v (objdump of line.o against joined.o)", changed, real)
	}
	for _, n := range append(shifted, "warn_big") {
		if !slices.Contains(lines, n) {
			t.Errorf("%s: not a line shift (line shifts %v, changed %v)", n, lines, changed)
		}
	}
	if res.Verdict != "complete" || len(res.Missing) != 0 {
		t.Errorf("verdict %s, missing %v, unresolved %+v, problems %+v; want complete: fixed and limit are replaced", res.Verdict, names(res.Missing), res.Unresolved, res.Problems)
	}
}

// bugLineOff is the offset of the line in an x86-64 __bug_table entry
// as the fixture's WARN_ON writes it: .long code - ., .long file - .,
// .word line, .word flags, 12 bytes in all.
const bugLineOff, bugEntrySize = 8, 12

// bugTable is an object's __bug_table as gcc and the assembler wrote
// it: its bytes, its relocations ("offset type target", the target
// named by function and offset, or by string) and its
// entries read from them. The bytes a relocation fills are zero in a
// relocatable object, so data differs only in what no relocation
// covers: the line and the flags.
type bugTable struct {
	data    []byte
	relocs  []string
	entries []bugEntry
}

// bugEntry is one WARN/BUG site: the function its ud2 is in and the
// offset there, the file and line it records, and where it starts in
// the section.
type bugEntry struct {
	fn        string
	fnOff     uint64
	file      string
	line, off int
	flags     uint16
}

// readBugTable reads obj's __bug_table with debug/elf, resolving each
// entry's code address to the function holding it and its file to the
// string it points at.
func readBugTable(t *testing.T, obj string) bugTable {
	t.Helper()
	f, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sec := f.Section("__bug_table")
	if sec == nil || f.Section(".rela__bug_table") == nil {
		t.Fatalf("%s: no __bug_table or no .rela__bug_table", obj)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	var bt bugTable
	if bt.data, err = sec.Data(); err != nil {
		t.Fatal(err)
	}
	addrs, files := map[int]uint64{}, map[int]string{}
	for _, r := range relasOf(t, f, syms, sec) {
		// The section and address the relocation points at (symbol
		// value + addend; a data PC32 has no -4).
		if int(r.sym.Section) >= len(f.Sections) {
			t.Fatalf("%s: __bug_table relocation against %s, in no section", obj, r.sym.Name)
		}
		ts, addr := f.Sections[r.sym.Section], r.sym.Value+uint64(r.add)
		entry, field := int(r.off)/bugEntrySize*bugEntrySize, int(r.off)%bugEntrySize
		// The relocation by what it points at: a function and the
		// offset in it (code above it may grow), or the string.
		var what string
		switch {
		case r.typ != elf.R_X86_64_PC32:
			t.Fatalf("%s: __bug_table+%#x: relocation %v, want R_X86_64_PC32", obj, r.off, r.typ)
		case field == 0 && ts.Flags&elf.SHF_EXECINSTR != 0:
			addrs[entry] = addr
			for _, s := range syms {
				if elf.ST_TYPE(s.Info) == elf.STT_FUNC && f.Sections[s.Section] == ts && addr >= s.Value && addr < s.Value+s.Size {
					bt.entries = append(bt.entries, bugEntry{fn: s.Name, fnOff: addr - s.Value, off: entry})
					what = fmt.Sprintf("%s+%#x", s.Name, addr-s.Value)
				}
			}
		case field == 4:
			b, err := ts.Data()
			if err != nil || addr >= uint64(len(b)) {
				t.Fatalf("%s: __bug_table+%#x: file string at %s+%#x not readable (%v)", obj, r.off, ts.Name, addr, err)
			}
			str, _, _ := bytes.Cut(b[addr:], []byte{0})
			files[entry] = string(str)
			what = fmt.Sprintf("%s:%q", ts.Name, str)
		default:
			t.Fatalf("%s: __bug_table+%#x: relocation at field offset %d of an entry, want 0 (code) or 4 (file)", obj, r.off, field)
		}
		bt.relocs = append(bt.relocs, fmt.Sprintf("%#x %v %s", r.off, r.typ, what))
	}
	if len(bt.entries) != len(addrs) {
		t.Fatalf("%s: __bug_table code addresses %v, not each in one function: %+v", obj, addrs, bt.entries)
	}
	for i := range bt.entries {
		e := &bt.entries[i]
		if e.off+bugEntrySize > len(bt.data) {
			t.Fatalf("%s: __bug_table entry at %#x past the section's end (%d bytes)", obj, e.off, len(bt.data))
		}
		e.file = files[e.off]
		e.line = int(binary.LittleEndian.Uint16(bt.data[e.off+bugLineOff:]))
		e.flags = binary.LittleEndian.Uint16(bt.data[e.off+bugLineOff+2:])
	}
	return bt
}

// TestCheckRebuildStopsOnInputError: the compiles start as soon as the
// fix is located; an input error found later (a livepatch with no
// klp_func array) still exits 2, and leaves no scratch directory behind.
func TestCheckRebuildStopsOnInputError(t *testing.T) {
	dir := fixture.Build(t, "rebuild-line")
	writeCmd(t, dir, "line.o", "line.c", "gcc -Wp,-MMD,./.line.o.d -O2 -g -fdump-ipa-clones -c -o line.o line.c")
	os.WriteFile(filepath.Join(dir, "bad.c"), []byte("int x;\n"), 0o644)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	code, _, errs := run(t, dir, "check", "--diff", "fix.patch", "--build", ".", "--livepatch", "bad.c", "--rebuild-cache", "off")
	if code != ExitUsage {
		t.Fatalf("exit %d, want %d (input error)\n%s", code, ExitUsage, errs)
	}
	left, _ := os.ReadDir(tmp)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if len(names) > 0 {
		t.Errorf("scratch left behind in TMPDIR: %v", names)
	}
	// The same check with a good funcs list does rebuild there (so the
	// test above would see a scratch directory left behind).
	os.WriteFile(filepath.Join(dir, "lp.yaml"), []byte("- old_name: fixed\n"), 0o644)
	_, res, _ := checkJSON(t, dir, "--diff", "fix.patch", "--build", ".", "--funcs", "lp.yaml", "--rebuild-cache", "off")
	if res.Rebuild == nil || !res.Rebuild.Rebuilt {
		t.Errorf("no rebuild: %+v", res.Rebuild)
	}
}

// TestJoinedFix: joinedFix, the truth the kernel tests check line
// shifts against, rewrites a fix so that it moves no line. On
// rebuild-line, the rewritten fix.patch applied to line.c keeps its line
// count, and compiled its objdump equals joined.o's (the same change
// made by hand without moving a line) in every function. The reverse
// fix (deleting the two lines, padded) applied to the patched file
// changes exactly fixed and limit against that file's own compilation.
func TestJoinedFix(t *testing.T) {
	fixture.NeedTools(t, "patch", "diff", "objdump")
	dir := fixture.Build(t, "rebuild-line")
	compile := func(text []byte) map[string]string {
		t.Helper()
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, "line.c"), text, 0o644)
		fixture.Run(t, d, "gcc", "-O2", "-g", "-c", "-o", "line.o", "line.c")
		return objdumpFuncs(t, filepath.Join(d, "line.o"))
	}
	src, err := os.ReadFile(filepath.Join(dir, "line.c"))
	if err != nil {
		t.Fatal(err)
	}
	fix := filepath.Join(dir, "fix.patch")
	jfix, err := joinedFix(t, fix)
	if err != nil {
		t.Fatal(err)
	}
	_, apply := patchedBy(t, fix)
	_, applyJoined := patchedBy(t, jfix)
	patched, joined := apply(src), applyJoined(src)
	if n, m := bytes.Count(src, []byte("\n")), bytes.Count(joined, []byte("\n")); n != m {
		t.Errorf("the joined fix makes line.c %d lines long, want %d", m, n)
	}
	if d := changedFuncs(objdumpFuncs(t, filepath.Join(dir, "joined.o")), compile(joined)); len(d) > 0 {
		t.Errorf("joined fix compiled differs from joined.o in %v", d)
	}

	// The reverse: deletions padded with empty lines.
	work := t.TempDir()
	for _, side := range []struct {
		name string
		text []byte
	}{{"a", patched}, {"b", src}} {
		os.MkdirAll(filepath.Join(work, side.name), 0o755)
		os.WriteFile(filepath.Join(work, side.name, "line.c"), side.text, 0o644)
	}
	cmd := exec.Command("diff", "-u", "a/line.c", "b/line.c")
	cmd.Dir = work
	rev, _ := cmd.Output() // diff exits 1 when the files differ
	rfix := filepath.Join(work, "reverse.patch")
	os.WriteFile(rfix, rev, 0o644)
	jrev, err := joinedFix(t, rfix)
	if err != nil {
		t.Fatal(err)
	}
	_, applyRev := patchedBy(t, jrev)
	reverted := applyRev(patched)
	if n, m := bytes.Count(patched, []byte("\n")), bytes.Count(reverted, []byte("\n")); n != m {
		t.Errorf("the joined reverse fix makes the patched line.c %d lines long, want %d", m, n)
	}
	if d := changedFuncs(compile(patched), compile(reverted)); strings.Join(d, ",") != "fixed,limit" {
		t.Errorf("the joined reverse fix changes %v, want fixed and limit", d)
	}
}
