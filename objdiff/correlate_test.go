package objdiff

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/object"
)

// odSymbols returns the symbols objdump -t lists in path: name ->
// "section value".
func odSymbols(t *testing.T, path string) map[string]string {
	t.Helper()
	out, err := exec.Command("objdump", "-t", path).Output()
	if err != nil {
		t.Fatalf("objdump -t %s: %v", path, err)
	}
	res := map[string]string{}
	re := regexp.MustCompile(`^([0-9a-f]+) .{7} (\S+)\s+[0-9a-f]+ (\S+)$`)
	for _, l := range strings.Split(string(out), "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			res[m[3]] = m[2] + " " + m[1]
		}
	}
	return res
}

// odStaticRefs returns, by function, the symbols of section sec that
// the function's relocations reach, in code order, computed from
// objdump -dr alone: the relocation's addend plus the distance from the
// relocated field to the end of its instruction (x86-64 PC32), matched
// against objdump -t.
func odStaticRefs(t *testing.T, path, sec string) map[string][]string {
	t.Helper()
	syms := odSymbols(t, path)
	at := map[uint64]string{}
	for name, v := range syms {
		f := strings.Fields(v)
		if f[0] == sec && name != sec {
			at[hexU(f[1])] = name
		}
	}
	out, err := exec.Command("objdump", "-dr", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	insnRE := regexp.MustCompile(`^\s*([0-9a-f]+):\t([0-9a-f ]+?)\s*\t`)
	relRE := regexp.MustCompile(`^\s*([0-9a-f]+): R_X86_64_PC32\s+` + regexp.QuoteMeta(sec) + `([+-]0x[0-9a-f]+)?$`)
	res := map[string][]string{}
	var fn string
	var end uint64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if m := odFuncRE.FindStringSubmatch(l); m != nil {
			fn = m[1]
			continue
		}
		if m := insnRE.FindStringSubmatch(l); m != nil {
			end = hexU(m[1]) + uint64(len(strings.Fields(m[2])))
			continue
		}
		if m := relRE.FindStringSubmatch(l); m != nil {
			add, _ := strconv.ParseInt(strings.Replace(m[2], "0x", "", 1), 16, 64)
			pos := uint64(add + int64(end-hexU(m[1])))
			name := at[pos]
			if name == "" {
				t.Fatalf("%s: %s: no %s symbol at %#x", path, fn, sec, pos)
			}
			if !slices.Contains(res[fn], name) {
				res[fn] = append(res[fn], name)
			}
		}
	}
	return res
}

// (a) A new clone renumbers an unchanged one: big.constprop.0 of the
// original is big.constprop.1 in the patched object. Its callers must
// stay unchanged, and the rename be listed.
func TestRenumberedClones(t *testing.T) {
	for _, tc := range []struct{ name, orig, patched string }{
		{"dwarf", "orig", "patched"},
		{"no dwarf", "orig-nog", "patched-nog"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, d := diffFixture(t, "diff-clones", tc.orig, tc.patched)
			od1 := objdump(t, filepath.Join(dir, tc.orig+".o"))
			od2 := objdump(t, filepath.Join(dir, tc.patched+".o"))
			// What gcc made: one clone before, two after, and cp5a's
			// target renamed with identical bytes.
			if od1["big.constprop.0"] == nil || od1["big.constprop.1"] != nil ||
				od2["big.constprop.0"] == nil || od2["big.constprop.1"] == nil {
				t.Fatalf("fixture: want big.constprop.0 before and .0, .1 after; objdump shows %v / %v", keys(od1), keys(od2))
			}
			for _, fn := range []string{"cp5a", "cp5b", "cp5c"} {
				a, b := od1[fn][len(od1[fn])-1], od2[fn][len(od2[fn])-1]
				for _, in := range od1[fn] {
					if strings.HasPrefix(in.text, "jmp") {
						a = in
					}
				}
				for _, in := range od2[fn] {
					if strings.HasPrefix(in.text, "jmp") {
						b = in
					}
				}
				if !strings.HasSuffix(a.text, "<big.constprop.0>") || !strings.HasSuffix(b.text, "<big.constprop.1>") {
					t.Fatalf("fixture: %s jumps to %q before and %q after, want big.constprop.0 then .1", fn, a.text, b.text)
				}
			}
			if x, y := odBytes(od1["big.constprop.0"]), odBytes(od2["big.constprop.1"]); x != y {
				t.Fatalf("fixture: orig big.constprop.0 and patched big.constprop.1 differ:\n%s\n%s", x, y)
			}
			if x, y := odBytes(od1["big.constprop.0"]), odBytes(od2["big.constprop.0"]); x == y {
				t.Fatalf("fixture: patched big.constprop.0 has the old clone's code; nothing was renumbered")
			}
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

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func odBytes(ins []odInsn) string {
	var b []string
	for _, in := range ins {
		b = append(b, in.bytes)
	}
	return strings.Join(b, "|")
}

func renamesEqual(a, b []Rename) bool {
	return slices.EqualFunc(a, b, func(x, y Rename) bool {
		return x.Kind == y.Kind && x.Orig == y.Orig && x.Patched == y.Patched && x.EqualCode == y.EqualCode && slices.Equal(x.Owners, y.Owners)
	})
}

// (b) A WARN_ONCE added below the others renumbers every
// __already_done: they pair by owner, the functions stay unchanged and
// the new flag is a new data object of the new function.
func TestRenamedStatics(t *testing.T) {
	dir, d := diffFixture(t, "diff-statics", "orig", "patched")
	r1 := odStaticRefs(t, filepath.Join(dir, "orig.o"), ".data.once")
	r2 := odStaticRefs(t, filepath.Join(dir, "patched.o"), ".data.once")
	var want []Rename
	renamed := false
	for _, fn := range []string{"check_a", "check_b"} {
		if len(r1[fn]) == 0 || len(r1[fn]) != len(r2[fn]) {
			t.Fatalf("fixture: %s references %v before and %v after", fn, r1[fn], r2[fn])
		}
		for k := range r1[fn] {
			if r1[fn][k] != r2[fn][k] {
				renamed = true
				want = append(want, Rename{Kind: RenameData, Orig: r1[fn][k], Patched: r2[fn][k], Owners: []string{fn}})
			}
		}
	}
	if !renamed {
		t.Fatalf("fixture: gcc renumbered nothing: %v / %v", r1, r2)
	}
	if len(r2["check_new"]) != 1 {
		t.Fatalf("fixture: check_new references %v", r2["check_new"])
	}
	slices.SortFunc(want, func(x, y Rename) int { return strings.Compare(x.Orig, y.Orig) })
	expect(t, d, nil, nil, []string{"check_new"}, nil, 3)
	if !renamesEqual(d.Renames, want) {
		t.Errorf("renames: got %+v, want %+v", d.Renames, want)
	}
	wantData := []DataChange{{Name: r2["check_new"][0], Section: ".data.once", Size: 1, Status: DataAdded,
		Reason: "only in the patched object", ReferencedBy: []string{"check_new"}}}
	if !dataEqual(d.DataChanges, wantData) {
		t.Errorf("data changes: got %+v, want %+v", d.DataChanges, wantData)
	}
}

func dataEqual(a, b []DataChange) bool {
	return slices.EqualFunc(a, b, func(x, y DataChange) bool {
		return x.Name == y.Name && x.Section == y.Section && x.Size == y.Size && x.Status == y.Status &&
			x.Reason == y.Reason && slices.Equal(x.ReferencedBy, y.ReferencedBy)
	})
}

// Pairing statics by reference order must not hide a real change: two
// WARN_ONCEs of check_b swap their conditions, so check_b is changed
// while every static still pairs with one of the same owner.
func TestStaticsSwapped(t *testing.T) {
	dir := fixture.Build(t, "diff-statics")
	src, err := os.ReadFile(filepath.Join(dir, "orig.c"))
	if err != nil {
		t.Fatal(err)
	}
	// check_b sets the x == 7 flag when x < 0 and the other way round.
	s := strings.Replace(string(src), `WARN_ONCE(x < 0, "b %d", x);`, `WARN_ONCE(x == 7, "b %d", x);`, 1)
	s = strings.Replace(s, `WARN_ONCE(x == 7, "b7 %d", x);`, `WARN_ONCE(x < 0, "b7 %d", x);`, 1)
	if s == string(src) {
		t.Fatal("fixture diff-statics changed: update this test")
	}
	if err := os.WriteFile(filepath.Join(dir, "swapped.c"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("gcc", "-O2", "-g", "-fno-pie", "-c", "-o", "swapped.o", "swapped.c")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	a, err := Open(filepath.Join(dir, "orig.o"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(filepath.Join(dir, "swapped.o"))
	if err != nil {
		t.Fatal(err)
	}
	d := Compare(a, b)
	expect(t, d, []string{"check_b"}, nil, nil, nil, 2)
}

// (c) __LINE__ passed to __might_sleep and its kind in objects without
// a line table: taken for line shifts, marked heuristic; __LINE__
// passed to anything else stays a change.
func TestLineShiftWithoutDWARF(t *testing.T) {
	dir := fixture.Build(t, "diff-mightsleep")
	// The same objects with their debug info stripped afterwards.
	if _, err := exec.LookPath("objcopy"); err == nil {
		for _, n := range []string{"orig", "patched"} {
			cmd := exec.Command("objcopy", "--strip-debug", n+"-g.o", n+"-stripped.o")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("objcopy: %v\n%s", err, out)
			}
		}
	}
	callees := []struct{ fn, src, callee string }{
		{"sleeper", "might_sleep();", "__might_sleep"},
		{"rescheder", "cond_resched_lock();", "__might_resched"},
		{"rcu_checker", `lockdep_rcu_suspicious("kernel/fixture.c", __LINE__`, "lockdep_rcu_suspicious"},
	}
	for _, variant := range []string{"", "-stripped"} {
		t.Run("nodwarf"+variant, func(t *testing.T) {
			orig, patched := filepath.Join(dir, "orig"+variant+".o"), filepath.Join(dir, "patched"+variant+".o")
			if variant == "" {
				orig, patched = filepath.Join(dir, "orig.o"), filepath.Join(dir, "patched.o")
			}
			if _, err := os.Stat(orig); err != nil {
				t.Skip("objcopy not installed")
			}
			for _, p := range []string{orig, patched} {
				if h, _ := exec.Command("objdump", "-h", p).Output(); bytes.Contains(h, []byte(".debug_line")) {
					t.Fatalf("%s has a .debug_line section", p)
				}
			}
			a, err := Open(orig)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Open(patched)
			if err != nil {
				t.Fatal(err)
			}
			d := Compare(a, b)
			expect(t, d, []string{"hidden", "reporter"}, []string{"rcu_checker", "rescheder", "sleeper"}, nil, nil, 1)
			od1, od2 := objdump(t, orig), objdump(t, patched)
			for _, tc := range callees {
				l1 := sourceLine(t, filepath.Join(dir, "orig.c"), tc.src)
				l2 := sourceLine(t, filepath.Join(dir, "patched.c"), tc.src)
				// What gcc put there: mov $LINE,%esi, and the call of
				// the callee further on.
				m1 := findInsn(t, od1, tc.fn, `^mov\s+\$0x`+hexStr(l1)+`,%esi$`)
				findInsn(t, od2, tc.fn, `^mov\s+\$0x`+hexStr(l2)+`,%esi$`)
				call := findInsn(t, od1, tc.fn, `^call`)
				if len(call.relocs) != 1 || call.relocs[0] != "R_X86_64_PLT32 "+tc.callee+"-0x4" || call.off < m1.off {
					t.Fatalf("objdump: %s calls %v at %#x, want %s after the mov at %#x", tc.fn, call.relocs, call.off, tc.callee, m1.off)
				}
				c := change(d, tc.fn)
				want := []LineShift{{Piece: tc.fn, Offset: m1.off, Where: "immediate", Orig: int64(l1), Patched: int64(l2), Heuristic: true, Callee: tc.callee}}
				if c == nil || !slices.Equal(c.LineShifts, want) {
					t.Errorf("%s: got %+v, want line shifts %+v", tc.fn, c, want)
				}
			}
			// hidden also stores its line in a global: that immediate
			// feeds no callee.
			mv := findInsn(t, od1, "hidden", `^movl\s+\$0x[0-9a-f]+,0x0\(%rip\)`)
			if c := change(d, "hidden"); c == nil || c.Reason != ReasonImmediate || c.First == nil || c.First.Offset != mv.off {
				t.Errorf("hidden: want the store at %#x as its first difference, got %+v", mv.off, c)
			}
		})
	}
	t.Run("dwarf", func(t *testing.T) {
		_, d := diffFixture(t, "diff-mightsleep", "orig-g", "patched-g")
		// With line tables every immediate here is shown to be its
		// own line: the exact test, nothing heuristic.
		expect(t, d, nil, []string{"hidden", "rcu_checker", "reporter", "rescheder", "sleeper"}, nil, nil, 1)
		for _, c := range d.LineShiftOnly {
			for _, l := range c.LineShifts {
				if l.Heuristic {
					t.Errorf("%s: heuristic line shift %+v with a line table", c.Name, l)
				}
			}
		}
	})
}

// lineCallee on hand-made instruction sequences: what may stand between
// the load and the call.
func TestLineCallee(t *testing.T) {
	// mov $0x20,%esi; mov $0,%edi; call __might_sleep
	base := [][]byte{{0xbe, 0x20, 0, 0, 0}, {0xbf, 0, 0, 0, 0}}
	call := []byte{0xe8, 0, 0, 0, 0}
	for _, tc := range []struct {
		name   string
		insns  [][]byte
		target string
		want   string
	}{
		{"call", append(base, call), "__might_sleep", "__might_sleep"},
		{"tail call", append(base, []byte{0xe9, 0, 0, 0, 0}), "__might_fault", "__might_fault"},
		{"local definition", append(base, call), "__might_sleep#2", "__might_sleep"},
		{"other callee", append(base, call), "report", ""},
		{"line not in esi", [][]byte{{0xba, 0x20, 0, 0, 0}, call}, "__might_sleep", ""},
		{"esi overwritten", append(base, []byte{0x89, 0xfe}, call), "__might_sleep", ""},                // mov %edi,%esi
		{"esi read", append(base, []byte{0x01, 0xf0}, call), "__might_sleep", ""},                       // add %esi,%eax
		{"branch between", append(base, []byte{0x75, 0x02}, call), "__might_sleep", ""},                 // jne
		{"string op", append(base, []byte{0xa4}, call), "__might_sleep", ""},                            // movsb
		{"unrelated between", append(base, []byte{0x89, 0xc3}, call), "__might_sleep", "__might_sleep"}, // mov %eax,%ebx
		{"__warn_printk takes no line", append(base, call), "__warn_printk", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &piece{fn: &object.Func{Name: "f"}, ok: true}
			off := 0
			for _, b := range tc.insns {
				inst, err := decodeOne(b)
				if err != nil {
					t.Fatalf("% x: %v", b, err)
				}
				in := insn{off: off, raw: b, x86: inst}
				if b[0] == 0xe8 || b[0] == 0xe9 {
					in.pcTarget = tc.target
				}
				p.insns = append(p.insns, in)
				off += len(b)
			}
			got, ok := lineCallee(elf.EM_X86_64, p, 0)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("got %q %v, want %q", got, ok, tc.want)
			}
		})
	}
}

// Data objects: a changed initial value, a variable moved to
// .data..read_mostly and a new static, with their users.
func TestDataChanges(t *testing.T) {
	dir, d := diffFixture(t, "diff-data", "orig", "patched")
	s1, s2 := odSymbols(t, filepath.Join(dir, "orig.o")), odSymbols(t, filepath.Join(dir, "patched.o"))
	if !strings.HasPrefix(s1["hits"], ".data ") || !strings.HasPrefix(s2["hits"], ".data..read_mostly ") ||
		s1["extra"] != "" || s2["extra"] == "" || s1["limit"] == "" {
		t.Fatalf("fixture: objdump -t shows hits %q -> %q, extra %q -> %q, limit %q", s1["hits"], s2["hits"], s1["extra"], s2["extra"], s1["limit"])
	}
	// limit's initial value, as the bytes of .data hold it.
	v1, v2 := dataWord(t, filepath.Join(dir, "orig.o"), s1["limit"]), dataWord(t, filepath.Join(dir, "patched.o"), s2["limit"])
	if v1 != 10 || v2 != 20 {
		t.Fatalf("fixture: limit is %d then %d, want 10 then 20", v1, v2)
	}
	expect(t, d, []string{"get_limit"}, nil, []string{"set_extra"}, nil, 5)
	want := []DataChange{
		{Name: "extra", Section: ".data", Size: 4, Status: DataAdded, Reason: "only in the patched object", ReferencedBy: []string{"get_limit", "set_extra"}},
		{Name: "hits", Section: ".data..read_mostly", Size: 4, Status: DataChanged, Reason: "section .data -> .data..read_mostly", ReferencedBy: []string{"count_hit"}},
		{Name: "limit", Section: ".data", Size: 4, Status: DataChanged, Reason: "initial value", ReferencedBy: []string{"get_limit", "set_limit"}},
	}
	if !dataEqual(d.DataChanges, want) {
		t.Errorf("data changes:\ngot  %+v\nwant %+v", d.DataChanges, want)
	}
	if len(d.Renames) > 0 {
		t.Errorf("renames: %+v", d.Renames)
	}
}

// dataWord reads the 32-bit little-endian word at "section value" of
// path with objdump -s.
func dataWord(t *testing.T, path, at string) uint32 {
	t.Helper()
	f := strings.Fields(at)
	out, err := exec.Command("objdump", "-s", "-j", f[0], path).Output()
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
	off := hexU(f[1])
	if off+4 > uint64(len(data)) {
		t.Fatalf("objdump -s %s: %d bytes", f[0], len(data))
	}
	return uint32(data[off]) | uint32(data[off+1])<<8 | uint32(data[off+2])<<16 | uint32(data[off+3])<<24
}

func hexDecode(s string) ([]byte, error) { return hex.DecodeString(s) }

func decodeOne(b []byte) (*x86asm.Inst, error) {
	inst, err := x86asm.Decode(b, 64)
	if err != nil {
		return nil, err
	}
	return &inst, nil
}

// The pool rules on made-up candidates: a shape stands for the code.
func TestCorrelatePool(t *testing.T) {
	unit := func(i int, name, shape string) *unitInfo {
		u := &unitInfo{fn: &object.Func{Name: name}, idx: i, readable: true, base: baseName(name)}
		u.pieces = []*object.Func{u.fn}
		copy(u.shape[:], shape)
		return u
	}
	type pair struct{ orig, patched string }
	for _, tc := range []struct {
		name           string
		orig, patched  [][2]string // name, shape
		pairs          []pair
		added, removed []string
		ambiguous      bool
	}{
		{"renumbered", [][2]string{{"f.isra.0", "A"}}, [][2]string{{"f.isra.0", "B"}, {"f.isra.1", "A"}},
			[]pair{{"f.isra.0", "f.isra.1"}}, []string{"f.isra.0"}, nil, false},
		{"same name wins", [][2]string{{"f.part.0", "A"}}, [][2]string{{"f.part.0", "A"}, {"f.part.1", "A"}},
			[]pair{{"f.part.0", "f.part.0"}}, []string{"f.part.1"}, nil, false},
		{"two equal candidates", [][2]string{{"f.constprop.0", "A"}}, [][2]string{{"f.constprop.1", "A"}, {"f.constprop.2", "A"}},
			nil, []string{"f.constprop.1", "f.constprop.2"}, []string{"f.constprop.0"}, true},
		{"changed, same name", [][2]string{{"f.constprop.0", "A"}}, [][2]string{{"f.constprop.0", "B"}},
			[]pair{{"f.constprop.0", "f.constprop.0"}}, nil, nil, false},
		{"changed and renamed, the only ones", [][2]string{{"f.constprop.0", "A"}}, [][2]string{{"f.constprop.1", "B"}},
			[]pair{{"f.constprop.0", "f.constprop.1"}}, nil, nil, false},
		{"several changed", [][2]string{{"f.constprop.0", "A"}, {"f.constprop.1", "B"}}, [][2]string{{"f.constprop.2", "C"}, {"f.constprop.3", "D"}},
			nil, []string{"f.constprop.2", "f.constprop.3"}, []string{"f.constprop.0", "f.constprop.1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &correlation{n1: &namer{fn: map[int]string{}, data: map[int]string{}, side: 'o'},
				n2: &namer{fn: map[int]string{}, data: map[int]string{}, side: 'p'}}
			c.o1, c.o2 = &Object{}, &Object{}
			var os, ps []*unitInfo
			for i, u := range tc.orig {
				os = append(os, unit(i, u[0], u[1]))
			}
			for i, u := range tc.patched {
				ps = append(ps, unit(i, u[0], u[1]))
			}
			c.correlatePool(os, ps)
			var got []pair
			for _, p := range c.pairs {
				got = append(got, pair{p[0].fn.Name, p[1].fn.Name})
			}
			if !slices.Equal(got, tc.pairs) {
				t.Errorf("pairs: got %v, want %v", got, tc.pairs)
			}
			names := func(us []*unitInfo) []string {
				var out []string
				for _, u := range us {
					out = append(out, u.fn.Name)
				}
				return out
			}
			if g := names(c.added); !slices.Equal(g, tc.added) {
				t.Errorf("added: got %v, want %v", g, tc.added)
			}
			if g := names(c.removed); !slices.Equal(g, tc.removed) {
				t.Errorf("removed: got %v, want %v", g, tc.removed)
			}
			if (len(c.ambiguities) > 0) != tc.ambiguous {
				t.Errorf("ambiguities: %+v", c.ambiguities)
			}
		})
	}
}

func TestBaseName(t *testing.T) {
	for in, want := range map[string]string{
		"foo":                      "foo",
		"foo.constprop.0":          "foo.constprop",
		"usesx.constprop.0.isra.0": "usesx.constprop.isra",
		"foo.part.12.cold":         "foo.part.cold",
		"foo.cold.3":               "foo.cold",
		"__already_done.3":         "__already_done.3",
		"foo.isra":                 "foo.isra",
		"foo.llvm.123456":          "foo.llvm",
	} {
		if got := baseName(in); got != want {
			t.Errorf("baseName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSharedAddressData: without lockdep struct lock_class_key is empty,
// so a static key can share its address with the variable beside it
// (memcg_oom_lock and __key.2 in mm/memcontrol.o). A reference there is
// to the sized variable: f reads oom_lock_like in both objects, which
// only lay the empty key out differently, so f is unchanged.
func TestSharedAddressData(t *testing.T) {
	fixture.NeedTools(t, "gcc", "readelf")
	dir := t.TempDir()
	srcs := map[string]string{
		"orig.c":    "struct lock_class_key { };\nstatic int oom_lock_like;\nstatic struct lock_class_key __key;\nvoid *key_of(void) { return &__key; }\nint f(int x) { oom_lock_like += x; return oom_lock_like; }\n",
		"patched.c": "struct lock_class_key { };\nstatic struct lock_class_key __key;\nstatic int oom_lock_like;\nint f(int x) { oom_lock_like += x; return oom_lock_like; }\nvoid *key_of(void) { return &__key; }\n",
	}
	for name, src := range srcs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		fixture.Run(t, dir, "gcc", "-O2", "-c", name, "-o", strings.TrimSuffix(name, ".c")+".o")
	}
	// What gcc laid out: in orig.o the empty key and the variable share
	// offset 0 of .bss.
	out, err := exec.Command("readelf", "-sW", filepath.Join(dir, "orig.o")).Output()
	if err != nil {
		t.Fatal(err)
	}
	at := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 8 && (f[7] == "__key" || f[7] == "oom_lock_like") {
			at[f[7]] = f[1] + " size " + f[2]
		}
	}
	if at["__key"] != "0000000000000000 size 0" || at["oom_lock_like"] != "0000000000000000 size 4" {
		t.Fatalf("gcc %s laid orig.o out as %v, want both at 0", fixture.GCCVersion(), at)
	}
	a, err := Open(filepath.Join(dir, "orig.o"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(filepath.Join(dir, "patched.o"))
	if err != nil {
		t.Fatal(err)
	}
	d := Compare(a, b)
	if slices.Contains(changedNames(d.Changed), "f") {
		t.Errorf("f reported changed: %+v", d.Changed)
	}
}
