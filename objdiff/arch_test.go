package objdiff

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/object"
)

// crossTarget is one livepatch architecture's cross compiler, with the
// flags that matter of its kernel builds.
type crossTarget struct {
	name, gcc string
	flags     []string
	objdump   string // what objdump -i lists for the target
}

var crossTargets = []crossTarget{
	{"aarch64", "aarch64-linux-gnu-gcc", []string{"-fpatchable-function-entry=2"}, "aarch64"},
	{"ppc64le", "powerpc64le-linux-gnu-gcc", []string{"-mcmodel=medium", "-pg", "-mprofile-kernel"}, "powerpc"},
	// The large code model reaches string literals through .toc entries.
	{"ppc64le-large", "powerpc64le-linux-gnu-gcc", []string{"-mcmodel=large"}, "powerpc"},
	{"ppc64-elfv2", "powerpc64le-linux-gnu-gcc", []string{"-mbig-endian", "-mabi=elfv2", "-mcmodel=large"}, "powerpc"},
	{"s390x", "s390x-linux-gnu-gcc", []string{"-fPIE", "-pg", "-mfentry", "-mrecord-mcount", "-mnop-mcount"}, "s390"},
	{"loongarch64", "loongarch64-linux-gnu-gcc", []string{"-fpatchable-function-entry=2"}, "loongarch"},
}

// crossBuild compiles testdata/arch/<src>.c for tg into dir/<out>.o; it
// skips the test when the cross compiler is missing.
func crossBuild(t *testing.T, tg crossTarget, dir, src, out string) string {
	t.Helper()
	if _, err := exec.LookPath(tg.gcc); err != nil {
		t.Skipf("%s not installed (Debian: gcc-%s): no %s fixture", tg.gcc, strings.TrimSuffix(tg.gcc, "-gcc"), tg.name)
	}
	obj := filepath.Join(dir, out+".o")
	args := append(append([]string{"-c", "-O2", "-g", "-ffreestanding"}, tg.flags...), "-o", obj, filepath.Join("testdata", "arch", src+".c"))
	if b, err := exec.Command(tg.gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", tg.gcc, strings.Join(args, " "), err, b)
	}
	return obj
}

// crossObjdump returns an objdump that reads tg's objects.
func crossObjdump(t *testing.T, tg crossTarget) string {
	t.Helper()
	for _, c := range []string{strings.TrimSuffix(tg.gcc, "gcc") + "objdump", "objdump"} {
		if p, err := exec.LookPath(c); err == nil {
			if out, err := exec.Command(p, "-i").Output(); err == nil && strings.Contains(string(out), tg.objdump) {
				return p
			}
		}
	}
	t.Skipf("no objdump for %s (Debian: binutils-multiarch)", tg.name)
	return ""
}

var objdumpHeadRE = regexp.MustCompile(`^[0-9a-f]+ <([^>]+)>:$`)

// objdumpFunc returns objdump -dr's listing of function fn in obj:
// instructions and the relocations under them.
func objdumpFunc(t *testing.T, objdump, obj, fn string) string {
	t.Helper()
	out, err := exec.Command(objdump, "-dr", obj).Output()
	if err != nil {
		t.Fatalf("objdump -dr %s: %v", obj, err)
	}
	var b strings.Builder
	in := false
	for _, line := range strings.Split(string(out), "\n") {
		if m := objdumpHeadRE.FindStringSubmatch(line); m != nil {
			in = m[1] == fn
			continue
		}
		if in && strings.TrimSpace(line) != "" {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// TestCrossArch compiles testdata/arch/orig.c twice and patched.c (whose
// only change is greet's string literal) for each architecture whose
// cross compiler is present. The rebuild must compare equal; the patch
// must change greet alone. objdump -dr shows greet's code and
// relocations identical in orig and patched (the string sits behind a
// section symbol, or a .toc entry, at the same offset), so only a
// comparison that follows relocations to the string's content sees it.
func TestCrossArch(t *testing.T) {
	for _, tg := range crossTargets {
		t.Run(tg.name, func(t *testing.T) {
			dir := t.TempDir()
			o1 := crossBuild(t, tg, dir, "orig", "orig")
			o2 := crossBuild(t, tg, dir, "orig", "rebuilt")
			p := crossBuild(t, tg, dir, "patched", "patched")
			objdump := crossObjdump(t, tg)
			open := func(path string) *Object {
				o, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				return o
			}
			a, b, c := open(o1), open(o2), open(p)
			if d := Compare(a, b); len(d.Changed)+len(d.Added)+len(d.Removed)+len(d.LineShiftOnly) > 0 || d.Unchanged != 4 {
				t.Errorf("rebuild: %d changed %v, %d added, %d removed, %d unchanged; want 4 unchanged",
					len(d.Changed), changedNames(d.Changed), len(d.Added), len(d.Removed), d.Unchanged)
			}
			d := Compare(a, c)
			expect(t, d, []string{"greet"}, nil, nil, nil, 3)
			if ch := change(d, "greet"); ch == nil || ch.First == nil ||
				!strings.Contains(ch.First.Orig, `"hello\n"`) || !strings.Contains(ch.First.Patched, `"hello, world\n"`) {
				t.Errorf("greet: first difference %+v, want the two strings", ch)
			}
			if x, y := objdumpFunc(t, objdump, o1, "greet"), objdumpFunc(t, objdump, p, "greet"); x != y || x == "" {
				t.Errorf("objdump -dr shows greet's code differ (or empty); the fixture no longer tests what it says:\n%s\n---\n%s", x, y)
			} else if tg.name == "ppc64le-large" && !strings.Contains(x, "R_PPC64_TOC16_HA\t.toc") {
				t.Errorf("large code model: greet does not load its string through .toc:\n%s", x)
			}
		})
	}
}

// TestUnsupportedObject checks that diff refuses an object of a machine
// it does not read, naming the machine, rather than comparing bytes.
func TestUnsupportedObject(t *testing.T) {
	src := filepath.Join(t.TempDir(), "x.o")
	tg := crossTarget{name: "ppc64-elfv1", gcc: "powerpc64le-linux-gnu-gcc", flags: []string{"-mbig-endian", "-mabi=elfv1"}}
	obj := crossBuild(t, tg, filepath.Dir(src), "orig", "v1")
	_, err := Open(obj)
	if err == nil || !errors.Is(err, object.ErrUnsupported) || !strings.Contains(err.Error(), "ELFv1") {
		t.Fatalf("Open(ppc64 ELFv1) = %v, want an ErrUnsupported naming ELFv1", err)
	}
	b, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	b[19] = 243 // big-endian e_machine: EM_RISCV
	bad := filepath.Join(filepath.Dir(src), "riscv.o")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bad); err == nil || !strings.Contains(err.Error(), "EM_RISCV") {
		t.Fatalf("Open(riscv) = %v, want an error naming EM_RISCV", err)
	}
}

// TestCorruptCrossObjects damages objects of every architecture whose
// cross compiler is present and compares them with the intact ones: no
// panic, no hang, in the decoders, relocation tables and TOC lookups of
// each machine (TestCorruptObjects does the same for the host's).
func TestCorruptCrossObjects(t *testing.T) {
	var seeds [][]byte
	for _, tg := range crossTargets {
		if _, err := exec.LookPath(tg.gcc); err != nil {
			continue
		}
		b, err := os.ReadFile(crossBuild(t, tg, t.TempDir(), "orig", tg.name))
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	if len(seeds) == 0 {
		t.Skip("no cross compiler installed")
	}
	n := 2000
	if testing.Short() {
		n = 200
	}
	r := rand.New(rand.NewSource(2))
	opened := 0
	for i := 0; i < n; i++ {
		k := r.Intn(len(seeds))
		ref, err := NewObject(bytes.NewReader(seeds[k]), "ref.o")
		if err != nil {
			t.Fatal(err)
		}
		b := append([]byte(nil), seeds[k]...)
		for j := 1 + r.Intn(8); j > 0; j-- {
			p := r.Intn(len(b))
			switch r.Intn(3) {
			case 0:
				b[p] = byte(r.Intn(256))
			case 1:
				b[p] ^= 1 << uint(r.Intn(8))
			default:
				b[p] = 0xff
			}
		}
		o, err := NewObject(bytes.NewReader(b), "damaged.o")
		if err != nil {
			continue
		}
		opened++
		Compare(o, o)
		Compare(ref, o)
		Compare(o, ref)
	}
	t.Logf("%d of %d damaged objects opened and compared", opened, n)
}
