package objdiff

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/klp-audit/klp-audit/internal/par"
)

// CompareFiles compares two objects and returns a report with one
// ObjectDiff. An object that cannot be read is an error naming it.
func CompareFiles(orig, patched string) (*Report, error) {
	a, err := Open(orig)
	if err != nil {
		return nil, err
	}
	b, err := Open(patched)
	if err != nil {
		return nil, err
	}
	r := &Report{SchemaVersion: SchemaVersion, Orig: orig, Patched: patched, Objects: []ObjectDiff{}}
	d := Compare(a, b)
	addObject(r, d)
	r.Objects = append(r.Objects, *d)
	r.Summary.Objects = 1
	return r, nil
}

// addObject counts d's functions in r's summary.
func addObject(r *Report, d *ObjectDiff) {
	r.Summary.Changed += len(d.Changed)
	r.Summary.LineShiftOnly += len(d.LineShiftOnly)
	r.Summary.Added += len(d.Added)
	r.Summary.Removed += len(d.Removed)
	r.Summary.Unchanged += d.Unchanged
	r.Summary.DataChanged += len(d.DataChanges)
}

// TreeOptions tune CompareTrees.
type TreeOptions struct {
	// Workers is how many object pairs are compared at once; 0 means
	// GOMAXPROCS.
	Workers int
}

// IsObject says a file name is an object the tree comparison pairs:
// *.o and *.ko, but not kbuild's *.mod.o (module metadata, regenerated
// on every build) or temporary files (.tmp_*, *.tmp*).
func IsObject(name string) bool {
	base := filepath.Base(name)
	if !strings.HasSuffix(base, ".o") && !strings.HasSuffix(base, ".ko") {
		return false
	}
	if strings.HasSuffix(base, ".mod.o") || strings.Contains(base, ".tmp") || strings.HasPrefix(base, ".tmp") {
		return false
	}
	return true
}

// objectsUnder lists the objects below dir, as slash-separated paths
// relative to it, sorted. Symbolic links to directories are not
// followed. Every entry named like an object is listed, whatever it is:
// a FIFO, a device or a link named x.o is then refused by name when it is
// opened, never taken for a removed or added object.
func objectsUnder(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" && p != dir {
				return filepath.SkipDir
			}
			return nil
		}
		if !IsObject(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	sort.Strings(out)
	return out, err
}

// CompareTrees compares two build trees: objects pair by relative path;
// an object only in patchedDir is an added object (all its functions
// added), one only in origDir a removed one. Objects that cannot be read
// are listed in Report.Problems, and the rest is compared. The error is
// for trees that cannot be walked.
func CompareTrees(origDir, patchedDir string, opts TreeOptions) (*Report, error) {
	for _, d := range []string{origDir, patchedDir} {
		fi, err := os.Stat(d)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("%s: not a directory", d)
		}
	}
	l1, err := objectsUnder(origDir)
	if err != nil {
		return nil, err
	}
	l2, err := objectsUnder(patchedDir)
	if err != nil {
		return nil, err
	}
	in1, in2 := map[string]bool{}, map[string]bool{}
	for _, p := range l1 {
		in1[p] = true
	}
	var all []string
	all = append(all, l1...)
	for _, p := range l2 {
		in2[p] = true
		if !in1[p] {
			all = append(all, p)
		}
	}
	sort.Strings(all)

	type result struct {
		diff *ObjectDiff
		prob *Problem
	}
	results := make([]result, len(all))
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	par.Each(len(all), workers, func(i int) {
		rel := all[i]
		d, err := compareOne(origDir, patchedDir, rel, in1[rel], in2[rel])
		if err != nil {
			results[i].prob = &Problem{Path: rel, Message: err.Error()}
			return
		}
		results[i].diff = d
	})

	r := &Report{SchemaVersion: SchemaVersion, Orig: origDir, Patched: patchedDir, Trees: true, Objects: []ObjectDiff{}}
	for _, res := range results {
		if res.prob != nil {
			r.Problems = append(r.Problems, *res.prob)
			continue
		}
		d := res.diff
		addObject(r, d)
		switch d.Status {
		case ObjectAdded:
			r.Summary.AddedObjects++
		case ObjectRemoved:
			r.Summary.RemovedObjects++
		default:
			r.Summary.Objects++
		}
		if d.Status != ObjectCompared || len(d.Changed)+len(d.LineShiftOnly)+len(d.Added)+len(d.Removed)+len(d.Notes) > 0 {
			r.Objects = append(r.Objects, *d)
		}
	}
	return r, nil
}

// compareOne compares the object at rel in both trees, or lists the
// functions of an object only one tree has.
func compareOne(origDir, patchedDir, rel string, inOrig, inPatched bool) (*ObjectDiff, error) {
	p1 := filepath.Join(origDir, filepath.FromSlash(rel))
	p2 := filepath.Join(patchedDir, filepath.FromSlash(rel))
	if inOrig && inPatched {
		a, err := Open(p1)
		if err != nil {
			return nil, err
		}
		b, err := Open(p2)
		if err != nil {
			return nil, err
		}
		d := Compare(a, b)
		d.Path = rel
		return d, nil
	}
	path, status := p1, ObjectRemoved
	if inPatched {
		path, status = p2, ObjectAdded
	}
	o, err := Open(path)
	if err != nil {
		return nil, err
	}
	d := &ObjectDiff{Path: rel, Status: status, Machine: o.File.Machine.String(),
		Changed: []Change{}, LineShiftOnly: []Change{}, Added: []Function{}, Removed: []Function{}}
	fns := []Function{}
	for _, fn := range o.units() {
		fns = append(fns, functionOf(fn))
	}
	sort.Slice(fns, func(i, j int) bool {
		if fns[i].Name != fns[j].Name {
			return fns[i].Name < fns[j].Name
		}
		return fns[i].Sympos < fns[j].Sympos
	})
	if inPatched {
		d.Added = fns
	} else {
		d.Removed = fns
	}
	return d, nil
}
