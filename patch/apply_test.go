package patch

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestApply: applying a diff gives the file diff(1) made it from.
func TestApply(t *testing.T) {
	if _, err := exec.LookPath("diff"); err != nil {
		t.Skip("diff(1) not installed")
	}
	var orig []string
	for i := 1; i <= 40; i++ {
		orig = append(orig, "line "+strconv.Itoa(i)+" "+strings.Repeat("x", i%7))
	}
	fixed := append([]string{}, orig[:3]...)
	fixed = append(fixed, "added at 4")
	fixed = append(fixed, orig[3:20]...)
	fixed = append(fixed, orig[21:]...) // line 21 deleted
	fixed[30] = "changed"
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.c"), []byte(strings.Join(orig, "\n")+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.c"), []byte(strings.Join(fixed, "\n")+"\n"), 0o644)
	cmd := exec.Command("diff", "-u", "a.c", "b.c")
	cmd.Dir = dir
	d, _ := cmd.Output()
	files, err := Parse(strings.NewReader(string(d)), "fix.patch")
	if err != nil || len(files) != 1 {
		t.Fatalf("parse: %v %v\n%s", files, err, d)
	}
	got, err := Apply(orig, files[0])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(fixed, "\n") {
		t.Errorf("applied:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(fixed, "\n"))
	}
	bad := append([]string{}, orig...)
	bad[20] = "not what the hunk deletes"
	var ae *ApplyError
	if _, err := Apply(bad, files[0]); !errors.As(err, &ae) || ae.Hunk != 2 || ae.Near == nil || ae.Near.Mismatch.Line != 21 {
		t.Errorf("a hunk whose deleted line differs: %v, want hunk #2 refused, line 21 named", err)
	}
}
