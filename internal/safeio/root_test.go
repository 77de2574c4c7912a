package safeio_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/internal/safeio"
)

// TestReadFileIn: a file of the tree is read, through a link that stays
// in it too; "../", an absolute path and a link out of the tree are
// refused with ErrEscapes even when the file they reach exists; a FIFO is
// refused without blocking, and a file beyond the limit is refused.
func TestReadFileIn(t *testing.T) {
	top := t.TempDir()
	tree := filepath.Join(top, "linux")
	for path, text := range map[string]string{
		"linux/mm/oom_kill.c": "int x;\n",
		"secret.c":            "secret\n",
	} {
		p := filepath.Join(top, path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(tree, "lib"), 0o755)
	os.Symlink("../mm/oom_kill.c", filepath.Join(tree, "lib", "inside.c"))
	os.Symlink("../../secret.c", filepath.Join(tree, "mm", "out.c"))
	os.Symlink(filepath.Join(top, "secret.c"), filepath.Join(tree, "mm", "abs.c"))
	fixture.FIFO(t, filepath.Join(tree, "mm", "fifo.c"))

	for _, rel := range []string{"mm/oom_kill.c", "lib/inside.c", "mm/../mm/oom_kill.c"} {
		b, err := safeio.ReadFileIn(tree, rel, 0)
		if err != nil || string(b) != "int x;\n" {
			t.Errorf("ReadFileIn(%s) = %q, %v; want the file", rel, b, err)
		}
	}
	for _, rel := range []string{"../secret.c", "mm/../../secret.c", filepath.Join(top, "secret.c"), "mm/out.c", "mm/abs.c"} {
		b, err := safeio.ReadFileIn(tree, rel, 0)
		if !errors.Is(err, safeio.ErrEscapes) {
			t.Errorf("ReadFileIn(%s) = %q, %v; want ErrEscapes", rel, b, err)
		}
		if err != nil && !strings.Contains(err.Error(), tree) {
			t.Errorf("ReadFileIn(%s): error %q does not name the tree", rel, err)
		}
	}
	fixture.Within(t, 5*time.Second, "fifo", func() {
		if _, err := safeio.ReadFileIn(tree, "mm/fifo.c", 0); !errors.Is(err, safeio.ErrNotRegular) {
			t.Errorf("ReadFileIn(FIFO): %v; want ErrNotRegular", err)
		}
	})
	if _, err := safeio.ReadFileIn(tree, "mm/oom_kill.c", 3); !errors.Is(err, safeio.ErrTooLarge) {
		t.Errorf("ReadFileIn beyond the limit: %v; want ErrTooLarge", err)
	}
	if _, err := safeio.ReadFileIn(tree, "mm/none.c", 0); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join(tree, "mm/none.c")) {
		t.Errorf("ReadFileIn(missing): %v; want ErrNotExist naming the path", err)
	}
}
