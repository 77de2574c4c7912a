package driver

import (
	"os"
	"path/filepath"
	"testing"
)

// TestObjectKeyer: resolving each directory once keys every path as
// objectKey does: through linked directories, linked objects, dangling
// links, missing files, "..", relative paths.
func TestObjectKeyer(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "real", "sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "real", "a.o"), nil, 0o644))
	must(os.WriteFile(filepath.Join(dir, "real", "sub", "b.o"), nil, 0o644))
	must(os.Symlink("real", filepath.Join(dir, "alias")))
	must(os.Symlink("sub/b.o", filepath.Join(dir, "real", "c.o")))
	must(os.Symlink("nowhere.o", filepath.Join(dir, "real", "dangling.o")))
	t.Chdir(dir)
	paths := []string{
		filepath.Join(dir, "real", "a.o"), filepath.Join(dir, "alias", "a.o"), filepath.Join(dir, "alias", "sub", "b.o"),
		filepath.Join(dir, "alias", "c.o"), filepath.Join(dir, "real", "dangling.o"), filepath.Join(dir, "alias", "missing.o"),
		filepath.Join(dir, "alias", "sub", "..", "a.o"), filepath.Join(dir, "missing", "x.o"),
		"alias/a.o", "real/sub/b.o", "alias/c.o", "a.o", "alias/sub/../a.o", "alias/", "alias", ".",
	}
	// The objects as the walk lists them, and as paths it has not seen.
	for _, regular := range [][]string{nil, {filepath.Join(dir, "real", "a.o"), filepath.Join(dir, "real", "sub", "b.o"), filepath.Join(dir, "alias", "a.o")}} {
		key := objectKeyer(regular)
		for range 2 { // the second time from what was resolved the first
			for _, p := range paths {
				if got, want := key(p), objectKey(p); got != want {
					t.Errorf("objectKeyer(%q)(%q) = %q, objectKey %q", regular, p, got, want)
				}
			}
		}
	}
	key := objectKeyer(nil)
	if a, b := key(filepath.Join(dir, "alias", "c.o")), key(filepath.Join(dir, "real", "sub", "b.o")); a != b {
		t.Errorf("a link to an object and the object: %q, %q", a, b)
	}
}
