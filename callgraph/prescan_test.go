package callgraph

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/ipadump"
)

// TestPrescan: a load whose dumps and objects were read during the walk
// (a Prescan as the walk's Visit) answers as one that reads them after:
// the same dumps and objects found, the same units, counts, error and
// answers about each name, every node and edge of its units, the same
// objects defining it. So it does when the walk also parsed the dumps
// naming it (ParseFound), when it parsed them with other --strip-prefix
// values than the load's, which must then read them again, and for a
// second load with the same Prescan. Among the dumps are compiled
// fixtures (an LTO program's among them, and its whole-program dump alone
// in a directory), a dump with a bad line, a dump with a truncated last
// line, and a directory reached through a symbolic link, which the walk
// does not visit.
func TestPrescan(t *testing.T) {
	var roots []string
	for _, name := range []string{"clones", "header", "statics", "lto", "cold"} {
		roots = append(roots, fixture.Build(t, name))
	}
	bad := t.TempDir()
	for name, text := range map[string]string{
		"bad.c.000i.ipa-clones": "Callgraph clone;f;1;bad.c;3;5;g;2;bad.c;9;5;inlining to\nnot a record\n",
		"cut.c.000i.ipa-clones": "Callgraph clone;f;1;cut.c;3;5;g;2;cut.c;9;5;inlining to",
	} {
		if err := os.WriteFile(filepath.Join(bad, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(roots[0], filepath.Join(bad, "linked")); err != nil {
		t.Fatal(err)
	}
	// An LTO program's unit of one dump: the walk's graph of it is
	// taken whole, and its nodes must be the program's.
	wpa, err := os.ReadFile(filepath.Join(roots[3], "prog.wpa.000i.ipa-clones"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(bad, "wpa"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "wpa", "prog.wpa.000i.ipa-clones"), wpa, 0o644); err != nil {
		t.Fatal(err)
	}
	roots = append(roots, bad)
	opt := ipadump.DiscoverOptions{FollowOutside: true}
	plain, perr := ipadump.DiscoverTree(opt, roots...)
	_, full := fixtureGraph(t, "clones", "header", "statics", "lto", "cold")
	modes := []struct {
		name  string
		parse bool
		strip []string
	}{{"scanned", false, nil}, {"parsed", true, nil}, {"parsed, other prefixes", true, []string{roots[0]}}}
	for _, name := range append(full.Names(), "f", "no_such_function") {
		for _, m := range modes {
			prescanOne(t, opt, roots, name, m.name, m.parse, m.strip, plain, perr)
		}
	}
	if perr != nil {
		t.Errorf("the walk: %v", perr)
	}
}

// prescanOne is TestPrescan's check of one name, in one mode.
func prescanOne(t *testing.T, opt ipadump.DiscoverOptions, roots []string, name, mode string, parse bool, strip []string, plain ipadump.Tree, perr error) {
	t.Helper()
	pre := NewPrescan([]string{name}, true)
	if parse {
		pre.ParseFound(strip)
	}
	vopt := opt
	vopt.Visit = pre.Visit
	tree, err := ipadump.DiscoverTree(vopt, roots...)
	if fmt.Sprint(err) != fmt.Sprint(perr) || !reflect.DeepEqual(tree, plain) {
		t.Fatalf("%s (%s): the walk with Visit found\n  %+v, %v\nwithout\n  %+v, %v", name, mode, tree, err, plain, perr)
	}
	want, werr := LoadPartial(tree.Dumps, []string{name}, LoadOptions{})
	got, gerr := LoadPartial(tree.Dumps, []string{name}, LoadOptions{Prescan: pre})
	if fmt.Sprint(gerr) != fmt.Sprint(werr) || got.Stats() != want.Stats() || !reflect.DeepEqual(got.TUs(), want.TUs()) {
		t.Errorf("%s (%s): with the prescan %+v, %v; without %+v, %v", name, mode, got.Stats(), gerr, want.Stats(), werr)
	}
	if a, b := answers(got, name), answers(want, name); a != b {
		t.Errorf("%s (%s): the answers differ:\n%s\nwithout the prescan:\n%s", name, mode, a, b)
	}
	if a, b := unitsText(got, name), unitsText(want, name); a != b {
		t.Errorf("%s (%s): its units differ:\n%s\nwithout the prescan:\n%s", name, mode, a, b)
	}
	// A second load with the Prescan, whose parsed dumps the first
	// took, reads them again.
	again, aerr := LoadPartial(tree.Dumps, []string{name}, LoadOptions{Prescan: pre})
	if fmt.Sprint(aerr) != fmt.Sprint(werr) || unitsText(again, name) != unitsText(want, name) {
		t.Errorf("%s (%s): a second load with the prescan: %v\n%s\nwithout:\n%s", name, mode, aerr, unitsText(again, name), unitsText(want, name))
	}
	var objs []string
	for _, d := range tree.Dumps {
		if d.HasObject {
			objs = append(objs, d.Object)
		}
	}
	gd, gerr := ObjectsDefiningWith(objs, name, 0, pre)
	wd, werr := ObjectsDefining(objs, name, 0)
	if !reflect.DeepEqual(gd, wd) || fmt.Sprint(gerr) != fmt.Sprint(werr) {
		t.Errorf("%s (%s): defined in %v, %v; without the prescan %v, %v", name, mode, gd, gerr, wd, werr)
	}
}

// unitsText is every node, with its edges, of the units holding name.
func unitsText(g *Graph, name string) string {
	var b strings.Builder
	for _, id := range g.Lookup(name) {
		nodes := g.nodesOfTU(id.TU)
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].ID.Name < nodes[j].ID.Name })
		for _, n := range nodes {
			fmt.Fprintf(&b, "%+v\nout %+v\nin %+v\n", *n, g.Out(n.ID), g.In(n.ID))
		}
	}
	return b.String()
}

// TestPrescanTaken: the reads a Prescan made are the ones the load and
// the search for definitions take. Every file is removed after the walk:
// the answer about a function is still whole and without error, while a
// load without the prescan reports every dump missing. So it is when
// the walk parsed the dumps naming the function (ParseFound), which it
// then keeps only parsed: the load took the walk's graph of them.
func TestPrescanTaken(t *testing.T) {
	root := fixture.Build(t, "clones")
	_, full := fixtureGraph(t, "clones")
	lacking := 0
	for i, name := range full.Names() {
		pre := NewPrescan([]string{name}, true)
		if i%2 == 1 {
			pre.ParseFound(nil)
		}
		tree, err := ipadump.DiscoverTree(ipadump.DiscoverOptions{Visit: pre.Visit}, root)
		if err != nil {
			t.Fatal(err)
		}
		want, err := LoadPartial(tree.Dumps, []string{name}, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var objs []string
		for _, d := range tree.Dumps {
			objs = append(objs, d.Object)
		}
		wantDefs, err := ObjectsDefining(objs, name, 0)
		if err != nil {
			t.Fatal(err)
		}
		moved := t.TempDir()
		if err := os.Rename(root, filepath.Join(moved, "gone")); err != nil {
			t.Fatal(err)
		}
		got, gerr := LoadPartial(tree.Dumps, []string{name}, LoadOptions{Prescan: pre})
		if gerr != nil || got.Stats() != want.Stats() || answers(got, name) != answers(want, name) {
			t.Errorf("%s: after the files went, with the prescan: %+v, %v; want %+v", name, got.Stats(), gerr, want.Stats())
		}
		// Objects whose symbols may name it are read again (and fail
		// now); no other.
		_, derr := ObjectsDefiningWith(objs, name, 0, pre)
		for _, o := range objs {
			if lacks, _ := pre.lacksName(o, name); !lacks {
				continue
			}
			lacking++
			if derr != nil && strings.Contains(derr.Error(), o+":") {
				t.Errorf("%s: %s was opened again although the prescan found it lacks the name: %v", name, o, derr)
			}
		}
		if wantDefs != nil && derr == nil {
			t.Errorf("%s: the objects defining it (%v) were not read again", name, wantDefs)
		}
		if _, err := LoadPartial(tree.Dumps, []string{name}, LoadOptions{}); err == nil {
			t.Errorf("%s: without the prescan the load of removed dumps did not fail: the test proves nothing", name)
		}
		if err := os.Rename(filepath.Join(moved, "gone"), root); err != nil {
			t.Fatal(err)
		}
	}
	if lacking == 0 {
		t.Error("the prescan found no object lacking a name: the test proves nothing")
	}
}
