//go:build !linux

package ipadump

import (
	"io/fs"
	"os"

	"github.com/klp-audit/klp-audit/internal/safeio"
)

// listDir calls each for every entry of the directory dir, with its name
// (valid during the call only) and its type bits. Errors are os.ReadDir's;
// the entries met before one were given to each.
func listDir(dir string, _ []byte, each func(name []byte, typ fs.FileMode)) error {
	ents, err := os.ReadDir(dir)
	for _, e := range ents {
		each([]byte(e.Name()), e.Type())
	}
	return err
}

// A dirHandle names a directory to list: here its path, listed whole.
type dirHandle struct{ path string }

var noDir = dirHandle{}

func openDir(_ dirHandle, _, path string) (dirHandle, error) { return dirHandle{path}, nil }

func (dirHandle) close() {}

func (h dirHandle) lstatID(_, path string) (fileID, bool) {
	st, err := os.Lstat(path)
	if err != nil {
		return fileID{}, false
	}
	return idOf(st)
}

func (h dirHandle) open(_, path string, limit int64) (*safeio.RawFile, error) {
	return safeio.OpenRaw(path, limit)
}

func (h dirHandle) list(dir string, buf []byte, each func(name []byte, typ fs.FileMode)) error {
	return listDir(h.path, buf, each)
}
