package kbuild

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Shadow makes dir (which must exist and be empty) a shadow of tree in
// which the files named in files (paths relative to tree, slash
// separated) have the given contents: every other entry of the tree is a
// symbolic link to the tree's, and the directories on the way to a
// replaced file are real directories of links. Running a command from
// dir therefore reads the tree, under the same relative names, except
// for the replaced files. Nothing is written in tree.
func Shadow(tree, dir string, files map[string][]byte) error {
	tree, err := filepath.Abs(tree)
	if err != nil {
		return err
	}
	real := map[string]bool{".": true} // directories made real, relative
	for f := range files {
		if !cleanRel(f) {
			return fmt.Errorf("shadow of %s: %q is not a relative path inside the tree", tree, f)
		}
		for d := path.Dir(path.Clean(f)); d != "."; d = path.Dir(d) {
			real[d] = true
		}
	}
	dirs := make([]string, 0, len(real))
	for d := range real {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs) // parents before children
	for _, d := range dirs {
		ents, err := os.ReadDir(filepath.Join(tree, filepath.FromSlash(d)))
		if err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("shadow of %s: %w", tree, err)
		}
		target := filepath.Join(dir, filepath.FromSlash(d))
		if d != "." {
			if err := os.Mkdir(target, 0o755); err != nil && !os.IsExist(err) {
				return err
			}
		}
		for _, e := range ents {
			rel := path.Join(d, e.Name())
			if real[rel] {
				continue
			}
			if _, ok := files[rel]; ok {
				continue
			}
			if err := os.Symlink(filepath.Join(tree, filepath.FromSlash(rel)), filepath.Join(target, e.Name())); err != nil {
				return err
			}
		}
	}
	for f, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(path.Clean(f)))
		if !strings.HasPrefix(p, filepath.Clean(dir)+string(filepath.Separator)) {
			return fmt.Errorf("shadow: %q leaves the shadow directory", f)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
