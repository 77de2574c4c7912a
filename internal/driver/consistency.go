package driver

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/internal/par"
	"github.com/klp-audit/klp-audit/report"
)

// dumpChecks caches, per unit, the check of its dump against its object:
// every query of a session (check asks one per changed function) shares
// it.
type dumpChecks struct {
	mu    sync.Mutex
	units map[string]*dumpCheckEntry
}

type dumpCheckEntry struct {
	once     sync.Once
	problems []report.Problem
}

// maxDisagreements is how many functions one unit's problem names.
const maxDisagreements = 5

// startDumpChecks checks the dump of every unit of res's entries against
// its object (callgraph.Objects.CheckDump), in the background: the
// function returned waits for the checks and adds their problems to res
// (after what was added to it meanwhile).
// A dump from another compile than the object's makes the answer
// incomplete, naming the dump and the functions they disagree on. Units
// read from DWARF and LTO units have no dump of their own to check. The
// units are checked in parallel, each once per session; a query reads
// DWARF for them while its rules read symbol tables.
func (ev *Session) startDumpChecks(objs *callgraph.Objects, res *report.Result) (addProblems func()) {
	var tus []string
	seen := map[string]bool{}
	for _, e := range res.Entries {
		if seen[e.TU] {
			continue
		}
		seen[e.TU] = true
		t, ok := ev.graph.TU(e.TU)
		if !ok || !t.HasObject || t.LTO || ev.notLinked(e.TU) != "" {
			// No livepatch target in an object of its own image.
			continue
		}
		if _, dwarfUnit := ev.objectUnitOf(t.Object); dwarfUnit {
			continue
		}
		tus = append(tus, e.TU)
	}
	sort.Strings(tus)
	entries := make([]*dumpCheckEntry, len(tus))
	ev.checks.mu.Lock()
	for i, tu := range tus {
		en := ev.checks.units[tu]
		if en == nil {
			en = &dumpCheckEntry{}
			ev.checks.units[tu] = en
		}
		entries[i] = en
	}
	ev.checks.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		par.Each(len(tus), max(2, runtime.GOMAXPROCS(0)), func(i int) {
			entries[i].once.Do(func() { entries[i].problems = ev.checkOneDumpCached(objs, tus[i]) })
		})
	}()
	return func() {
		<-done
		ev.saveChecks()
		for _, en := range entries {
			if len(en.problems) > 0 {
				res.Problems = append(res.Problems, en.problems...)
				res.Complete = false
			}
		}
	}
}

// checkOneDump returns the problems of unit tu's dump against its object.
func checkOneDump(objs *callgraph.Objects, tu string) []report.Problem {
	c, err := objs.CheckDump(tu)
	if err != nil {
		p := problemOf(err)
		p.Kind = report.KindFailClosed
		p.Message = "the dump of " + tu + " cannot be checked against its object (" + err.Error() + "): whether it comes from the object's compile is unknown"
		return []report.Problem{p}
	}
	if len(c.Disagree) == 0 {
		return nil
	}
	var parts []string
	for i, d := range c.Disagree {
		if i == maxDisagreements {
			parts = append(parts, fmt.Sprintf("and %d more", len(c.Disagree)-maxDisagreements))
			break
		}
		parts = append(parts, d.Function+": "+d.Why)
	}
	dump := strings.Join(c.Dumps, ", ")
	return []report.Problem{{File: dump, Kind: report.KindFailClosed, Message: fmt.Sprintf(
		"%s disagrees with its object %s: %s. The dump may come from an older compile (stale): the functions holding the code there are unknown; rebuild the unit with the dump",
		dump, c.Object, strings.Join(parts, "; "))}}
}
