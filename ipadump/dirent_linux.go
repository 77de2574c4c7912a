package ipadump

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"os"
	"syscall"

	"github.com/klp-audit/klp-audit/internal/safeio"
	"golang.org/x/sys/unix"
)

// listDir calls each for every entry of the directory dir but "." and
// "..", in the order the file system gives them, with its name (valid
// during the call only) and its type bits as fs.DirEntry.Type gives them.
// It is os.ReadDir without a string and a DirEntry per entry, and
// without sorting: a build tree holds a hundred thousand files and the
// walk keeps a few thousand. buf holds the raw entries (at least a few
// KiB). Errors are os.ReadDir's; the entries met before one were given
// to each.
func listDir(dir string, buf []byte, each func(name []byte, typ fs.FileMode)) error {
	h, err := openDir(noDir, dir, dir)
	if err != nil {
		return err
	}
	defer h.close()
	return h.list(dir, buf, each)
}

// A dirHandle is a directory open for listing.
type dirHandle int

// noDir is no directory: openDir opens a path from the root or the
// current directory.
const noDir = dirHandle(-1)

// openDir opens the directory name of parent (noDir: the directory name),
// whose path is path. Opening it from its parent looks up one name, not
// every directory of the path. The error is os.ReadDir's.
func openDir(parent dirHandle, name, path string) (dirHandle, error) {
	if parent == noDir {
		parent = dirHandle(_AT_FDCWD)
	}
	for {
		fd, err := syscall.Openat(int(parent), name, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if err == nil {
			return dirHandle(fd), nil
		}
		if err != syscall.EINTR {
			return noDir, &fs.PathError{Op: "open", Path: path, Err: err}
		}
	}
}

// _AT_FDCWD is the current directory for openat: paths are looked up as
// open looks them up.
const _AT_FDCWD = -0x64

func (h dirHandle) close() { syscall.Close(int(h)) }

// lstatID returns the identity of the file name of h (path), not
// following a link: Lstat's, looking up one name.
func (h dirHandle) lstatID(name, path string) (fileID, bool) {
	var st unix.Stat_t
	err := unix.Fstatat(int(h), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	for err == unix.EINTR {
		err = unix.Fstatat(int(h), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), uint64(st.Ino)}, true
}

// open is Dir.Open.
func (h dirHandle) open(name, path string, limit int64) (*safeio.RawFile, error) {
	return safeio.OpenRawAt(int(h), name, path, limit)
}

// list is listDir of the open directory h, whose path is dir.
func (h dirHandle) list(dir string, buf []byte, each func(name []byte, typ fs.FileMode)) error {
	for {
		n, err := syscall.ReadDirent(int(h), buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "readdirent", Path: dir, Err: err}
		}
		if n <= 0 {
			return nil
		}
		if err := eachDirent(dir, buf[:n], each); err != nil {
			return err
		}
	}
}

// The layout of struct linux_dirent64.
const (
	direntReclen = 16 // uint16
	direntType   = 18 // uint8
	direntName   = 19 // NUL-terminated
)

// eachDirent calls each for the entries in b, as getdents64 wrote them.
func eachDirent(dir string, b []byte, each func(name []byte, typ fs.FileMode)) error {
	for len(b) >= direntName {
		reclen := int(binary.NativeEndian.Uint16(b[direntReclen:]))
		if reclen < direntName || reclen > len(b) {
			return nil // as os.ReadDir: a malformed record ends the listing
		}
		rec := b[:reclen]
		b = b[reclen:]
		name := rec[direntName:]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if string(name) == "." || string(name) == ".." {
			continue
		}
		typ, known := direntMode(rec[direntType])
		if !known {
			// The file system does not say: ask, as os.ReadDir does.
			st, err := os.Lstat(dir + "/" + string(name))
			if os.IsNotExist(err) {
				continue // gone since it was listed
			}
			if err != nil {
				return err
			}
			typ = st.Mode().Type()
		}
		each(name, typ)
	}
	return nil
}

// direntMode returns the type bits of a d_type; false for DT_UNKNOWN.
func direntMode(t uint8) (fs.FileMode, bool) {
	switch t {
	case syscall.DT_BLK:
		return fs.ModeDevice, true
	case syscall.DT_CHR:
		return fs.ModeDevice | fs.ModeCharDevice, true
	case syscall.DT_DIR:
		return fs.ModeDir, true
	case syscall.DT_FIFO:
		return fs.ModeNamedPipe, true
	case syscall.DT_LNK:
		return fs.ModeSymlink, true
	case syscall.DT_REG:
		return 0, true
	case syscall.DT_SOCK:
		return fs.ModeSocket, true
	}
	return 0, false
}
