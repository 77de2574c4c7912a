package driver

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/livepatch"
	"github.com/klp-audit/klp-audit/report"
)

// resolveKLPFuncs resolves every klp_func of the livepatch against the
// build as the kernel does when it enables the patch
// (klp_find_object_symbol): the kallsyms entries of its klp_object named
// old_name are counted, old_sympos 0 takes the only one, N the Nth. With
// the klp_object's linked file (--vmlinux) the count is kallsyms' own;
// without it, it is the functions of that name the build's objects of the
// klp_object define (data symbols of the name are not counted then), and
// where it is several, which one old_sympos names is decided by the link
// order: unknown. What the kernel would refuse is unresolved (the check
// fails); what cannot be told is a problem (the check is incomplete).
func (ev *Session) resolveKLPFuncs(lp []livepatch.Func, linked *livepatch.LinkedFiles) (un []report.UnresolvedFunc, probs []report.Problem) {
	for _, f := range lp {
		var reason, problem string
		if lf := linkedFor(linked, f.Object); lf != nil {
			reason, problem = resolveLinked(lf, f)
		} else {
			reason, problem = ev.resolveInObjects(f)
		}
		if reason != "" {
			un = append(un, report.UnresolvedFunc{LivepatchFunc: f.LivepatchFunc, Reason: reason})
		}
		if problem != "" {
			probs = append(probs, report.Problem{File: f.File, Line: f.Line, Kind: report.KindFailClosed, Message: problem})
		}
	}
	return un, probs
}

// linkedFor returns the linked file of klp_object obj, or nil.
func linkedFor(linked *livepatch.LinkedFiles, obj string) *livepatch.LinkedFile {
	if linked == nil {
		return nil
	}
	lf, _ := linked.FileFor(obj)
	return lf
}

// resolveLinked resolves f in the kallsyms of its klp_object's linked
// file.
func resolveLinked(lf *livepatch.LinkedFile, f livepatch.Func) (reason, problem string) {
	core, loading := lf.Named(f.OldName)
	if r := livepatch.KernelResolve(f.OldName, f.Object, len(core), f.OldSympos); r != "" {
		reason = r + " (" + lf.Path() + ")"
		if len(core) == 0 {
			reason += cloneHint(f.OldName, lf.WithPrefix(f.OldName+".", 4))
		}
		return reason, ""
	}
	chosen := core[0]
	if f.OldSympos > 0 {
		chosen = core[f.OldSympos-1]
	}
	if !chosen.Func {
		return fmt.Sprintf("the symbol '%s' the kernel resolves it to (at %#x in %s) is not a function", f.OldName, chosen.Addr, lf.Path()), ""
	}
	if loading > 0 {
		problem = fmt.Sprintf("%s lists %d more symbols named %s while the module loads: whether old_sympos %d resolves then is unknown",
			lf.KLPName(), loading, f.OldName, f.OldSympos)
	}
	return "", problem
}

// resolveInObjects resolves f against the functions the build's objects
// define.
func (ev *Session) resolveInObjects(f livepatch.Func) (reason, problem string) {
	var mine, others, weak []string
	otherObj := map[string]bool{}
	// The units' objects, those without a dump (read from DWARF)
	// included.
	for _, defs := range []*callgraph.Definers{ev.definers()} {
		for _, obj := range defs.Defining(f.OldName) {
			if livepatch.Relinked(obj) {
				continue // its parts define the function too
			}
			klp, err := ev.klpObjects().Of(obj)
			if err != nil {
				return "", fmt.Sprintf("which klp_object %s (defining %s) belongs to is unknown: %v", obj, f.OldName, err)
			}
			if defs.Weak(f.OldName, obj) && (klp == "" || klp == f.Object) {
				// kernel/sys_ni.o's COND_SYSCALL stubs: the link of
				// the klp_object keeps a strong definition of the name
				// instead, if any.
				weak = append(weak, obj)
				continue
			}
			if klp == "" || klp == f.Object {
				mine = append(mine, obj)
			} else {
				others = append(others, obj)
				otherObj[klp] = true
			}
		}
	}
	if len(mine) == 0 && len(weak) > 0 {
		// Weak definitions alone in the klp_object: its link keeps
		// one of them.
		mine = weak[:1]
	}
	sort.Strings(mine)
	n := len(mine)
	switch {
	case n == 0 && len(others) > 0:
		var objs []string
		for o := range otherObj {
			objs = append(objs, o)
		}
		sort.Strings(objs)
		return fmt.Sprintf("symbol '%s' not found in klp_object %s: the build defines it in %s (%s)",
			f.OldName, f.Object, strings.Join(objs, ", "), strings.Join(shortPaths(others), ", ")), ""
	case n == 0:
		if err := ev.unreadableObjects(); err != "" {
			return "", fmt.Sprintf("no object read defines %s, and %s: whether the kernel finds it is unknown", f.OldName, err)
		}
		var clones []string
		clones = append(clones, ev.definers().WithPrefix(f.OldName+".")...)
		sort.Strings(clones)
		return fmt.Sprintf("symbol '%s' not found: no object of the build defines a function of the name", f.OldName) + cloneHint(f.OldName, clones), ""
	case n > 1 && f.OldSympos == 0:
		return livepatch.KernelResolve(f.OldName, f.Object, n, 0) + " (" + strings.Join(shortPaths(mine), ", ") + ")", ""
	case n > 1:
		return "", fmt.Sprintf("old_sympos %d of %s cannot be checked without the linked %s (--vmlinux): %d objects define a function of the name (%s), and which one kallsyms lists %s is decided by the link",
			f.OldSympos, f.OldName, f.Object, n, strings.Join(shortPaths(mine), ", "), livepatch.Ordinal(f.OldSympos))
	case f.OldSympos > 1:
		return "", fmt.Sprintf("old_sympos %d of %s cannot be checked without the linked %s (--vmlinux): the objects read define one function of the name (%s)",
			f.OldSympos, f.OldName, f.Object, shortPaths(mine)[0])
	}
	return "", ""
}

// unreadableObjects says which objects could not be read for the index
// of defined functions, or "".
func (ev *Session) unreadableObjects() string {
	var errs []string
	var missing []string
	for _, d := range ev.dumps {
		if !d.HasObject {
			missing = append(missing, d.Object)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		errs = append(errs, fmt.Sprintf("%d dumps have no object beside them (%s)", len(missing), strings.Join(shortPaths(missing[:min(len(missing), 3)]), ", ")))
	}
	if err := ev.definers().Err(); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) == 0 {
		return ""
	}
	return "objects are missing or could not be read: " + strings.Join(errs, "; ")
}

// cloneHint names the clones GCC made of name, if any.
func cloneHint(name string, clones []string) string {
	if len(clones) == 0 {
		return ""
	}
	return fmt.Sprintf("; only its clones exist (%s): GCC replaced %s, and a klp_func must name the symbol that exists, with that symbol's ABI",
		strings.Join(clones, ", "), name)
}

func shortPaths(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = filepath.ToSlash(filepath.Clean(p))
	}
	return out
}

// livepatchSourceOptions finds the flags to preprocess a livepatch
// source with: the kbuild command of an object the fix's files compile
// to (mm/.memblock.o.cmd for mm/memblock.c), else of the first object of
// the build that has one.
func (ev *Session) livepatchSourceOptions(diffFiles []string) livepatch.SourceOptions {
	var objs []string
	for _, root := range ev.opts.Builds {
		for _, f := range diffFiles {
			if stem, ok := strings.CutSuffix(f, ".c"); ok {
				objs = append(objs, filepath.Join(root, filepath.FromSlash(stem)+".o"))
			}
		}
	}
	all := append([]string(nil), ev.objects...)
	sort.Strings(all)
	objs = append(objs, all...)
	why := "no kbuild .cmd file beside the build's objects gives the flags to preprocess it with"
	for i, obj := range objs {
		if i > 64 {
			break
		}
		cmd, ok := livepatch.KbuildCmdFile(obj)
		if !ok {
			continue
		}
		root := rootOf(ev.opts.Builds, obj)
		o, err := livepatch.KbuildPreprocessor(root, cmd)
		if err == nil {
			return o
		}
		why = "the flags to preprocess it with could not be taken from the build (" + err.Error() + ")"
	}
	return livepatch.SourceOptions{Unavailable: why}
}

// rootOf returns the build directory holding path p.
func rootOf(builds []string, p string) string {
	for _, b := range builds {
		if rel, err := filepath.Rel(b, p); err == nil && !strings.HasPrefix(rel, "..") {
			return b
		}
	}
	return filepath.Dir(p)
}
