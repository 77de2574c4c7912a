package rules

import (
	"fmt"
	"strings"

	"github.com/klp-audit/klp-audit/dwarfinfo"
)

// noPatchSections hold code a livepatch cannot redirect: noinstr/entry
// code must not be traced.
var noPatchSections = []string{".noinstr.text", ".entry.text"}

// bootSections hold code that has run (or will never run) by the time a
// livepatch loads: init code is freed after boot, exit code of built-in
// code never runs. A livepatch can neither replace it nor needs to; its
// callers are boot code too. (.meminit.text is not: with memory hotplug
// the kernel keeps it, and it runs at any time.)
var bootSections = []string{".init.text", ".exit.text", ".head.text"}

// notPatchable: kernel livepatching redirects a function through its
// ftrace entry (the __fentry__ call at its start). A function without one
// (kernel "inline" implies notrace, noinstr, a unit built without -pg), or
// in a section that is not ordinary text, cannot be replaced: its callers
// are replaced instead, transitively, until patchable ones.
func (r *run) notPatchable(t *Target) {
	if r.e.Policy.severity(NotPatchable) == Off || r.targets[t.ID] != t {
		return
	}
	for _, s := range bootSections {
		if strings.HasPrefix(t.Symbol.Section, s) {
			r.demote(t, NotPatchable, "boot code in "+t.Symbol.Section+": it has run before a livepatch loads, so it is neither replaced nor followed to its callers; a fix there needs a reboot or a different mechanism")
			return
		}
	}
	why := ""
	for _, s := range noPatchSections {
		if strings.HasPrefix(t.Symbol.Section, s) {
			why = "in " + t.Symbol.Section
		}
	}
	if why == "" && !t.Symbol.Fentry {
		switch {
		case r.unitHasFtrace(t.ID.TU):
			why = "no ftrace entry (__fentry__ call at its start): notrace, or a kernel inline kept out of line"
		case r.e.KernelBuild != nil && r.e.KernelBuild(t.ID.TU):
			why = "its unit is built without ftrace entries (no -pg -mfentry): nothing in it can be patched"
		case r.e.KernelBuild == nil && r.livepatchableBuild():
			why = "no ftrace entry (__fentry__ call at its start): notrace, kernel inline kept out of line, or a unit built without -pg"
		case r.e.KernelBuild == nil:
			r.note("no unit of the build has ftrace entries (-pg -mfentry or -fpatchable-function-entry): not a kernel livepatch build, so patchability (" + NotPatchable + ") was not checked")
			return
		default:
			// Outside a kernel tree: not a livepatch build. The caller
			// says so where it matters (the target's klp_object is
			// unknown there too).
			r.unchecked[t.ID.TU] = true
			return
		}
	}
	if why == "" {
		return
	}
	r.demote(t, NotPatchable, "not directly patchable: "+why+"; its callers are replaced instead")
	if r.addCallers(t, NotPatchable, StepCalledBy, "", "", true) == 0 {
		unreached := r.unreached(t)
		if unreached && r.e.Unbuilt != nil && r.e.UnbuiltMany != nil {
			// Decided once the run is done, with every other such
			// target's name (one search of the sources for all), in
			// the place among the problems it has now.
			r.unbuilt = append(r.unbuilt, pendingUnbuilt{t: t, why: why, at: len(r.res.Problems)})
			r.res.Problems = append(r.res.Problems, Problem{})
			return
		}
		r.noCaller(t, why, unreached)
	} else if at := append(r.addressTaken(t), r.externalAddrs(t)...); len(at) > 0 {
		// Replacing the direct callers leaves the calls through the
		// pointer on the old code.
		var ptr, exported []string
		for _, a := range at {
			if strings.HasPrefix(a, "___ksymtab") || strings.HasPrefix(a, "__ksymtab") {
				exported = append(exported, a)
			} else {
				ptr = append(ptr, a)
			}
		}
		if len(ptr) > 0 {
			r.problem(t.Object, t.ID.Name+" ("+t.ID.TU+") cannot be patched and is also called through a pointer (address taken in "+
				joinSorted(ptr)+"): replacing its direct callers does not reach those calls")
		}
		if len(exported) > 0 {
			r.problem(t.Object, t.ID.Name+" ("+t.ID.TU+") cannot be patched and is exported ("+joinSorted(exported)+
				"): modules may call it, and callers in modules are found only among the objects read, so the callers of an exported function are never known complete")
		}
	}
}

// noCaller decides a target that cannot be patched and that nothing in
// the objects read calls: dead code to the build (memblock_add_node on
// x86, whose only caller is under ARCH_KEEP_MEMBLOCK) when it is
// unreached and no source of a directory not built names it, else a
// problem.
func (r *run) noCaller(t *Target, why string, unreached bool) {
	if unreached {
		var files []string
		searched := true
		if r.e.Unbuilt != nil {
			files, searched = r.e.Unbuilt(t.ID.TU, t.Symbol.Name)
		}
		kernel := r.e.KernelBuild != nil && r.e.KernelBuild(t.ID.TU)
		switch {
		case searched && len(files) == 0 || !searched && !kernel:
			r.reexplain(t.ID, "not directly patchable ("+why+"), and nothing in the objects read calls it, takes its address or exports it, nor does any source of a directory left unbuilt name it: no replaced function reaches its changed code")
			return
		case searched:
			shown := files[:min(3, len(files))]
			more := ""
			if len(files) > 3 {
				more = fmt.Sprintf(" and %d more", len(files)-3)
			}
			r.problem(t.Object, t.ID.Name+" ("+t.ID.TU+") cannot be patched and nothing in the objects read calls it, but sources in directories not built name it ("+strings.Join(shown, ", ")+more+"): callers there are unknown; build those directories")
			return
		}
	}
	r.problem(t.Object, t.ID.Name+" ("+t.ID.TU+") cannot be patched and has no direct caller"+r.pointerUse(t)+": how its changed code is reached is unknown")
}

// pendingUnbuilt is an unreached target noCaller decides once the run
// is done (Engine.UnbuiltMany); at is its place among the problems.
type pendingUnbuilt struct {
	t   *Target
	why string
	at  int
}

// decideUnbuilt searches the sources of directories not built for the
// names of every pending target at once (UnbuiltMany), then decides each
// as noCaller does, its problem, if any, in the place held for it.
func (r *run) decideUnbuilt() {
	if len(r.unbuilt) == 0 {
		return
	}
	tus, names := make([]string, len(r.unbuilt)), make([]string, len(r.unbuilt))
	for i, p := range r.unbuilt {
		tus[i], names[i] = p.t.ID.TU, p.t.Symbol.Name
	}
	r.e.UnbuiltMany(tus, names)
	all := r.res.Problems
	held := map[int]bool{}
	for _, p := range r.unbuilt {
		r.res.Problems = nil
		r.noCaller(p.t, p.why, true)
		if len(r.res.Problems) > 0 {
			all[p.at] = r.res.Problems[0]
		} else {
			held[p.at] = true // explained, or its problem was there already
		}
	}
	r.res.Problems = all[:0]
	for i, p := range all {
		if !held[i] {
			r.res.Problems = append(r.res.Problems, p)
		}
	}
	r.unbuilt = nil
}

// livepatchableBuild reports whether any unit of the build was compiled
// with ftrace entries (the rule's view when the engine is not told which
// units are a kernel's: see Engine.KernelBuild).
func (r *run) livepatchableBuild() bool {
	if r.ftraceBuild != nil {
		return *r.ftraceBuild
	}
	found := false
	for _, tu := range r.e.Graph.TUs() {
		if tu.HasObject && r.unitHasFtrace(tu.Name) {
			found = true
			break
		}
	}
	r.ftraceBuild = &found
	return found
}

// unitHasFtrace reports whether unit tu was compiled with ftrace entries.
// Where the compile flags do not tell (no DWARF, clang, switches not
// recorded), the unit's object does: a function with an ftrace entry.
func (r *run) unitHasFtrace(tu string) bool {
	fl, err := r.e.flags(tu)
	silent := err != nil || len(fl) == 0
	for _, f := range fl {
		if f.Ftrace() != "none" {
			return true
		}
		if !f.Recorded || f.Compiler != dwarfinfo.GCC && f.Compiler != dwarfinfo.GCCLTO {
			silent = true
		}
	}
	if silent {
		if obj, err := r.e.Objects.File(tu); err == nil {
			for i := range obj.Funcs {
				if obj.Funcs[i].Fentry {
					return true
				}
			}
		}
	}
	return false
}
