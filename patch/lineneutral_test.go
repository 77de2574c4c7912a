package patch

import (
	"strings"
	"testing"
)

// TestLineNeutral: after each changed region a "#line N" directive gives
// the next line its original number; none is put after a line ending in
// a backslash, inside a comment or inside parentheses: it moves down to
// the first line where it may stand, with that line's number.
func TestLineNeutral(t *testing.T) {
	src := strings.Split(`int a(void)
{
	return 1;
}
#define M(x) \
	((x) + 1)
int b(void)
{
	return M(2);
}
/*
 * text
 */
int c(void)
{
	return f(1,
		 2);
}
int d(void)
{
	return __LINE__;
}`, "\n")
	diff := `--- a/x.c
+++ b/x.c
@@ -2,3 +2,5 @@
 {
+	g();
+	g();
 	return 1;
 }
@@ -5,2 +7,3 @@
 #define M(x) \
+	(x) * 2 + \
 	((x) + 1)
@@ -11,3 +14,4 @@
 /*
+ * more
  * text
  */
@@ -16,2 +20,3 @@
 	return f(1,
+		 3,
 		 2);
`
	files, err := Parse(strings.NewReader(diff), "x.patch")
	if err != nil {
		t.Fatal(err)
	}
	locs, err := Locate(src, files[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	out, n, err := LineNeutral(src, files[0], locs)
	if err != nil {
		t.Fatal(err)
	}
	// The number the compiler gives each line, following the directives.
	num := map[string]int{}
	next := 1
	for _, l := range out {
		if rest, ok := strings.CutPrefix(l, "#line "); ok {
			var v int
			for _, c := range rest {
				v = v*10 + int(c-'0')
			}
			next = v
			continue
		}
		if _, ok := num[l]; !ok {
			num[l] = next
		}
		next++
	}
	text := strings.Join(out, "\n")
	for _, c := range []struct {
		line string
		want int
	}{
		{"\treturn 1;", 3},         // right after the first region
		{"int b(void)", 7},         // after the continuation: moved down, number of the line it stands before
		{"int c(void)", 14},        // after the comment
		{"\treturn __LINE__;", 21}, // after the parentheses
	} {
		if num[c.line] != c.want {
			t.Errorf("%q is line %d, want %d (the original's)\n%s", c.line, num[c.line], c.want, text)
		}
	}
	if n != 4 {
		t.Errorf("%d directives, want 4\n%s", n, text)
	}
	for i, l := range out {
		if !strings.HasPrefix(l, "#line") || i == 0 {
			continue
		}
		prev := out[i-1]
		if strings.HasSuffix(prev, "\\") || strings.Contains(prev, "* more") || strings.Contains(prev, "3,") {
			t.Errorf("directive after %q: inside a continuation, comment or parentheses\n%s", prev, text)
		}
	}
	// Applying without directives is what ApplyAt writes.
	fixed, _ := ApplyAt(src, files[0], locs)
	var stripped []string
	for _, l := range out {
		if !strings.HasPrefix(l, "#line ") {
			stripped = append(stripped, l)
		}
	}
	if strings.Join(stripped, "\n") != strings.Join(fixed, "\n") {
		t.Errorf("without its directives the line-neutral file is not the patched one:\n%s", text)
	}
}
