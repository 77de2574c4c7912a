//go:build !linux

package ipadump

import (
	"io/fs"
	"os"
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
