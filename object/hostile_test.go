package object

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/internal/safeio"
)

// TestOpenHostile: a FIFO or /dev/zero through a link as an object is an
// error at once (a FIFO blocked Open forever), and an object whose zstd
// .debug_info expands to 16 GiB is refused without decompressing it.
func TestOpenHostile(t *testing.T) {
	dir := t.TempDir()
	fifo := fixture.FIFO(t, filepath.Join(dir, "fifo.o"))
	zero := filepath.Join(dir, "zero.o")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, zero, dir} {
		fixture.Within(t, 5*time.Second, p, func() {
			if _, err := Open(p); !errors.Is(err, safeio.ErrNotRegular) || !strings.Contains(err.Error(), p) {
				t.Errorf("Open(%s): %v", p, err)
			}
			if _, err := OpenCode(p); !errors.Is(err, safeio.ErrNotRegular) {
				t.Errorf("OpenCode(%s): %v", p, err)
			}
		})
	}
	bomb := fixture.CompressedBomb(t, dir, 16<<30)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for name, open := range map[string]func(string) (*File, error){"Open": Open, "OpenCode": OpenCode} {
		fixture.Within(t, 20*time.Second, name, func() {
			if _, err := open(bomb); !errors.Is(err, safeio.ErrTooLarge) || !strings.Contains(err.Error(), bomb) {
				t.Errorf("%s(bomb): %v, want the decompression limit naming it", name, err)
			}
		})
	}
	runtime.ReadMemStats(&after)
	if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 100 {
		t.Errorf("opening the bomb allocated %d MB", mb)
	}
}
