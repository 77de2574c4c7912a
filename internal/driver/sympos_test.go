package driver

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/livepatch"
	"github.com/klp-audit/klp-audit/object"
	"github.com/klp-audit/klp-audit/report"
)

// nmOrder returns the addresses of the symbols named name in "nm -n
// file" order: the order vmlinux's kallsyms keeps.
func nmOrder(t *testing.T, file, name string) []uint64 {
	t.Helper()
	out, err := exec.Command("nm", "-n", file).Output()
	if err != nil {
		t.Fatalf("nm -n %s: %v", file, err)
	}
	var addrs []uint64
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[2] == name {
			a, err := strconv.ParseUint(f[0], 16, 64)
			if err != nil {
				t.Fatalf("nm line %q: %v", l, err)
			}
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// sourceOf returns the base name of the source file addr2line gives for
// addr in file: which unit the code at addr came from.
func sourceOf(t *testing.T, file string, addr uint64) string {
	t.Helper()
	out, err := exec.Command("addr2line", "-e", file, strconv.FormatUint(addr, 16)).Output()
	if err != nil {
		t.Fatalf("addr2line: %v", err)
	}
	loc, _, _ := strings.Cut(strings.TrimSpace(string(out)), ":")
	return filepath.Base(loc)
}

// The outcomes impactedJSON expects: a complete answer, an incomplete
// one, or an input error.
const (
	complete   = 0
	incomplete = 1
	inputError = 2
	anyAnswer  = -1
)

// impacted answers an impacted query given as the command's flags
// (--func, --vmlinux, --policy, --no-rules) over the build in dir, as
// "klp-audit impacted --build ." run there would.
func impacted(t *testing.T, dir string, args ...string) (*Answer, error) {
	t.Helper()
	var q ImpactQuery
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--no-rules":
			q.NoRules = true
			continue
		case "--func":
			q.Func = args[i+1]
		case "--vmlinux":
			q.Vmlinux = append(q.Vmlinux, args[i+1])
		case "--policy":
			q.Policy = args[i+1]
		default:
			t.Fatalf("impacted: flag %s not handled by the test", args[i])
		}
		i++
	}
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	return Impacted(Options{Builds: []string{"."}}, q)
}

// impactedJSON answers the query of args in dir, checks the outcome is
// want (anyAnswer: complete or not) and returns the report as its JSON
// form reads back.
func impactedJSON(t *testing.T, dir string, want int, args ...string) *report.Result {
	t.Helper()
	a, err := impacted(t, dir, args...)
	if err != nil {
		t.Fatalf("impacted %v: %v", args, err)
	}
	got := complete
	if !a.Result.Complete {
		got = incomplete
	}
	if want != anyAnswer && got != want {
		t.Fatalf("impacted %v: complete=%v, want outcome %d; problems %v", args, a.Result.Complete, want, a.Result.Problems)
	}
	var b strings.Builder
	if err := report.Encode(&b, a.Result, report.JSON); err != nil {
		t.Fatal(err)
	}
	var r report.Result
	if err := json.Unmarshal([]byte(b.String()), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func targetOf(r *report.Result, name, tu string) *report.Target {
	for i := range r.Targets {
		if r.Targets[i].Name == name && r.Targets[i].TU == tu {
			return &r.Targets[i]
		}
	}
	return nil
}

// TestOldSympos: same-named static functions of two units linked into one
// executable (standing in for vmlinux) get the old_sympos of their
// position in address order, checked against nm -n and addr2line, which
// say independently where each unit's copy landed.
func TestOldSympos(t *testing.T) {
	fixture.NeedTools(t, "nm", "addr2line")
	dir := fixture.Build(t, "klp-sympos")
	prog := filepath.Join(dir, "prog")
	tests := []struct {
		name string
		tus  map[string]string // unit -> its source, as addr2line names it
	}{
		// different bodies: told apart by code
		{"scale", map[string]string{"a.o": "a.c", "b.o": "b.c"}},
		// the same body: told apart by DWARF
		{"twin", map[string]string{"a.o": "a.c", "b.o": "b.c"}},
		// static in a.c, global in main.c: the kernel counts both
		{"tally", map[string]string{"a.o": "a.c", "main.o": "main.c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addrs := nmOrder(t, prog, tt.name)
			if len(addrs) != len(tt.tus) {
				t.Fatalf("nm -n prog lists %s at %x; the fixture should have %d (noinline, used)", tt.name, addrs, len(tt.tus))
			}
			want := map[string]int{}
			for i, a := range addrs {
				src := sourceOf(t, prog, a)
				for tu, s := range tt.tus {
					if s == src {
						want[tu] = i + 1
					}
				}
			}
			if len(want) != len(tt.tus) {
				t.Fatalf("addr2line places %s's copies at %v, want one in each of %v", tt.name, want, tt.tus)
			}
			r := impactedJSON(t, dir, complete, "--func", tt.name, "--vmlinux", "prog")
			for tu, pos := range want {
				tg := targetOf(r, tt.name, tu)
				if tg == nil {
					t.Fatalf("no target %s in %s: %+v", tt.name, tu, r.Targets)
				}
				if tg.OldSympos == nil || *tg.OldSympos != pos {
					t.Errorf("%s (%s): old_sympos %v, want %d (nm -n order %x); evidence %q", tt.name, tu, tg.OldSympos, pos, addrs, tg.OldSymposEvidence)
				}
				if !strings.Contains(tg.OldSymposEvidence, "prog: "+[]string{"", "1st", "2nd"}[pos]+" of 2 symbols named "+tt.name) {
					t.Errorf("%s (%s): evidence %q does not say how it was counted", tt.name, tu, tg.OldSymposEvidence)
				}
				if tt.name == "twin" && !strings.Contains(tg.OldSymposEvidence, "DWARF compile unit "+tt.tus[tu]) {
					t.Errorf("twin (%s): evidence %q, want the DWARF unit that told the copies apart", tu, tg.OldSymposEvidence)
				}
			}
			// A function whose name is unique in prog, and global ones
			// whose name is: no old_sympos needed, none given for globals.
			for _, tg := range r.Targets {
				if tg.Name == tt.name {
					continue
				}
				if tg.Binding == "global" && tg.OldSympos != nil {
					t.Errorf("%s (%s) is global and unique, yet old_sympos %d", tg.Name, tg.TU, *tg.OldSympos)
				}
			}
			// Without --vmlinux nothing is counted.
			r = impactedJSON(t, dir, complete, "--func", tt.name)
			for _, tg := range r.Targets {
				if tg.OldSympos != nil {
					t.Errorf("without --vmlinux %s (%s) has old_sympos %d", tg.Name, tg.TU, *tg.OldSympos)
				}
			}
		})
	}
	// The unique local clone gets 0: "the only one".
	r := impactedJSON(t, dir, complete, "--func", "big", "--vmlinux", "prog", "--policy", fixture.WriteTemp(t, "policy.yaml", fixture.CloneABIPolicy))
	tg := targetOf(r, "big.constprop.0", "b.o")
	if tg == nil || tg.OldSympos == nil || *tg.OldSympos != 0 || !strings.Contains(tg.OldSymposEvidence, "the only symbol named big.constprop.0") {
		t.Errorf("big.constprop.0: %+v, want old_sympos 0 as the only symbol of its name", tg)
	}
}

// TestOldSymposProblems: when the linked file cannot say which symbol is
// ours, old_sympos stays unknown and the answer is incomplete (exit 1),
// naming the problem.
func TestOldSymposProblems(t *testing.T) {
	fixture.NeedTools(t, "objcopy")
	dir := fixture.Build(t, "klp-sympos")
	// Without DWARF the identical twins cannot be told apart.
	cmd := exec.Command("objcopy", "--strip-debug", "prog", "prog.nodebug")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, out)
	}
	// A vmlinux from another build: b.c's scale has another body there.
	b, err := os.ReadFile(filepath.Join(dir, "b.c"))
	if err != nil {
		t.Fatal(err)
	}
	// Built outside the audited build directory: an object there with no
	// dump would (rightly) make every answer about scale incomplete.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "b.c"), []byte(strings.Replace(string(b), "x * 5 - 2", "x * 9 - 4", 1)), 0o644)
	fixture.Run(t, other, "gcc", "-O2", "-g", "-c", "-o", "b.o", "b.c")
	fixture.Run(t, dir, "gcc", "-O2", "-g", "-o", "prog.other", "a.o", filepath.Join(other, "b.o"), "main.o")

	tests := []struct {
		name, fn, file string
		unknown        []string // units whose old_sympos is unknown
		known          []string // units whose old_sympos is still told
		problem        string
	}{
		{"twins without DWARF", "twin", "prog.nodebug", []string{"a.o", "b.o"}, nil,
			"2 local functions named twin in prog.nodebug have the code of a.o's, and its DWARF cannot tell them apart (prog.nodebug has no DWARF"},
		{"different code, no DWARF needed", "scale", "prog.nodebug", nil, []string{"a.o", "b.o"}, ""},
		{"code differs", "scale", "prog.other", []string{"b.o"}, []string{"a.o"},
			"none of the 2 local functions named scale in prog.other has the code of b.o's"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := complete
			if len(tt.unknown) > 0 {
				code = incomplete
			}
			r := impactedJSON(t, dir, code, "--func", tt.fn, "--vmlinux", tt.file)
			for _, tu := range tt.unknown {
				if tg := targetOf(r, tt.fn, tu); tg == nil || tg.OldSympos != nil {
					t.Errorf("%s (%s): %+v, want a target with old_sympos unknown", tt.fn, tu, tg)
				}
			}
			for _, tu := range tt.known {
				if tg := targetOf(r, tt.fn, tu); tg == nil || tg.OldSympos == nil {
					t.Errorf("%s (%s): %+v, want old_sympos told", tt.fn, tu, tg)
				}
			}
			if tt.problem == "" {
				if !r.Complete || len(r.Problems) > 0 {
					t.Errorf("problems %+v, want none", r.Problems)
				}
				return
			}
			found := false
			for _, p := range r.Problems {
				if strings.Contains(p.Message, tt.problem) && p.Kind == report.KindFailClosed && strings.HasPrefix(p.Message, "old_sympos of "+tt.fn) {
					found = true
				}
			}
			if r.Complete || !found {
				t.Errorf("complete=%v problems %+v, want one containing %q", r.Complete, r.Problems, tt.problem)
			}
		})
	}
}

// TestOldSymposModule: a module's old_sympos counts in its symbol table's
// order (module_kallsyms_on_each_symbol), and its name comes from
// .modinfo.
func TestOldSymposModule(t *testing.T) {
	fixture.NeedTools(t, "ld", "objcopy")
	dir := fixture.Build(t, "klp-sympos")
	os.WriteFile(filepath.Join(dir, "modinfo"), []byte("license=GPL\x00name=fix_mod\x00"), 0o644)
	for _, c := range [][]string{
		{"ld", "-r", "-o", "both.o", "a.o", "b.o"},
		{"objcopy", "--add-section", ".modinfo=modinfo", "both.o", "fix-mod.ko"},
	} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	lfs, err := livepatch.OpenLinkedFiles([]string{filepath.Join(dir, "fix-mod.ko")})
	if err != nil {
		t.Fatal(err)
	}
	defer lfs.Close()
	if lf, why := lfs.FileFor("fix_mod"); lf == nil {
		t.Fatalf("module name not read from .modinfo: %s", why)
	}
	// The oracle: the symbol table's own order, and each unit's code
	// first at its own offset (ld -r concatenates .text in input order).
	ef, err := elf.Open(filepath.Join(dir, "fix-mod.ko"))
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	syms, _ := ef.Symbols()
	var values []uint64
	for _, s := range syms {
		if s.Name == "scale" {
			values = append(values, s.Value)
		}
	}
	r := impactedJSON(t, dir, complete, "--func", "scale", "--vmlinux", "fix-mod.ko")
	for _, tu := range []string{"a.o", "b.o"} {
		f, err := object.Open(filepath.Join(dir, tu))
		if err != nil {
			t.Fatal(err)
		}
		off := f.Lookup("scale")[0].Value
		if tu == "b.o" {
			a, _ := object.Open(filepath.Join(dir, "a.o"))
			off += textSize(t, a)
		}
		want := 0
		for i, v := range values {
			if v == off {
				want = i + 1
			}
		}
		tg := targetOf(r, "scale", tu)
		if want == 0 || tg == nil || tg.OldSympos == nil || *tg.OldSympos != want {
			t.Errorf("scale (%s): %+v, want old_sympos %d (symbol table values %x)", tu, tg, want, values)
		}
		if tg != nil && !strings.Contains(tg.OldSymposEvidence, "the module's symbol table order") {
			t.Errorf("evidence %q does not name the module order", tg.OldSymposEvidence)
		}
	}
}

// textSize returns the size of an object's .text, rounded up to the
// alignment ld -r keeps between units (16 bytes, gcc's -O2 function
// alignment on x86-64).
func textSize(t *testing.T, f *object.File) uint64 {
	t.Helper()
	ef, err := elf.Open(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	s := ef.Section(".text")
	return (s.Size + s.Addralign - 1) / s.Addralign * s.Addralign
}

// TestVmlinuxErrors: what --vmlinux cannot use is an input error.
func TestVmlinuxErrors(t *testing.T) {
	dir := fixture.Build(t, "klp-sympos")
	tests := []struct {
		name, args, want string
	}{
		{"relocatable object", "--vmlinux a.o", "a.o: a relocatable object that is not a module"},
		{"missing file", "--vmlinux nowhere", "nowhere: no such file"},
		{"not ELF", "--vmlinux a.c", "a.c: bad magic number"},
		{"vmlinux twice", "--vmlinux prog --vmlinux prog", "--vmlinux given twice for vmlinux"},
		{"without rules", "--vmlinux prog --no-rules", "--vmlinux sets the old_sympos of the rules' targets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := impacted(t, dir, append([]string{"--func", "scale"}, strings.Fields(tt.args)...)...)
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v; want an input error saying %q", err, tt.want)
			}
		})
	}
}

// TestKernelOldSympos links the kernel fixture's built-in code (mm/ and
// kernel/, unresolved symbols left at 0) into an executable standing in
// for vmlinux, and checks that the real objects (objtool-processed, with
// __fentry__ and other relocations) are matched to their linked copies:
// three static type_show functions get the old_sympos of their nm -n
// order, each where addr2line puts its unit's source.
func TestKernelOldSympos(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	fixture.NeedTools(t, "ld", "nm", "addr2line")
	tree := fixture.KernelTree(t)
	vmlinux := filepath.Join(t.TempDir(), "vmlinux")
	cmd := exec.Command("ld", "-m", "elf_x86_64", "-o", vmlinux, "-e", "0", "-Ttext=0x100000",
		"--unresolved-symbols=ignore-all", "--noinhibit-exec", "--whole-archive", "mm/built-in.a", "kernel/built-in.a")
	cmd.Dir = tree
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot link a stand-in vmlinux: %v\n%s", err, out)
	}
	// Problems elsewhere (callers outside kernel/ and mm/) may make the
	// answer incomplete; none may concern old_sympos.
	r := impactedJSON(t, tree, anyAnswer, "--func", "type_show", "--vmlinux", vmlinux)
	for _, p := range r.Problems {
		if strings.Contains(p.Message, "old_sympos") {
			t.Errorf("problem: %s", p.Message)
		}
	}
	addrs := nmOrder(t, vmlinux, "type_show")
	var n int
	for _, tg := range r.Targets {
		if tg.Name != "type_show" {
			if tg.Binding == "local" && (tg.OldSympos == nil || *tg.OldSympos != 0) {
				t.Errorf("%s (%s): old_sympos %v, want 0 (its name is unique)", tg.Name, tg.TU, tg.OldSympos)
			}
			continue
		}
		n++
		src := strings.TrimSuffix(filepath.Base(tg.TU), ".o") + ".c"
		want := 0
		for i, a := range addrs {
			if sourceOf(t, vmlinux, a) == src {
				want = i + 1
			}
		}
		if tg.KLPObject != "vmlinux" || tg.OldSympos == nil || *tg.OldSympos != want {
			t.Errorf("type_show (%s): klp_object %q old_sympos %v, want vmlinux and %d (nm -n %x); evidence %q",
				tg.TU, tg.KLPObject, tg.OldSympos, want, addrs, tg.OldSymposEvidence)
		}
	}
	if n != len(addrs) || n < 2 {
		t.Errorf("%d type_show targets, nm lists %d", n, len(addrs))
	}
}
