package callgraph

import (
	"sync"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/ipadump"
)

// DumpStore holds dumps read before (klp-audit's persistent index):
// their records, and what a search for a name would find in them. Load
// and LoadPartial take a dump's records from it instead of reading the
// dump, when it holds them (LoadOptions.Dumps); what they build is the
// same.
type DumpStore interface {
	// Records returns the records of dump d, as the Reader reads them;
	// false when the store does not hold d (or holds an older copy).
	Records(d ipadump.Dump) ([]ipadump.Record, bool)
	// Counts returns how many records, clone lines and removal lines d
	// holds, and whether one of its records names one of names (an
	// original, or a clone); false when the store does not hold d.
	Counts(d ipadump.Dump, names []string) (records, clones, removes int, named, ok bool)
}

// TableStore is a DumpStore that also holds the graph of each dump read
// alone (TableOf): LoadPartial adds a unit whose only dump it holds by
// its table.
type TableStore interface {
	DumpStore
	// Table returns the table of dump d, with ID.TU and LTO d's; false
	// when the store does not hold it (or holds an older copy).
	Table(d ipadump.Dump) (*DumpTable, bool)
}

// table returns d's table from the store, when it holds it.
func (opt LoadOptions) table(d ipadump.Dump) (*DumpTable, bool) {
	ts, ok := opt.Dumps.(TableStore)
	if !ok {
		return nil, false
	}
	return ts.Table(d)
}

// records returns d's records from the store, when it holds them.
func (opt LoadOptions) records(d ipadump.Dump) ([]ipadump.Record, bool) {
	if opt.Dumps == nil {
		return nil, false
	}
	return opt.Dumps.Records(d)
}

// readDumpVia is readDump, from the store when it holds d.
func readDumpVia(opt LoadOptions, rd *ipadump.Reader, d ipadump.Dump) ([]ipadump.Record, ipadump.ErrorList) {
	if recs, ok := opt.records(d); ok {
		return recs, nil
	}
	return readDump(rd, d.Path)
}

// UnitCall is a call from unit TU's object to a function it does not
// define: the Ref'th of its refs (object.File.Refs).
type UnitCall struct {
	TU  string
	Ref int
}

// ObjectStore holds evidence of the objects read before (klp-audit's
// persistent index) that the rules would otherwise read from every
// object: compile units, and the calls between objects.
type ObjectStore interface {
	// Units returns the compile units of unit tu's object, as
	// dwarfinfo.Producers reads them; false when not held.
	Units(tu string) ([]dwarfinfo.Unit, bool)
	// Covers reports whether the store holds the calls of unit tu's
	// object (CallsTo answers for it).
	Covers(tu string) bool
	// CallsTo returns the calls and tail calls to name from the objects
	// it covers that do not define name, in unit order then ref order.
	CallsTo(name string) []UnitCall
	// AddrsTo returns the references taking name's address from the
	// objects it covers that do not define name, in unit order then ref
	// order: Ref indexes the object's refs, or, past them, its
	// ExternAddrs (object.File).
	AddrsTo(name string) []UnitCall
}

// storeMu guards Objects.store.
var storeMu sync.Mutex

// SetStore makes o answer Units and CallsTo from s; nil restores the
// store of a build without an index (SymbolStore).
func (o *Objects) SetStore(s ObjectStore) {
	if s == nil {
		s = NewSymbolStore(o)
	}
	storeMu.Lock()
	o.store = s
	storeMu.Unlock()
}

// Store returns o's store: a persistent index, or the SymbolStore.
func (o *Objects) Store() ObjectStore {
	storeMu.Lock()
	defer storeMu.Unlock()
	return o.store
}
