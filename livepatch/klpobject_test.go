package livepatch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kernelTree makes a directory that looks like a kernel build's top: a
// .config and a Kbuild file.
func kernelTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range []string{".config", "Kbuild"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestObjectsOf: an object a kbuild .mod file lists belongs to that
// module (- spelled _), any other object of a kernel tree to vmlinux, and
// outside a kernel tree the klp_object is unknown.
func TestObjectsOf(t *testing.T) {
	root := kernelTree(t)
	write(t, filepath.Join(root, "fs/nfsd/nfsd-x.mod"), "fs/nfsd/nfssvc.o\nfs/nfsd/nfsproc.o\n")
	write(t, filepath.Join(root, "mm/oom_kill.o"), "")
	k := NewObjects([]string{root})
	for obj, want := range map[string]string{
		"fs/nfsd/nfssvc.o": "nfsd_x",
		"fs/nfsd/other.o":  "vmlinux",
		"mm/oom_kill.o":    "vmlinux",
	} {
		got, err := k.Of(filepath.Join(root, obj))
		if err != nil || got != want {
			t.Errorf("Of(%s) = %q, %v; want %q", obj, got, err, want)
		}
	}
	other := t.TempDir()
	if got, err := NewObjects([]string{other}).Of(filepath.Join(other, "a.o")); got != "" || err != nil {
		t.Errorf("outside a kernel tree: %q, %v; want unknown", got, err)
	}
}

// TestObjectsOfUnreadable: a .mod file that cannot be read leaves the
// klp_object unknown with an error, never a silent "vmlinux".
func TestObjectsOfUnreadable(t *testing.T) {
	root := kernelTree(t)
	// A directory named like a .mod file: reading it fails, as root too.
	if err := os.MkdirAll(filepath.Join(root, "drivers/x/x.mod"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := NewObjects([]string{root}).Of(filepath.Join(root, "drivers/x/x.o"))
	if err == nil || got != "" || !strings.Contains(err.Error(), ".mod files") {
		t.Errorf("Of = %q, %v; want an error naming the .mod files", got, err)
	}
}
