package driver

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/internal/safeio"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/livepatch"
	"github.com/klp-audit/klp-audit/report"
)

// orphanUnits returns the objects under the build directories that no
// dump is paired with, as units whose inlining is taken from their DWARF:
// a unit compiled without -fdump-ipa-clones still inlines header
// functions, and skipping it would leave its callers out of every answer.
// In a kernel tree, objects kbuild's .cmd files show are no kernel C unit
// (host programs under scripts/ and tools/, assembler sources, objects
// linked from others with ld -r) are left out, and a note says how many.
func (ev *Session) orphanUnits() (units []callgraph.ObjectUnit, notes []string) {
	klp := ev.klpObjects()
	skipped := map[string][]string{}
	for _, u := range objectsWithoutDump(ev.opts.Builds, ev.objects, ev.dumps) {
		if why := nonTarget(ev.opts.Builds, klp, u.Object, false); why != "" {
			skipped[why] = append(skipped[why], u.TU)
			continue
		}
		units = append(units, u)
	}
	byReason(skipped, func(w string, tus []string) {
		if w == notLinkedWhy {
			notes = append(notes, fmt.Sprintf("%d objects without an ipa-clones dump are %s, by kbuild's built-in.a, lib.a and .mod files: not read (%s)", len(tus), w, examples(tus)))
			return
		}
		notes = append(notes, fmt.Sprintf("%d objects without an ipa-clones dump are %s (by their path under scripts/ or tools/, or their kbuild .cmd files), not kernel C units: not read (%s)", len(tus), w, examples(tus)))
	})
	return units, notes
}

// nonTarget says why object obj of a kernel tree holds nothing a
// livepatch reaches: without a dump, what kbuild's .cmd files show it is
// (notKernelUnit); with or without one, linked into neither vmlinux nor a
// module (notLinkedWhy). "" outside a kernel tree, or when it is a unit.
func nonTarget(builds []string, klp *livepatch.Objects, obj string, hasDump bool) string {
	if !klp.InKernelTree(obj) {
		return ""
	}
	if !hasDump {
		if why := notKernelUnit(builds, obj); why != "" {
			return why
		}
	}
	if klp.NotLinked(obj) != "" {
		return notLinkedWhy
	}
	return ""
}

// byReason calls each with every reason of m and its names, reasons in
// sorted order.
func byReason(m map[string][]string, each func(why string, names []string)) {
	whys := make([]string, 0, len(m))
	for w := range m {
		whys = append(whys, w)
	}
	sort.Strings(whys)
	for _, w := range whys {
		each(w, m[w])
	}
}

// notLinkedWhy is what orphanUnits says of objects linked into neither
// vmlinux nor a module.
const notLinkedWhy = "linked into neither vmlinux nor a module (vDSO, boot, real-mode or purgatory code: no livepatch targets)"

// maxCmdLine bounds the command line read from a kbuild .cmd file.
const maxCmdLine = 1 << 20

// notKernelUnit says why obj, an object of a kernel tree, is not a kernel
// C translation unit: "host programs" (under scripts/ or tools/, or
// compiled without -D__KERNEL__), "assembler sources" (-D__ASSEMBLY__),
// "linked from other objects" (no -c), from kbuild's record of how obj was
// made (DIR/.NAME.o.cmd). "" when it is one, or when there is no .cmd
// file to tell.
func notKernelUnit(roots []string, obj string) string {
	for _, r := range roots {
		if rel, err := filepath.Rel(r, obj); err == nil {
			rel = filepath.ToSlash(rel)
			if strings.HasPrefix(rel, "scripts/") || strings.HasPrefix(rel, "tools/") {
				return "host programs"
			}
		}
	}
	cmd := filepath.Join(filepath.Dir(obj), "."+filepath.Base(obj)+".cmd")
	f, err := safeio.OpenLimit(cmd, 64<<20)
	if err != nil {
		return ""
	}
	defer f.Close()
	r := bufio.NewReaderSize(f.Reader(), 64<<10)
	line, err := r.ReadSlice('\n')
	for err == bufio.ErrBufferFull && len(line) < maxCmdLine {
		var more []byte
		more, err = r.ReadSlice('\n')
		line = append(append([]byte(nil), line...), more...)
	}
	if !bytes.HasPrefix(line, []byte("cmd_")) && !bytes.HasPrefix(line, []byte("savedcmd_")) {
		return ""
	}
	_, c, ok := strings.Cut(string(line), ":=")
	if !ok {
		return ""
	}
	// The compiler's part ends at the first ';' (objtool and fixdep
	// follow).
	c, _, _ = strings.Cut(c, ";")
	words := strings.Fields(c)
	has := func(w string) bool {
		for _, x := range words {
			if x == w {
				return true
			}
		}
		return false
	}
	switch {
	case !has("-c"):
		return "linked from other objects"
	case has("-D__ASSEMBLY__"):
		return "assembler sources"
	case !has("-D__KERNEL__"):
		return "host programs"
	}
	return ""
}

// conflictingDumps finds units described by more than one dump (two dump
// files named for one object, x.c.000i.ipa-clones and x.c.001i.ipa-clones,
// or a dump listed with --dumps-from and found under --build for the
// same object). Identical copies are read once; dumps that differ are a
// problem naming both (one of them is from another compile: which one
// describes the object is unknown), and are both read. It returns the
// dumps to read.
func conflictingDumps(dumps []ipadump.Dump) ([]ipadump.Dump, []report.Problem) {
	return conflictingDumpsBy(dumps, objectKeyer(nil))
}

// conflictingDumpsBy is conflictingDumps with the objects' keys given
// by key (objectKey, or the index's record of it).
func conflictingDumpsBy(dumps []ipadump.Dump, key func(string) string) ([]ipadump.Dump, []report.Problem) {
	byObject := make(map[string][]int, len(dumps))
	keys := make([]string, 0, len(dumps))
	for i, d := range dumps {
		if d.Kind != ipadump.UnitDump {
			continue
		}
		k := key(d.Object)
		if byObject[k] == nil {
			keys = append(keys, k)
		}
		byObject[k] = append(byObject[k], i)
	}
	drop := map[int]bool{}
	var problems []report.Problem
	for _, k := range keys {
		idx := byObject[k]
		if len(idx) < 2 {
			continue
		}
		first := dumps[idx[0]]
		for _, j := range idx[1:] {
			d := dumps[j]
			same, err := sameContent(first.Path, d.Path)
			switch {
			case err != nil:
				// Reading the dump reports it.
			case same:
				drop[j] = true
				continue
			}
			problems = append(problems, report.Problem{File: first.Path, Kind: report.KindFailClosed, Message: fmt.Sprintf(
				"%s and %s are two different ipa-clones dumps of one object, %s: one of them comes from another compile, and which one describes the object is unknown (both were read; remove the stale one)",
				first.Path, d.Path, first.Object)})
		}
	}
	if len(drop) == 0 {
		return dumps, problems
	}
	out := make([]ipadump.Dump, 0, len(dumps)-len(drop))
	for i, d := range dumps {
		if !drop[i] {
			out = append(out, d)
		}
	}
	return out, problems
}

// objectKey identifies an object path: its real absolute path when it
// exists, else its cleaned absolute path.
func objectKey(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// resolveDir returns filepath.EvalSymlinks(dir), "" when it fails,
// through dirs, which holds the directories resolved so far: a directory
// whose own name is no link is its resolved parent's with its name, one
// lstat.
func resolveDir(dirs map[string]string, dir string) string {
	if r, ok := dirs[dir]; ok {
		return r
	}
	eval := func() string {
		r, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return ""
		}
		return r
	}
	var r string
	d := strings.TrimSuffix(dir, string(filepath.Separator))
	parent, base := filepath.Split(d)
	switch {
	case d == "" || parent == "" || base == "." || base == ".." || strings.Contains(d, string(filepath.Separator)+"..") || strings.Contains(d, string(filepath.Separator)+"."+string(filepath.Separator)):
		r = eval()
	default:
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
			r = ""
		case fi.Mode()&fs.ModeSymlink != 0 || !fi.IsDir():
			r = eval()
		default:
			if pr := resolveDir(dirs, parent); pr != "" {
				r = filepath.Join(pr, base)
			}
		}
	}
	dirs[dir] = r
	return r
}

// objectKeyer returns objectKey resolving each directory once: a
// build's objects share a few hundred directories, and resolving a
// path's links stats each of its components. regular are paths the
// caller found to be regular files, no links (the walk's objects): they
// are not stat'ed again. Not for concurrent use.
func objectKeyer(regular []string) func(string) string {
	dirs := map[string]string{} // "" when it does not resolve
	plain := make(map[string]bool, len(regular))
	for _, p := range regular {
		plain[p] = true
	}
	return func(p string) string {
		dir, base := filepath.Split(p)
		if base == "" || base == "." || base == ".." {
			return objectKey(p)
		}
		if !plain[p] {
			if fi, err := os.Lstat(p); err != nil || fi.Mode()&fs.ModeSymlink != 0 {
				return objectKey(p)
			}
		}
		if dir == "" {
			dir = "."
		}
		r := resolveDir(dirs, dir)
		if r == "" {
			return objectKey(p)
		}
		// p's own name is no link: its real path is its directory's
		// with the name.
		if a, err := filepath.Abs(filepath.Join(r, base)); err == nil {
			return a
		}
		return objectKey(p)
	}
}

// sameContent reports whether two dump files hold the same bytes.
func sameContent(a, b string) (bool, error) {
	fa, err := ipadump.OpenDump(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := ipadump.OpenDump(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	if fa.Size != fb.Size {
		return false, nil
	}
	ra, rb := bufio.NewReaderSize(fa.Reader(), 64<<10), bufio.NewReaderSize(fb.Reader(), 64<<10)
	bufA, bufB := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, errA := io.ReadFull(ra, bufA)
		nb, errB := io.ReadFull(rb, bufB)
		if na != nb || !bytes.Equal(bufA[:na], bufB[:nb]) {
			return false, nil
		}
		if errA == io.EOF || errA == io.ErrUnexpectedEOF {
			return errB == io.EOF || errB == io.ErrUnexpectedEOF, nil
		}
		if errA != nil {
			return false, errA
		}
		if errB != nil {
			return false, errB
		}
	}
}

// objectUnitOf returns the object unit whose object is obj.
func (ev *Session) objectUnitOf(obj string) (callgraph.ObjectUnit, bool) {
	for _, u := range ev.units {
		if u.Object == obj {
			return u, true
		}
	}
	return callgraph.ObjectUnit{}, false
}
