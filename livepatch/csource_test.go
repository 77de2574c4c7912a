package livepatch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeSource(t testing.TB, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lp.c")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func funcsString(fs []Func) string {
	var s []string
	for _, f := range fs {
		e := fmt.Sprintf("%s:%s@%d", f.Object, f.OldName, f.Line)
		if f.SymposKnown {
			e += fmt.Sprintf(",%d", f.OldSympos)
		}
		s = append(s, e)
	}
	return strings.Join(s, " ")
}

// TestParseSource: what a plain source says, and where one that is not
// plain cannot be read (each place a problem with its line).
func TestParseSource(t *testing.T) {
	const objs = "static struct klp_object objs[] = {\n\t{ .name = \"mod\", .funcs = funcs, }, { }\n};\n"
	tests := []struct {
		name, src string
		want      string   // the klp_funcs read
		problems  []string // "line: substring"
	}{
		{"plain", "static struct klp_func funcs[] = {\n\t{ .old_name = \"a\", .old_sympos = 2, },\n\t{ .old_name = \"b\" },\n\t{ }\n};\n" + objs,
			"mod:a@2,2 mod:b@3", nil},
		{"concatenation and literals", "static struct klp_func funcs[] = {\n\t{ .old_name = \"a\" \"_b\", .old_sympos = 0x2UL, }, { }\n};\n" + objs,
			"mod:a_b@2,2", nil},
		{"comments", "static struct klp_func funcs[] = {\n\t/* { .old_name = \"x\" }, */\n\t{ .old_name = \"a\" /* \"b\" */, }, { }\n};\n" + objs,
			"mod:a@3", nil},
		{"#if 0", "static struct klp_func funcs[] = {\n#if 0\n\t{ .old_name = \"a\", },\n#endif\n\t{ }\n};\n" + objs,
			"mod:a@3", []string{"2: preprocessor directive #if inside klp_func array funcs"}},
		{"#ifdef around the array", "#ifdef CONFIG_X\nstatic struct klp_func funcs[] = {\n\t{ .old_name = \"a\", }, { }\n};\n#endif\n" + objs,
			"mod:a@3", []string{"1: klp_func array funcs (line 2) is under the preprocessor conditional at line 1"}},
		{"macro entry", "#define F(n) { .old_name = #n }\nstatic struct klp_func funcs[] = {\n\tF(a),\n\t{ }\n};\n" + objs,
			"", []string{"2: klp_func array funcs uses F, a macro (#define at line 1)", "3: klp_func array funcs has an entry that is not a { ... } initialiser"}},
		{"macro name", "static struct klp_func funcs[] = {\n\t{ .old_name = NAME, }, { }\n};\n" + objs,
			"", []string{"2: klp_func array funcs has .old_name = NAME, not a string literal", "2: klp_func array funcs has an entry without a readable .old_name"}},
		{"module macro", "static struct klp_func funcs[] = {\n\t{ .old_name = \"a\", }, { }\n};\nstatic struct klp_object objs[] = {\n\t{\n\t\t.name = MODNAME,\n\t\t.funcs = funcs,\n\t}, { }\n};\n",
			"", []string{"6: klp_object array objs has .name = MODNAME, not NULL or a string literal"}},
		{"positional", "static struct klp_func funcs[] = {\n\t{ \"a\", new_a },\n\t{ }\n};\n" + objs,
			"", []string{"2: klp_func array funcs has an initialiser without a .field = (\"a\")"}},
		{"sized array", "static struct klp_func funcs[N] = {\n\t{ .old_name = \"a\", }, { }\n};\n" + objs,
			"mod:a@2", []string{"1: klp_func array funcs has size \"N\""}},
		{"no klp_object", "static struct klp_func funcs[] = {\n\t{ .old_name = \"a\", }, { }\n};\n",
			"", []string{"1: klp_func array funcs is in no loaded klp_object"}},
		{"unknown .funcs", "static struct klp_func funcs[] = {\n\t{ .old_name = \"a\", }, { }\n};\nstatic struct klp_object objs[] = {\n\t{ .funcs = FUNCS, }, { }\n};\n",
			"", []string{"4: klp_object array objs names .funcs = FUNCS, which is no klp_func array", "1: klp_func array funcs is in no loaded klp_object"}},
		{"klp_patch", "static struct klp_func funcs[] = {\n\t{ .old_name = \"a\", }, { }\n};\n" + objs +
			"static struct klp_object other[] = {\n\t{ .funcs = funcs, }, { }\n};\nstatic struct klp_patch patch = {\n\t.objs = objs,\n};\n",
			"mod:a@2", []string{"7: klp_object array other is in no klp_patch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeSource(t, tt.src)
			fs, probs, err := ParseSource(p, SourceOptions{})
			if err != nil {
				t.Fatalf("ParseSource: %v\n%s", err, tt.src)
			}
			if got := funcsString(fs); got != tt.want {
				t.Errorf("klp_funcs %q, want %q\n%s", got, tt.want, tt.src)
			}
			var got []string
			for _, pr := range probs {
				got = append(got, fmt.Sprintf("%d: %s", pr.Line, pr.Message))
			}
			for _, w := range tt.problems {
				found := false
				for _, g := range got {
					found = found || strings.HasPrefix(g, w)
				}
				if !found {
					t.Errorf("no problem %q in\n  %s", w, strings.Join(got, "\n  "))
				}
			}
			if len(got) != len(tt.problems) {
				t.Errorf("%d problems, want %d:\n  %s", len(got), len(tt.problems), strings.Join(got, "\n  "))
			}
		})
	}
}

// TestParseSourceErrors: inputs that are errors, naming file:line.
func TestParseSourceErrors(t *testing.T) {
	for src, want := range map[string]string{
		"int main(void) { return 0; }\n":                                                        "no struct klp_func array found",
		"static struct klp_func funcs[] = {\n\t{ .old_name = \"a\", },\n":                       "lp.c:1: klp_func array funcs not closed",
		"static struct klp_func funcs[] = {\n\t{ .old_name = \"a\",\n .old_sympos = -5 }\n};\n": "lp.c:3: .old_sympos = -5 is negative",
	} {
		_, _, err := ParseSource(writeSource(t, src), SourceOptions{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSource(%q) = %v, want %q", src, err, want)
		}
	}
}

// TestParseSourcePreprocessed: a source that is not plain is read from
// the preprocessor's output, lines mapped back through its line markers;
// when the preprocessor fails, each place is a problem saying why.
func TestParseSourcePreprocessed(t *testing.T) {
	src := "#include <x.h>\n#define N \"b\"\nstatic struct klp_func funcs[] = {\n#if 1\n\t{ .old_name = N, },\n#endif\n\t{ }\n};\nstatic struct klp_object objs[] = {\n\t{ .funcs = funcs, }, { }\n};\n"
	p := writeSource(t, src)
	out := "# 0 \"" + p + "\"\n# 0 \"<built-in>\"\n# 1 \"x.h\" 1\nstatic struct klp_func header[] = { { .old_name = \"h\" }, { } };\n# 2 \"" + p + "\" 2\n\n" +
		"static struct klp_func funcs[] = {\n\n\t{ .old_name = \"b\", },\n\n\t{ }\n};\nstatic struct klp_object objs[] = {\n\t{ .funcs = funcs, }, { }\n};\n"
	fs, probs, err := ParseSource(p, SourceOptions{PreprocessWith: "test", Preprocess: func(string) ([]byte, error) { return []byte(out), nil }})
	if err != nil || len(probs) != 0 || funcsString(fs) != "vmlinux:b@5" {
		t.Errorf("preprocessed: %q, %v, %v; want vmlinux:b@5, no problems", funcsString(fs), probs, err)
	}
	_, probs, err = ParseSource(p, SourceOptions{PreprocessWith: "test", Preprocess: func(string) ([]byte, error) { return nil, errors.New("x.h: no such file") }})
	if err != nil || len(probs) == 0 {
		t.Fatalf("preprocessor failing: %v, %v; want problems", probs, err)
	}
	for _, pr := range probs {
		if pr.Line == 0 || !strings.Contains(pr.Message, "preprocessing it with test failed: x.h: no such file") {
			t.Errorf("problem %+v: want a line and the preprocessor's error", pr)
		}
	}
}

// TestKernelResolve is klp_find_object_symbol's rule.
func TestKernelResolve(t *testing.T) {
	for _, tt := range []struct {
		count, sympos int
		want          string
	}{
		{0, 0, "not found"}, {0, 1, "not found"},
		{1, 0, ""}, {1, 1, ""}, {1, 2, "symbol position 2"},
		{2, 0, "unresolvable ambiguity"}, {2, 1, ""}, {2, 2, ""}, {2, 3, "symbol position 3"},
	} {
		got := KernelResolve("f", "vmlinux", tt.count, tt.sympos)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("KernelResolve(count %d, old_sympos %d) = %q, want %q", tt.count, tt.sympos, got, tt.want)
		}
	}
}

// TestPreprocessorFlags: what a kbuild command keeps for gcc -E.
func TestPreprocessorFlags(t *testing.T) {
	line := `gcc -Wp,-MMD,mm/.x.o.d -nostdinc -I./arch/x86/include -I ./include -include ./include/linux/kconfig.h -D__KERNEL__ -std=gnu11 -m64 -O2 -fno-PIE -fplugin=./scripts/p.so -fdump-ipa-clones -g -DKBUILD_MODNAME='"x"' -DKBUILD_BASENAME='"x"' -D__KBUILD_MODNAME=kmod_x -DFOO="\"a b\"" -c -o mm/x.o mm/x.c ; ./tools/objtool/objtool --orc mm/x.o`
	words, err := shellWords(line)
	if err != nil {
		t.Fatal(err)
	}
	if words[0] != "gcc" || !compilerRE.MatchString(words[0]) {
		t.Fatalf("words %q", words)
	}
	flags, compiles := preprocessorFlags(words[1:])
	want := `-nostdinc -I./arch/x86/include -I ./include -include ./include/linux/kconfig.h -D__KERNEL__ -std=gnu11 -m64 -O2 -fno-PIE -DFOO="a b"`
	if got := strings.Join(flags, " "); got != want || !compiles {
		t.Errorf("flags %q (compiles %v)\nwant  %q", got, compiles, want)
	}
	for _, cc := range []string{"./scripts/evil", "/usr/bin/gcc", "sh", "x86_64-linux-gnu-gcc-12", "clang-16"} {
		ok := cc == "x86_64-linux-gnu-gcc-12" || cc == "clang-16"
		if compilerRE.MatchString(cc) != ok {
			t.Errorf("compiler %q accepted: %v, want %v", cc, !ok, ok)
		}
	}
}

func FuzzParseSource(f *testing.F) {
	f.Add("static struct klp_func funcs[] = {\n\t{ .old_name = \"a\", .old_sympos = 1 }, { }\n};\nstatic struct klp_object objs[] = {\n\t{ .name = \"m\", .funcs = funcs }, { }\n};\n")
	f.Add("#if 0\nstatic struct klp_func f[] = { { .old_name = \"a\" \"b\" }, F(x), { } };\n#endif\nstruct klp_patch p = { .objs = o };\n")
	f.Add("struct klp_func f[] = { { .old_name = \"a\\\"\" }, '}', \"{\" };")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src string) {
		p := filepath.Join(dir, "lp.c")
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		fs, probs, err := ParseSource(p, SourceOptions{})
		if err != nil {
			return
		}
		for _, fn := range fs {
			if fn.Line <= 0 || fn.OldSympos < 0 {
				t.Fatalf("klp_func %+v: want a line and old_sympos >= 0", fn)
			}
		}
		for _, pr := range probs {
			if pr.Line <= 0 {
				t.Fatalf("problem %+v without a line", pr)
			}
		}
	})
}

// TestRelinked: a composite module object (kbuild's ld -r) is told from
// a compiled one by its .cmd file.
func TestRelinked(t *testing.T) {
	dir := t.TempDir()
	for name, cmd := range map[string]string{
		"one.o":  "cmd_one.o := gcc -Wp,-MMD,./.one.o.d -O2 -c -o one.o one.c\n",
		"mod.o":  "cmd_mod.o := ld -m elf_x86_64 -z noexecstack -r -o mod.o @mod.mod\n",
		"mod2.o": "savedcmd_mod2.o := x86_64-linux-gnu-ld -r -o mod2.o a.o\n",
	} {
		os.WriteFile(filepath.Join(dir, "."+name+".cmd"), []byte(cmd), 0o644)
	}
	for obj, want := range map[string]bool{"one.o": false, "mod.o": true, "mod2.o": true, "none.o": false} {
		if got := Relinked(filepath.Join(dir, obj)); got != want {
			t.Errorf("Relinked(%s) = %v, want %v", obj, got, want)
		}
	}
}
