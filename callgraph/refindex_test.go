package callgraph

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/klp-audit/klp-audit/object"
)

// TestSymbolStore checks the store of a build without an index against a
// read of every object: the calls and address references to a global
// function from the objects that do not define it are the same, found
// by opening only the objects whose symbol table holds the name
// undefined (nm -u).
func TestSymbolStore(t *testing.T) {
	dir, g := loadFixture(t, "klp-sympos")
	objs, opened := countingObjects(g)
	s := NewSymbolStore(objs)

	// What a read of every object finds.
	var tus []string
	for _, tu := range g.TUs() {
		if tu.HasObject {
			tus = append(tus, tu.Name)
		}
	}
	if len(tus) != 3 {
		t.Fatalf("fixture changed: units %v, want a.o, b.o and main.o", tus)
	}
	want := map[string][]UnitCall{}
	for _, tu := range tus {
		f, err := object.Open(filepath.Join(dir, tu))
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range f.Refs {
			if (r.Kind == object.Call || r.Kind == object.TailCall) && len(f.Lookup(r.To)) == 0 {
				want[r.To] = append(want[r.To], UnitCall{TU: tu, Ref: i})
			}
		}
	}
	// The compiler's own record: main.o calls a_entry through a
	// relocation against an undefined a_entry; a.o and b.o do not name it.
	out, err := exec.Command("objdump", "-dr", filepath.Join(dir, "main.o")).Output()
	if err != nil {
		t.Skipf("objdump: %v", err)
	}
	if !strings.Contains(string(out), "R_X86_64_PLT32\ta_entry") {
		t.Fatalf("fixture changed: main.o has no call to a_entry:\n%s", out)
	}
	for _, name := range []string{"a_entry", "b_entry", "b_other"} {
		if len(want[name]) == 0 {
			t.Fatalf("the full read finds no call to %s", name)
		}
		got := s.CallsTo(name)
		if !slices.Equal(got, want[name]) {
			t.Errorf("CallsTo(%s) = %v, want %v", name, got, want[name])
		}
	}
	if got := s.CallsTo("no_such_function"); len(got) != 0 {
		t.Errorf("CallsTo(no_such_function) = %v", got)
	}
	for _, tu := range tus {
		if !s.Covers(tu) {
			t.Errorf("%s not covered", tu)
		}
	}
	// Only main.o names what was searched: a.o and b.o were never opened.
	if len(opened) != 1 || opened["main.o"] != 1 {
		t.Errorf("objects opened: %v, want main.o once", opened)
	}
}

// TestSymbolStoreAddrs: an address stored by another object's data (np2.c's
// np2_ops holds R_X86_64_64 nt_gptr) is found, and the object defining
// the name is not opened.
func TestSymbolStoreAddrs(t *testing.T) {
	dir, g := loadFixture(t, "rule-notpatchable")
	objs, opened := countingObjects(g)
	s := NewSymbolStore(objs)
	out, err := exec.Command("readelf", "-rW", filepath.Join(dir, "ftrace2.o")).Output()
	if err != nil {
		t.Skipf("readelf: %v", err)
	}
	if !strings.Contains(string(out), "nt_gptr") {
		t.Fatalf("fixture changed: ftrace2.o has no relocation against nt_gptr:\n%s", out)
	}
	got := s.AddrsTo("nt_gptr")
	if len(got) != 1 || got[0].TU != "ftrace2.o" || got[0].Ref < 0 {
		t.Fatalf("AddrsTo(nt_gptr) = %v, want one reference from ftrace2.o", got)
	}
	f, err := object.Open(filepath.Join(dir, "ftrace2.o"))
	if err != nil {
		t.Fatal(err)
	}
	if k := got[0].Ref; k < len(f.Refs) && f.Refs[k].To != "nt_gptr" || k >= len(f.Refs) && f.ExternAddrs[k-len(f.Refs)] != "nt_gptr" {
		t.Errorf("AddrsTo(nt_gptr)[0] = %d does not name nt_gptr", k)
	}
	if len(opened) != 1 || opened["ftrace2.o"] != 1 {
		t.Errorf("objects opened: %v, want ftrace2.o once", opened)
	}
}

// TestSymbolStoreFailsClosed: an object whose symbol table cannot be read
// is not covered (the rules read it whole and report it), and one that
// names the function but cannot be opened is returned with Ref -1, never
// left out.
func TestSymbolStoreFailsClosed(t *testing.T) {
	dir, g := loadFixture(t, "klp-sympos")
	objs := NewObjects(g, func(p string) (*object.File, error) {
		if filepath.Base(p) == "main.o" {
			return nil, errors.New("unreadable")
		}
		return object.Open(p)
	})
	s := NewSymbolStore(objs)
	if got := s.CallsTo("a_entry"); len(got) != 1 || got[0] != (UnitCall{TU: "main.o", Ref: -1}) {
		t.Errorf("CallsTo(a_entry) with main.o unreadable = %v, want main.o with Ref -1", got)
	}

	// b.o truncated past its ELF header: no symbol table to read.
	b, err := os.ReadFile(filepath.Join(dir, "b.o"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.o"), b[:100], 0o644); err != nil {
		t.Fatal(err)
	}
	s = NewSymbolStore(NewObjects(g, nil))
	if s.Covers("b.o") {
		t.Error("b.o, truncated, is covered")
	}
	if !s.Covers("a.o") || !s.Covers("main.o") {
		t.Error("a.o or main.o not covered")
	}
}

// countingObjects returns an object cache over g that counts the opens of
// each object, by base name (read the map once the opens are done).
func countingObjects(g *Graph) (*Objects, map[string]int) {
	var mu sync.Mutex
	opened := map[string]int{}
	return NewObjects(g, func(p string) (*object.File, error) {
		mu.Lock()
		opened[filepath.Base(p)]++
		mu.Unlock()
		return object.Open(p)
	}), opened
}
