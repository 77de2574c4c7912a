package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/report"
)

// kbuildModule returns the klp_object kbuild compiled object obj (relative
// to the build dir) for, from its .cmd file: a module object's command
// defines MODULE and KBUILD_MODNAME as the module's name; any other is
// built into vmlinux.
func kbuildModule(t *testing.T, dir, obj string) string {
	t.Helper()
	d, base := filepath.Split(obj)
	b, err := os.ReadFile(filepath.Join(dir, d, "."+base+".cmd"))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.SplitN(string(b), "\n", 2)[0]
	if !strings.Contains(line, " -DMODULE ") {
		return "vmlinux"
	}
	m := regexp.MustCompile(`-DKBUILD_MODNAME='"([^"]+)"'`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("%s: module object without KBUILD_MODNAME", obj)
	}
	return m[1]
}

// funcSymbols returns the names of the FUNC symbols of object path.
func funcSymbols(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC {
			out[s.Name] = true
		}
	}
	return out
}

// oBuildFix writes a unified diff (diff -u a/FILE b/FILE) adding a
// compiler barrier at the top of fn's body in file of the source tree src,
// without touching src.
func oBuildFix(t *testing.T, src, file, fn string) string {
	t.Helper()
	orig, err := os.ReadFile(filepath.Join(src, file))
	if err != nil {
		t.Fatal(err)
	}
	def := regexp.MustCompile(`(?m)^static [a-z ]+\b` + fn + `\([^;{]*\)\s*\n\{\n(\t[^\n]*;\n)*\n?`)
	loc := def.FindIndex(orig)
	if loc == nil {
		t.Fatalf("definition of %s not found in %s", fn, file)
	}
	fixed := append(append(append([]byte{}, orig[:loc[1]]...), "\tbarrier();\n"...), orig[loc[1]:]...)
	work := t.TempDir()
	for side, text := range map[string][]byte{"a": orig, "b": fixed} {
		p := filepath.Join(work, side, file)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, text, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("diff", "-u", "a/"+file, "b/"+file)
	cmd.Dir = work
	d, _ := cmd.Output() // diff exits 1 when the files differ
	if !strings.Contains(string(d), "+\tbarrier();") {
		t.Fatalf("diff -u gave no hunk:\n%s", d)
	}
	return fixture.WriteTemp(t, "fix.patch", string(d))
}

// funcsList writes a --funcs list naming each target under klp_object obj;
// with none, a function of the build the fixes never touch (a list is
// never empty).
func funcsList(t *testing.T, obj string, targets []report.CheckTarget) string {
	t.Helper()
	var b strings.Builder
	if len(targets) == 0 {
		b.WriteString("- object: vmlinux\n  old_name: oom_killer_disable\n")
	}
	for _, tg := range targets {
		b.WriteString("- object: " + obj + "\n  old_name: " + tg.Name + "\n")
	}
	return fixture.WriteTemp(t, "funcs.yaml", b.String())
}

// TestKernelOBuildCheck: check and klp-skeleton on a real make O= build
// (fixture.KernelOBuild: the output directory holds objects and dumps,
// the sources are in the tree its source link names). The fix's original
// is read from that tree, each hunk is mapped through the build's DWARF
// (which names the sources by their absolute path), and every target's
// klp_object is the one kbuild compiled its object for: the module bfs
// for fs/bfs, vmlinux for mm/oom_kill.o (MODULE and KBUILD_MODNAME in the
// objects' .cmd files). A livepatch naming the targets in that klp_object
// covers them; naming them in the other leaves them missing. Copied
// without its source link, the build needs --source.
func TestKernelOBuildCheck(t *testing.T) {
	fixture.NeedTools(t, "diff")
	obj, src := fixture.KernelOBuild(t)
	for _, tc := range []struct {
		file, tu, fn, other string
	}{
		{"fs/bfs/file.c", "fs/bfs/file.o", "bfs_move_block", "vmlinux"},
		{"mm/oom_kill.c", "mm/oom_kill.o", "oom_unkillable_task", "bfs"},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			want := kbuildModule(t, obj, tc.tu)
			syms := funcSymbols(t, filepath.Join(obj, tc.tu))
			fix := oBuildFix(t, src, tc.file, tc.fn)

			_, r, errs := checkJSON(t, obj, "--build", ".", "--diff", fix, "--funcs", funcsList(t, "vmlinux", nil))
			if r == nil {
				t.Fatalf("check: input error\n%s", errs)
			}
			if len(r.Changed) != 1 || r.Changed[0].Name != tc.fn {
				t.Fatalf("check mapped the fix to %+v, want [%s]\n%s", r.Changed, tc.fn, errs)
			}
			for _, h := range r.Hunks {
				if strings.Contains(h.Note, "from the source") {
					t.Errorf("hunk %s:%d mapped from the source, not the build's DWARF: %s", h.File, h.Line, h.Note)
				}
			}
			if len(r.Missing) == 0 {
				t.Fatalf("no must-patch target for %s: the test proves nothing", tc.fn)
			}
			for _, tg := range append(append([]report.CheckTarget{}, r.Missing...), r.Review...) {
				if tg.KLPObject != want {
					t.Errorf("%s (%s): klp_object %q, kbuild compiled it for %q", tg.Name, tg.TU, tg.KLPObject, want)
				}
				if tg.TU == tc.tu && !syms[tg.Name] {
					t.Errorf("target %s is no FUNC symbol of %s", tg.Name, tc.tu)
				}
				if strings.HasPrefix(tg.SourceFile, "/") {
					t.Errorf("%s: source file %s keeps the source tree's prefix", tg.Name, tg.SourceFile)
				}
			}

			_, good, errs := checkJSON(t, obj, "--build", ".", "--diff", fix, "--funcs", funcsList(t, want, r.Missing))
			if good == nil || len(good.Missing) != 0 {
				t.Errorf("livepatch naming every target in %s: %+v\n%s", want, good, errs)
			}
			_, bad, errs := checkJSON(t, obj, "--build", ".", "--diff", fix, "--funcs", funcsList(t, tc.other, r.Missing))
			if bad == nil || len(bad.Missing) != len(r.Missing) {
				t.Errorf("livepatch naming the targets in %s instead of %s: %+v, want all %d missing\n%s", tc.other, want, bad, len(r.Missing), errs)
			}
		})
	}

	t.Run("klp-skeleton", func(t *testing.T) {
		code, out, errs := run(t, obj, "klp-skeleton", "--build", ".", "--func", "bfs_move_block")
		if code != ExitOK || !strings.Contains(out, `.name = "bfs",`) || strings.Contains(out, "not a kernel tree") {
			t.Errorf("klp-skeleton: exit %d, want the klp_object bfs:\n%s\n%s", code, out, errs)
		}
	})

	// The same build copied without its source link and Makefile: the
	// source tree is unknown until --source names it.
	t.Run("--source", func(t *testing.T) {
		cp := t.TempDir()
		for _, pat := range []string{".config", "include/config/auto.conf", fixture.OBuildModuleDir + "/*", fixture.OBuildModuleDir + "/.*.cmd"} {
			files, _ := filepath.Glob(filepath.Join(obj, pat))
			for _, f := range files {
				rel, _ := filepath.Rel(obj, f)
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				os.MkdirAll(filepath.Join(cp, filepath.Dir(rel)), 0o755)
				if err := os.WriteFile(filepath.Join(cp, rel), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		fix := oBuildFix(t, src, "fs/bfs/file.c", "bfs_move_block")
		_, r, errs := checkJSON(t, obj, "--build", ".", "--diff", fix, "--funcs", funcsList(t, "vmlinux", nil))
		if r == nil {
			t.Fatalf("check: input error\n%s", errs)
		}
		funcs := funcsList(t, fixture.OBuildModuleName, r.Missing)
		code, _, errs := checkJSON(t, cp, "--build", ".", "--diff", fix, "--funcs", funcs)
		if code != ExitUsage || !strings.Contains(errs, "--source") {
			t.Errorf("copied build without its source link: exit %d, want %d and a hint to give --source:\n%s", code, ExitUsage, errs)
		}
		code, got, errs := checkJSON(t, cp, "--build", ".", "--diff", fix, "--funcs", funcs, "--source", src)
		if code != ExitOK || got == nil || got.Verdict != "complete" || len(got.Covered) != len(r.Missing) {
			t.Errorf("with --source: exit %d %+v, want complete covering %d\n%s", code, got, len(r.Missing), errs)
		}
	})
}
