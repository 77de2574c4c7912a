package kbuild

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// TestParseCmdKernel parses every object .cmd file of the kernel fixture
// and checks each against the file's own text: the target is the object
// beside the .cmd file, the source exists, the compile words joined are
// the command before the first ";", and the deps are files of the tree.
func TestParseCmdKernel(t *testing.T) {
	tree := fixture.KernelTree(t)
	cmds, err := cmdFiles(filepath.Join(tree, "mm"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) < 50 {
		t.Fatalf("only %d .cmd files under mm/", len(cmds))
	}
	rebuildable := 0
	for _, c := range cmds {
		data, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := ParseCmd(c.path, data)
		if err != nil {
			// Composite objects are linked, not compiled: refused, with
			// the reason.
			if cf == nil || !strings.Contains(err.Error(), "not a C compiler") {
				t.Errorf("%s: %v", c.path, err)
			}
			continue
		}
		rebuildable++
		rel, _ := filepath.Rel(tree, filepath.Join(filepath.Dir(c.path), strings.TrimSuffix(strings.TrimPrefix(filepath.Base(c.path), "."), ".cmd")))
		if cf.Target != filepath.ToSlash(rel) {
			t.Errorf("%s: target %q, want %q", c.path, cf.Target, rel)
		}
		if _, err := os.Stat(filepath.Join(tree, cf.Source)); err != nil {
			t.Errorf("%s: source: %v", c.path, err)
		}
		first := strings.SplitN(string(data), "\n", 2)[0]
		gccPart := strings.TrimSpace(strings.SplitN(strings.SplitN(first, " := ", 2)[1], ";", 2)[0])
		// The words, requoted the only way kbuild quotes (-D...='"x"'),
		// give the recorded text back.
		var back []string
		for _, w := range cf.Compile {
			if strings.Contains(w, `"`) {
				k, v, _ := strings.Cut(w, "=")
				w = k + "='" + v + "'"
			}
			back = append(back, w)
		}
		if got, want := strings.Join(back, " "), strings.Join(strings.Fields(gccPart), " "); got != want {
			t.Errorf("%s: compile words\n got %s\nwant %s", c.path, got, want)
		}
		if len(cf.Deps) < 10 || !slices.Contains(cf.Deps, "include/linux/kconfig.h") {
			t.Errorf("%s: deps %d, without include/linux/kconfig.h", c.path, len(cf.Deps))
		}
		for _, d := range cf.Deps {
			if strings.Contains(d, "$") || strings.Contains(d, "include/config/") {
				t.Errorf("%s: make's entry %q in deps", c.path, d)
			}
		}
		if len(cf.Post) == 0 || filepath.Base(cf.Post[0][0]) != "objtool" {
			t.Errorf("%s: no objtool step: %q", c.path, cf.Post)
		}
	}
	if rebuildable < 50 {
		t.Errorf("only %d rebuildable units under mm/", rebuildable)
	}
}

// TestParseCmdHostile: .cmd files that would make a rebuild run anything
// but the compiler on its own arguments, or write elsewhere, are refused
// with the file, line and reason.
func TestParseCmdHostile(t *testing.T) {
	const ok = "cmd_mm/x.o := gcc -Wp,-MMD,mm/.x.o.d -O2 -DKBUILD_MODNAME='\"x\"' -c -o mm/x.o mm/x.c ; ./tools/objtool/objtool --orc mm/x.o\n\nsource_mm/x.o := mm/x.c\n\ndeps_mm/x.o := \\\n  include/linux/kconfig.h \\\n    $(wildcard include/config/FOO) \\\n  mm/internal.h \\\n\nmm/x.o: $(deps_mm/x.o)\n"
	cf, err := ParseCmd("ok.cmd", []byte(ok))
	if err != nil {
		t.Fatalf("the plain command: %v", err)
	}
	if !slices.Equal(cf.Deps, []string{"include/linux/kconfig.h", "mm/internal.h"}) || cf.Source != "mm/x.c" ||
		!slices.Contains(cf.Compile, `-DKBUILD_MODNAME="x"`) {
		t.Fatalf("parsed %+v", cf)
	}
	for _, tc := range []struct{ name, text, want string }{
		{"empty", "", "no cmd_OBJ"},
		{"not-compiler", "cmd_mm/x.o := rm -rf / -c -o mm/x.o mm/x.c\n", "not a C compiler"},
		{"subst", "cmd_mm/x.o := gcc $$(touch /tmp/pwned) -c -o mm/x.o mm/x.c\n", "shell character '$'"},
		{"backtick", "cmd_mm/x.o := gcc `id` -c -o mm/x.o mm/x.c\n", "shell character '`'"},
		{"dq-subst", "cmd_mm/x.o := gcc \"-D$$(id)\" -c -o mm/x.o mm/x.c\n", "inside double quotes"},
		{"pipe", "cmd_mm/x.o := gcc -c -o mm/x.o mm/x.c | sh\n", "shell character '|'"},
		{"redirect", "cmd_mm/x.o := gcc -c -o mm/x.o mm/x.c >/etc/passwd\n", "shell character '>'"},
		{"and", "cmd_mm/x.o := gcc -c -o mm/x.o mm/x.c && rm -rf ~\n", "shell character '&'"},
		{"other-output", "cmd_mm/x.o := gcc -c -o /etc/x.o mm/x.c\n", "-o does not name the target"},
		{"two-outputs", "cmd_mm/x.o := gcc -c -o mm/x.o -o mm/x.o mm/x.c\n", "one -o"},
		{"joined-o", "cmd_mm/x.o := gcc -c -omm/x.o mm/x.c\n", "two words"},
		{"MF", "cmd_mm/x.o := gcc -MD -MF /etc/x.d -c -o mm/x.o mm/x.c\n", "dependency output"},
		{"abs-target", "cmd_/etc/x.o := gcc -c -o /etc/x.o /etc/x.c\n", "relative object path"},
		{"dotdot-target", "cmd_../x.o := gcc -c -o ../x.o x.c\n", "relative object path"},
		{"abs-source", "cmd_mm/x.o := gcc -c -o mm/x.o /root/x.c\n\nsource_mm/x.o := /root/x.c\n", "relative path inside the tree"},
		{"other-input", "cmd_mm/x.o := gcc -c -o mm/x.o mm/y.c\n\nsource_mm/x.o := mm/x.c\n", "not the recorded source"},
		{"no-c", "cmd_mm/x.o := gcc -o mm/x.o mm/x.c\n", "does not compile one object"},
		{"quote", "cmd_mm/x.o := gcc '-DX -c -o mm/x.o mm/x.c\n", "unterminated"},
		{"twice", "cmd_mm/x.o := gcc -c -o mm/x.o mm/x.c\ncmd_mm/x.o := gcc -c -o mm/x.o mm/x.c\n", "second command"},
		{"glob", "cmd_mm/x.o := gcc -c -o mm/x.o mm/*.c\n", "shell character '*'"},
		{"tilde", "cmd_mm/x.o := gcc -I ~/x -c -o mm/x.o mm/x.c\n", "'~' at the start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCmd("h.cmd", []byte(tc.text))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("%q: error %v, want a *ParseError", tc.text, err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "h.cmd") {
				t.Errorf("%q: %v, want h.cmd:LINE: ...%s...", tc.text, err, tc.want)
			}
		})
	}
	// A post step with a shell construct is skipped, never run.
	cf, err = ParseCmd("p.cmd", []byte("cmd_mm/x.o := gcc -c -o mm/x.o mm/x.c ; ./tools/objtool/objtool mm/x.o $$(id) ; echo ok\n"))
	if err != nil || len(cf.Post) != 1 || len(cf.PostSkipped) != 1 {
		t.Errorf("post steps: %v %q skipped %q", err, cf.Post, cf.PostSkipped)
	}
	// make's escapes: $$ is $, $(pound) is #.
	cf, err = ParseCmd("e.cmd", []byte("cmd_mm/x.o := gcc '-DA=$$x' '-DB=$(pound)' -c -o mm/x.o mm/x.c\n"))
	if err != nil || !slices.Contains(cf.Compile, "-DA=$x") || !slices.Contains(cf.Compile, "-DB=#") {
		t.Errorf("escapes: %v %q", err, cf.Compile)
	}
}

func FuzzParseCmd(f *testing.F) {
	f.Add([]byte("cmd_mm/x.o := gcc -c -o mm/x.o mm/x.c ; ./tools/objtool/objtool mm/x.o\nsource_mm/x.o := mm/x.c\ndeps_mm/x.o := \\\n a.h \\\n"))
	f.Add([]byte("savedcmd_a.o := gcc \"-DX=\\\"1\\\"\" -c -o a.o a.c"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, err := ParseCmd("f.cmd", data)
		if err == nil {
			if len(cf.Compile) == 0 || !compilerRE.MatchString(filepath.Base(cf.Compile[0])) || !cleanRel(cf.Source) {
				t.Fatalf("accepted %q: %+v", data, cf)
			}
			return
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("error %T %v", err, err)
		}
	})
}
