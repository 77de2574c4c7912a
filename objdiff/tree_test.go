package objdiff

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestIsObject(t *testing.T) {
	for name, want := range map[string]bool{
		"mm/memblock.o": true, "fs/ext4/ext4.ko": true, "vmlinux.o": true,
		"fs/ext4/ext4.mod.o": false, ".tmp_vmlinux.kallsyms1.o": false, "mm/.memblock.o.cmd": false,
		"mm/memblock.c": false, "x.o.tmp": false, "lib/crc.a": false,
	} {
		if got := IsObject(name); got != want {
			t.Errorf("IsObject(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestCompareTrees(t *testing.T) {
	inl := fixture.Build(t, "diff-inline")
	arm := fixture.Build(t, "diff-addrm")
	a, b := filepath.Join(t.TempDir(), "orig"), filepath.Join(t.TempDir(), "patched")
	copyFile(t, filepath.Join(inl, "orig.o"), filepath.Join(a, "mm/x.o"))
	copyFile(t, filepath.Join(inl, "patched.o"), filepath.Join(b, "mm/x.o"))
	copyFile(t, filepath.Join(inl, "orig.o"), filepath.Join(a, "lib/same.o"))
	copyFile(t, filepath.Join(inl, "orig.o"), filepath.Join(b, "lib/same.o"))
	copyFile(t, filepath.Join(arm, "orig.o"), filepath.Join(a, "drivers/gone.o"))
	copyFile(t, filepath.Join(arm, "patched.o"), filepath.Join(b, "drivers/new.ko"))
	// Skipped: module metadata and temporaries, even when they differ.
	copyFile(t, filepath.Join(inl, "orig.o"), filepath.Join(a, "drivers/m.mod.o"))
	copyFile(t, filepath.Join(arm, "orig.o"), filepath.Join(b, "drivers/m.mod.o"))
	copyFile(t, filepath.Join(inl, "orig.o"), filepath.Join(b, ".tmp_vmlinux1.o"))

	r, err := CompareTrees(a, b, TreeOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, d := range r.Objects {
		paths = append(paths, d.Path+":"+string(d.Status))
	}
	want := []string{"drivers/gone.o:removed", "drivers/new.ko:added", "mm/x.o:compared"}
	if !slices.Equal(paths, want) {
		t.Errorf("objects %q, want %q", paths, want)
	}
	if len(r.Problems) != 0 {
		t.Errorf("problems: %+v", r.Problems)
	}
	want2 := Summary{Objects: 2, AddedObjects: 1, RemovedObjects: 1, Changed: 3, Added: 3, Removed: 2, Unchanged: 5}
	if r.Summary != want2 {
		t.Errorf("summary %+v, want %+v", r.Summary, want2)
	}
	if !r.Trees || r.SchemaVersion != SchemaVersion {
		t.Errorf("trees %v schema %d", r.Trees, r.SchemaVersion)
	}

	// An object that is not ELF is a problem naming it; the rest is
	// still compared.
	if err := os.WriteFile(filepath.Join(b, "mm/x.o"), []byte("int x;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = CompareTrees(a, b, TreeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Problems) != 1 || r.Problems[0].Path != "mm/x.o" || !strings.Contains(r.Problems[0].Message, filepath.Join(b, "mm/x.o")) ||
		!strings.Contains(r.Problems[0].Message, "not an ELF object") {
		t.Errorf("problems %+v, want one for mm/x.o naming the file", r.Problems)
	}
	if r.Summary.AddedObjects != 1 || r.Summary.RemovedObjects != 1 {
		t.Errorf("summary %+v", r.Summary)
	}

	// A FIFO where one tree has an object is a problem naming it, never a
	// removed object (it was skipped, and lib/same.o reported removed).
	if err := os.Remove(filepath.Join(b, "lib/same.o")); err != nil {
		t.Fatal(err)
	}
	fifo := fixture.FIFO(t, filepath.Join(b, "lib/same.o"))
	fixture.Within(t, 10*time.Second, "CompareTrees with a FIFO", func() {
		r, err = CompareTrees(a, b, TreeOptions{})
	})
	if err != nil {
		t.Fatal(err)
	}
	var fifoProblem bool
	for _, p := range r.Problems {
		fifoProblem = fifoProblem || p.Path == "lib/same.o" && strings.Contains(p.Message, fifo) && strings.Contains(p.Message, "FIFO")
	}
	if !fifoProblem {
		t.Errorf("problems %+v, want one for lib/same.o naming the FIFO %s", r.Problems, fifo)
	}
	for _, d := range r.Objects {
		if d.Path == "lib/same.o" {
			t.Errorf("lib/same.o reported %s, want a problem", d.Status)
		}
	}

	if _, err := CompareTrees(a, filepath.Join(b, "nonexistent"), TreeOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing tree: %v, want ErrNotExist", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	txt := filepath.Join(dir, "notes.o")
	if err := os.WriteFile(txt, []byte("not an object\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(txt); !errors.Is(err, ErrNotELF) || !strings.Contains(err.Error(), txt) {
		t.Errorf("text file: %v, want ErrNotELF naming %s", err, txt)
	}
	if _, err := Open(filepath.Join(dir, "missing.o")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: %v", err)
	}
	if _, err := CompareFiles(txt, txt); !errors.Is(err, ErrNotELF) {
		t.Errorf("CompareFiles: %v", err)
	}
}
