package safeio

import (
	"io"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// RawFile is a file OpenRaw opened: what Open gives, without an os.File.
// A query of a kernel build opens some eight thousand dumps and objects
// for a few reads each, and an os.File costs a system call and a cleanup
// more than the file descriptor.
type RawFile struct {
	fd   int
	path string
	Size int64 // as fstat said when the file was opened
}

// OpenRaw opens path as OpenLimit does (limit <= 0: none), with the
// same checks and errors, and returns a RawFile: OpenLimit is OpenRaw
// with an os.File around the descriptor.
func OpenRaw(path string, limit int64) (*RawFile, error) {
	var st syscall.Stat_t
	var err error
	for err = syscall.Stat(path, &st); err == syscall.EINTR; err = syscall.Stat(path, &st) {
	}
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if m := modeOf(&st); !m.IsRegular() {
		return nil, &NotRegularError{Path: path, What: What(m)}
	}
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	for err == syscall.EINTR {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return rawOf(fd, path, limit)
}

// OpenRawAt is OpenRaw of the file name in the directory open as dirfd,
// whose path is path: it looks up that one name, and a symbolic link
// there is refused (ELOOP), never followed. The file is not stat'ed
// before it is opened: the caller listed the directory and opens what
// the listing called a regular file, and a file that has become another
// kind since is opened without blocking and refused.
func OpenRawAt(dirfd int, name, path string, limit int64) (*RawFile, error) {
	const flags = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC | unix.O_NOFOLLOW
	fd, err := unix.Openat(dirfd, name, flags, 0)
	for err == unix.EINTR {
		fd, err = unix.Openat(dirfd, name, flags, 0)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return rawOf(fd, path, limit)
}

// rawOf returns the RawFile of fd, open as path, once fstat shows a
// regular file of at most limit bytes (limit <= 0: any); else it closes
// fd and returns OpenRaw's error.
func rawOf(fd int, path string, limit int64) (*RawFile, error) {
	var st syscall.Stat_t
	var err error
	for err = syscall.Fstat(fd, &st); err == syscall.EINTR; err = syscall.Fstat(fd, &st) {
	}
	if err != nil {
		syscall.Close(fd)
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if m := modeOf(&st); !m.IsRegular() {
		syscall.Close(fd)
		return nil, &NotRegularError{Path: path, What: What(m)}
	}
	if limit > 0 && st.Size > limit {
		syscall.Close(fd)
		return nil, &TooLargeError{Path: path, Size: st.Size, Limit: limit}
	}
	return &RawFile{fd: fd, path: path, Size: st.Size}, nil
}

// ReadAt reads as os.File.ReadAt does, but never past Size: there it
// answers io.EOF.
func (f *RawFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: os.ErrInvalid}
	}
	if off >= f.Size {
		return 0, io.EOF
	}
	eof := false
	if rest := f.Size - off; int64(len(p)) > rest {
		p, eof = p[:rest], true
	}
	n := 0
	for n < len(p) {
		m, err := syscall.Pread(f.fd, p[n:], off+int64(n))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, &fs.PathError{Op: "read", Path: f.path, Err: err}
		}
		if m == 0 {
			return n, io.EOF // the file shrank
		}
		n += m
	}
	if eof {
		return n, io.EOF
	}
	return n, nil
}

// Close closes the file.
func (f *RawFile) Close() error { return syscall.Close(f.fd) }

// modeOf returns the type bits of st, as os.Stat's FileMode has them.
func modeOf(st *syscall.Stat_t) fs.FileMode {
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return 0
	case syscall.S_IFDIR:
		return fs.ModeDir
	case syscall.S_IFLNK:
		return fs.ModeSymlink
	case syscall.S_IFIFO:
		return fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		return fs.ModeSocket
	case syscall.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		return fs.ModeDevice
	}
	return fs.ModeIrregular
}
