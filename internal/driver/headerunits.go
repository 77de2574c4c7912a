package driver

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/klp-audit/klp-audit/kbuild"
	"github.com/klp-audit/klp-audit/patch"
	"github.com/klp-audit/klp-audit/report"
)

// The units a fix to a header rebuilds. Every unit whose kbuild
// dependency list names a header read it, but most never use the
// function a hunk changes: include/linux/mmzone.h is read by 354 units
// of kernel/ and mm/, and the code of its pfn_section_valid is in 12.
// So for a header whose hunks change only function bodies, the units
// rebuilt are those holding the code of a changed function, as the
// prediction found them: the units whose ipa-clones dump names it, whose
// DWARF holds an inlined or out-of-line copy (units without a dump), or
// whose symbol table defines it. A hunk that changes data, a macro, or
// what cannot be told, changes what every unit reading the header
// compiles: then all of them are rebuilt. Never silently fewer: a unit
// reading the header whose dump and DWARF the session could not read is
// rebuilt too, and a unit holding the code that cannot be rebuilt is a
// problem.

// headerFile is a file of the fix other than a .c file (a header), with
// the units whose kbuild dependency list names it.
type headerFile struct {
	// file is the diff's old name (the build's path), name the name its
	// hunks carry (report.Hunk.File).
	file, name string
	cands      []kbuild.Unit
}

// isHeader says file is not a .c file: its units are chosen by
// selectHeaderUnits.
func isHeader(file string) bool { return !strings.HasSuffix(file, ".c") }

// selectHeaderUnits chooses the units each header's hunks change (see
// above), from in's hunks, changed functions and their predictions, and
// the session's unread. It returns the runs, a note saying what was
// chosen, and the problems: units that hold a changed function's code
// but cannot be rebuilt.
func selectHeaderUnits(in rebuildInput, hs []headerFile) ([]*unitRun, string, []report.Problem) {
	var runs []*unitRun
	var notes []string
	var probs []report.Problem
	for _, h := range hs {
		whole := wholeHeader(in, h)
		var fns []string
		var holders map[string]string // holding unit -> the changed function
		if whole == "" {
			fns, holders, whole = headerHolders(in, h)
		}
		if whole == "" && in.unread == nil {
			whole = "the session cannot tell which units' evidence it read"
		}
		left := map[string]string{}
		for tu, fn := range holders {
			left[tu] = fn
		}
		picked, cannot := 0, 0
		var unread []string
		for _, u := range h.cands {
			obj := unitObject(u)
			tu := tuName(in.o.Builds, obj, orText(u.Cmd.Target, obj))
			fn := ""
			for _, htu := range slices.Sorted(maps.Keys(holders)) {
				if matchTU(htu, tu) {
					if fn == "" {
						fn = holders[htu] // the same name whatever the map's order
					}
					delete(left, htu)
				}
			}
			why := ""
			if whole == "" && fn == "" {
				if why = in.unread(obj); why == "" {
					continue // its dump or DWARF was read, and holds none of fns
				}
				unread = append(unread, tu+" ("+why+")")
			}
			if u.Err != nil {
				cannot++
				what := "reads " + h.file
				switch {
				case fn != "":
					what = fmt.Sprintf("holds the code of %s (%s)", fn, h.file)
				case why != "":
					what = fmt.Sprintf("reads %s and may hold the code of %s: %s", h.file, strings.Join(fns, ", "), why)
				}
				probs = append(probs, report.Problem{File: u.Cmd.Path, Kind: report.KindFailClosed,
					Message: fmt.Sprintf("this unit %s but cannot be rebuilt (its answer is the prediction): %v", what, u.Err)})
				continue
			}
			runs = append(runs, newUnitRun(in.o.Builds, u))
			picked++
		}
		if len(h.cands) > 0 {
			tus := make([]string, 0, len(left))
			for tu := range left {
				tus = append(tus, tu)
			}
			sort.Strings(tus)
			for _, tu := range tus {
				probs = append(probs, report.Problem{File: h.file, Kind: report.KindFailClosed,
					Message: fmt.Sprintf("%s holds the code of %s, but no kbuild .cmd file that names %s compiles it: it is not rebuilt (its answer is the prediction)", tu, left[tu], h.file)})
			}
		}
		n := len(h.cands)
		switch {
		case n == 0:
			continue
		case whole == "" && len(fns) == 0:
			notes = append(notes, fmt.Sprintf("%s: its hunks change comments only: none of the %d units whose kbuild dependency list names it is rebuilt", h.file, n))
		case whole != "":
			notes = append(notes, fmt.Sprintf("%s: %s, so every unit whose kbuild dependency list names it is rebuilt (%d)", h.file, whole, n))
		default:
			held := picked + cannot - len(unread)
			note := fmt.Sprintf("%s: %d of the %d units whose kbuild dependency list names it hold the code of %s (their ipa-clones dumps, DWARF or symbols): only those are rebuilt",
				h.file, held, n, strings.Join(fns, ", "))
			if len(unread) > 0 {
				note += fmt.Sprintf("; and %s whose dump or DWARF could not be read, rebuilt too: %s", plural(len(unread), "unit", "units"), examples(unread))
			}
			notes = append(notes, note)
		}
	}
	return runs, strings.Join(notes, "; "), probs
}

// wholeHeader says why every unit reading h must be rebuilt: a hunk of
// h that changes data, a macro or what is unknown; "" when its hunks
// change function bodies (or comments) only.
func wholeHeader(in rebuildInput, h headerFile) string {
	if in.hunks == nil {
		return "which of its hunks change function bodies is not known"
	}
	for _, hk := range in.hunks {
		if hk.File != h.name && hk.File != h.file {
			continue
		}
		switch hk.Kind {
		case "function", patch.KindComment:
			// A function hunk whose other lines are preprocessor lines.
			if hk.Macro {
				return fmt.Sprintf("its hunk at line %d also changes a macro", hk.Line)
			}
		case patch.KindData:
			return fmt.Sprintf("its hunk at line %d changes data", hk.Line)
		case patch.KindMacro:
			return fmt.Sprintf("its hunk at line %d changes a macro", hk.Line)
		default:
			return fmt.Sprintf("what its hunk at line %d changes is not known", hk.Line)
		}
	}
	return ""
}

// headerHolders returns the functions the fix changes in h and the
// units holding their code, by the prediction of each (its entries: the
// function itself and every function holding its inlined or cloned
// code, each in its unit). A changed function without a prediction of
// its own over every unit leaves the units unknown: whole says so.
func headerHolders(in rebuildInput, h headerFile) (fns []string, holders map[string]string, whole string) {
	holders = map[string]string{}
	for _, c := range in.changed {
		if c.file != h.file {
			continue
		}
		fns = append(fns, c.name)
		found := false
		for _, p := range in.preds {
			q := p.Query
			if q.Function != c.name || q.TU != "" || q.File != "" && !sameSourceFile(q.File, c.file) {
				continue
			}
			found = true
			for _, e := range p.Entries {
				if _, ok := holders[e.TU]; !ok {
					holders[e.TU] = c.name
				}
			}
		}
		if !found {
			return fns, nil, "the units holding the code of " + c.name + " are unknown (it has no prediction of its own)"
		}
	}
	return fns, holders, ""
}

// sameSourceFile says two paths name the same source file: equal, or
// one the other with leading directories.
func sameSourceFile(a, b string) bool {
	a, b = filepath.ToSlash(filepath.Clean(a)), filepath.ToSlash(filepath.Clean(b))
	return a == b || strings.HasSuffix(a, "/"+b) || strings.HasSuffix(b, "/"+a)
}

// unitObject is the absolute path of u's object: its command's target,
// or, for a .cmd file that could not be read, the object it is named
// after (DIR/.NAME.o.cmd for DIR/NAME.o).
func unitObject(u kbuild.Unit) string {
	if u.Cmd.Target != "" {
		return absObject(filepath.Join(u.Root, filepath.FromSlash(u.Cmd.Target)))
	}
	dir, base := filepath.Split(u.Cmd.Path)
	return absObject(filepath.Join(dir, strings.TrimSuffix(strings.TrimPrefix(base, "."), ".cmd")))
}

// unreadUnit says why the session read neither the ipa-clones dump nor
// the DWARF of the unit whose object is obj: a dump or an object that
// could not be read, or no object at all. It is "" when one was read,
// and for an object the session does not read because it holds no
// livepatch target (not a kernel C unit; linked into neither vmlinux
// nor a module).
func (ev *Session) unreadUnit(obj string) string {
	abs := absObject(obj)
	for _, d := range ev.dumps {
		if absObject(d.Object) != abs {
			continue
		}
		if msg := ev.problemAbout(d.Path); msg != "" {
			return "its dump could not be read: " + msg
		}
		return ""
	}
	for _, u := range ev.units {
		if absObject(u.Object) == abs {
			return ""
		}
	}
	if _, err := os.Stat(abs); err != nil {
		return "its object is not in the build"
	}
	if nonTarget(ev.opts.Builds, ev.klpObjects(), abs, false) != "" {
		return ""
	}
	if msg := ev.problemAbout(abs); msg != "" {
		return "its DWARF could not be read: " + msg
	}
	return "it has no ipa-clones dump, and its DWARF was not read"
}

// problemAbout is the message of the session's first problem about the
// file at path, "" when there is none.
func (ev *Session) problemAbout(path string) string {
	abs := absObject(path)
	for _, p := range ev.problems {
		if p.File != "" && absObject(p.File) == abs {
			return p.Message
		}
	}
	return ""
}
