package callgraph

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/internal/safeio"
	"github.com/klp-audit/klp-audit/ipadump"
)

// impactText prints everything an Impact says, chains included.
func impactText(imp *Impact) string {
	var b strings.Builder
	fmt.Fprintf(&b, "starts %v\n", imp.Starts)
	for _, n := range imp.Nodes {
		fmt.Fprintf(&b, "%s depth %d parent %d cycle %v via %+v\n", n.ID, n.Depth, n.Parent, n.InCycle, n.Via)
		for i, e := range n.Chain {
			fmt.Fprintf(&b, "  %d %+v\n", i, e)
		}
	}
	for _, e := range imp.Edges {
		fmt.Fprintf(&b, "edge %+v\n", e)
	}
	return b.String()
}

// answers prints what a graph says of name: its nodes, each one's node
// record and edges both ways, and the impact of them all.
func answers(g *Graph, name string) string {
	var b strings.Builder
	ids := g.Lookup(name)
	for _, id := range ids {
		n, ok := g.Node(id)
		fmt.Fprintf(&b, "%s %v %+v\nout %+v\nin %+v\n", id, ok, *n, g.Out(id), g.In(id))
	}
	b.WriteString(impactText(g.Impacted(ids...)))
	return b.String()
}

// comparePartial checks that LoadPartial, asked about each name, answers
// as Load does: the units, counts and error at once, every question about
// the name, a question about another name (read on demand) and, read
// whole, the same graph.
func comparePartial(t *testing.T, ds []ipadump.Dump, opt LoadOptions, names []string) {
	t.Helper()
	full, ferr := Load(ds, opt)
	// Questions about a node, asked first, read its unit in.
	p, _ := LoadPartial(ds, names[:1], opt)
	for _, tu := range full.TUs() {
		for _, n := range full.nodesOfTU(tu.Name) {
			pn, ok := p.Node(n.ID)
			if !ok || !reflect.DeepEqual(*pn, *n) || fmt.Sprint(p.Out(n.ID), p.In(n.ID)) != fmt.Sprint(full.Out(n.ID), full.In(n.ID)) {
				t.Errorf("asked first about %s: %v %+v, want %+v", n.ID, ok, pn, n)
			}
		}
	}
	for i, name := range names {
		other := names[(i+1)%len(names)]
		p, perr := LoadPartial(ds, []string{name}, opt)
		if fmt.Sprint(perr) != fmt.Sprint(ferr) {
			t.Errorf("%s: LoadPartial's error\n  %v\nLoad's\n  %v", name, perr, ferr)
		}
		if !reflect.DeepEqual(p.TUs(), full.TUs()) || p.Stats() != full.Stats() {
			t.Errorf("%s: units or counts differ:\n  %+v %+v\n  %+v %+v", name, p.TUs(), p.Stats(), full.TUs(), full.Stats())
		}
		for _, n := range []string{name, other} {
			if a, b := answers(p, n), answers(full, n); a != b {
				t.Errorf("asked about %s, %s differs:\n%s\nLoad:\n%s", name, n, a, b)
			}
		}
		if p.String() != full.String() || p.Unread() != 0 || p.Stats() != full.Stats() {
			t.Errorf("%s: read whole, the graph differs from Load's (%d units unread)", name, p.Unread())
		}
		if err := p.LateErr(); err != nil {
			t.Errorf("%s: LateErr: %v", name, err)
		}
	}
}

// TestLoadPartialFixtures: for every compiled fixture with dumps and
// every function they name (and one they do not), LoadPartial answers as
// Load does. The LTO fixture's program is read whole: its whole-program
// and partition dumps are one unit.
func TestLoadPartialFixtures(t *testing.T) {
	for _, name := range []string{"clones", "cycle", "header", "lto", "simd", "statics", "cold", "icf", "rule-abi", "rule-callers"} {
		t.Run(name, func(t *testing.T) {
			ds, full := fixtureGraph(t, name)
			comparePartial(t, ds, LoadOptions{}, append(full.Names(), "no_such_function"))
		})
	}
}

// TestLoadPartialReadsLess: a question reads at once only the units
// that hold the function (its own unit for a static, the units inlining
// a header inline), an LTO program's dumps together.
func TestLoadPartialReadsLess(t *testing.T) {
	ds, full := threeFixtures(t)
	ltoRead := false
	for _, name := range append(full.Names(), "no_such_function") {
		want := map[string]bool{}
		for _, id := range full.Lookup(name) {
			want[id.TU] = true
		}
		g, err := LoadPartial(ds, []string{name}, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(g.TUs()) - g.Unread(); got != len(want) {
			t.Errorf("%s: %d units read at once, want %d (%v)", name, got, len(want), want)
		}
		for tu := range want {
			if t, _ := g.TU(tu); t.LTO && len(t.Dumps) > 1 {
				ltoRead = true
			}
		}
	}
	if !ltoRead {
		t.Error("no question read an LTO program of several dumps")
	}
}

// TestLoadPartialProblems: dumps with problems that do not name the
// function (a bad line, a CRLF or blank line, the 14-field form, a line
// too long, a truncated last line, a FIFO, a sparse 200 GB file) are
// reported exactly as Load reports them, and counted alike.
func TestLoadPartialProblems(t *testing.T) {
	dir := t.TempDir()
	clone := "Callgraph clone;f;1;a.c;3;5;g;2;a.c;9;5;inlining to\n"
	files := map[string]string{
		"a.c":     clone + "Callgraph removal;f;1;a.c;3;5\n",
		"bad.c":   "Callgraph clone;x;1;b.c;3;5;y;2;b.c;9;5;constprop\nCallgraph clone;x;one;b.c;3;5;y;2;b.c;9;5;isra\nnot a dump line\n",
		"crlf.c":  "Callgraph clone;x;1;c.c;3;5;y;2;c.c;9;5;inlining to\r\nCallgraph removal;x;1;c.c;3;5\r\n\n   \n",
		"old.c":   "Callgraph clone;x;1;o.c;3;5;<-;y;2;o.c;9;5;optimization:;constprop\n",
		"long.c":  "Callgraph removal;" + strings.Repeat("z", ipadump.MaxLineLen) + ";1;l.c;1;1\nCallgraph removal;w;1;l.c;1;1\n",
		"trunc.c": "Callgraph removal;t;1;t.c;1;1\nCallgraph removal;t;2;t.c;1;",
		"empty.c": "",
		"names.c": "Callgraph removal;ff;1;n.c;1;1\nCallgraph removal;x;1;f.h;1;1\n", // f only inside other fields
	}
	for n, text := range files {
		if err := os.WriteFile(filepath.Join(dir, n+".000i.ipa-clones"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := ipadump.Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	fifo := fixture.FIFO(t, filepath.Join(dir, "fifo.c.000i.ipa-clones"))
	big := fixture.Sparse(t, filepath.Join(dir, "big.c.000i.ipa-clones"), 200<<30)
	ds = append(ds, ipadump.Dump{Path: fifo, Kind: ipadump.UnitDump, TU: "fifo.o"},
		ipadump.Dump{Path: big, Kind: ipadump.UnitDump, TU: "big.o"})
	fixture.Within(t, 20*time.Second, "LoadPartial", func() {
		comparePartial(t, ds, LoadOptions{}, []string{"f", "x", "t", "w", "nothing"})
	})
	p, err := LoadPartial(ds, []string{"f"}, LoadOptions{})
	var el ipadump.ErrorList
	if !errors.As(err, &el) || len(el) < 6 {
		t.Fatalf("LoadPartial's problems: %v", err)
	}
	for _, w := range []struct {
		path string
		is   error
	}{{fifo, safeio.ErrNotRegular}, {big, safeio.ErrTooLarge}} {
		found := false
		for _, e := range el {
			found = found || errors.Is(e, w.is) && strings.Contains(e.Error(), w.path)
		}
		if !found {
			t.Errorf("no %v naming %s among %v", w.is, w.path, el)
		}
	}
	// "f" is a whole name field in a.c's dump only.
	if got := len(p.TUs()) - p.Unread(); got != 1 {
		t.Errorf("f: %d units read at once, want a.o alone", got)
	}
}

// TestLoadPartialConcurrent: questions from many goroutines read units
// in at once without a race (run with -race) and get Load's answers.
func TestLoadPartialConcurrent(t *testing.T) {
	dir := fixture.Build(t, "header")
	clones := fixture.Build(t, "clones")
	ds, err := ipadump.Discover(dir, clones)
	if err != nil {
		t.Fatal(err)
	}
	full, err := Load(ds, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := full.Names()
	p, err := LoadPartial(ds, nil, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]string, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = answers(p, n)
		}()
	}
	wg.Wait()
	for i, n := range names {
		if want := answers(full, n); got[i] != want {
			t.Errorf("%s:\n%s\nwant\n%s", n, got[i], want)
		}
	}
}

// TestObjectsDefiningAgrees: ObjectsDefining, which parses the symbol
// table only of objects whose string table holds the name, answers as
// the full index does, errors included, for every function of the
// fixtures' objects and for broken objects (not ELF, cut short, without
// a symbol table, a symbol table past the end of the file).
func TestObjectsDefiningAgrees(t *testing.T) {
	var paths []string
	for _, name := range []string{"clones", "header", "statics", "cold", "simd", "lto"} {
		ps, err := filepath.Glob(filepath.Join(fixture.Build(t, name), "*.o"))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, ps...)
	}
	obj, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	broken := map[string][]byte{
		"notelf.o": []byte("not an object\n"),
		"short.o":  obj[:100],
		"cut.o":    obj[:len(obj)*3/4],
	}
	// No symbol table: the section type of .symtab made SHT_NULL.
	ef, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	nosym := append([]byte(nil), obj...)
	pastEnd := append([]byte(nil), obj...)
	for i, s := range ef.Sections {
		if s.Type != elf.SHT_SYMTAB {
			continue
		}
		sh := int(ef64Shoff(obj)) + i*64
		ef.ByteOrder.PutUint32(nosym[sh+4:], uint32(elf.SHT_NULL))
		ef.ByteOrder.PutUint64(pastEnd[sh+24:], uint64(len(obj))) // sh_offset
	}
	broken["nosym.o"], broken["pastend.o"] = nosym, pastEnd
	for n, b := range broken {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	all := NewDefiners(paths, 0, false)
	if all.Err() == nil || strings.Count(all.Err().Error(), "\n") < len(broken)-1 {
		t.Fatalf("the broken objects are not all errors: %v", all.Err())
	}
	for _, name := range append(all.WithPrefix(""), "no_such_function", "") {
		got, err := ObjectsDefining(paths, name, 0)
		if !reflect.DeepEqual(got, all.Defining(name)) || fmt.Sprint(err) != fmt.Sprint(all.Err()) {
			t.Errorf("%q: ObjectsDefining %v, %v; the index %v, %v", name, got, err, all.Defining(name), all.Err())
		}
	}
}

// ef64Shoff returns e_shoff of a little-endian ELF64 header.
func ef64Shoff(b []byte) uint64 {
	return uint64(b[0x28]) | uint64(b[0x29])<<8 | uint64(b[0x2a])<<16 | uint64(b[0x2b])<<24
}

// TestWant: asking a partial graph for several functions at once reads in
// exactly the units whose dumps name one of them, and each lookup then
// answers as over the whole build.
func TestWant(t *testing.T) {
	ds, full := threeFixtures(t)
	names := full.Names()
	if len(names) < 4 {
		t.Fatalf("fixtures name %d functions", len(names))
	}
	for i := 0; i+1 < len(names); i += 3 {
		asked := []string{names[i], names[i+1], "no_such_function"}
		want := map[string]bool{}
		for _, n := range asked {
			for _, id := range full.Lookup(n) {
				want[id.TU] = true
			}
		}
		g, err := LoadPartial(ds, nil, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		g.Want(asked...)
		if got := len(g.TUs()) - g.Unread(); got != len(want) {
			t.Errorf("Want(%v): %d units read, want %d (%v)", asked, got, len(want), want)
		}
		for _, n := range asked {
			if got, w := g.Lookup(n), full.Lookup(n); !slices.Equal(got, w) {
				t.Errorf("Lookup(%s) after Want = %v, want %v", n, got, w)
			}
		}
	}
}

// threeFixtures returns the dumps of the header, lto and clones fixtures
// and the whole graph of them.
func threeFixtures(t *testing.T) ([]ipadump.Dump, *Graph) {
	t.Helper()
	return fixtureGraph(t, "header", "lto", "clones")
}

// fixtureGraph returns the dumps of the named fixtures, compiled, and the
// whole graph of them.
func fixtureGraph(t *testing.T, names ...string) ([]ipadump.Dump, *Graph) {
	t.Helper()
	var dirs []string
	for _, n := range names {
		dirs = append(dirs, fixture.Build(t, n))
	}
	ds, err := ipadump.Discover(dirs...)
	if err != nil {
		t.Fatal(err)
	}
	full, err := Load(ds, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ds, full
}
