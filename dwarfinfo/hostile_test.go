package dwarfinfo_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/internal/safeio"
)

// TestDecompressionBomb: an object whose zstd .debug_info really expands
// to 16 GiB is refused with an error naming it, before anything is
// decompressed (it was decompressed in full); the same bytes through the
// in-memory readers the fuzz target uses too.
func TestDecompressionBomb(t *testing.T) {
	obj := fixture.CompressedBomb(t, t.TempDir(), 16<<30)
	b, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for name, f := range map[string]func() error{
		"Producers":          func() error { _, err := dwarfinfo.Producers(obj); return err },
		"Inlines":            func() error { _, err := dwarfinfo.Inlines(obj); return err },
		"ProducersFromBytes": func() error { _, err := dwarfinfo.ProducersFromBytes(obj, b); return err },
		"InlinesFromBytes":   func() error { _, err := dwarfinfo.InlinesFromBytes(obj, b); return err },
	} {
		fixture.Within(t, 20*time.Second, name, func() {
			err := f()
			if !errors.Is(err, safeio.ErrTooLarge) || !strings.Contains(err.Error(), obj) || !strings.Contains(err.Error(), ".debug_info") {
				t.Errorf("%s: %v, want a decompression limit error naming %s", name, err, obj)
			}
		})
	}
	runtime.ReadMemStats(&after)
	if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 100 {
		t.Errorf("reading the bomb allocated %d MB", mb)
	}
}

// TestHostileFiles: a FIFO or /dev/zero given as an object gives an error
// at once.
func TestHostileFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := fixture.FIFO(t, filepath.Join(dir, "x.o"))
	zero := filepath.Join(dir, "z.o")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, zero} {
		fixture.Within(t, 5*time.Second, p, func() {
			if _, err := dwarfinfo.Producers(p); !errors.Is(err, safeio.ErrNotRegular) || !strings.Contains(err.Error(), p) {
				t.Errorf("Producers(%s): %v", p, err)
			}
			if _, err := dwarfinfo.Inlines(p); !errors.Is(err, safeio.ErrNotRegular) {
				t.Errorf("Inlines(%s): %v", p, err)
			}
		})
	}
}
