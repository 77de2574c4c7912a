package rules

import (
	"fmt"
	"sort"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/dwarfinfo"
)

// The rules read two things of the objects of the build: compile flags
// and calls to (and addresses of) global functions. They come from the
// object cache's store (callgraph.ObjectStore): a persistent index, or,
// without one, the symbol tables, which tell the objects to open
// (callgraph.SymbolStore). The objects the store does not cover are read
// whole, so the answer is the same.

// storedUnits returns unit tu's compile units from the store.
func (e *Engine) storedUnits(tu string) ([]dwarfinfo.Unit, bool) {
	if e.Objects == nil {
		return nil, false
	}
	us, ok := e.Objects.Store().Units(tu)
	if ok && len(us) == 0 {
		return nil, false // the error is the object's to say
	}
	return us, ok
}

// externalCallsTo returns the calls to name from objects that do not
// define it, over every object of the build, in unit order then ref
// order.
func (r *run) externalCallsTo(name string) []caller {
	s := r.e.Objects.Store()
	if r.extCalls == nil {
		r.storedCallsInit(s)
	}
	if c, ok := r.extDone[name]; ok {
		return c
	}
	var all []inUnit[caller]
	for _, c := range r.extCalls[name] {
		all = append(all, inUnit[caller]{r.tuPos[c.tu], c.refIdx, c})
	}
	for _, uc := range s.CallsTo(name) {
		pos, ok := r.tuPos[uc.TU]
		if !ok || !s.Covers(uc.TU) {
			continue
		}
		f, err := r.e.Objects.File(uc.TU)
		if err == nil && (uc.Ref < 0 || uc.Ref >= len(f.Refs)) {
			err = fmt.Errorf("its calls to %s could not be read", name)
		}
		if err != nil {
			// A caller in this object would go unseen.
			r.unreadObject(uc.TU, err)
			continue
		}
		all = append(all, inUnit[caller]{pos, uc.Ref, callerOf(f, uc.TU, f.Refs[uc.Ref])})
	}
	out := inUnitOrder(all)
	if len(out) == 0 {
		out = nil
	}
	r.extDone[name] = out
	return out
}

// storedCallsInit says which objects the search covers, and reads the
// calls of the objects the store does not cover.
func (r *run) storedCallsInit(s callgraph.ObjectStore) {
	r.extCalls = map[string][]caller{}
	r.extDone = map[string][]caller{}
	tus, noObject, uncovered := r.storedUnitsInit(s)
	r.e.Objects.PrefetchShown(uncovered, "searching the objects for callers")
	r.searchNotes(tus, noObject)
	r.readCalls(uncovered)
}

// storedUnitsInit numbers the searched units (tuPos), once, and returns
// them, those with a dump but no object, and those the store does not
// cover.
func (r *run) storedUnitsInit(s callgraph.ObjectStore) (tus, noObject, uncovered []string) {
	if r.tuPos == nil {
		r.tuPos = map[string]int{}
		r.searched, r.noObject = r.searchedUnits()
		for i, tu := range r.searched {
			r.tuPos[tu] = i
			if !s.Covers(tu) {
				r.uncovered = append(r.uncovered, tu)
			}
		}
	}
	return r.searched, r.noObject, r.uncovered
}

// inUnit is a v found in the object of the unit numbered tu (tuPos), at
// place ord there (a ref's index, or past the refs an ExternAddrs
// entry).
type inUnit[T any] struct {
	tu, ord int
	v       T
}

// inUnitOrder returns the values of all in unit order, then their order
// in the unit's object.
func inUnitOrder[T any](all []inUnit[T]) []T {
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].tu != all[j].tu {
			return all[i].tu < all[j].tu
		}
		return all[i].ord < all[j].ord
	})
	out := make([]T, 0, len(all))
	for _, k := range all {
		out = append(out, k.v)
	}
	return out
}

// keyedAddr is a reference taking a name's address ("unit: function",
// or "unit"), in its unit's object.
type keyedAddr = inUnit[string]

// externalAddrsTo returns the references taking name's address from
// objects that do not define it, over every object the search for
// callers reads, in unit order then ref order.
func (r *run) externalAddrsTo(name string) []string {
	s := r.e.Objects.Store()
	if r.extAddrs == nil {
		r.storedAddrsInit(s)
	}
	if a, ok := r.extAddrs[name]; ok {
		return a
	}
	all := append([]keyedAddr(nil), r.liveAddrs[name]...)
	for _, uc := range s.AddrsTo(name) {
		pos, ok := r.tuPos[uc.TU]
		if !ok || !s.Covers(uc.TU) {
			continue
		}
		f, err := r.e.Objects.File(uc.TU)
		if err == nil && (uc.Ref < 0 || uc.Ref >= len(f.Refs)+len(f.ExternAddrs)) {
			err = fmt.Errorf("its references to %s could not be read", name)
		}
		switch {
		case err != nil:
			// A reference in this object would go unseen.
			r.unreadObject(uc.TU, err)
		case uc.Ref < len(f.Refs):
			all = append(all, keyedAddr{pos, uc.Ref, uc.TU + ": " + f.Refs[uc.Ref].From})
		case uc.Ref < len(f.Refs)+len(f.ExternAddrs):
			all = append(all, keyedAddr{pos, uc.Ref, uc.TU})
		}
	}
	r.extAddrs[name] = inUnitOrder(all)
	return r.extAddrs[name]
}

// storedAddrsInit reads the address references of the objects the
// store does not cover.
func (r *run) storedAddrsInit(s callgraph.ObjectStore) {
	r.extAddrs = map[string][]string{}
	r.liveAddrs = map[string][]keyedAddr{}
	_, _, uncovered := r.storedUnitsInit(s)
	r.e.Objects.PrefetchShown(uncovered, "searching the objects for address references")
	for _, tu := range uncovered {
		pos := r.tuPos[tu]
		r.readAddrs(tu, func(name, at string, ord int) {
			r.liveAddrs[name] = append(r.liveAddrs[name], keyedAddr{pos, ord, at})
		})
	}
}
