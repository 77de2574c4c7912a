package safeio_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/internal/safeio"
)

// TestOpenRaw: OpenRaw (and OpenLimit, built on it) refuses a FIFO
// without blocking, a device, a directory, a missing file, a file over
// the limit, a huge sparse one over it, each with its error; opens the
// rest with their sizes; and reads like os.File's ReadAt bounded by the
// size at opening.
func TestOpenRaw(t *testing.T) {
	dir := t.TempDir()
	fifo := fixture.FIFO(t, filepath.Join(dir, "x.c.000i.ipa-clones"))
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("plain", link); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	sparse := fixture.Sparse(t, filepath.Join(dir, "sparse"), 200<<30)
	notRegular := func(err error) bool { var e *safeio.NotRegularError; return errors.As(err, &e) }
	tooLarge := func(err error) bool { var e *safeio.TooLargeError; return errors.As(err, &e) }
	for _, c := range []struct {
		path  string
		limit int64
		size  int64                // when opened
		is    func(err error) bool // the error, when refused
	}{
		{fifo, 0, 0, notRegular}, {zero, 0, 0, notRegular}, {dir, 0, 0, notRegular},
		{filepath.Join(dir, "missing"), 0, 0, func(err error) bool { return errors.Is(err, fs.ErrNotExist) }},
		{plain, 5, 0, tooLarge}, {sparse, 1 << 30, 0, tooLarge},
		{plain, 0, 10, nil}, {link, 10, 10, nil}, {sparse, 0, 200 << 30, nil},
	} {
		fixture.Within(t, 5*time.Second, c.path, func() {
			f, err := safeio.OpenRaw(c.path, c.limit)
			g, gerr := safeio.OpenLimit(c.path, c.limit)
			for _, e := range []error{err, gerr} {
				switch {
				case c.is == nil && e != nil:
					t.Errorf("%s: %v", c.path, e)
				case c.is != nil && (e == nil || !c.is(e) || !strings.Contains(e.Error(), c.path)):
					t.Errorf("%s: %v, not the expected error naming the path", c.path, e)
				}
			}
			if err == nil {
				if f.Size != c.size {
					t.Errorf("%s: size %d, want %d", c.path, f.Size, c.size)
				}
				f.Close()
			}
			if gerr == nil {
				if g.Size != c.size {
					t.Errorf("%s: OpenLimit size %d, want %d", c.path, g.Size, c.size)
				}
				g.Close()
			}
		})
	}
	f, err := safeio.OpenRaw(plain, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Grown after opening: read up to the size it had.
	if err := os.WriteFile(plain, []byte("0123456789abcdef"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		off, n int
		want   string
		err    error
	}{{0, 10, "0123456789", nil}, {4, 3, "456", nil}, {8, 5, "89", io.EOF}, {10, 1, "", io.EOF}, {12, 1, "", io.EOF}} {
		b := make([]byte, c.n)
		n, err := f.ReadAt(b, int64(c.off))
		if string(b[:n]) != c.want || err != c.err {
			t.Errorf("ReadAt(%d bytes at %d) = %q, %v; want %q, %v", c.n, c.off, b[:n], err, c.want, c.err)
		}
	}
	// Shrunk after opening: a short read says io.EOF.
	if err := os.WriteFile(plain, []byte("0123"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 10)
	if n, err := f.ReadAt(b, 0); n != 4 || err != io.EOF {
		t.Errorf("ReadAt of the shrunk file: %d, %v", n, err)
	}
}

// TestOpenRawAt: OpenRawAt opens a name of an open directory as OpenRaw
// opens its path, but refuses a symbolic link there (ELOOP) instead of
// following it, and refuses a FIFO or a device, opened without
// blocking, with OpenRaw's error.
func TestOpenRawAt(t *testing.T) {
	dir := t.TempDir()
	fixture.FIFO(t, filepath.Join(dir, "fifo"))
	if err := os.WriteFile(filepath.Join(dir, "plain"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("plain", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", filepath.Join(dir, "null")); err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, c := range []struct {
		name  string
		limit int64
		ok    bool
	}{{"plain", 0, true}, {"plain", 10, true}, {"plain", 5, false}, {"fifo", 0, false}, {"missing", 0, false}, {"link", 0, false}, {"null", 0, false}} {
		p := filepath.Join(dir, c.name)
		fixture.Within(t, 5*time.Second, p, func() {
			f, err := safeio.OpenRawAt(int(d.Fd()), c.name, p, c.limit)
			if (err == nil) != c.ok {
				t.Fatalf("%s: OpenRawAt: %v, want ok=%v", c.name, err, c.ok)
			}
			if err != nil {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("%s: the error does not name the path: %v", c.name, err)
				}
				if c.name == "link" || c.name == "null" {
					if !errors.Is(err, syscall.ELOOP) {
						t.Errorf("%s: a link was not refused as one: %v", c.name, err)
					}
					return
				}
				if c.name == "missing" {
					if !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s: %v", c.name, err)
					}
					return
				}
				_, gerr := safeio.OpenRaw(p, c.limit)
				if fmt.Sprint(err) != fmt.Sprint(gerr) {
					t.Errorf("%s: OpenRawAt: %v; OpenRaw: %v", c.name, err, gerr)
				}
				return
			}
			defer f.Close()
			b := make([]byte, 4)
			if n, err := f.ReadAt(b, 2); n != 4 || err != nil || string(b) != "2345" || f.Size != 10 {
				t.Errorf("%s: ReadAt = %d %v %q, size %d", c.name, n, err, b, f.Size)
			}
		})
	}
}
