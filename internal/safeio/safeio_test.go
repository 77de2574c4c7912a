package safeio_test

import (
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/internal/safeio"
)

// TestOpenRefuses: a FIFO, /dev/zero through a symbolic link, a
// directory and a socket are refused at once, naming the path and what
// it is; a FIFO never blocks the open.
func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	fifo := fixture.FIFO(t, filepath.Join(dir, "x.c.000i.ipa-clones"))
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, c := range []struct{ path, what string }{
		{fifo, "a FIFO"}, {zero, "a character device"}, {dir, "a directory"}, {sock, "a socket"},
	} {
		fixture.Within(t, 5*time.Second, c.path, func() {
			f, err := safeio.Open(c.path)
			if err == nil {
				f.Close()
				t.Errorf("%s: opened", c.path)
				return
			}
			if !errors.Is(err, safeio.ErrNotRegular) || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.what) {
				t.Errorf("%s: error %q, want ErrNotRegular naming the path and %q", c.path, err, c.what)
			}
		})
		fixture.Within(t, 5*time.Second, c.path, func() {
			if _, err := safeio.ReadFile(c.path, 0); !errors.Is(err, safeio.ErrNotRegular) {
				t.Errorf("ReadFile %s: %v", c.path, err)
			}
		})
	}
}

// TestReadBounded: ReadFile refuses a file beyond its limit without
// reading it (a sparse 200 GB file), and reads a regular one whole.
func TestReadBounded(t *testing.T) {
	dir := t.TempDir()
	big := fixture.Sparse(t, filepath.Join(dir, "big"), 200<<30)
	_, err := safeio.ReadFile(big, 64<<20)
	var tl *safeio.TooLargeError
	if !errors.As(err, &tl) || tl.Size != 200<<30 || !strings.Contains(err.Error(), big) || !strings.Contains(err.Error(), "64 MiB") {
		t.Fatalf("ReadFile of a 200 GB file: %v", err)
	}
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := safeio.ReadFile(small, 4); err != nil || string(b) != "abc\n" {
		t.Fatalf("ReadFile: %q, %v", b, err)
	}
	if _, err := safeio.ReadFile(small, 3); !errors.Is(err, safeio.ErrTooLarge) {
		t.Fatalf("ReadFile beyond the limit: %v", err)
	}
	f, err := safeio.Open(small)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A file that grows after it was opened is read up to its old size.
	if err := os.WriteFile(small, []byte("abcdefgh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(f.Reader()); string(b) != "abcd" {
		t.Fatalf("Reader after growth: %q", b)
	}
	if _, err := safeio.ReadAllLimit(strings.NewReader("12345"), "stdin", 4); !errors.Is(err, safeio.ErrTooLarge) || !strings.Contains(err.Error(), "stdin") {
		t.Fatalf("ReadAllLimit: %v", err)
	}
	if b, err := safeio.ReadAllLimit(strings.NewReader("1234"), "stdin", 4); err != nil || string(b) != "1234" {
		t.Fatalf("ReadAllLimit: %q %v", b, err)
	}
}

// TestLineReader: lines come without their ending ("\n" or "\r\n"); a
// line beyond the limit is reported at file:line and skipped, also when
// it is endless (/dev/zero would be, without the size bound).
func TestLineReader(t *testing.T) {
	in := "one\r\ntwo\n" + strings.Repeat("x", 100) + "\nthree"
	r := safeio.NewLineReader(strings.NewReader(in), "list", 32)
	var got []string
	for {
		l, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var le *safeio.LineError
			if !errors.As(err, &le) || le.Line != 3 || !errors.Is(err, safeio.ErrLineTooLong) || !strings.HasPrefix(err.Error(), "list:3: ") {
				t.Fatalf("error %v", err)
			}
			got = append(got, "ERR")
			continue
		}
		got = append(got, string(l)+"@"+string(rune('0'+r.Line())))
	}
	if want := "one@1 two@2 ERR three@4"; strings.Join(got, " ") != want {
		t.Fatalf("lines %q, want %q", strings.Join(got, " "), want)
	}
	// An endless line ends at the reader's end, once.
	r = safeio.NewLineReader(io.LimitReader(zeros{}, 1<<20), "zero", 64)
	if _, err := r.Next(); !errors.Is(err, safeio.ErrLineTooLong) {
		t.Fatalf("endless line: %v", err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the endless line: %v", err)
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// TestCheckCompressed: an object whose zstd .debug_info really expands
// to 16 GiB is refused before anything decompresses it; a normal object
// passes.
func TestCheckCompressed(t *testing.T) {
	dir := t.TempDir()
	obj := fixture.CompressedBomb(t, dir, 16<<30)
	st, err := os.Stat(obj)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 1<<20 {
		t.Fatalf("bomb of %d bytes", st.Size())
	}
	ef, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	err = safeio.CheckCompressed(ef, obj, st.Size())
	if !errors.Is(err, safeio.ErrTooLarge) || !strings.Contains(err.Error(), obj) || !strings.Contains(err.Error(), ".debug_info") {
		t.Fatalf("CheckCompressed: %v", err)
	}
	// The frame is a real one: the first bytes decompress.
	r := ef.Section(".debug_info").Open()
	var head [8]byte
	if _, err := io.ReadFull(r, head[:]); err != nil || !bytes.Equal(head[:], []byte("AAAAAAAA")) {
		t.Fatalf("bomb does not decompress: %q %v", head, err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ok, err := elf.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer ok.Close()
	sst, _ := os.Stat(self)
	if err := safeio.CheckCompressed(ok, self, sst.Size()); err != nil {
		t.Fatalf("CheckCompressed of the test binary: %v", err)
	}
	if got := safeio.DecompressedLimit(1 << 20); got != 64<<20 {
		t.Fatalf("limit for 1 MiB: %d", got)
	}
	if got := safeio.DecompressedLimit(10 << 20); got != 640<<20 {
		t.Fatalf("limit for 10 MiB: %d", got)
	}
}
