package objdiff

import (
	"bufio"
	"bytes"
	"encoding/binary"
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

// The causes of wrong answers, on every architecture whose cross
// compiler is installed: the fixtures of correlate_test.go
// (testdata/fixtures/diff-clones, diff-statics, diff-mightsleep,
// diff-data) compiled with each cross compiler, each case first checked
// in the cross objdump's output (the clone really renumbered, the static
// really renamed, the line really loaded next to the call), then our
// answer checked against it.

// causeTargets are the architectures the cause fixtures are built for:
// one variant each, to keep the builds few.
var causeTargets = func() []crossTarget {
	var out []crossTarget
	for _, tg := range crossTargets {
		switch tg.name {
		case "aarch64", "ppc64le", "s390x", "loongarch64":
			out = append(out, tg)
		}
	}
	return out
}()

// crossFixture compiles the objects outs (names without .o) of fixture
// name with tg's cross compiler: the gcc commands of the fixture's
// header comments, gcc replaced by the cross compiler, tg's flags and
// -ffunction-sections appended (the livepatch builders, kpatch-build
// and klp-build, compile with it; without it the loop alignment padding
// of a function depends on where the function lands, so a renumbered
// clone moved in .text differs by a nop on AArch64). It skips the test
// when the compiler is missing.
func crossFixture(t *testing.T, tg crossTarget, name string, outs ...string) string {
	t.Helper()
	if _, err := exec.LookPath(tg.gcc); err != nil {
		t.Skipf("%s not installed (Debian: gcc-%s): no %s build of %s", tg.gcc, strings.TrimSuffix(tg.gcc, "-gcc"), tg.name, name)
	}
	cmds, err := fixture.Commands(name)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dir, os.DirFS(fixture.Dir(name))); err != nil {
		t.Fatal(err)
	}
	built := map[string]bool{}
	for _, c := range cmds {
		out := ""
		for i := 0; i+1 < len(c); i++ {
			if c[i] == "-o" {
				out = strings.TrimSuffix(c[i+1], ".o")
			}
		}
		if !slices.Contains(outs, out) {
			continue
		}
		args := append(append(append([]string{}, c[1:]...), tg.flags...), "-ffunction-sections")
		cmd := exec.Command(tg.gcc, args...)
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", tg.gcc, strings.Join(args, " "), err, b)
		}
		built[out] = true
	}
	for _, o := range outs {
		if !built[o] {
			t.Fatalf("fixture %s: no gcc command makes %s.o", name, o)
		}
	}
	return dir
}

// crossDiff opens and compares two objects of dir.
func crossDiff(t *testing.T, dir, orig, patched string) *ObjectDiff {
	t.Helper()
	a, err := Open(filepath.Join(dir, orig+".o"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(filepath.Join(dir, patched+".o"))
	if err != nil {
		t.Fatal(err)
	}
	return Compare(a, b)
}

// objdumpWith is objdump (fixtures_test.go) with another objdump.
func objdumpWith(t *testing.T, tool, path string) map[string][]odInsn {
	t.Helper()
	out, err := exec.Command(tool, "-dr", path).Output()
	if err != nil {
		t.Fatalf("%s -dr %s: %v", tool, path, err)
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
			if l := res[fn]; len(l) > 0 {
				l[len(l)-1].relocs = append(l[len(l)-1].relocs, m[1]+" "+m[2])
			}
			continue
		}
		if m := odInsnRE.FindStringSubmatch(line); m != nil && fn != "" {
			res[fn] = append(res[fn], odInsn{fn: fn, off: hexU(m[1]) - start, bytes: m[2], text: strings.TrimSpace(m[3])})
		}
	}
	return res
}

// odSyms returns what objdump -t lists: name -> section and value.
func odSyms(t *testing.T, tool, path string) map[string]odSym {
	t.Helper()
	out, err := exec.Command(tool, "-t", path).Output()
	if err != nil {
		t.Fatalf("%s -t %s: %v", tool, path, err)
	}
	res := map[string]odSym{}
	re := regexp.MustCompile(`^([0-9a-f]+) .{7} (\S+)\s+[0-9a-f]+ (\S+)$`)
	for _, l := range strings.Split(string(out), "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			res[m[3]] = odSym{m[2], hexU(m[1])}
		}
	}
	return res
}

type odSym struct {
	sec string
	val uint64
}

// relocNames says an instruction's relocations name sym exactly, an
// addend aside, or its own section (.text.sym, -ffunction-sections: the
// assembler's way to a local function on AArch64).
func relocNames(in odInsn, sym string) bool {
	for _, r := range in.relocs {
		f := strings.Fields(r)
		if len(f) != 2 {
			continue
		}
		for _, s := range []string{sym, ".text." + sym} {
			if f[1] == s || strings.HasPrefix(f[1], s+"+") || strings.HasPrefix(f[1], s+"-") {
				return true
			}
		}
	}
	return false
}

func reaches(ins []odInsn, sym string) bool {
	for _, in := range ins {
		if relocNames(in, sym) {
			return true
		}
	}
	return false
}

// TestCrossRenumberedClones is TestRenumberedClones on every
// architecture: objdump shows cp5a..cp5c reach big.constprop.0 before
// and big.constprop.1 after, whose bytes are orig's big.constprop.0's.
func TestCrossRenumberedClones(t *testing.T) {
	for _, tg := range causeTargets {
		t.Run(tg.name, func(t *testing.T) {
			dir := crossFixture(t, tg, "diff-clones", "orig", "patched")
			tool := crossObjdump(t, tg)
			od1 := objdumpWith(t, tool, filepath.Join(dir, "orig.o"))
			od2 := objdumpWith(t, tool, filepath.Join(dir, "patched.o"))
			if od1["big.constprop.0"] == nil || od1["big.constprop.1"] != nil ||
				od2["big.constprop.0"] == nil || od2["big.constprop.1"] == nil {
				t.Fatalf("fixture: want big.constprop.0 before and .0, .1 after; objdump shows %v / %v", keys(od1), keys(od2))
			}
			for _, fn := range []string{"cp5a", "cp5b", "cp5c"} {
				if !reaches(od1[fn], "big.constprop.0") || !reaches(od2[fn], "big.constprop.1") || reaches(od2[fn], "big.constprop.0") {
					t.Fatalf("fixture: %s does not go from big.constprop.0 to .1:\n%v\n%v", fn, od1[fn], od2[fn])
				}
			}
			if x, y := odBytes(od1["big.constprop.0"]), odBytes(od2["big.constprop.1"]); x != y {
				t.Fatalf("fixture: orig big.constprop.0 and patched big.constprop.1 differ:\n%s\n%s", x, y)
			}
			if x, y := odBytes(od1["big.constprop.0"]), odBytes(od2["big.constprop.0"]); x == y {
				t.Fatalf("fixture: patched big.constprop.0 has the old clone's code; nothing was renumbered")
			}
			d := crossDiff(t, dir, "orig", "patched")
			expect(t, d, nil, nil, []string{"big.constprop.0", "cp3a", "cp3b", "cp3c"}, nil, 4)
			want := []Rename{{Kind: RenameFunction, Orig: "big.constprop.0", Patched: "big.constprop.1", EqualCode: true}}
			if !renamesEqual(d.Renames, want) {
				t.Errorf("renames: got %+v, want %+v", d.Renames, want)
			}
			if len(d.Ambiguities) > 0 {
				t.Errorf("ambiguities: %+v", d.Ambiguities)
			}
		})
	}
}

var (
	// A memory operand of AArch64 ("[x2, #1]", "[x1]") and s390x
	// ("2(%r1)", "0(%r1)", "4(%r3,%r1)") as objdump prints it.
	arm64MemRE = regexp.MustCompile(`\[(x\d+)(?:, #(\d+))?\]`)
	s390MemRE  = regexp.MustCompile(`(\d+)\((%r\d+)\)`)
	regDefRE   = regexp.MustCompile(`^\S+\s+(x\d+|w\d+|%r\d+),`)
)

// odSectionRefs returns, by function, the offsets of section sec that
// each function's code reaches, in code order, computed from objdump -dr
// alone: a relocation against sec names sec plus its addend (less 2 for
// s390x's PC32DBL, counted from the instruction); through a section
// anchor (AArch64 "add xN, ..., sec" or s390x "larl %rN, sec" then
// "[xN, #d]" or "d(%rN)") the anchor plus the displacement.
func odSectionRefs(t *testing.T, tool, path, sec string) map[string][]uint64 {
	t.Helper()
	out, err := exec.Command(tool, "-dr", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	relRE := regexp.MustCompile(`^\s*[0-9a-f]+: (R_\S+)\s+` + regexp.QuoteMeta(sec) + `(\+0x[0-9a-f]+)?$`)
	res := map[string][]uint64{}
	add := func(fn string, off uint64) {
		if !slices.Contains(res[fn], off) {
			res[fn] = append(res[fn], off)
		}
	}
	var fn, last string
	anchors := map[string]uint64{} // register -> section offset
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if m := odFuncRE.FindStringSubmatch(l); m != nil {
			fn, last = m[1], ""
			clear(anchors)
			continue
		}
		if m := odInsnRE.FindStringSubmatch(l); m != nil {
			last = strings.TrimSpace(m[3])
			if d := regDefRE.FindStringSubmatch(last); d != nil {
				delete(anchors, strings.Replace(d[1], "w", "x", 1))
			}
			for _, mm := range arm64MemRE.FindAllStringSubmatch(last, -1) {
				if base, ok := anchors[mm[1]]; ok {
					d, _ := strconv.ParseUint(mm[2]+"0", 10, 64)
					add(fn, base+d/10)
				}
			}
			for _, mm := range s390MemRE.FindAllStringSubmatch(last, -1) {
				if base, ok := anchors[mm[2]]; ok {
					d, _ := strconv.ParseUint(mm[1], 10, 64)
					add(fn, base+d)
				}
			}
			continue
		}
		m := relRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		off := uint64(0)
		if m[2] != "" {
			off = hexU(strings.TrimPrefix(m[2], "+0x"))
		}
		switch {
		case m[1] == "R_390_PC32DBL":
			off -= 2
			if r := regDefRE.FindStringSubmatch(last); r != nil && strings.HasPrefix(last, "larl") {
				anchors[r[1]] = off
				continue
			}
		case m[1] == "R_AARCH64_ADR_PREL_PG_HI21":
			continue // the page; the add or load after it names the offset
		case m[1] == "R_AARCH64_ADD_ABS_LO12_NC":
			if r := regDefRE.FindStringSubmatch(last); r != nil {
				anchors[r[1]] = off
				continue
			}
		}
		add(fn, off)
	}
	return res
}

// TestCrossRenamedStatics is TestRenamedStatics on every architecture.
// objdump -t shows the __already_done flags of check_a and check_b at
// the same offsets of .data.once in both objects under other names, and
// check_new's flag after them; objdump -dr which offsets each function
// reaches (through a section anchor on AArch64 and s390x).
func TestCrossRenamedStatics(t *testing.T) {
	for _, tg := range causeTargets {
		t.Run(tg.name, func(t *testing.T) {
			dir := crossFixture(t, tg, "diff-statics", "orig", "patched")
			tool := crossObjdump(t, tg)
			s1, s2 := odSyms(t, tool, filepath.Join(dir, "orig.o")), odSyms(t, tool, filepath.Join(dir, "patched.o"))
			at := func(s map[string]odSym) map[uint64]string {
				m := map[uint64]string{}
				for n, v := range s {
					if v.sec == ".data.once" && strings.HasPrefix(n, "__already_done.") {
						m[v.val] = n
					}
				}
				return m
			}
			a1, a2 := at(s1), at(s2)
			r1 := odSectionRefs(t, tool, filepath.Join(dir, "orig.o"), ".data.once")
			r2 := odSectionRefs(t, tool, filepath.Join(dir, "patched.o"), ".data.once")
			var want []Rename
			for _, fn := range []string{"check_a", "check_b"} {
				if len(r1[fn]) == 0 || !slices.Equal(r1[fn], r2[fn]) {
					t.Fatalf("fixture: %s reaches .data.once%v before and %v after", fn, r1[fn], r2[fn])
				}
				for _, off := range r1[fn] {
					n1, n2 := a1[off], a2[off]
					if n1 == "" || n2 == "" {
						t.Fatalf("fixture: %s reaches .data.once+%#x, where objdump -t shows %q and %q", fn, off, n1, n2)
					}
					if n1 != n2 {
						want = append(want, Rename{Kind: RenameData, Orig: n1, Patched: n2, Owners: []string{fn}})
					}
				}
			}
			if len(want) == 0 {
				t.Fatalf("fixture: gcc renumbered nothing: %v / %v", a1, a2)
			}
			if len(r2["check_new"]) != 1 || a2[r2["check_new"][0]] == "" || len(a2) != len(a1)+1 {
				t.Fatalf("fixture: check_new reaches .data.once%v; flags %v -> %v", r2["check_new"], a1, a2)
			}
			newFlag := a2[r2["check_new"][0]]
			sort.Slice(want, func(i, j int) bool { return want[i].Orig < want[j].Orig })
			d := crossDiff(t, dir, "orig", "patched")
			expect(t, d, nil, nil, []string{"check_new"}, nil, 3)
			if !renamesEqual(d.Renames, want) {
				t.Errorf("renames: got %+v, want %+v", d.Renames, want)
			}
			wantData := []DataChange{{Name: newFlag, Section: ".data.once", Size: 1, Status: DataAdded,
				Reason: "only in the patched object", ReferencedBy: []string{"check_new"}}}
			if !dataEqual(d.DataChanges, wantData) {
				t.Errorf("data changes: got %+v, want %+v", d.DataChanges, wantData)
			}
			if len(d.Ambiguities) > 0 {
				t.Errorf("ambiguities: %+v", d.Ambiguities)
			}
		})
	}
}

// lineLoadRE returns, per architecture, the regexp of the load of line
// into the second parameter's register as objdump prints it: the
// psABI's x1 (AArch64), r4 (ELFv2), %r3 (s390x), a1 (LoongArch).
var lineLoadRE = map[string]func(line int) string{
	"aarch64":     func(l int) string { return `^mov\s+w1, #0x` + strconv.FormatInt(int64(l), 16) + `\b` },
	"ppc64le":     func(l int) string { return `^li\s+r4,` + strconv.Itoa(l) + `$` },
	"s390x":       func(l int) string { return `^l[g]?hi\s+%r3,` + strconv.Itoa(l) + `$` },
	"loongarch64": func(l int) string { return `^(ori|addi\.[wd])\s+\$a1, \$zero, ` + strconv.Itoa(l) + `$` },
}

// TestCrossLineShiftWithoutDWARF is TestLineShiftWithoutDWARF on every
// architecture: objdump shows each line loaded into the line
// parameter's register, the call of the callee after it; without a line
// table those are heuristic line shifts, reporter's and hidden's
// immediates stay changes; with one, all five are line shifts, none
// heuristic.
func TestCrossLineShiftWithoutDWARF(t *testing.T) {
	callees := []struct{ fn, src, callee string }{
		{"sleeper", "might_sleep();", "__might_sleep"},
		{"rescheder", "cond_resched_lock();", "__might_resched"},
		{"rcu_checker", `lockdep_rcu_suspicious("kernel/fixture.c", __LINE__`, "lockdep_rcu_suspicious"},
	}
	for _, tg := range causeTargets {
		t.Run(tg.name, func(t *testing.T) {
			dir := crossFixture(t, tg, "diff-mightsleep", "orig", "patched", "orig-g", "patched-g")
			tool := crossObjdump(t, tg)
			od1 := objdumpWith(t, tool, filepath.Join(dir, "orig.o"))
			od2 := objdumpWith(t, tool, filepath.Join(dir, "patched.o"))
			d := crossDiff(t, dir, "orig", "patched")
			expect(t, d, []string{"hidden", "reporter"}, []string{"rcu_checker", "rescheder", "sleeper"}, nil, nil, 1)
			for _, tc := range callees {
				l1 := sourceLine(t, filepath.Join(dir, "orig.c"), tc.src)
				l2 := sourceLine(t, filepath.Join(dir, "patched.c"), tc.src)
				m1 := findInsn(t, od1, tc.fn, lineLoadRE[tg.name](l1))
				findInsn(t, od2, tc.fn, lineLoadRE[tg.name](l2))
				var call *odInsn
				for i, in := range od1[tc.fn] {
					if in.off > m1.off && relocNames(in, tc.callee) {
						call = &od1[tc.fn][i]
						break
					}
				}
				if call == nil {
					t.Fatalf("objdump: %s does not call %s after the load at %#x: %v", tc.fn, tc.callee, m1.off, od1[tc.fn])
				}
				c := change(d, tc.fn)
				want := []LineShift{{Piece: tc.fn, Offset: m1.off, Where: "immediate", Orig: int64(l1), Patched: int64(l2), Heuristic: true, Callee: tc.callee}}
				if c == nil || !slices.Equal(c.LineShifts, want) {
					t.Errorf("%s: got %+v, want line shifts %+v", tc.fn, c, want)
				}
			}
			for _, n := range []string{"hidden", "reporter"} {
				if c := change(d, n); c == nil || c.Reason != ReasonImmediate {
					t.Errorf("%s: want reason %q, got %+v", n, ReasonImmediate, c)
				}
			}
			dg := crossDiff(t, dir, "orig-g", "patched-g")
			expect(t, dg, nil, []string{"hidden", "rcu_checker", "reporter", "rescheder", "sleeper"}, nil, nil, 1)
			for _, c := range dg.LineShiftOnly {
				for _, l := range c.LineShifts {
					if l.Heuristic {
						t.Errorf("%s: heuristic line shift %+v with a line table", c.Name, l)
					}
				}
			}
		})
	}
}

// TestCrossDataChanges is TestDataChanges on every architecture. Where
// objdump shows count_hit's instructions differ (a section anchor: the
// load's displacement to hits changes with its section), count_hit is
// changed too.
func TestCrossDataChanges(t *testing.T) {
	for _, tg := range causeTargets {
		t.Run(tg.name, func(t *testing.T) {
			dir := crossFixture(t, tg, "diff-data", "orig", "patched")
			tool := crossObjdump(t, tg)
			p1, p2 := filepath.Join(dir, "orig.o"), filepath.Join(dir, "patched.o")
			s1, s2 := odSyms(t, tool, p1), odSyms(t, tool, p2)
			if s1["hits"].sec != ".data" || s2["hits"].sec != ".data..read_mostly" || s1["extra"].sec != "" || s2["extra"].sec == "" {
				t.Fatalf("fixture: objdump -t shows hits %v -> %v, extra %v -> %v", s1["hits"], s2["hits"], s1["extra"], s2["extra"])
			}
			if v1, v2 := crossDataWord(t, tool, p1, s1["limit"]), crossDataWord(t, tool, p2, s2["limit"]); v1 != 10 || v2 != 20 {
				t.Fatalf("fixture: limit is %d then %d, want 10 then 20", v1, v2)
			}
			od1, od2 := objdumpWith(t, tool, p1), objdumpWith(t, tool, p2)
			changed := []string{"get_limit"}
			if odBytes(od1["count_hit"]) != odBytes(od2["count_hit"]) {
				changed = append(changed, "count_hit")
			}
			t.Logf("objdump: changed %v", changed)
			d := crossDiff(t, dir, "orig", "patched")
			expect(t, d, changed, nil, []string{"set_extra"}, nil, 6-len(changed))
			want := []DataChange{
				{Name: "extra", Section: ".data", Size: 4, Status: DataAdded, Reason: "only in the patched object", ReferencedBy: []string{"get_limit", "set_extra"}},
				{Name: "hits", Section: ".data..read_mostly", Size: 4, Status: DataChanged, Reason: "section .data -> .data..read_mostly", ReferencedBy: []string{"count_hit"}},
				{Name: "limit", Section: ".data", Size: 4, Status: DataChanged, Reason: "initial value", ReferencedBy: []string{"get_limit", "set_limit"}},
			}
			if !dataEqual(d.DataChanges, want) {
				t.Errorf("data changes:\ngot  %+v\nwant %+v", d.DataChanges, want)
			}
		})
	}
}

// crossDataWord reads the 32-bit word of the object's byte order at s
// with objdump -s.
func crossDataWord(t *testing.T, tool, path string, s odSym) uint32 {
	t.Helper()
	out, err := exec.Command(tool, "-s", "-j", s.sec, path).Output()
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	for _, l := range strings.Split(string(out), "\n") {
		fs := strings.Fields(l)
		if len(fs) < 2 || len(fs[0]) != 4 {
			continue
		}
		if _, err := strconv.ParseUint(fs[0], 16, 32); err != nil {
			continue
		}
		for _, w := range fs[1:min(5, len(fs))] {
			b, err := hexDecode(w)
			if err != nil {
				break
			}
			data = append(data, b...)
		}
	}
	if s.val+4 > uint64(len(data)) {
		t.Fatalf("objdump -s %s: %d bytes", s.sec, len(data))
	}
	h, err := exec.Command(tool, "-f", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if bytes.Contains(h, []byte("s390")) || bytes.Contains(h, []byte("elf64-powerpc\n")) || bytes.Contains(h, []byte("big")) {
		bo = binary.BigEndian
	}
	return bo.Uint32(data[s.val:])
}

// TestCrossBugTableLines compiles testdata/arch/bug.c, and a copy with
// three lines inserted above warn_big under the same name, for each
// architecture: objdump -s shows the line of its __bug_table entry, in
// the object's byte order, moved by three; warn_big must be line-shift
// only with those lines (a big-endian ppc64 line read little-endian
// would be 0x2700, not 0x27).
func TestCrossBugTableLines(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "arch", "bug.c"))
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(src, []byte("int warn_big"))
	if at < 0 {
		t.Fatal("bug.c: no warn_big")
	}
	shifted := append(append(append([]byte{}, src[:at]...), "\n\n\n"...), src[at:]...)
	for _, tg := range crossTargets {
		switch tg.name {
		case "aarch64", "ppc64le", "ppc64-elfv2", "s390x":
		default:
			continue
		}
		t.Run(tg.name, func(t *testing.T) {
			if _, err := exec.LookPath(tg.gcc); err != nil {
				t.Skipf("%s not installed", tg.gcc)
			}
			tool := crossObjdump(t, tg)
			var objs [2]string
			var lines [2]int
			base := t.TempDir()
			for i, text := range [][]byte{src, shifted} {
				dir := filepath.Join(base, strconv.Itoa(i))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "bug.c"), text, 0o644); err != nil {
					t.Fatal(err)
				}
				// -fno-pie first (an "i" constraint on a string's address),
				// the target's own flags after it.
				args := append(append([]string{"-O2", "-fno-pie", "-c", "-o", "bug.o", "bug.c"}, tg.flags...), "-ffunction-sections")
				cmd := exec.Command(tg.gcc, args...)
				cmd.Dir = dir
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s %v: %v\n%s", tg.gcc, args, err, b)
				}
				objs[i] = filepath.Join(dir, "bug.o")
				lines[i] = sourceLine(t, filepath.Join(dir, "bug.c"), "WARN_ON(x > 1000)")
				// The entry's line field, at offset 8, as objdump -s shows it.
				sym := odSym{"__bug_table", 8}
				if w := crossDataWord(t, tool, objs[i], sym); w>>16 != uint32(lines[i]) && w&0xffff != uint32(lines[i]) {
					t.Fatalf("objdump -s: __bug_table+8 holds %#x, not line %d", w, lines[i])
				}
			}
			d := crossDiff(t, filepath.Dir(objs[0]), "bug", "../1/bug")
			expect(t, d, nil, []string{"warn_big"}, nil, nil, 0)
			c := change(d, "warn_big")
			if c == nil || len(c.LineShifts) != 1 || c.LineShifts[0].Where != "__bug_table" ||
				c.LineShifts[0].Orig != int64(lines[0]) || c.LineShifts[0].Patched != int64(lines[1]) {
				t.Errorf("warn_big: got %+v, want a __bug_table line shift %d -> %d", c, lines[0], lines[1])
			}
		})
	}
}

// TestRodataPointerRenamed compiles testdata/arch/roptr.c with the
// machine's gcc and each cross compiler, as is and with -DPATCHED:
// objdump -t and -r show user's p renamed, pointing at user's counter,
// renamed too. user
// must be unchanged: where p is read-only data (.rodata), its contents
// count in the comparison, and the pointer in them by the correlation.
func TestRodataPointerRenamed(t *testing.T) {
	host := crossTarget{name: "host", gcc: "gcc", flags: []string{"-fno-pie"}, objdump: "x86-64"}
	for _, tg := range append([]crossTarget{host}, causeTargets...) {
		t.Run(tg.name, func(t *testing.T) {
			if _, err := exec.LookPath(tg.gcc); err != nil {
				t.Skipf("%s not installed", tg.gcc)
			}
			tool := "objdump"
			if tg.name != "host" {
				tool = crossObjdump(t, tg)
			}
			dir := t.TempDir()
			for _, v := range [][]string{{"orig"}, {"patched", "-DPATCHED"}} {
				args := append(append([]string{"-O2", "-ffunction-sections", "-c", "-o", filepath.Join(dir, v[0]+".o")}, v[1:]...), tg.flags...)
				args = append(args, filepath.Join("testdata", "arch", "roptr.c"))
				if b, err := exec.Command(tg.gcc, args...).CombinedOutput(); err != nil {
					t.Fatalf("%s %v: %v\n%s", tg.gcc, args, err, b)
				}
			}
			// user's p, and the counter its contents point at, on each side.
			statics := func(path string) (p, counter string) {
				syms := odSyms(t, tool, path)
				for n, v := range syms {
					if strings.HasPrefix(n, "p.") && (p == "" || v.sec != ".bss") {
						p = n
					}
				}
				if p == "" {
					t.Fatalf("fixture: %s has no p.N (objdump -t)", path)
				}
				out, err := exec.Command(tool, "-r", "-j", syms[p].sec, path).Output()
				if err != nil {
					t.Fatal(err)
				}
				re := regexp.MustCompile(`(?m)^[0-9a-f]+ R_\S+\s+(\S+?)(?:\+0x([0-9a-f]+))?$`)
				for _, m := range re.FindAllStringSubmatch(string(out), -1) {
					if strings.HasPrefix(m[1], "counter.") {
						return p, m[1]
					}
					for n, v := range syms {
						if strings.HasPrefix(n, "counter.") && v.sec == m[1] && v.val == hexU(m[2]) {
							return p, n
						}
					}
				}
				t.Fatalf("fixture: %s's relocations reach no counter:\n%s", p, out)
				return "", ""
			}
			pp1, c1 := statics(filepath.Join(dir, "orig.o"))
			pp2, c2 := statics(filepath.Join(dir, "patched.o"))
			if c1 == c2 || pp1 == pp2 {
				t.Fatalf("fixture: user's statics %s, %s -> %s, %s: not renamed", pp1, c1, pp2, c2)
			}
			d := crossDiff(t, dir, "orig", "patched")
			expect(t, d, nil, nil, []string{"added"}, nil, 1)
			want := []Rename{
				{Kind: RenameData, Orig: c1, Patched: c2, Owners: []string{"user"}},
				{Kind: RenameData, Orig: pp1, Patched: pp2, Owners: []string{"user"}},
			}
			if !renamesEqual(d.Renames, want) {
				t.Errorf("renames: got %+v, want %+v", d.Renames, want)
			}
		})
	}
}
