package patch

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const gitDiff = `diff --git a/check.c b/check.c
--- a/check.c
+++ b/check.c
@@ -2,4 +2,5 @@ static int f(int x)
 {
-	return x;
+	if (x < 0)
+		return 0;
 	return x;
 }
`

func TestParse(t *testing.T) {
	files, err := Parse(strings.NewReader(gitDiff), "fix.patch")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name() != "check.c" || files[0].OldName != "check.c" {
		t.Fatalf("files %+v, want check.c", files)
	}
	h := files[0].Hunks[0]
	got := ""
	for _, l := range h.Changed() {
		got += string("=-+"[l.Op]) + " " + strconv.Itoa(l.OldLine) + " " + strconv.Itoa(l.NewLine) + ";"
	}
	if want := "- 3 2;+ 3 3;+ 3 4;"; got != want {
		t.Errorf("changed lines %q, want %q", got, want)
	}
	if h.FirstChangedNew() != 3 {
		t.Errorf("FirstChangedNew %d, want 3", h.FirstChangedNew())
	}
	src := []string{"static int f(int x)", "{", "\treturn x;", "\treturn x;", "}"}
	if m := h.Verify(src); m != nil {
		t.Errorf("Verify: %+v, want a match", m)
	}
	src[3] = "\treturn y;"
	if m := h.Verify(src); m == nil || m.Line != 4 {
		t.Errorf("Verify of a changed source: %+v, want a mismatch at line 4", m)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{"not a diff", "int main(void) { return 0; }\n"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in), "x.patch")
			if !errors.Is(err, ErrNoHunks) {
				t.Errorf("Parse(%q): %v, want ErrNoHunks", tt.in, err)
			}
		})
	}
	if _, err := Parse(strings.NewReader("--- a/x.c\n+++ b/x.c\n@@ -1,3 +1,3 @@\n-a\n+b\n"), "bad.patch"); err == nil {
		t.Error("a hunk shorter than its header: no error")
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"comment", []string{"/* a comment */", "", " * more", "// line"}, KindComment},
		{"struct member", []string{"\tint flags;"}, KindData},
		{"struct start", []string{"struct msg {"}, KindData},
		{"enum value", []string{"\tMSG_FLAG_X = 4,"}, KindData},
		{"global initialiser", []string{"static int limit = 64;"}, KindData},
		{"designated initialiser", []string{"\t.len = 4,"}, KindData},
		{"static local", []string{"\tstatic int calls;"}, KindData},
		{"macro", []string{"#define LIMIT 64"}, KindMacro},
		{"code", []string{"\tfoo(x);"}, KindUnknown},
		{"code and comment", []string{"/* x */", "\treturn 1;"}, KindUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ls []Line
			for _, s := range tt.lines {
				ls = append(ls, Line{Op: Add, Text: s})
			}
			if got := Classify(ls); got != tt.want {
				t.Errorf("Classify(%q) = %s, want %s", tt.lines, got, tt.want)
			}
		})
	}
}

func TestCFunctions(t *testing.T) {
	src := `struct msg {
	int len;
};

static int clamp_len(int len)
{
	if (len > 64)
		return 64;
	return len;
}

int proto(int);

static inline int
two_lines(struct msg *m,
	  int len)
{
	return m->len + len;
}

int brace_same_line(void) {
	return 0;
}
`
	got := CFunctions(strings.Split(src, "\n"))
	want := []Extent{{"clamp_len", 5, 10}, {"two_lines", 15, 19}, {"brace_same_line", 21, 23}}
	if len(got) != len(want) {
		t.Fatalf("CFunctions = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("CFunctions[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestFixturePatches parses the klp-check fixture's diffs.
func TestFixturePatches(t *testing.T) {
	for _, name := range []string{"fix.patch", "data.patch"} {
		p := filepath.Join("..", "testdata", "fixtures", "klp-check", name)
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		files, err := Parse(f, p)
		f.Close()
		if err != nil || len(files) != 1 || files[0].Name() != "check.c" {
			t.Errorf("%s: %v, %+v", name, err, files)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(gitDiff)
	f.Add("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n")
	f.Fuzz(func(t *testing.T, in string) {
		files, err := Parse(strings.NewReader(in), "fuzz.patch")
		if err != nil {
			return
		}
		for _, fl := range files {
			for i := range fl.Hunks {
				h := &fl.Hunks[i]
				_ = h.Verify(nil)
				_ = Classify(h.Changed())
				_ = h.FirstChangedNew()
			}
		}
	})
}
