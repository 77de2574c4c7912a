package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"syscall"

	"github.com/klp-audit/klp-audit/callgraph"
)

// Magic opens every index file; Version is what this package writes and
// the only one it reads: the layout, and the version of the graph tables
// it keeps (callgraph.TableVersion), which a change to how the graph is
// built from the same records makes stale without changing the layout.
const (
	Magic   = "KLPAIDX\x00"
	Version = 6*100 + callgraph.TableVersion
)

// headerSize is the fixed header: magic, version, flags, file size, the
// table of contents' offset, length and checksum, and the header's own
// checksum.
const headerSize = 8 + 4 + 4 + 8 + 8 + 8 + 4 + 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by the error for a file that is not a whole,
// intact index: wrong magic, truncated, a checksum that does not match,
// a table that points outside the file. Such a file is never trusted.
var ErrCorrupt = errors.New("corrupt index")

// ErrVersion is wrapped by the error for an index of another layout
// version (written by another klp-audit): rebuild it.
var ErrVersion = errors.New("index of another version")

// FormatError says what is wrong with an index file, and where.
type FormatError struct {
	Path string
	Off  int64 // byte offset of the offending field, -1 when none
	Msg  string
	Err  error // ErrCorrupt or ErrVersion
}

func (e *FormatError) Error() string {
	if e.Off >= 0 {
		return fmt.Sprintf("%s: offset %d: %v: %s", e.Path, e.Off, e.Err, e.Msg)
	}
	return fmt.Sprintf("%s: %v: %s", e.Path, e.Err, e.Msg)
}

func (e *FormatError) Unwrap() error { return e.Err }

// Ref locates one blob of an index file: its offset, length and CRC-32C.
type Ref struct {
	Off, Len uint64
	CRC      uint32
}

// Writer writes an index file: blobs first, then the table of contents
// and the header. It writes to a temporary file in the destination's
// directory and renames it over the destination in Commit, so a reader
// sees the old file or the new one, never a partial one, and two writers
// racing leave one whole file.
type Writer struct {
	path string
	f    *os.File
	off  uint64
	buf  []byte
	err  error
}

// Create starts an index file that Commit will put at path; the
// directory is created if needed.
func Create(path string) (*Writer, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, err
	}
	w := &Writer{path: path, f: f, off: headerSize}
	if _, err := f.Write(make([]byte, headerSize)); err != nil {
		w.Abort()
		return nil, err
	}
	return w, nil
}

// Add appends blob b and returns where it is.
func (w *Writer) Add(b []byte) Ref {
	r := Ref{Off: w.off, Len: uint64(len(b)), CRC: crc32.Checksum(b, castagnoli)}
	w.off += uint64(len(b))
	w.buf = append(w.buf, b...)
	if len(w.buf) >= 1<<20 {
		w.flush()
	}
	return r
}

func (w *Writer) flush() {
	if w.err == nil && len(w.buf) > 0 {
		_, w.err = w.f.Write(w.buf)
	}
	w.buf = w.buf[:0]
}

// Commit writes the table of contents toc and the header, syncs the file
// and renames it to the destination path.
func (w *Writer) Commit(toc []byte) error {
	r := w.Add(toc)
	w.flush()
	if w.err != nil {
		w.Abort()
		return w.err
	}
	h := make([]byte, 0, headerSize)
	h = append(h, Magic...)
	h = binary.LittleEndian.AppendUint32(h, Version)
	h = binary.LittleEndian.AppendUint32(h, 0)
	h = binary.LittleEndian.AppendUint64(h, w.off)
	h = binary.LittleEndian.AppendUint64(h, r.Off)
	h = binary.LittleEndian.AppendUint64(h, r.Len)
	h = binary.LittleEndian.AppendUint32(h, r.CRC)
	h = binary.LittleEndian.AppendUint32(h, crc32.Checksum(h, castagnoli))
	if _, err := w.f.WriteAt(h, 0); err != nil {
		w.Abort()
		return err
	}
	if err := w.f.Sync(); err != nil {
		w.Abort()
		return err
	}
	if err := w.f.Close(); err != nil {
		os.Remove(w.f.Name())
		return err
	}
	if err := os.Rename(w.f.Name(), w.path); err != nil {
		os.Remove(w.f.Name())
		return err
	}
	return nil
}

// Abort drops the temporary file.
func (w *Writer) Abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// File is an open index: a read-only memory mapping of it, whose header
// and table of contents were checked.
type File struct {
	Path string
	data []byte
	toc  []byte
	// Size and ModTime are the file's when it was opened.
	Size int64
}

// Open maps the index at path and checks its magic, version, size and
// the checksums of its header and table of contents. A file that fails
// any check is refused with a *FormatError (ErrCorrupt or ErrVersion).
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &FormatError{Path: path, Off: -1, Msg: "not a regular file", Err: ErrCorrupt}
	}
	if st.Size() < headerSize {
		return nil, &FormatError{Path: path, Off: -1, Msg: fmt.Sprintf("%d bytes, shorter than the %d-byte header", st.Size(), headerSize), Err: ErrCorrupt}
	}
	if st.Size() > 1<<40 {
		return nil, &FormatError{Path: path, Off: -1, Msg: "larger than 1 TiB", Err: ErrCorrupt}
	}
	data, err := syscall.Mmap(int(fh.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%s: mapping the index: %w", path, err)
	}
	f, err := openData(path, data)
	if err != nil {
		_ = syscall.Munmap(data)
		return nil, err
	}
	f.Size = st.Size()
	return f, nil
}

// openData checks the header and table of contents of an index held in
// data (a mapping, or a slice in tests and fuzzing).
func openData(path string, data []byte) (*File, error) {
	bad := func(off int64, format string, args ...any) error {
		return &FormatError{Path: path, Off: off, Msg: fmt.Sprintf(format, args...), Err: ErrCorrupt}
	}
	if len(data) < headerSize {
		return nil, bad(-1, "%d bytes, shorter than the %d-byte header", len(data), headerSize)
	}
	if string(data[:8]) != Magic {
		return nil, bad(0, "magic %q, want %q: not a klp-audit index", data[:8], Magic)
	}
	le := binary.LittleEndian
	if v := le.Uint32(data[8:]); v != Version {
		return nil, &FormatError{Path: path, Off: 8, Msg: fmt.Sprintf("version %d, this klp-audit reads version %d", v, Version), Err: ErrVersion}
	}
	if c := le.Uint32(data[headerSize-4:]); c != crc32.Checksum(data[:headerSize-4], castagnoli) {
		return nil, bad(headerSize-4, "header checksum %#x does not match", c)
	}
	if size := le.Uint64(data[16:]); size != uint64(len(data)) {
		return nil, bad(16, "the header says %d bytes, the file has %d (truncated, or written over)", size, len(data))
	}
	r := Ref{Off: le.Uint64(data[24:]), Len: le.Uint64(data[32:]), CRC: le.Uint32(data[40:])}
	f := &File{Path: path, data: data, Size: int64(len(data))}
	toc, err := f.Blob(r)
	if err != nil {
		return nil, err
	}
	f.toc = toc
	return f, nil
}

// TOC returns the table of contents (checked by Open).
func (f *File) TOC() []byte { return f.toc }

// Blob returns the blob r, checked against its checksum. The bytes are
// the mapping's: valid until Close, and never to be written.
func (f *File) Blob(r Ref) ([]byte, error) {
	if r.Off < headerSize || r.Off > uint64(len(f.data)) || r.Len > uint64(len(f.data))-r.Off {
		return nil, &FormatError{Path: f.Path, Off: int64(min(r.Off, 1<<62)), Msg: fmt.Sprintf("blob of %d bytes at %d outside the file's %d bytes", r.Len, r.Off, len(f.data)), Err: ErrCorrupt}
	}
	b := f.data[r.Off : r.Off+r.Len]
	if c := crc32.Checksum(b, castagnoli); c != r.CRC {
		return nil, &FormatError{Path: f.Path, Off: int64(r.Off), Msg: fmt.Sprintf("blob checksum %#x, want %#x", c, r.CRC), Err: ErrCorrupt}
	}
	return b, nil
}

// Close unmaps the file; blobs returned before must not be used after.
func (f *File) Close() error {
	if f == nil || f.data == nil {
		return nil
	}
	var err error
	if f.Size > 0 && f.Path != "" {
		err = syscall.Munmap(f.data)
	}
	f.data, f.toc = nil, nil
	return err
}
