package safeio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// ErrEscapes is wrapped by the error for a path that leaves the directory
// it must be read from: "../", an absolute path, or a symbolic link
// pointing out of it.
var ErrEscapes = errors.New("path escapes the directory it is read from")

// ReadFileIn reads the regular file rel inside directory dir as ReadFile
// does, and never outside dir: rel may not be absolute or climb out with
// "..", and symbolic links are followed only while they stay inside dir
// (os.Root). Errors name dir/rel.
func ReadFileIn(dir, rel string, limit int64) ([]byte, error) {
	name := filepath.Join(dir, rel)
	if filepath.IsAbs(rel) || !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("%s: %w %s", rel, ErrEscapes, dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	st, err := root.Stat(rel)
	if err != nil {
		return nil, rootErr(err, dir, rel, name)
	}
	if !st.Mode().IsRegular() {
		return nil, &NotRegularError{Path: name, What: What(st.Mode())}
	}
	fh, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, rootErr(err, dir, rel, name)
	}
	defer fh.Close()
	fst, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !fst.Mode().IsRegular() {
		return nil, &NotRegularError{Path: name, What: What(fst.Mode())}
	}
	if limit > 0 && fst.Size() > limit {
		return nil, &TooLargeError{Path: name, Size: fst.Size(), Limit: limit}
	}
	b := make([]byte, fst.Size())
	n, err := io.ReadFull(fh, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b[:n], nil
}

// rootErr names dir/rel in an os.Root error, and says ErrEscapes when the
// path left dir through a symbolic link.
func rootErr(err error, dir, rel, name string) error {
	var pe *os.PathError
	if errors.As(err, &pe) && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, os.ErrPermission) {
		// os.Root's error for a path leaving the root is unexported; a
		// lexical escape was refused above, so this one is a link's.
		if target, lerr := filepath.EvalSymlinks(name); lerr == nil {
			if r, rerr := filepath.Rel(mustEval(dir), target); rerr == nil && !filepath.IsLocal(r) {
				return fmt.Errorf("%s: %w %s (a symbolic link to %s)", rel, ErrEscapes, dir, target)
			}
		}
	}
	if errors.As(err, &pe) {
		pe.Path = name
		return pe
	}
	return err
}

func mustEval(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}
