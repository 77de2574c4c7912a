package patch

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// diffOf returns the one-file diff diff(1) makes from orig to fixed.
func diffOf(t *testing.T, orig, fixed string) File {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.c"), []byte(orig), 0o644)
	os.WriteFile(filepath.Join(dir, "b.c"), []byte(fixed), 0o644)
	cmd := exec.Command("diff", "-u", "a.c", "b.c")
	cmd.Dir = dir
	d, _ := cmd.Output() // diff exits 1 when the files differ
	files, err := Parse(strings.NewReader(string(d)), "t.patch")
	if err != nil || len(files) != 1 {
		t.Fatalf("diff -u: %v %+v\n%s", err, files, d)
	}
	return files[0]
}

// TestTextsClassify: changed lines outside functions are read in their
// file's context: a line continuing a statement, a macro or a comment
// begun above it is part of that, whatever the line alone looks like.
func TestTextsClassify(t *testing.T) {
	if _, err := exec.LookPath("diff"); err != nil {
		t.Skip("diff(1) not installed")
	}
	tests := []struct {
		name, orig, fixed, want string
	}{
		{"global initialiser continued onto a line starting with *",
			"/* settings */\nstatic int table_size = 64\n\t* 2;\n\nint limit;\n",
			"/* settings */\nstatic int table_size = 64\n\t* 4;\n\nint limit;\n", KindData},
		{"macro continued onto a line starting with *",
			"#define SIZE(x) \\\n\t(x)\t\t\\\n\t* 2\n\nint limit;\n",
			"#define SIZE(x) \\\n\t(x)\t\t\\\n\t* 4\n\nint limit;\n", KindMacro},
		{"comment and data on one line",
			"int a;\n\nint limit = 5;\n",
			"int a;\n/* new */ int extra = 1;\nint limit = 5;\n", KindData},
		{"the end of a comment and data on one line",
			"/* the\n * limit */ int limit = 5;\nint b;\n",
			"/* the\n * limit */ int limit = 6;\nint b;\n", KindData},
		{"comment and data on separate lines",
			"int a;\n/* old words */\nint limit = 5;\n",
			"int a;\n/* new words */\nint limit = 6;\n", KindData},
		{"lines of a comment opened above the hunk",
			"/*\n * one\n * two\n * three\n * four\n * five\n * six\n * seven\n */\nint a;\n",
			"/*\n * one\n * two\n * three\n * four\n * five\n * six\n * SEVEN = 2;\n */\nint a;\n", KindComment},
		{"a string holding /* opens no comment",
			"static const char *open = \"/*\";\nint limit = 5;\nint b;\n",
			"static const char *open = \"/*\";\nint limit = 6;\nint b;\n", KindData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := diffOf(t, tt.orig, tt.fixed)
			tx, err := NewTexts(strings.Split(strings.TrimSuffix(tt.orig, "\n"), "\n"), f)
			if err != nil {
				t.Fatal(err)
			}
			var changed []Line
			for i := range f.Hunks {
				changed = append(changed, f.Hunks[i].Changed()...)
			}
			if got := tx.Classify(changed); got != tt.want {
				t.Errorf("Classify(%q) = %s, want %s", changed, got, tt.want)
			}
		})
	}
}

// TestOneLineFunction: a line that is a whole function definition names
// the function, whatever its position in the file.
func TestOneLineFunction(t *testing.T) {
	if _, err := exec.LookPath("diff"); err != nil {
		t.Skip("diff(1) not installed")
	}
	orig := "static inline int twice(int x) { return x * 2; }\nint limit = 3; /* { } */\nint (*fp)(int) = 0;\n"
	fixed := "static inline int twice(int x) { return x * 3; }\nint limit = 4; /* { } */\nint (*fp)(int) = 0;\n"
	f := diffOf(t, orig, fixed)
	tx, err := NewTexts(strings.Split(strings.TrimSuffix(orig, "\n"), "\n"), f)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range f.Hunks[0].Changed() {
		want := ""
		if strings.Contains(l.Text, "twice") {
			want = "twice"
		}
		if got := tx.OneLineFunction(l); got != want {
			t.Errorf("OneLineFunction(%q) = %q, want %q", l.Text, got, want)
		}
	}
	ext := CFunctions(strings.Split(orig, "\n"))
	if len(ext) != 1 || ext[0] != (Extent{"twice", 1, 1}) {
		t.Errorf("CFunctions = %+v, want twice on line 1 alone", ext)
	}
}

// TestStaticLocalOnALine: a static local declared anywhere on a line of a
// function body is seen, in a block or after other statements.
func TestStaticLocalOnALine(t *testing.T) {
	if _, err := exec.LookPath("diff"); err != nil {
		t.Skip("diff(1) not installed")
	}
	orig := "int f(void)\n{\n\treturn 0;\n}\n"
	for fixedLine, want := range map[string]bool{
		"\t{ static volatile int sink; sink++; }": true,
		"\tstatic const char *names[] = {":        true,
		"\tstatic_assert(sizeof(int) == 4);":      false,
		"\tstatic int g(int);":                    false,
		"\tx = 1; /* static int y; */":            false,
	} {
		fixed := strings.Replace(orig, "{\n", "{\n"+fixedLine+"\n", 1)
		f := diffOf(t, orig, fixed)
		tx, err := NewTexts(strings.Split(strings.TrimSuffix(orig, "\n"), "\n"), f)
		if err != nil {
			t.Fatal(err)
		}
		if got := tx.IsStaticLocal(f.Hunks[0].Changed()[0]); got != want {
			t.Errorf("IsStaticLocal(%q) = %v, want %v", fixedLine, got, want)
		}
	}
}
