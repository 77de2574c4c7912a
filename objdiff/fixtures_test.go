package objdiff

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// These tests compile the C fixtures under testdata/fixtures/diff-* with
// the machine's gcc and check the comparison against what gcc produced,
// as objdump (a disassembler sharing no code with ours) shows it.

// build compiles fixture name and compares orig with patched objects
// (names without .o) in it.
func diffFixture(t *testing.T, name, orig, patched string) (string, *ObjectDiff) {
	t.Helper()
	dir := fixture.Build(t, name)
	a, err := Open(filepath.Join(dir, orig+".o"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(filepath.Join(dir, patched+".o"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, Compare(a, b)
}

func changedNames(cs []Change) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func funcNames(fs []Function) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

// expect checks the four lists and the unchanged count of d.
func expect(t *testing.T, d *ObjectDiff, changed, lineShift, added, removed []string, unchanged int) {
	t.Helper()
	check := func(what string, got, want []string) {
		t.Helper()
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", what, got, want)
		}
	}
	check("changed", changedNames(d.Changed), changed)
	check("line-shift only", changedNames(d.LineShiftOnly), lineShift)
	check("added", funcNames(d.Added), added)
	check("removed", funcNames(d.Removed), removed)
	if d.Unchanged != unchanged {
		t.Errorf("unchanged: got %d, want %d", d.Unchanged, unchanged)
	}
	if t.Failed() {
		for _, c := range d.Changed {
			if c.First != nil {
				t.Logf("%s (%s): %+v", c.Name, c.Reason, *c.First)
			}
		}
	}
}

func change(d *ObjectDiff, name string) *Change {
	for i := range d.Changed {
		if d.Changed[i].Name == name {
			return &d.Changed[i]
		}
	}
	for i := range d.LineShiftOnly {
		if d.LineShiftOnly[i].Name == name {
			return &d.LineShiftOnly[i]
		}
	}
	return nil
}

// odInsn is one instruction objdump printed.
type odInsn struct {
	fn     string
	off    uint64 // offset in fn
	bytes  string // hex, space separated
	text   string
	relocs []string // "R_X86_64_PLT32 report-0x4" lines that follow it
}

var (
	odFuncRE  = regexp.MustCompile(`^[0-9a-f]+ <([^>]+)>:$`)
	odInsnRE  = regexp.MustCompile(`^\s*([0-9a-f]+):\t([0-9a-f ]+?)\s*\t(.*)$`)
	odRelocRE = regexp.MustCompile(`^\s*[0-9a-f]+: (R_\S+)\s+(\S+)$`)
)

// objdump disassembles path with GNU objdump -dr and returns its
// instructions by function.
func objdump(t *testing.T, path string) map[string][]odInsn {
	t.Helper()
	if _, err := exec.LookPath("objdump"); err != nil {
		t.Skip("objdump not installed")
	}
	out, err := exec.Command("objdump", "-dr", path).Output()
	if err != nil {
		t.Fatalf("objdump %s: %v", path, err)
	}
	res := map[string][]odInsn{}
	var fn string
	var start uint64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := odFuncRE.FindStringSubmatch(line); m != nil {
			fn = m[1]
			start = hexU(strings.Fields(line)[0])
			continue
		}
		if m := odRelocRE.FindStringSubmatch(line); m != nil && fn != "" {
			l := res[fn]
			if len(l) > 0 {
				l[len(l)-1].relocs = append(l[len(l)-1].relocs, m[1]+" "+m[2])
			}
			continue
		}
		if m := odInsnRE.FindStringSubmatch(line); m != nil && fn != "" {
			res[fn] = append(res[fn], odInsn{fn: fn, off: hexU(m[1]) - start, bytes: m[2], text: m[3]})
		}
	}
	return res
}

func hexU(s string) uint64 {
	var v uint64
	for _, c := range s {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= uint64(c - '0')
		case c >= 'a' && c <= 'f':
			v |= uint64(c-'a') + 10
		}
	}
	return v
}

// findInsn returns the first instruction of fn whose text matches re.
func findInsn(t *testing.T, od map[string][]odInsn, fn, re string) odInsn {
	t.Helper()
	rx := regexp.MustCompile(re)
	for _, in := range od[fn] {
		if rx.MatchString(in.text) {
			return in
		}
	}
	t.Fatalf("objdump shows no %q in %s: %v", re, fn, od[fn])
	return odInsn{}
}

// sourceLine returns the 1-based line of the first line of file that
// contains s.
func sourceLine(t *testing.T, file, s string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%s: no line with %q", file, s)
	return 0
}

// (a) A fix inside a static helper that gcc inlines into two callers.
func TestInlinedHelperFix(t *testing.T) {
	dir, d := diffFixture(t, "diff-inline", "orig", "patched")
	expect(t, d, []string{"limit", "read_buf", "write_buf"}, nil, nil, nil, 1)
	// The helper the source patch touches has no symbol on either side:
	// gcc inlined it into both callers.
	for _, o := range []string{"orig.o", "patched.o"} {
		if fs := objdump(t, filepath.Join(dir, o)); fs["clamp_len"] != nil {
			t.Errorf("%s has a clamp_len symbol; the fixture expects it inlined", o)
		}
	}
	for _, n := range []string{"read_buf", "write_buf"} {
		if c := change(d, n); c == nil || c.Reason != ReasonCode || c.First == nil {
			t.Errorf("%s: want a code change with its first difference, got %+v", n, c)
		}
	}
	// limit's constant went from 100 to 101: an immediate, but no line
	// number, so it is changed, never "line-shift only".
	c := change(d, "limit")
	if c == nil || c.Reason != ReasonImmediate || c.First == nil ||
		!strings.Contains(c.First.Orig, "$0x64") || !strings.Contains(c.First.Patched, "$0x65") {
		t.Errorf("limit: want an immediate change $0x64 -> $0x65, got %+v", c)
	}
}

// (b) Lines inserted above functions holding __LINE__.
func TestLineShift(t *testing.T) {
	dir, d := diffFixture(t, "diff-line", "orig", "patched")
	expect(t, d, nil, []string{"check_arg", "show_line", "warn_big"}, nil, nil, 1)
	l1 := sourceLine(t, filepath.Join(dir, "orig.c"), "report(__LINE__)")
	l2 := sourceLine(t, filepath.Join(dir, "patched.c"), "report(__LINE__)")
	if l2 == l1 {
		t.Fatalf("fixture: report(__LINE__) on line %d on both sides", l1)
	}
	// What gcc put in check_arg: "mov $LINE,%edi".
	od1 := objdump(t, filepath.Join(dir, "orig.o"))
	od2 := objdump(t, filepath.Join(dir, "patched.o"))
	m1, m2 := findInsn(t, od1, "check_arg", `^mov\s+\$0x[0-9a-f]+,%edi`), findInsn(t, od2, "check_arg", `^mov\s+\$0x[0-9a-f]+,%edi`)
	if !strings.Contains(m1.text, "$0x"+hexStr(l1)) || !strings.Contains(m2.text, "$0x"+hexStr(l2)) {
		t.Fatalf("objdump: check_arg loads %q and %q, want lines %d and %d", m1.text, m2.text, l1, l2)
	}
	c := change(d, "check_arg")
	want := []LineShift{{Piece: "check_arg", Offset: m1.off, Where: "immediate", Orig: int64(l1), Patched: int64(l2)}}
	if c == nil || !slices.Equal(c.LineShifts, want) {
		t.Errorf("check_arg: got %+v, want line shifts %+v", c, want)
	}
	w1 := sourceLine(t, filepath.Join(dir, "orig.c"), "WARN_ON(x > 1000)")
	w2 := sourceLine(t, filepath.Join(dir, "patched.c"), "WARN_ON(x > 1000)")
	ud2 := findInsn(t, od1, "warn_big", `^ud2`)
	c = change(d, "warn_big")
	want = []LineShift{{Piece: "warn_big", Offset: ud2.off, Where: "__bug_table", Orig: int64(w1), Patched: int64(w2)}}
	if c == nil || !slices.Equal(c.LineShifts, want) {
		t.Errorf("warn_big: got %+v, want line shifts %+v", c, want)
	}
}

func hexStr(n int) string { return strconv.FormatInt(int64(n), 16) }

// A WARN whose file string changed is a real change; without line tables
// an immediate is never taken for a line number.
func TestLineShiftConservative(t *testing.T) {
	t.Run("file string", func(t *testing.T) {
		_, d := diffFixture(t, "diff-line", "orig", "patched-file")
		expect(t, d, []string{"warn_big"}, []string{"check_arg", "show_line"}, nil, nil, 1)
		if c := change(d, "warn_big"); c == nil || c.Reason != ReasonTable ||
			!strings.Contains(c.First.Orig, `file="orig.c"`) || !strings.Contains(c.First.Patched, `file="patched.c"`) {
			t.Errorf("warn_big: want a __bug_table file difference, got %+v", c)
		}
	})
	t.Run("no line table", func(t *testing.T) {
		_, d := diffFixture(t, "diff-line", "orig-nog", "patched-nog")
		expect(t, d, []string{"check_arg", "show_line"}, []string{"warn_big"}, nil, nil, 1)
		for _, n := range []string{"check_arg", "show_line"} {
			if c := change(d, n); c == nil || c.Reason != ReasonImmediate {
				t.Errorf("%s: want reason %q, got %+v", n, ReasonImmediate, c)
			}
		}
		if len(d.Notes) == 0 || !strings.Contains(strings.Join(d.Notes, "\n"), "no line table") {
			t.Errorf("want a note about the missing line table, got %q", d.Notes)
		}
	})
}

// (c) Code added between a local function and its callers in one .text:
// the call displacements move, the targets do not.
func TestLocalCallsMoved(t *testing.T) {
	dir, d := diffFixture(t, "diff-localcall", "orig", "patched")
	expect(t, d, nil, nil, []string{"added_before"}, nil, 5)
	od1 := objdump(t, filepath.Join(dir, "orig.o"))
	od2 := objdump(t, filepath.Join(dir, "patched.o"))
	for _, tc := range []struct{ fn, op string }{{"first", "call"}, {"second", "call"}, {"third", "jmp"}} {
		a, b := findInsn(t, od1, tc.fn, "^"+tc.op+" "), findInsn(t, od2, tc.fn, "^"+tc.op+" ")
		// Same target, no relocation (the assembler resolved it), other bytes.
		if !strings.HasSuffix(a.text, "<scale>") || !strings.HasSuffix(b.text, "<scale>") {
			t.Errorf("%s: objdump shows %q and %q, want both to reach <scale>", tc.fn, a.text, b.text)
		}
		if len(a.relocs)+len(b.relocs) > 0 {
			t.Errorf("%s: %s has relocations %v %v; the fixture expects the assembler to resolve it", tc.fn, tc.op, a.relocs, b.relocs)
		}
		if a.bytes == b.bytes {
			t.Errorf("%s: %s encodes the same (%s) on both sides; the fixture expects the displacement to move", tc.fn, tc.op, a.bytes)
		}
	}
	// third's tail call was relaxed from jmp rel8 to jmp rel32.
	if a, b := findInsn(t, od1, "third", "^jmp "), findInsn(t, od2, "third", "^jmp "); len(a.bytes) >= len(b.bytes) {
		t.Logf("third: jmp %s -> %s (gcc did not relax it; the rel8/rel32 case is untested)", a.bytes, b.bytes)
	}
}

// (d) A changed string literal changes its user; one that only moved in
// .rodata.str1.1 does not.
func TestStringLiterals(t *testing.T) {
	dir, d := diffFixture(t, "diff-strings", "orig", "patched")
	expect(t, d, []string{"greet"}, nil, nil, nil, 1)
	od1 := objdump(t, filepath.Join(dir, "orig.o"))
	od2 := objdump(t, filepath.Join(dir, "patched.o"))
	a, b := findInsn(t, od1, "farewell", "^mov "), findInsn(t, od2, "farewell", "^mov ")
	if len(a.relocs) != 1 || len(b.relocs) != 1 || a.relocs[0] == b.relocs[0] ||
		!strings.Contains(a.relocs[0], ".rodata.str1.1") || !strings.Contains(b.relocs[0], ".rodata.str1.1") {
		t.Errorf("farewell: relocations %v and %v, want .rodata.str1.1 at two offsets", a.relocs, b.relocs)
	}
	c := change(d, "greet")
	if c == nil || c.First == nil || c.First.Orig != `mov $"hello, world",%edi` || c.First.Patched != `mov $"hello, livepatch world",%edi` {
		t.Errorf("greet: got %+v", c)
	}
}

// (e) Added and removed functions.
func TestAddedRemoved(t *testing.T) {
	_, d := diffFixture(t, "diff-addrm", "orig", "patched")
	expect(t, d, nil, nil, []string{"new_api", "new_api_checked"}, []string{"old_api"}, 1)
}

// A change in a cold piece is reported under its function.
func TestColdPiece(t *testing.T) {
	dir, d := diffFixture(t, "diff-cold", "orig", "patched")
	expect(t, d, []string{"process"}, nil, nil, nil, 0)
	if fs := objdump(t, filepath.Join(dir, "orig.o")); fs["process.cold"] == nil {
		t.Fatal("fixture: gcc made no process.cold")
	}
	c := change(d, "process")
	if c == nil || c.First == nil || c.First.Piece != "process.cold" || !slices.Equal(c.Cold, []string{"process.cold"}) {
		t.Errorf("process: want its first difference in process.cold, got %+v", c)
	}
}

// Every fixture object compared with itself, and with a second
// compilation of the same source, has no difference.
func TestSameObjectsEqual(t *testing.T) {
	for _, name := range []string{"clones", "cold", "objcalls", "icf", "statics", "sympos", "fentry", "diff-line", "diff-inline"} {
		t.Run(name, func(t *testing.T) {
			d1 := fixture.Build(t, name)
			d2 := fixture.Build(t, name)
			objs, _ := filepath.Glob(filepath.Join(d1, "*.o"))
			if len(objs) == 0 {
				t.Fatal("no objects")
			}
			for _, p := range objs {
				a, err := Open(p)
				if err != nil {
					t.Fatal(err)
				}
				b, err := Open(filepath.Join(d2, filepath.Base(p)))
				if err != nil {
					t.Fatal(err)
				}
				for _, pair := range [][2]*Object{{a, a}, {a, b}} {
					d := Compare(pair[0], pair[1])
					if len(d.Changed)+len(d.LineShiftOnly)+len(d.Added)+len(d.Removed) > 0 {
						t.Errorf("%s: %s vs %s: %+v", filepath.Base(p), pair[0].Path, pair[1].Path, d)
					}
					if d.Unchanged == 0 {
						t.Errorf("%s: no function compared", filepath.Base(p))
					}
				}
			}
		})
	}
}

// Same-named static functions of two units linked into one object pair
// by position (old_sympos): a change to b.c's scale is scale#2's alone.
func TestSymposPairing(t *testing.T) {
	dir := fixture.Build(t, "sympos")
	src, err := os.ReadFile(filepath.Join(dir, "b.c"))
	if err != nil {
		t.Fatal(err)
	}
	b2 := strings.Replace(string(src), "x * 5 - 2", "x * 5 - 3 + (x >> 4)", 1)
	if b2 == string(src) {
		t.Fatal("fixture sympos: b.c changed, update this test")
	}
	if err := os.WriteFile(filepath.Join(dir, "b2.c"), []byte(b2), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{
		{"gcc", "-O2", "-g", "-fno-pie", "-c", "-o", "b2.o", "b2.c"},
		{"gcc", "-r", "-nostdlib", "-o", "both2.o", "a.o", "b2.o"},
	} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	a, err := Open(filepath.Join(dir, "both.o"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(filepath.Join(dir, "both2.o"))
	if err != nil {
		t.Fatal(err)
	}
	d := Compare(a, b)
	expect(t, d, []string{"scale"}, nil, nil, nil, 5)
	if len(d.Changed) == 1 && d.Changed[0].Sympos != 2 {
		t.Errorf("changed scale has old_sympos %d, want 2 (b.c's)", d.Changed[0].Sympos)
	}
}
