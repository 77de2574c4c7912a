// Package safeio opens the files klp-audit reads as input (dumps, dump
// lists, policies, diffs, objects) so that no input can hang it or make it
// allocate without bound:
//
//   - only regular files are opened: a FIFO, a device (/dev/zero through a
//     symbolic link, say), a directory or a socket is refused with an error
//     naming the path and what it is, and opening never blocks on a FIFO
//     (the file is checked with stat, opened with O_NONBLOCK and checked
//     again with fstat, so a file swapped between the two checks is seen);
//   - reads are bounded by the size the file had when it was opened, and by
//     an explicit limit where the caller gives one;
//   - lines are read with a length limit, and errors name file:line.
//
// It knows nothing of klp-audit's formats.
package safeio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular is wrapped by the error for a path that is not a regular
// file.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by the error for a file larger than the limit its
// reader allows.
var ErrTooLarge = errors.New("file too large")

// ErrLineTooLong is wrapped by the error for a line longer than the
// LineReader's limit.
var ErrLineTooLong = errors.New("line too long")

// NotRegularError says what a refused path is.
type NotRegularError struct {
	Path string
	What string // "a FIFO", "a character device", "a directory", ...
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s: %s, not a regular file", e.Path, e.What)
}

func (e *NotRegularError) Unwrap() error { return ErrNotRegular }

// TooLargeError says that a file exceeds a reader's limit.
type TooLargeError struct {
	Path  string
	Size  int64 // the file's size, or -1 when only reading showed it too large
	Limit int64
}

func (e *TooLargeError) Error() string {
	if e.Size < 0 {
		return fmt.Sprintf("%s: more than %s: larger than klp-audit reads for this input", e.Path, human(e.Limit))
	}
	return fmt.Sprintf("%s: %s, more than the %s klp-audit reads for this input", e.Path, human(e.Size), human(e.Limit))
}

func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// What names the kind of file mode m describes ("a FIFO", "a directory").
func What(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file (" + m.Type().String() + ")"
}

// File is a regular file opened for reading, with the size it had when it
// was opened.
type File struct {
	*os.File
	Size int64
}

// Open opens path for reading if it is, after following symbolic links, a
// regular file. It never blocks: a FIFO is refused before it is opened,
// and the open itself is non-blocking, so one swapped in after the check
// is refused by the fstat that follows. Errors name the path.
func Open(path string) (*File, error) {
	return OpenLimit(path, 0)
}

// MaxObjectSize is the largest object klp-audit reads (a relocatable
// object, vmlinux or a module): a kernel's largest, vmlinux with its
// DWARF, is well under 2 GiB. A larger one, such as a sparse file whose
// sections claim most of it, is refused rather than read into memory.
const MaxObjectSize = 8 << 30

// OpenObject is OpenLimit(path, MaxObjectSize): how objects are opened.
func OpenObject(path string) (*File, error) { return OpenLimit(path, MaxObjectSize) }

// OpenLimit is Open that also refuses a file larger than limit bytes
// (limit <= 0: no limit besides the file's size).
func OpenLimit(path string, limit int64) (*File, error) {
	r, err := OpenRaw(path, limit) // the checks, made once for both
	if err != nil {
		return nil, err
	}
	// O_NONBLOCK means nothing for a regular file's reads; it stays set.
	return &File{File: os.NewFile(uintptr(r.fd), path), Size: r.Size}, nil
}

// Reader returns a reader of f's contents bounded by the size f had when
// it was opened: a file that grows while it is read is cut there.
func (f *File) Reader() io.Reader { return io.LimitReader(f.File, f.Size) }

// SectionReader returns f's contents as an io.ReaderAt bounded by the
// size f had when it was opened.
func (f *File) SectionReader() *io.SectionReader { return io.NewSectionReader(f.File, 0, f.Size) }

// ReadFile reads the regular file at path whole. It refuses a file larger
// than limit bytes (limit <= 0: no limit besides the file's size), and
// never reads more than the size the file had when it was opened.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := OpenLimit(path, limit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, f.Size)
	n, err := io.ReadFull(f.File, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// A file that shrank while it was read gives what it held.
	return b[:n], nil
}

// ReadAllLimit reads r whole, refusing more than limit bytes: name is used
// in the error. It is for readers that are not files (standard input).
func ReadAllLimit(r io.Reader, name string, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Path: name, Size: -1, Limit: limit}
	}
	return b, nil
}

// LineError is an error positioned at a line of a file.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// LineReader reads lines of at most a given length. A longer line is
// skipped without being buffered whole and reported as a *LineError
// wrapping ErrLineTooLong; reading goes on with the next line.
type LineReader struct {
	br   *bufio.Reader
	name string
	max  int
	line int
	done bool
}

// NewLineReader returns a LineReader of r; name is used in errors, and
// maxLen (at least 16) is the longest line accepted, newline excluded.
func NewLineReader(r io.Reader, name string, maxLen int) *LineReader {
	maxLen = max(maxLen, 16)
	return &LineReader{br: bufio.NewReaderSize(r, maxLen+2), name: name, max: maxLen}
}

// Line is the number of the line last returned (1-based).
func (l *LineReader) Line() int { return l.line }

// Next returns the next line without its line ending ("\n" or "\r\n").
// The slice is valid until the next call. At the end it returns io.EOF.
func (l *LineReader) Next() ([]byte, error) {
	if l.done {
		return nil, io.EOF
	}
	raw, err := l.br.ReadSlice('\n')
	switch {
	case err == nil:
		l.line++
	case errors.Is(err, bufio.ErrBufferFull):
		l.line++
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = l.br.ReadSlice('\n')
		}
		if err == io.EOF {
			l.done = true
		} else if err != nil {
			l.done = true
			return nil, &LineError{File: l.name, Line: l.line, Err: err}
		}
		return nil, &LineError{File: l.name, Line: l.line,
			Err: fmt.Errorf("%w: more than %d bytes", ErrLineTooLong, l.max)}
	case err == io.EOF:
		l.done = true
		if len(raw) == 0 {
			return nil, io.EOF
		}
		l.line++
	default:
		l.done = true
		return nil, &LineError{File: l.name, Line: l.line + 1, Err: err}
	}
	n := len(raw)
	if n > 0 && raw[n-1] == '\n' {
		n--
		if n > 0 && raw[n-1] == '\r' {
			n--
		}
	}
	if n > l.max {
		return nil, &LineError{File: l.name, Line: l.line,
			Err: fmt.Errorf("%w: more than %d bytes", ErrLineTooLong, l.max)}
	}
	return raw[:n], nil
}
