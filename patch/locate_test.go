package patch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// numbered returns the lines "PREFIX N" for N from first to last.
func numbered(prefix string, first, last int) []string {
	var out []string
	for i := first; i <= last; i++ {
		out = append(out, prefix+" "+strconv.Itoa(i))
	}
	return out
}

// cat joins line slices.
func cat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// edit returns base with the lines from..to (1-based, inclusive) replaced
// by repl (an insertion before from when to is from-1).
func edit(base []string, from, to int, repl ...string) []string {
	return cat(base[:from-1], repl, base[to:])
}

// unified runs diff(1) -u on base and fixed and parses its output.
func unified(t *testing.T, dir string, base, fixed []string, context int) (File, []byte) {
	t.Helper()
	writeLines(t, filepath.Join(dir, "a", "f.c"), base)
	writeLines(t, filepath.Join(dir, "b", "f.c"), fixed)
	cmd := exec.Command("diff", "-U"+strconv.Itoa(context), "a/f.c", "b/f.c")
	cmd.Dir = dir
	d, _ := cmd.Output() // diff exits 1 when the files differ
	files, err := Parse(strings.NewReader(string(d)), "fix.patch")
	if err != nil || len(files) != 1 {
		t.Fatalf("parse: %v %v\n%s", files, err, d)
	}
	return files[0], d
}

func writeLines(t *testing.T, path string, lines []string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// gnuResult is what GNU patch did with a diff: per hunk, its offset and
// fuzz ("Hunk #2 succeeded at 42 with fuzz 1 (offset 5 lines)"), whether
// every hunk applied, and the file it wrote.
type gnuResult struct {
	offsets, fuzz []int
	ok            bool
	out           []string
	log           string
}

var gnuHunkRE = regexp.MustCompile(`(?m)^Hunk #(\d+) (succeeded at \d+(?: with fuzz (\d+))?(?: \(offset (-?\d+) lines?\))?|FAILED at \d+)`)

// gnuPatch runs GNU patch on a copy of tree with -F fuzz, verbose, never
// asking (a hunk that fails is not taken for a reversed patch).
func gnuPatch(t *testing.T, dir string, tree []string, diff []byte, fuzz int) gnuResult {
	t.Helper()
	if _, err := exec.LookPath("patch"); err != nil {
		t.Skip("GNU patch not installed (apt-get install patch)")
	}
	writeLines(t, filepath.Join(dir, "tree.c"), tree)
	os.WriteFile(filepath.Join(dir, "fix.patch"), diff, 0o644)
	cmd := exec.Command("patch", "--batch", "--forward", "--verbose", "-F", strconv.Itoa(fuzz),
		"-o", "out.c", "-r", "-", "tree.c", "fix.patch")
	cmd.Dir = dir
	log, err := cmd.CombinedOutput()
	var r gnuResult
	r.log = string(log)
	r.ok = err == nil
	for _, m := range gnuHunkRE.FindAllStringSubmatch(r.log, -1) {
		if strings.HasPrefix(m[2], "FAILED") {
			r.ok = false
			break
		}
		off, _ := strconv.Atoi(m[4])
		fz, _ := strconv.Atoi(m[3])
		r.offsets = append(r.offsets, off)
		r.fuzz = append(r.fuzz, fz)
	}
	if r.ok {
		b, err := os.ReadFile(filepath.Join(dir, "out.c"))
		if err != nil {
			t.Fatalf("patch wrote no file: %v\n%s", err, log)
		}
		r.out = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	return r
}

// TestLocateLikeGNUPatch: hunks are located where GNU patch puts them, at
// the same offsets, and Apply writes the file patch writes. Each case also
// states the offsets it is built to produce, so it fails on its own.
func TestLocateLikeGNUPatch(t *testing.T) {
	if _, err := exec.LookPath("diff"); err != nil {
		t.Skip("diff(1) not installed")
	}
	base := numbered("line", 1, 60)
	fixed := edit(edit(base, 40, 40, "changed 40"), 11, 10, "added after 10")
	block := []string{"\tif (x)", "\t\treturn 1;", "\treturn 0;"}
	// dup holds the same 7-line block twice (lines 10-16 and 40-46); the
	// fix changes the second copy (line 43), dup2 both.
	rep := cat(numbered("blk", 1, 3), block, []string{"}"})
	dupBase := cat(numbered("a", 1, 9), rep, numbered("b", 1, 23), rep, numbered("c", 1, 20))
	dupFixed := edit(dupBase, 43, 43, "\tif (!x)")
	dup2Fixed := edit(dupFixed, 13, 13, "\tif (!x)")

	tests := []struct {
		name         string
		base, fixed  []string // the diff is base -> fixed
		tree         []string // the file it is applied to
		context      int      // diff -U
		fuzz         int
		wantOffsets  []int // nil: it does not apply
		wantNearLine int   // when it does not apply: the closest place
		wantNearMiss int   // and the line that differs there (0: none, all match)
	}{
		{name: "exact", base: base, fixed: fixed, tree: base, wantOffsets: []int{0, 0}},
		{name: "offset up: lines inserted above", base: base, fixed: fixed,
			tree: edit(base, 1, 0, numbered("new", 1, 5)...), wantOffsets: []int{5, 5}},
		{name: "offset down: lines removed above", base: base, fixed: fixed,
			tree: edit(base, 2, 5), wantOffsets: []int{-4, -4}},
		{name: "two hunks, two offsets", base: base, fixed: fixed,
			tree: edit(edit(base, 30, 29, numbered("mid", 1, 12)...), 3, 4), wantOffsets: []int{-2, 10}},
		{name: "second hunk moved up, first not", base: base, fixed: fixed,
			tree: edit(base, 25, 31), wantOffsets: []int{0, -7}},
		{name: "two matching places: the nearer, above", base: dupBase, fixed: dupFixed,
			// the second copy moves 40 lines down: the first copy, 30
			// lines above the header, is nearer
			tree: edit(dupBase, 30, 29, numbered("pad", 1, 40)...), wantOffsets: []int{-30}},
		{name: "two matching places: the nearer, below", base: dupBase, fixed: dupFixed,
			// the second copy 20 lines down, the first 30 lines up
			tree: edit(dupBase, 30, 29, numbered("pad", 1, 20)...), wantOffsets: []int{20}},
		{name: "never above the previous hunk", base: dupBase, fixed: dup2Fixed,
			// hunk 2's nearest copy is the one hunk 1 changed
			tree: edit(dupBase, 30, 29, numbered("pad", 1, 50)...), wantOffsets: []int{0, 50}},
		{name: "two matching places at the same distance: below first", base: dupBase, fixed: dupFixed,
			// copies at lines 10 and 70, header at 40: both 30 away
			tree: edit(dupBase, 30, 29, numbered("pad", 1, 30)...), wantOffsets: []int{30}},
		{name: "the search starts at the previous hunk's offset", base: dupBase, fixed: dup2Fixed,
			// a third copy 5 lines below hunk 2's header, 20 above where
			// hunk 1's offset predicts it
			tree: edit(edit(dupBase, 20, 19, rep...), 1, 0, numbered("pad", 1, 25)...), wantOffsets: []int{25, 32}},
		{name: "does not apply: a context line changed", base: base, fixed: fixed,
			tree:         edit(edit(base, 1, 0, "new 1", "new 2"), 44, 44, "the tree's line 42"),
			wantNearLine: 39, wantNearMiss: 44},
		{name: "fuzz 0 refuses a changed outer context line", base: base, fixed: fixed,
			tree: edit(base, 37, 37, "the tree's line 37"), wantNearLine: 37, wantNearMiss: 37},
		{name: "fuzz 1 accepts it", base: base, fixed: fixed, fuzz: 1,
			tree: edit(edit(base, 37, 37, "the tree's line 37"), 1, 0, "new 1"), wantOffsets: []int{1, 1}},
		{name: "no context: insertion at its header line", base: base, fixed: fixed, context: -1,
			tree: edit(base, 1, 0, "new 1"), wantOffsets: []int{0, 1}},
		{name: "start of file: only at line 1", base: base, fixed: edit(base, 2, 2, "changed 2"),
			// less context before the change than after: diff wrote it
			// for the top of the file, and patch applies it only there
			tree: edit(base, 1, 0, "new 1"), wantNearLine: 2},
		{name: "end of file: only at the end", base: base, fixed: edit(base, 59, 59, "changed 59"),
			tree: append(append([]string{}, base...), "appended"), wantNearLine: 56},
		{name: "end of file, moved", base: base, fixed: edit(base, 59, 59, "changed 59"),
			tree: edit(base, 1, 0, "new 1"), wantOffsets: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx := tt.context
			switch ctx {
			case 0:
				ctx = 3
			case -1:
				ctx = 0
			}
			f, d := unified(t, dir, tt.base, tt.fixed, ctx)
			gnu := gnuPatch(t, dir, tt.tree, d, tt.fuzz)
			locs, err := Locate(tt.tree, f, tt.fuzz)
			var offsets, fuzz []int
			for _, l := range locs {
				offsets = append(offsets, l.Offset)
				fuzz = append(fuzz, l.Fuzz)
			}
			if (err == nil) != gnu.ok {
				t.Fatalf("Locate: %v, but GNU patch applied=%v:\n%s\n%s", err, gnu.ok, gnu.log, d)
			}
			if !reflect.DeepEqual(offsets, tt.wantOffsets) {
				t.Errorf("offsets %v, want %v (err %v)", offsets, tt.wantOffsets, err)
			}
			if err != nil {
				var ae *ApplyError
				if !errors.As(err, &ae) || ae.File != "f.c" || ae.Hunk < 1 || ae.Near == nil {
					t.Fatalf("error %#v, want an *ApplyError with a near match", err)
				}
				full := ae.Near.Matched == ae.Near.Total
				if ae.Near.Line != tt.wantNearLine || ae.Near.Mismatch.Line != tt.wantNearMiss || full != (tt.wantNearMiss == 0) {
					t.Errorf("closest place %+v, want line %d differing at %d\n%v", ae.Near, tt.wantNearLine, tt.wantNearMiss, err)
				}
				t.Logf("%v", err)
				if _, err := Apply(tt.tree, f); err == nil {
					t.Error("Apply applied a hunk Locate refused")
				}
				return
			}
			if !reflect.DeepEqual(offsets, gnu.offsets) || !reflect.DeepEqual(fuzz, gnu.fuzz) {
				t.Errorf("offsets %v fuzz %v, GNU patch: offsets %v fuzz %v\n%s", offsets, fuzz, gnu.offsets, gnu.fuzz, gnu.log)
			}
			got, err := ApplyAt(tt.tree, f, locs)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(gnu.out, "\n") {
				t.Errorf("applied:\n%s\nGNU patch wrote:\n%s", strings.Join(got, "\n"), strings.Join(gnu.out, "\n"))
			}
			if tt.fuzz == 0 {
				if got2, err := Apply(tt.tree, f); err != nil || !reflect.DeepEqual(got2, got) {
					t.Errorf("Apply differs from Locate+ApplyAt: %v", err)
				}
			}
			// The located hunk's lines are the tree's.
			for i, h := range f.Hunks {
				lh := h.At(locs[i])
				for _, l := range lh.Lines {
					if l.Op != Add && locs[i].Fuzz == 0 && (l.OldLine < 1 || l.OldLine > len(tt.tree) || tt.tree[l.OldLine-1] != l.Text) {
						t.Errorf("hunk #%d at %+v: line %d is %q in the tree, the hunk says %q", i+1, locs[i], l.OldLine, at(tt.tree, l.OldLine), l.Text)
					}
					if l.Op != Delete && (l.NewLine < 1 || l.NewLine > len(got) || got[l.NewLine-1] != l.Text) && locs[i].Fuzz == 0 {
						t.Errorf("hunk #%d at %+v: patched line %d is %q, the hunk says %q", i+1, locs[i], l.NewLine, at(got, l.NewLine), l.Text)
					}
				}
			}
		})
	}
}

func at(s []string, line int) string {
	if line < 1 || line > len(s) {
		return fmt.Sprintf("(no line %d)", line)
	}
	return s[line-1]
}

// TestApplyErrorText: the error names the file, the hunk and its header,
// and the closest place with its first differing line.
func TestApplyErrorText(t *testing.T) {
	f := File{OldName: "mm/x.c", NewName: "mm/x.c", Hunks: []Hunk{hunkOfLines(10, " a", " b", "-c", "+C", " d")}}
	src := cat(numbered("x", 1, 20), []string{"a", "b", "c", "e"}, numbered("y", 1, 5))
	_, err := Locate(src, f, 0)
	want := `mm/x.c: hunk #1 (@@ -10,4 +10,4 @@) does not apply: it comes closest at line 21 (offset 11 lines), where 3 of its 4 context and deleted lines match; mm/x.c:24: the hunk expects "d", the file has "e"`
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
}

// hunkOfLines builds a hunk at oldStart (and the same new start) from
// diff lines (" ctx", "-del", "+add").
func hunkOfLines(oldStart int, lines ...string) Hunk {
	d := "--- a/f.c\n+++ b/f.c\n"
	var o, n int
	for _, l := range lines {
		if l[0] != '+' {
			o++
		}
		if l[0] != '-' {
			n++
		}
	}
	d += fmt.Sprintf("@@ -%d,%d +%d,%d @@\n%s\n", oldStart, o, oldStart, n, strings.Join(lines, "\n"))
	files, err := Parse(strings.NewReader(d), "h.patch")
	if err != nil {
		panic(err)
	}
	return files[0].Hunks[0]
}

// FuzzLocate: any diff against any file either locates every hunk, and
// then applies, each located hunk's lines being the file's, or gives an
// *ApplyError; never a panic.
func FuzzLocate(f *testing.F) {
	f.Add(gitDiff, "static int f(int x)\n{\n\treturn x;\n\treturn x;\n}\n", 0)
	f.Add(gitDiff, "/* moved */\n\nstatic int f(int x)\n{\n\treturn x;\n\treturn x;\n}\n", 0)
	f.Add("--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n@@ -5,0 +6,1 @@\n+d\n", "a\nb\nc\nd\ne\n", 1)
	f.Fuzz(func(t *testing.T, diff, src string, fuzz int) {
		files, err := Parse(strings.NewReader(diff), "fuzz.patch")
		if err != nil {
			return
		}
		lines := strings.Split(strings.TrimSuffix(src, "\n"), "\n")
		fuzz = min(max(fuzz, 0), 3)
		for _, fl := range files {
			locs, err := Locate(lines, fl, fuzz)
			if err != nil {
				var ae *ApplyError
				if !errors.As(err, &ae) {
					t.Fatalf("error %T %v, want an *ApplyError", err, err)
				}
				_ = err.Error()
				continue
			}
			if _, err := ApplyAt(lines, fl, locs); err != nil {
				t.Fatalf("located but not applied: %v", err)
			}
			for i, h := range fl.At(locs).Hunks {
				if locs[i].Fuzz > 0 {
					continue
				}
				for _, l := range h.Lines {
					if l.Op != Add && (l.OldLine < 1 || l.OldLine > len(lines) || !sameLine(lines[l.OldLine-1], l.Text)) {
						t.Fatalf("hunk #%d at %+v: line %d is %q, the hunk says %q", i+1, locs[i], l.OldLine, at(lines, l.OldLine), l.Text)
					}
				}
			}
		}
	})
}
