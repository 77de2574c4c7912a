package dwarfinfo_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/internal/fixture"
)

func live(f dwarfinfo.Flags) map[string]bool {
	m := map[string]bool{}
	for _, a := range f.Analyses() {
		m[a.Name] = a.Live
	}
	return m
}

// TestProducersLivepatchFlags: the three objects of the livepatch-flags
// fixture, one source compiled three ways, are told apart by their
// producers.
func TestProducersLivepatchFlags(t *testing.T) {
	dir := fixture.Build(t, "livepatch-flags")
	tests := []struct {
		obj        string
		lp, ftrace string
		live, dead []string
	}{
		{"plain.o", "", "none", []string{"ipa-ra", "ipa-pure-const", "ipa-icf", "ipa-modref", "ipa-cp"}, nil},
		{"lp.o", "inline-clone", "none", []string{"inlining", "ipa-cp", "ipa-sra", "ipa-split"},
			[]string{"ipa-ra", "ipa-pure-const", "ipa-icf", "ipa-modref", "ipa-reference", "ipa-vrp", "ipa-bit-cp"}},
		{"ftrace.o", "", "-pg -mfentry", []string{"ipa-pure-const", "ipa-icf", "ipa-modref"}, []string{"ipa-ra"}},
	}
	for _, tt := range tests {
		t.Run(tt.obj, func(t *testing.T) {
			us, err := dwarfinfo.Producers(filepath.Join(dir, tt.obj))
			if err != nil {
				t.Fatal(err)
			}
			if len(us) != 1 || us[0].Name != "lp.c" || us[0].From != dwarfinfo.FromDebugInfo || us[0].CompDir != dir {
				t.Fatalf("units %+v, want one unit lp.c from .debug_info in %s", us, dir)
			}
			f := us[0].Flags
			if f.Compiler != dwarfinfo.GCC || f.Opt != "2" || f.LivePatching != tt.lp || f.Ftrace() != tt.ftrace {
				t.Errorf("producer %q: compiler %v -O%s live-patching %q ftrace %q", us[0].Producer, f.Compiler, f.Opt, f.LivePatching, f.Ftrace())
			}
			l := live(f)
			for _, n := range tt.live {
				if !l[n] {
					t.Errorf("%s not live", n)
				}
			}
			for _, n := range tt.dead {
				if l[n] {
					t.Errorf("%s live", n)
				}
			}
		})
	}
}

// TestProducersLTO: a slim LTO object gives the producer of its early
// debug info; the linked program has the ltrans partition (GNU GIMPLE)
// and the early units of both sources.
func TestProducersLTO(t *testing.T) {
	dir := fixture.Build(t, "lto")
	us, err := dwarfinfo.Producers(filepath.Join(dir, "main.o"))
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 1 || us[0].From != dwarfinfo.FromEarlyDebug || us[0].Name != "main.c" || !us[0].Flags.LTO {
		t.Errorf("main.o: %+v, want one early-debug unit main.c with -flto", us)
	}
	us, err = dwarfinfo.Producers(filepath.Join(dir, "prog"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, u := range us {
		kinds = append(kinds, u.Flags.Compiler.String()+":"+u.Name)
	}
	if got := strings.Join(kinds, " "); got != "gcc-lto:<artificial> gcc:main.c gcc:helper.c" {
		t.Errorf("prog units: %s", got)
	}
	if f := us[0].Flags; !f.LTrans || f.Opt != "2" || !live(f)["ipa-icf"] {
		t.Errorf("ltrans unit: %+v", f)
	}
	in, err := dwarfinfo.Inlines(filepath.Join(dir, "main.o"))
	if err != nil || len(in.Funcs) != 0 {
		t.Errorf("Inlines(slim LTO main.o) = %+v, %v; want empty, nil", in, err)
	}
}

// gccVariant compiles the livepatch-flags source with extra flags, or
// skips when this gcc cannot (no -m32 multilib).
func gccVariant(t *testing.T, dir, name string, flags ...string) string {
	t.Helper()
	obj := filepath.Join(dir, name)
	args := append(append([]string{}, flags...), "-c", "-o", obj, filepath.Join(fixture.Dir("livepatch-flags"), "lp.c"))
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Skipf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return obj
}

// TestFastReaderForms checks the fast unit reader against debug/dwarf on
// the DWARF versions and encodings GCC writes.
func TestFastReaderForms(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	for _, v := range []struct {
		name  string
		flags []string
	}{
		{"dwarf5", []string{"-O2", "-g"}},
		{"dwarf4", []string{"-O2", "-g", "-gdwarf-4"}},
		{"dwarf2", []string{"-O2", "-g", "-gdwarf-2"}},
		{"dwarf64", []string{"-O2", "-g", "-gdwarf64"}},
		{"compressed", []string{"-O2", "-g", "-gz"}},
		{"function-sections", []string{"-O2", "-g", "-ffunction-sections"}},
		{"elf32-rel", []string{"-m32", "-O2", "-g"}},
		{"split-dwarf skeleton", []string{"-O2", "-g", "-gsplit-dwarf"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			obj := gccVariant(t, t.TempDir(), "x.o", v.flags...)
			fast, err := dwarfinfo.Producers(obj)
			if err != nil {
				t.Fatal(err)
			}
			slow, err := dwarfinfo.SlowProducers(obj)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Errorf("fast %+v\nslow %+v", fast, slow)
			}
			if len(fast) != 1 {
				t.Fatalf("%d units", len(fast))
			}
			if v.name != "split-dwarf skeleton" && (!strings.HasSuffix(fast[0].Name, "/lp.c") || fast[0].Flags.Opt != "2") {
				t.Errorf("unit %+v", fast[0])
			}
		})
	}
}

// TestNoDWARF: an object without debug info, a slim LTO object without
// -g (whose options are in .gnu.lto_.opts), a file that is not ELF.
func TestNoDWARF(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	nodebug := gccVariant(t, dir, "nodebug.o", "-O2")
	if _, err := dwarfinfo.Producers(nodebug); !errors.Is(err, dwarfinfo.ErrNoDWARF) || !strings.Contains(err.Error(), nodebug) {
		t.Errorf("Producers(no -g) error %v, want ErrNoDWARF naming the file", err)
	}
	if _, err := dwarfinfo.Inlines(nodebug); !errors.Is(err, dwarfinfo.ErrNoDWARF) || !strings.Contains(err.Error(), nodebug) {
		t.Errorf("Inlines(no -g) error %v, want ErrNoDWARF naming the file", err)
	}

	lto := gccVariant(t, dir, "lto.o", "-O2", "-flto", "-pg")
	us, err := dwarfinfo.Producers(lto)
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 1 || us[0].From != dwarfinfo.FromLTOOptions || us[0].Flags.Opt != "2" || !us[0].Flags.LTO ||
		!us[0].Flags.Profile || us[0].Flags.Version == "" {
		t.Errorf("slim LTO without -g: %+v", us)
	}

	text := filepath.Join(dir, "text.o")
	os.WriteFile(text, []byte("not an object\n"), 0o644)
	for name, fn := range map[string]func(string) error{
		"Producers": func(p string) error { _, err := dwarfinfo.Producers(p); return err },
		"Inlines":   func(p string) error { _, err := dwarfinfo.Inlines(p); return err },
	} {
		if err := fn(text); err == nil || !strings.Contains(err.Error(), text) {
			t.Errorf("%s(not ELF) error %v, want one naming the file", name, err)
		}
		if err := fn(filepath.Join(dir, "missing.o")); err == nil || !strings.Contains(err.Error(), "missing.o") {
			t.Errorf("%s(missing) error %v, want one naming the file", name, err)
		}
	}
}

// TestCorruptObjects cuts and scribbles over a real object: every
// result is an error naming the file or a (possibly partial) answer,
// never a panic.
func TestCorruptObjects(t *testing.T) {
	dir := fixture.Build(t, "livepatch-flags")
	b, err := os.ReadFile(filepath.Join(dir, "plain.o"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(b); i += 97 {
		for _, c := range [][]byte{b[:i], scribble(b, i)} {
			if _, err := dwarfinfo.ProducersFromBytes("plain.o", c); err != nil && !strings.Contains(err.Error(), "plain.o") {
				t.Fatalf("Producers at %d: error %v does not name the file", i, err)
			}
			if _, err := dwarfinfo.InlinesFromBytes("plain.o", c); err != nil && !strings.Contains(err.Error(), "plain.o") {
				t.Fatalf("Inlines at %d: error %v does not name the file", i, err)
			}
		}
	}
}

func scribble(b []byte, at int) []byte {
	c := append([]byte(nil), b...)
	for j := at; j < len(c) && j < at+8; j++ {
		c[j] ^= 0xff
	}
	return c
}

func TestProducersAllOrder(t *testing.T) {
	dir := fixture.Build(t, "livepatch-flags")
	paths := []string{filepath.Join(dir, "plain.o"), filepath.Join(dir, "missing.o"), filepath.Join(dir, "lp.o"), filepath.Join(dir, "ftrace.o")}
	for _, w := range []int{0, 1, 2, 8} {
		res := dwarfinfo.ProducersAll(paths, w)
		if len(res) != len(paths) {
			t.Fatalf("workers %d: %d results", w, len(res))
		}
		for i, r := range res {
			if r.Path != paths[i] || (r.Err != nil) != (i == 1) {
				t.Errorf("workers %d: result %d = %s, %v", w, i, r.Path, r.Err)
			}
		}
	}
}
