package callgraph

import (
	"fmt"
	"sync"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/internal/par"
	"github.com/klp-audit/klp-audit/internal/safeio"
	"github.com/klp-audit/klp-audit/object"
)

// SymbolStore is the ObjectStore of a build without a persistent index.
// A call or an address reference from one object to a function another
// object defines goes through an undefined symbol of the calling object
// named like the function: no other way exists in a relocatable object.
// So the objects that can call name are exactly those whose symbol table
// holds name undefined. SymbolStore reads every unit's symbol table once
// (a small part of an object), and opens, decodes and asks for their
// refs only the objects that hold a searched name undefined, instead of
// every object of the build.
//
// An object whose symbol table cannot be read is not covered: the rules
// read it whole, as without a store, and report it.
type SymbolStore struct {
	objs *Objects
	tus  []string // the units whose objects are indexed, in graph order

	once    sync.Once
	covered map[string]bool
	byName  map[string][]int32 // undefined name -> units (indices into tus), ascending

	mu    sync.Mutex
	calls map[string][]UnitCall
	addrs map[string][]UnitCall
}

// NewSymbolStore returns the store over the objects of o's units that
// have one; it reads nothing until first asked.
func NewSymbolStore(o *Objects) *SymbolStore {
	s := &SymbolStore{objs: o, calls: map[string][]UnitCall{}, addrs: map[string][]UnitCall{}}
	for _, t := range o.g.TUs() {
		if t.HasObject {
			s.tus = append(s.tus, t.Name)
		}
	}
	return s
}

// load reads every unit's symbol table, in parallel, once.
func (s *SymbolStore) load() {
	s.once.Do(func() {
		undef := make([][]string, len(s.tus))
		ok := make([]bool, len(s.tus))
		par.Each(len(s.tus), 8, func(i int) {
			t, _ := s.objs.g.TU(s.tus[i])
			var err error
			undef[i], err = undefinedNames(t.Object)
			ok[i] = err == nil
		})
		s.covered = make(map[string]bool, len(s.tus))
		s.byName = map[string][]int32{}
		for i, tu := range s.tus {
			if !ok[i] {
				continue
			}
			s.covered[tu] = true
			for _, n := range undef[i] {
				if l := s.byName[n]; len(l) == 0 || l[len(l)-1] != int32(i) {
					s.byName[n] = append(l, int32(i))
				}
			}
		}
	})
}

// Units is not held: the compile units are read from the objects.
func (s *SymbolStore) Units(string) ([]dwarfinfo.Unit, bool) { return nil, false }

// Covers reports whether tu's object's symbol table was read.
func (s *SymbolStore) Covers(tu string) bool {
	s.load()
	return s.covered[tu]
}

// CallsTo returns the calls and tail calls to name from the covered
// objects that hold name undefined, in unit order then ref order. An
// object that holds name but cannot be opened is returned with Ref -1:
// a caller in it would go unseen.
func (s *SymbolStore) CallsTo(name string) []UnitCall {
	return s.refsTo(name, s.calls, func(f *object.File, add func(int)) {
		for i, r := range f.Refs {
			if r.To == name && (r.Kind == object.Call || r.Kind == object.TailCall) && len(f.Lookup(name)) == 0 {
				add(i)
			}
		}
	})
}

// AddrsTo returns the references taking name's address from the covered
// objects that hold name undefined, in unit order then ref order (past
// the refs: the ExternAddrs entries); Ref -1 as in CallsTo.
func (s *SymbolStore) AddrsTo(name string) []UnitCall {
	return s.refsTo(name, s.addrs, func(f *object.File, add func(int)) {
		for i, r := range f.Refs {
			if r.To == name && (r.Kind == object.AddrRef || r.Kind == object.DataRef) && len(f.Lookup(name)) == 0 {
				add(i)
			}
		}
		for k, n := range f.ExternAddrs {
			if n == name {
				add(len(f.Refs) + k)
			}
		}
	})
}

func (s *SymbolStore) refsTo(name string, memo map[string][]UnitCall, scan func(*object.File, func(int))) []UnitCall {
	s.load()
	s.mu.Lock()
	if c, ok := memo[name]; ok {
		s.mu.Unlock()
		return c
	}
	s.mu.Unlock()
	units := s.byName[name]
	tus := make([]string, len(units))
	for i, u := range units {
		tus[i] = s.tus[u]
	}
	s.objs.PrefetchShown(tus, "reading the objects that refer to "+name)
	out := []UnitCall{}
	for _, tu := range tus {
		f, err := s.objs.File(tu)
		if err != nil {
			out = append(out, UnitCall{TU: tu, Ref: -1})
			continue
		}
		scan(f, func(i int) { out = append(out, UnitCall{TU: tu, Ref: i}) })
	}
	s.mu.Lock()
	memo[name] = out
	s.mu.Unlock()
	return out
}

// undefinedNames returns the names of the symbols the object at path
// leaves undefined (what it calls or refers to in other objects), read
// from its symbol table alone.
func undefinedNames(path string) ([]string, error) {
	fh, err := safeio.OpenObject(path)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", path, err)
	}
	defer fh.Close()
	var out []string
	err = eachSymbol(fh, path, undefinedInto(&out))
	return out, err
}
