package rules

import (
	"sort"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/dwarfinfo"
)

// The rules read two things of every object of the build: compile flags
// and calls to global functions. When the object cache has a store (a
// persistent index, callgraph.ObjectStore) they come from it; the
// objects it does not cover are read as without one, so the answer is
// the same.

// storedUnits returns unit tu's compile units from the store.
func (e *Engine) storedUnits(tu string) ([]dwarfinfo.Unit, bool) {
	if e.Objects == nil {
		return nil, false
	}
	s := e.Objects.Store()
	if s == nil {
		return nil, false
	}
	us, ok := s.Units(tu)
	if ok && len(us) == 0 {
		return nil, false // the error is the object's to say
	}
	return us, ok
}

// externalCallsTo returns the calls to name from objects that do not
// define it, over every object of the build (see externalCalls).
func (r *run) externalCallsTo(name string) []caller {
	var s callgraph.ObjectStore
	if r.e.Objects != nil {
		s = r.e.Objects.Store()
	}
	if s == nil {
		return r.externalCalls()[name]
	}
	if r.extCalls == nil {
		r.storedCallsInit(s)
	}
	if c, ok := r.extDone[name]; ok {
		return c
	}
	type keyed struct {
		tu, ref int
		c       caller
	}
	var all []keyed
	for _, c := range r.extCalls[name] {
		all = append(all, keyed{r.tuPos[c.tu], c.refIdx, c})
	}
	for _, uc := range s.CallsTo(name) {
		pos, ok := r.tuPos[uc.TU]
		if !ok || !s.Covers(uc.TU) {
			continue
		}
		f, err := r.e.Objects.File(uc.TU)
		if err != nil || uc.Ref >= len(f.Refs) {
			continue
		}
		all = append(all, keyed{pos, uc.Ref, callerOf(f, uc.TU, f.Refs[uc.Ref])})
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].tu != all[j].tu {
			return all[i].tu < all[j].tu
		}
		return all[i].ref < all[j].ref
	})
	var out []caller
	for _, k := range all {
		out = append(out, k.c)
	}
	r.extDone[name] = out
	return out
}

// storedCallsInit is externalCalls' first part with a store: the notes,
// and the calls of the objects the store does not cover, read from them.
func (r *run) storedCallsInit(s callgraph.ObjectStore) {
	r.extCalls = map[string][]caller{}
	r.extDone = map[string][]caller{}
	r.tuPos = map[string]int{}
	var uncovered []string
	tus, noObject := r.searchedUnits()
	for i, tu := range tus {
		r.tuPos[tu] = i
		if !s.Covers(tu) {
			uncovered = append(uncovered, tu)
		}
	}
	r.e.Objects.Prefetch(uncovered, 0)
	r.searchNotes(tus, noObject)
	r.readCalls(uncovered)
}
