package patch

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/internal/safeio"
)

// TestParseCRLF: a diff saved with CRLF line ends reads as the LF one; a
// diff whose file header alone carries a carriage return is an error
// naming the line and the \r (it failed as "m.c is not in .").
func TestParseCRLF(t *testing.T) {
	want, err := Parse(strings.NewReader(gitDiff), "fix.patch")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(strings.NewReader(strings.ReplaceAll(gitDiff, "\n", "\r\n")), "fix.patch")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("CRLF diff: %+v, %v; want %+v", got, err, want)
	}
	mixed := strings.Replace(gitDiff, "+++ b/check.c\n", "+++ b/check.c\r\n", 1)
	_, err = Parse(strings.NewReader(mixed), "fix.patch")
	if err == nil || !strings.HasPrefix(err.Error(), "fix.patch:3: ") || !strings.Contains(err.Error(), `\r`) {
		t.Fatalf("mixed line ends: %v, want an error at fix.patch:3 naming \\r", err)
	}
}

// diffStream is an endless diff: a header, then added lines forever.
type diffStream struct{ head string }

func (d *diffStream) Read(b []byte) (int, error) {
	n := copy(b, d.head)
	d.head = d.head[n:]
	for n < len(b) {
		n += copy(b[n:], "+x\n")
	}
	return n, nil
}

// TestParseBounded: a 1 GB diff is refused after MaxDiffSize bytes,
// without holding it (it took 5.4 GB of memory).
func TestParseBounded(t *testing.T) {
	r := io.LimitReader(&diffStream{head: "--- a/m.c\n+++ b/m.c\n@@ -0,0 +1,357913941 @@\n"}, 1<<30)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Parse(r, "big.patch")
	runtime.ReadMemStats(&after)
	if !errors.Is(err, safeio.ErrTooLarge) || !strings.Contains(err.Error(), "big.patch") {
		t.Fatalf("1 GB diff: %v, want ErrTooLarge naming it", err)
	}
	if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 400 {
		t.Fatalf("1 GB diff: %d MB allocated", mb)
	}
}

// TestParseFileHostile: a FIFO, /dev/zero through a link and a sparse
// 200 GB file as the diff are refused at once, naming the file.
func TestParseFileHostile(t *testing.T) {
	dir := t.TempDir()
	fifo := fixture.FIFO(t, filepath.Join(dir, "fifo.patch"))
	zero := filepath.Join(dir, "zero.patch")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	big := fixture.Sparse(t, filepath.Join(dir, "big.patch"), 200<<30)
	for _, c := range []struct {
		path string
		is   error
	}{{fifo, safeio.ErrNotRegular}, {zero, safeio.ErrNotRegular}, {big, safeio.ErrTooLarge}} {
		fixture.Within(t, 5*time.Second, c.path, func() {
			if _, err := ParseFile(c.path); !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.path) {
				t.Errorf("ParseFile(%s): %v, want %v naming it", c.path, err, c.is)
			}
		})
	}
	good := filepath.Join(dir, "fix.patch")
	if err := os.WriteFile(good, []byte(gitDiff), 0o644); err != nil {
		t.Fatal(err)
	}
	if fs, err := ParseFile(good); err != nil || len(fs) != 1 || fs[0].Name() != "check.c" {
		t.Fatalf("ParseFile: %+v, %v", fs, err)
	}
}
