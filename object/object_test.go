package object

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// Fixtures are compiled once per test binary run, into buildRoot, with
// the commands fixture.Commands reads from their header comments (what
// fixture.Build runs; Build's directory would not outlive one test).
var (
	buildRoot string
	buildMu   sync.Mutex
	builds    = map[string]*buildResult{}
)

type buildResult struct {
	dir string
	err error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "klp-audit-object-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixtureDir compiles fixture name (once) and returns its directory.
func fixtureDir(t testing.TB, name string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	br, ok := builds[name]
	if !ok {
		br = &buildResult{}
		br.dir, br.err = buildFixture(name)
		builds[name] = br
	}
	if br.err != nil {
		t.Fatal(br.err)
	}
	return br.dir
}

func buildFixture(name string) (string, error) {
	cmds, err := fixture.Commands(name)
	if err != nil {
		return "", err
	}
	if len(cmds) == 0 {
		return "", fmt.Errorf("fixture %s: no gcc commands in its header comments", name)
	}
	dir := filepath.Join(buildRoot, name)
	if err := os.CopyFS(dir, os.DirFS(fixture.Dir(name))); err != nil {
		return "", err
	}
	for _, c := range cmds {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("fixture %s: %s: %v\n%s", name, strings.Join(c, " "), err, out)
		}
	}
	return dir, nil
}

func openFixture(t testing.TB, name, obj string) *File {
	t.Helper()
	path := filepath.Join(fixtureDir(t, name), obj)
	f, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%s): %v", obj, err)
	}
	return f
}

// fixtureObjects lists every object the fixtures of this package build.
var fixtureObjects = []struct{ fixture, obj string }{
	{"objcalls", "objcalls.o"},
	{"objcalls", "objcalls-pie.o"},
	{"objcalls", "objcalls-fs.o"},
	{"icf", "icf.o"},
	{"icf", "noicf.o"},
	{"cold", "cold.o"},
	{"cold", "cold-fs.o"},
	{"fentry", "fentry.o"},
	{"fentry", "fentry-nop.o"},
	{"fentry", "fentry-call.o"},
	{"fentry", "fentry-pie.o"},
	{"fentry", "fentry-pfe.o"},
	{"fentry", "fentry.elf"},
	{"fentry", "fentry-nop.elf"},
	{"sympos", "a.o"},
	{"sympos", "b.o"},
	{"sympos", "both.o"},
	{"clones", "clones.o"},
}

// edge renders a ref without its site, for comparing graphs.
func edge(r Ref) string {
	s := fmt.Sprintf("%s %s %s", r.From, r.Kind, r.To)
	if r.FromSympos != 0 || r.ToSympos != 0 {
		s += fmt.Sprintf(" [%d->%d]", r.FromSympos, r.ToSympos)
	}
	if r.Reloc {
		s += " reloc"
	}
	return s
}

func edges(refs []Ref) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, edge(r))
	}
	sort.Strings(out)
	return out
}

// TestCallGraph checks each fixture object's whole call graph against
// what gcc 12.2 produced (see the header comments of the fixtures).
func TestCallGraph(t *testing.T) {
	// The graph of objcalls.c; reloc differs by build.
	objcalls := func(leafByReloc, cbByReloc bool) []string {
		r := func(b bool) string {
			if b {
				return " reloc"
			}
			return ""
		}
		return []string{
			"cond_tail TailCall leaf" + r(leafByReloc),
			"junk Call leaf" + r(leafByReloc),
			"mid Call leaf" + r(leafByReloc),
			"mid Call leaf" + r(leafByReloc),
			"my_ops DataRef op_close reloc",
			"my_ops DataRef op_open reloc",
			"setup AddrRef cb" + r(cbByReloc),
			"setup TailCall register_cb reloc",
			"tail TailCall leaf" + r(leafByReloc),
			"top Call cond_tail reloc",
			"top Call ext_helper reloc",
			"top Call mid" + r(leafByReloc),
		}
	}
	tests := []struct {
		name, fixture, obj string
		want               []string
	}{
		{"objcalls/one .text, no relocations between locals", "objcalls", "objcalls.o", objcalls(false, true)},
		{"objcalls/pie: lea of cb without relocation", "objcalls", "objcalls-pie.o", objcalls(false, false)},
		{"objcalls/function-sections: all by relocation", "objcalls", "objcalls-fs.o", objcalls(true, true)},
		{"icf/folded: use2 calls the shared body", "icf", "icf.o", []string{
			"use1 Call same1", "use2 Call same1"}},
		{"icf/not folded", "icf", "noicf.o", []string{
			"use1 Call same1", "use2 Call same2"}},
		{"cold/pieces jump both ways", "cold", "cold.o", []string{
			"helper TailCall helper.cold reloc",
			"helper.cold Call report reloc", "helper.cold Call report reloc",
			"process TailCall process.cold reloc",
			"process.cold Call report reloc", "process.cold Call report reloc",
			"process.cold TailCall process reloc",
			"use_helper Call helper", "use_helper Call helper"}},
		{"fentry/entry call is no ref", "fentry", "fentry.o", []string{
			"notrace_fn Call traced_static", "traced Call traced_static"}},
		{"fentry/linked", "fentry", "fentry.elf", []string{
			"_start Call notrace_fn", "notrace_fn Call traced_static", "traced Call traced_static"}},
		{"sympos/two scales", "sympos", "both.o", []string{
			"a_entry Call only_a",
			"a_entry Call scale [0->1]", "a_entry Call scale [0->1]",
			"b_entry Call scale [0->2]", "b_other Call scale [0->2]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := openFixture(t, tc.fixture, tc.obj)
			want := append([]string(nil), tc.want...)
			sort.Strings(want)
			if got := edges(f.Refs); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: refs\n got: %q\nwant: %q", tc.obj, got, want)
			}
			if !f.HasCallGraph {
				t.Errorf("%s: HasCallGraph false", tc.obj)
			}
		})
	}
}

// TestRefsSortedAndUnique checks the order and uniqueness Refs promises.
func TestRefsSortedAndUnique(t *testing.T) {
	for _, o := range fixtureObjects {
		t.Run(o.fixture+"/"+o.obj, func(t *testing.T) {
			f := openFixture(t, o.fixture, o.obj)
			for i := 1; i < len(f.Refs); i++ {
				a, b := f.Refs[i-1], f.Refs[i]
				if a.From > b.From || a.From == b.From && a.Site > b.Site {
					t.Errorf("refs out of order: %+v before %+v", a, b)
				}
				if a.From == b.From && a.Site == b.Site && a.To == b.To && a.Kind == b.Kind && a.ToSympos == b.ToSympos {
					t.Errorf("duplicate ref %+v", b)
				}
			}
		})
	}
}

// TestFuncs checks the symbol facts: binding, aliases, cold pieces,
// Sympos and Fentry.
func TestFuncs(t *testing.T) {
	type want struct {
		name    string
		sympos  int // which of the same-named, 1-based; 0: the only one
		bind    elf.SymBind
		section string
		aliases []string
		cold    []string
		coldOf  string
		fentry  bool
	}
	tests := []struct {
		name, fixture, obj string
		count              int // len(Funcs)
		want               []want
	}{
		{"icf/same1 and same2 share an address", "icf", "icf.o", 6, []want{
			{name: "same1", bind: elf.STB_LOCAL, section: ".text", aliases: []string{"same2"}},
			{name: "same2", bind: elf.STB_LOCAL, section: ".text", aliases: []string{"same1"}},
			{name: "g1", bind: elf.STB_GLOBAL, section: ".text"},
			{name: "g2", bind: elf.STB_GLOBAL, section: ".text"},
		}},
		{"icf/no folding", "icf", "noicf.o", 6, []want{
			{name: "same1", bind: elf.STB_LOCAL, section: ".text"},
			{name: "same2", bind: elf.STB_LOCAL, section: ".text"},
		}},
		{"cold/pieces", "cold", "cold.o", 5, []want{
			{name: "process", bind: elf.STB_GLOBAL, section: ".text", cold: []string{"process.cold"}},
			{name: "process.cold", bind: elf.STB_LOCAL, section: ".text.unlikely", coldOf: "process"},
			{name: "helper", bind: elf.STB_LOCAL, section: ".text", cold: []string{"helper.cold"}},
			{name: "helper.cold", bind: elf.STB_LOCAL, section: ".text.unlikely", coldOf: "helper"},
			{name: "use_helper", bind: elf.STB_GLOBAL, section: ".text"},
		}},
		{"cold/function-sections", "cold", "cold-fs.o", 5, []want{
			{name: "process", bind: elf.STB_GLOBAL, section: ".text.process", cold: []string{"process.cold"}},
			{name: "process.cold", bind: elf.STB_LOCAL, section: ".text.unlikely.process", coldOf: "process"},
		}},
		{"sympos/a.o alone", "sympos", "a.o", 3, []want{
			{name: "scale", bind: elf.STB_LOCAL, section: ".text"},
		}},
		{"sympos/both.o: old_sympos 1 and 2", "sympos", "both.o", 6, []want{
			{name: "scale", sympos: 1, bind: elf.STB_LOCAL, section: ".text"},
			{name: "scale", sympos: 2, bind: elf.STB_LOCAL, section: ".text"},
			{name: "only_a", bind: elf.STB_LOCAL, section: ".text"},
			{name: "b_entry", bind: elf.STB_GLOBAL, section: ".text"},
		}},
	}
	fentryCases := []struct{ obj, how string }{
		{"fentry.o", "call __fentry__ and __mcount_loc"},
		{"fentry-nop.o", "5-byte nop listed in __mcount_loc"},
		{"fentry-call.o", "call __fentry__ only"},
		{"fentry-pie.o", "call through the GOT"},
		{"fentry-pfe.o", "__patchable_function_entries"},
		{"fentry.elf", "linked: call to __fentry__'s address"},
		{"fentry-nop.elf", "linked: nop listed in __mcount_loc"},
	}
	for _, fc := range fentryCases {
		count := 4
		ws := []want{
			{name: "traced_static", bind: elf.STB_LOCAL, section: ".text", fentry: true},
			{name: "traced", bind: elf.STB_GLOBAL, section: ".text", fentry: true},
			{name: "leaf_traced", bind: elf.STB_GLOBAL, section: ".text", fentry: true},
			{name: "notrace_fn", bind: elf.STB_GLOBAL, section: ".text"},
		}
		if strings.HasSuffix(fc.obj, ".elf") {
			count = 6
			ws = append(ws, want{name: "__fentry__", bind: elf.STB_GLOBAL, section: ".text"})
		}
		tests = append(tests, struct {
			name, fixture, obj string
			count              int
			want               []want
		}{"fentry/" + fc.how, "fentry", fc.obj, count, ws})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := openFixture(t, tc.fixture, tc.obj)
			if len(f.Funcs) != tc.count {
				var names []string
				for _, fn := range f.Funcs {
					names = append(names, fn.Name)
				}
				t.Errorf("%s: %d functions %v, want %d", tc.obj, len(f.Funcs), names, tc.count)
			}
			for _, w := range tc.want {
				fns := f.Lookup(w.name)
				var fn *Func
				for _, c := range fns {
					if c.Sympos == w.sympos {
						fn = c
					}
				}
				if fn == nil {
					t.Errorf("%s: no function %s with Sympos %d (have %d named so)", tc.obj, w.name, w.sympos, len(fns))
					continue
				}
				got := want{name: fn.Name, sympos: fn.Sympos, bind: fn.Bind, section: fn.Section,
					aliases: fn.Aliases, cold: fn.Cold, coldOf: fn.ColdOf, fentry: fn.Fentry}
				if !reflect.DeepEqual(got, w) {
					t.Errorf("%s: %s\n got %+v\nwant %+v", tc.obj, w.name, got, w)
				}
				if at := f.FuncAt(fn.Shndx, fn.Value+fn.Size/2); at == nil || at.Value != fn.Value {
					t.Errorf("%s: FuncAt(%d, %#x) = %v, want the code of %s", tc.obj, fn.Shndx, fn.Value+fn.Size/2, at, fn.Name)
				}
			}
		})
	}
}

// TestLookups checks the query helpers on one object.
func TestLookups(t *testing.T) {
	f := openFixture(t, "objcalls", "objcalls.o")
	tests := []struct {
		name  string
		query func() []Ref
		want  []string
	}{
		{"Callers(leaf)", func() []Ref { return f.Callers("leaf") }, []string{
			"cond_tail TailCall leaf", "junk Call leaf", "mid Call leaf", "mid Call leaf", "tail TailCall leaf"}},
		{"Callers(op_open)", func() []Ref { return f.Callers("op_open") }, []string{"my_ops DataRef op_open reloc"}},
		{"Callees(top)", func() []Ref { return f.Callees("top") }, []string{
			"top Call cond_tail reloc", "top Call ext_helper reloc", "top Call mid"}},
		{"Callees(nothing)", func() []Ref { return f.Callees("no_such_function") }, []string{}},
		{"RefsTo(cb)", func() []Ref { return f.RefsTo(f.Lookup("cb")[0]) }, []string{"setup AddrRef cb reloc"}},
		{"RefsFrom(mid)", func() []Ref { return f.RefsFrom(f.Lookup("mid")[0]) }, []string{"mid Call leaf", "mid Call leaf"}},
	}
	icf := openFixture(t, "icf", "icf.o")
	both := openFixture(t, "sympos", "both.o")
	scale2 := both.Lookup("scale")[1]
	tests = append(tests, []struct {
		name  string
		query func() []Ref
		want  []string
	}{
		{"Callers(same2) sees the folded body", func() []Ref { return icf.Callers("same2") }, []string{"use1 Call same1", "use2 Call same1"}},
		{"RefsTo(scale, sympos 2)", func() []Ref { return both.RefsTo(scale2) }, []string{"b_entry Call scale [0->2]", "b_other Call scale [0->2]"}},
	}...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := edges(tc.query())
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
	t.Run("FuncAt outside code", func(t *testing.T) {
		if fn := f.FuncAt(1, 1<<40); fn != nil {
			t.Errorf("FuncAt far away = %s", fn.Name)
		}
		if fn := f.FuncAt(9999, 0); fn != nil {
			t.Errorf("FuncAt(bad section) = %s", fn.Name)
		}
	})
	t.Run("Lookup missing", func(t *testing.T) {
		if fns := f.Lookup("nope"); fns != nil {
			t.Errorf("Lookup(nope) = %v", fns)
		}
	})
}

// TestAgainstObjdump cross-checks every fixture object's calls and jumps
// with objdump -dr.
func TestAgainstObjdump(t *testing.T) {
	for _, o := range fixtureObjects {
		t.Run(o.fixture+"/"+o.obj, func(t *testing.T) {
			f := openFixture(t, o.fixture, o.obj)
			problems, checked := objdumpMismatches(t, f)
			for _, p := range problems {
				t.Error(p)
			}
			if checked == 0 && !strings.HasPrefix(o.obj, "fentry") {
				t.Errorf("%s: objdump showed no call between functions", o.obj)
			}
		})
	}
}

// TestAgainstDWARF cross-checks every fixture object's calls with the
// call sites gcc recorded in DWARF.
func TestAgainstDWARF(t *testing.T) {
	for _, o := range fixtureObjects {
		t.Run(o.fixture+"/"+o.obj, func(t *testing.T) {
			f := openFixture(t, o.fixture, o.obj)
			if !f.HasDWARF {
				t.Fatalf("%s: no DWARF (fixtures are built with -g)", o.obj)
			}
			problems, checked := dwarfMismatches(t, f)
			for _, p := range problems {
				t.Error(p)
			}
			t.Logf("%s: %d DWARF call sites checked", o.obj, checked)
			if checked == 0 {
				t.Errorf("%s: DWARF records no call site", o.obj)
			}
		})
	}
}

// TestCallersIndexed: Callers, answered from its index of Refs by
// target, gives for every function of several fixture objects exactly
// the refs a scan of Refs finds (each ref to the name or an alias of
// its code, in Refs' order), asked concurrently.
func TestCallersIndexed(t *testing.T) {
	for _, c := range [][2]string{{"objcalls", "objcalls.o"}, {"icf", "icf.o"}, {"rule-callers", "plain.o"}, {"rule-callers", "ftrace.o"}, {"clones", "clones.o"}} {
		f := openFixture(t, c[0], c[1])
		var wg sync.WaitGroup
		for _, fn := range f.Funcs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ns := f.names(fn.Name)
				var want []Ref
				for _, r := range f.Refs {
					if slices.Contains(ns, r.To) {
						want = append(want, r)
					}
				}
				if got := f.Callers(fn.Name); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: Callers(%s) = %v, a scan finds %v", c[1], fn.Name, got, want)
				}
			}()
		}
		wg.Wait()
	}
}
