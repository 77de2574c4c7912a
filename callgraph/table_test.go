package callgraph

import (
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/ipadump"
)

// tableStore is a TableStore holding every dump's records and table, as
// the persistent index does; tables counts the tables given.
type tableStore struct {
	recs   map[string][]ipadump.Record
	tables atomic.Int64 // Table runs on the load's workers
}

func newTableStore(t *testing.T, ds []ipadump.Dump) *tableStore {
	t.Helper()
	s := &tableStore{recs: map[string][]ipadump.Record{}}
	for _, d := range ds {
		recs, errs := readDump(newReader(LoadOptions{}), d.Path)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		s.recs[d.Path] = recs
	}
	return s
}

func (s *tableStore) Records(d ipadump.Dump) ([]ipadump.Record, bool) {
	r, ok := s.recs[d.Path]
	return r, ok
}

func (s *tableStore) Counts(d ipadump.Dump, names []string) (int, int, int, bool, bool) {
	recs, ok := s.recs[d.Path]
	if !ok {
		return 0, 0, 0, false, false
	}
	rs, cs, rm, named := 0, 0, 0, false
	for _, r := range recs {
		rs++
		if r.Kind == ipadump.Removal {
			rm++
		} else {
			cs++
		}
		for _, n := range names {
			named = named || r.Orig.Name == n || r.Kind == ipadump.Clone && r.Clone.Name == n
		}
	}
	return rs, cs, rm, named, true
}

func (s *tableStore) Table(d ipadump.Dump) (*DumpTable, bool) {
	recs, ok := s.recs[d.Path]
	if !ok {
		return nil, false
	}
	s.tables.Add(1)
	return TableOf(d, recs), true
}

// TestTableFixtures: for every compiled fixture, LoadPartial and Load
// adding the units of one dump by their tables (the persistent index's
// way) answer as Load reading the dumps does: every question about
// every name, the units, counts and the graph read whole. The LTO
// program, of several dumps, is read by its records.
func TestTableFixtures(t *testing.T) {
	for _, name := range []string{"clones", "cycle", "header", "lto", "simd", "statics", "cold", "icf", "rule-abi", "rule-callers"} {
		t.Run(name, func(t *testing.T) {
			ds, full := fixtureGraph(t, name)
			s := newTableStore(t, ds)
			comparePartial(t, ds, LoadOptions{Dumps: s}, append(full.Names(), "no_such_function"))
			// Load by the tables builds Load's graph.
			tabled, err := Load(ds, LoadOptions{Dumps: s})
			if err != nil || tabled.String() != full.String() || tabled.Stats() != full.Stats() || !reflect.DeepEqual(tabled.TUs(), full.TUs()) {
				t.Errorf("Load by the tables differs from Load (%v):\n%s\nwant:\n%s", err, tabled, full)
			}
			for _, n := range full.Names() {
				if a, b := answers(tabled, n), answers(full, n); a != b {
					t.Errorf("Load by the tables, %s:\n%s\nwant:\n%s", n, a, b)
				}
			}
			if s.tables.Load() == 0 && full.Len() > 0 {
				t.Errorf("no table was asked for (%d nodes)", full.Len())
			}
		})
	}
}

// TestAddTable: a unit added by its table is the unit its dump makes,
// node for node and edge for edge, after and between units added by
// their records; a unit that has nodes already is refused, and left
// alone.
func TestAddTable(t *testing.T) {
	var ds []ipadump.Dump
	for _, name := range []string{"clones", "statics", "cycle", "header"} {
		more, err := ipadump.Discover(fixture.Build(t, name))
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, more...)
	}
	s := newTableStore(t, ds)
	want := NewBuilder()
	got := NewBuilder()
	tables := 0
	for i, d := range ds {
		recs := s.recs[d.Path]
		want.AddDump(d, recs)
		if i%2 == 0 {
			got.AddDump(d, recs)
			continue
		}
		tab := TableOf(d, recs)
		if !got.AddTable(d, tab) {
			t.Fatalf("%s: table refused", d.Path)
		}
		tables++
		if got.AddTable(d, tab) {
			t.Fatalf("%s: table added twice", d.Path)
		}
	}
	if tables == 0 {
		t.Fatal("no unit added by its table")
	}
	wg, gg := want.Graph(), got.Graph()
	if a, b := gg.String(), wg.String(); a != b {
		t.Fatalf("graph with tables:\n%s\nwant:\n%s", a, b)
	}
	if !reflect.DeepEqual(gg.TUs(), wg.TUs()) || gg.Stats() != wg.Stats() {
		t.Errorf("units or counts differ: %+v %+v, want %+v %+v", gg.TUs(), gg.Stats(), wg.TUs(), wg.Stats())
	}
	names := wg.Names()
	if !slices.Equal(gg.Names(), names) {
		t.Errorf("names differ")
	}
	for _, n := range names {
		if a, b := answers(gg, n), answers(wg, n); a != b {
			t.Errorf("%s:\n%s\nwant:\n%s", n, a, b)
		}
		for _, id := range wg.Lookup(n) {
			if fmt.Sprint(gg.Out(id), gg.In(id)) != fmt.Sprint(wg.Out(id), wg.In(id)) {
				t.Errorf("%s: edges differ", id)
			}
		}
	}
}
