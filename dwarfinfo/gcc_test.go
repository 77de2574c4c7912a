package dwarfinfo_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/internal/fixture"
)

// probeC is compiled with each flag set. caller1 keeps x and y live
// across the call to leafy: with IPA-RA it leaves them in call-clobbered
// registers (leafy does not touch them), without it saves them in
// callee-saved ones (%rbx).
const probeC = `static __attribute__((noinline)) int leafy(int *p) { return p[0] * 3 + p[1]; }
int caller1(int *p, int x, int y) { return leafy(p) + x + y; }
`

// needGCC12 skips unless gcc 12 is installed: the rules are GCC 12's.
func needGCC12(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	if v := fixture.GCCVersion(); !strings.HasPrefix(v, "12.") {
		t.Skipf("gcc %s installed; the rules modelled are GCC 12's", v)
	}
}

// compileProbe compiles probeC with -g and flags and returns the unit's
// flags as Producers reads them from the object.
func compileProbe(t *testing.T, dir string, flags []string) dwarfinfo.Flags {
	t.Helper()
	src := filepath.Join(dir, "probe.c")
	if err := os.WriteFile(src, []byte(probeC), 0o644); err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(dir, "probe.o")
	args := append(append([]string{"-g"}, flags...), "-c", "-o", obj, src)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	us, err := dwarfinfo.Producers(obj)
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 1 {
		t.Fatalf("gcc %s: %d units, want 1", strings.Join(args, " "), len(us))
	}
	return us[0].Flags
}

var optionStateRE = regexp.MustCompile(`^\s+-f([A-Za-z0-9-]+)\s+\[(enabled|disabled)\]`)

// gccOptions returns what gcc -Q --help=optimizers prints for flags.
func gccOptions(t *testing.T, flags []string) map[string]bool {
	t.Helper()
	args := append([]string{"-Q", "--help=optimizers"}, flags...)
	out, err := exec.Command("gcc", args...).Output()
	if err != nil {
		t.Fatalf("gcc %s: %v", strings.Join(args, " "), err)
	}
	st := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := optionStateRE.FindStringSubmatch(sc.Text()); m != nil {
			st[m[1]] = m[2] == "enabled"
		}
	}
	if len(st) < 100 {
		t.Fatalf("gcc %s printed only %d option states", strings.Join(args, " "), len(st))
	}
	return st
}

// TestOptionsMatchGCC compiles an object with each flag set, parses the
// producer GCC recorded in it, and checks Option for every modelled
// option against what the compiler itself prints with
// gcc -Q --help=optimizers: the expectations come from the compiler.
func TestOptionsMatchGCC(t *testing.T) {
	needGCC12(t)
	sets := []string{
		"-O0", "-O", "-O1", "-Og", "-O2", "-O3", "-Os", "-Oz", "-Ofast",
		"-O2 -fno-ipa-ra", "-O1 -fipa-ra", "-O0 -fipa-pure-const",
		"-O2 -fno-ipa-icf", "-O1 -fipa-icf", "-O2 -fno-ipa-icf-functions",
		"-O2 -fno-inline", "-O2 -fno-ipa-cp", "-Og -fipa-modref",
		"-O2 -fno-partial-inlining -fno-optimize-sibling-calls -fno-inline-small-functions",
		"-Os -fno-ipa-pure-const -fno-ipa-modref -fno-ipa-reference",
		"-O2 -flive-patching=inline-clone", "-O2 -flive-patching=inline-only-static",
		"-O2 -flive-patching", "-O3 -flive-patching=inline-only-static",
		"-O2 -pg -mfentry", "-O2 -fpatchable-function-entry=16,14", "-O2 -flto",
		"-O2 -pg -mrecord-mcount -mfentry -fno-strict-aliasing -fconserve-stack -fno-ipa-sra",
	}
	for _, s := range sets {
		t.Run(s, func(t *testing.T) {
			flags := strings.Fields(s)
			f := compileProbe(t, t.TempDir(), flags)
			want := gccOptions(t, flags)
			for _, name := range dwarfinfo.ModelledOptions {
				w, ok := want[name]
				if !ok {
					t.Errorf("gcc -Q does not print -f%s", name)
					continue
				}
				if got, why := f.Option(name); got != w {
					t.Errorf("-f%s: derived %v (%s), gcc -Q says %v", name, got, why, w)
				}
			}
		})
	}
}

// TestIPARACodegen checks the IPA-RA verdict, including the adjustments
// gcc -Q does not show (-pg, -fpatchable-function-entry), against the
// code GCC generates: caller1 saves x and y in %rbx exactly when IPA-RA
// was not live.
func TestIPARACodegen(t *testing.T) {
	needGCC12(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("the probe reads x86-64 assembly")
	}
	sets := []string{
		"-O2", "-O3", "-Os", "-O1", "-O1 -fipa-ra", "-Og -fipa-ra", "-O2 -fno-ipa-ra",
		"-O2 -pg", "-O2 -p", "-O2 -pg -mfentry", "-O2 -pg -mfentry -mrecord-mcount",
		"-O2 -fpatchable-function-entry=16,14", "-O2 -fpatchable-function-entry=2", "-O2 -fpatchable-function-entry=0",
		"-O2 -flive-patching=inline-clone", "-O2 -flive-patching=inline-only-static",
	}
	for _, s := range sets {
		t.Run(s, func(t *testing.T) {
			dir := t.TempDir()
			flags := strings.Fields(s)
			f := compileProbe(t, dir, flags)
			var live bool
			var why string
			for _, a := range f.Analyses() {
				if a.Name == "ipa-ra" {
					live, why = a.Live, a.Why
				}
			}
			args := append(append([]string{}, flags...), "-S", "-o", "-", filepath.Join(dir, "probe.c"))
			asm, err := exec.Command("gcc", args...).Output()
			if err != nil {
				t.Fatalf("gcc %s: %v", strings.Join(args, " "), err)
			}
			body := funcAsm(string(asm), "caller1")
			if body == "" {
				t.Fatalf("no caller1 in the assembly:\n%s", asm)
			}
			saves := strings.Contains(body, "%rbx")
			if saves == live {
				t.Errorf("ipa-ra derived live=%v (%s), but caller1 saves registers=%v:\n%s", live, why, saves, body)
			}
		})
	}
}

// funcAsm returns the assembly of function name.
func funcAsm(asm, name string) string {
	start := strings.Index(asm, "\n"+name+":\n")
	if start < 0 {
		return ""
	}
	rest := asm[start:]
	if end := strings.Index(rest, "\t.size\t"+name+","); end >= 0 {
		rest = rest[:end]
	}
	return rest
}
