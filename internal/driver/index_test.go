package driver

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klp-audit/klp-audit/index"
	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/object"
	"github.com/klp-audit/klp-audit/report"
)

// noted removes the index's note from a's result (the only thing an
// answer from the index may add) and returns it, "" when there is none.
func noted(a *Answer) string {
	if a == nil || a.Result == nil {
		return ""
	}
	var keep []string
	n := ""
	for _, x := range a.Result.Notes {
		if strings.HasPrefix(x, indexNotePrefix) || strings.HasPrefix(x, "index ") && strings.Contains(x, " not used") {
			n = x
			continue
		}
		keep = append(keep, x)
	}
	a.Result.Notes = keep
	return n
}

// compareIndexed answers each query from the index at ix and from the
// build alone, and fails on any difference but the index's note.
func compareIndexed(t *testing.T, o Options, ix string, queries []ImpactQuery) []string {
	t.Helper()
	var out []string
	for _, q := range queries {
		o.Index = IndexOff
		plain, perr := Impacted(o, q)
		o.Index = ix
		indexed, ierr := Impacted(o, q)
		if n := noted(indexed); ierr == nil && !strings.HasPrefix(n, indexNotePrefix) {
			t.Errorf("%s: the answer does not say it came from the index (note %q)", q.Func, n)
		}
		p, i := answerText(t, plain, perr), answerText(t, indexed, ierr)
		if p != i {
			t.Errorf("%s (dumps-only %v, no-rules %v): the answer from the index differs from the build's:\n%s", q.Func, q.DumpsOnly, q.NoRules, firstDiff(i, p))
		}
		out = append(out, i)
	}
	return out
}

// buildIndex indexes o into a file of the test's own.
func buildIndex(t *testing.T, o Options) string {
	t.Helper()
	o.Index = filepath.Join(t.TempDir(), "build.idx")
	rep, err := BuildIndex(o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Dumps == 0 && rep.Objects == 0 {
		t.Fatalf("the index of %v holds nothing", o.Builds)
	}
	return o.Index
}

// TestIndexFixtures: over every compiled fixture, every question about
// each function a dump names or an object defines is answered from the
// index as from the build, byte for byte but the note, with the rules,
// without them and from the dumps alone.
func TestIndexFixtures(t *testing.T) {
	for _, name := range []string{"clones", "cycle", "fentry", "header", "klp-check", "klp-sympos", "livepatch-flags", "lto",
		"rule-abi", "rule-callers", "rule-containment", "rule-icf", "rule-notpatchable", "simd", "statics", "cold", "icf", "objcalls"} {
		t.Run(name, func(t *testing.T) {
			dir := fixture.Build(t, name)
			o := Options{Builds: []string{dir}, Index: IndexOff}
			full, err := Load(o)
			if err != nil {
				t.Fatal(err)
			}
			ix := buildIndex(t, o)
			var qs []ImpactQuery
			seen := map[string]bool{}
			for _, f := range append(append(full.graph.Names(), full.definers().WithPrefix("")...), "no_such_function") {
				if !seen[f] {
					seen[f] = true
					qs = append(qs, ImpactQuery{Func: f}, ImpactQuery{Func: f, NoRules: true}, ImpactQuery{Func: f, DumpsOnly: true})
				}
			}
			compareIndexed(t, o, ix, qs)
		})
	}
}

// TestIndexKernel: over the kernel fixture (kernel/ and mm/), questions
// of every kind (statics, header inlines in dozens of units, clones by
// name, notrace functions whose callers are in other objects, functions
// in no dump, globals, misspelt names) are answered from the index as
// from the build.
func TestIndexKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	tree := fixture.KernelTree(t)
	shareObjects(t)
	o := Options{Builds: []string{tree}}
	ix := buildIndex(t, o)
	var qs []ImpactQuery
	for _, f := range []string{"should_skip_region", "oom_unkillable_task", "tlb_batch_pages_flush", "percpu_ref_put_many",
		"css_put", "folio_put", "percpu_ref_put_many.constprop.0", "should_skip_region.part.0", "__next_mem_range",
		"memblock_add", "memblock_free", "__delayed_free_task", "__alloc_pages", "schedule", "copy_process",
		"out_of_memory", "vfree", "get_task_mm", "percpu_ref_put_mny", "klp_audit_no_such_function"} {
		qs = append(qs, ImpactQuery{Func: f})
	}
	qs = append(qs, ImpactQuery{Func: "put_page", File: "include/linux/mm.h", NoRules: true},
		ImpactQuery{Func: "rcu_read_lock", DumpsOnly: true})
	ans := compareIndexed(t, o, ix, qs)
	if !strings.Contains(ans[0], `"name": "__next_mem_range"`) {
		t.Errorf("should_skip_region's answer does not name __next_mem_range:\n%.2000s", ans[0])
	}
}

// TestIndexRefused: an index that is truncated, has a byte changed (in
// its header, its table of contents or a blob) or is of another version
// is refused on open, and a query says so in a note and answers from the
// build, as without the index.
func TestIndexRefused(t *testing.T) {
	dir := fixture.Build(t, "rule-callers")
	o := Options{Builds: []string{dir}}
	ix := buildIndex(t, o)
	good, err := os.ReadFile(ix)
	if err != nil {
		t.Fatal(err)
	}
	f, err := index.Open(ix)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	q := ImpactQuery{Func: "leafy"}
	o.Index = IndexOff
	plain, err := Impacted(o, q)
	want := answerText(t, plain, err)
	for _, c := range []struct {
		name   string
		mutate func([]byte) []byte
		msg    string
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, "truncated"},
		{"header byte", func(b []byte) []byte { b[20] ^= 1; return b }, "checksum"},
		{"table of contents byte", func(b []byte) []byte { b[len(b)-2] ^= 0x40; return b }, "checksum"},
		{"first blob byte", func(b []byte) []byte { b[48] ^= 0x40; return b }, ""},
		{"version", func(b []byte) []byte { b[8] = 99; return b }, "version"},
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, "magic"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "bad.idx")
			if err := os.WriteFile(bad, c.mutate(append([]byte(nil), good...)), 0o644); err != nil {
				t.Fatal(err)
			}
			o.Index = bad
			a, err := Impacted(o, q)
			n := noted(a)
			got := answerText(t, a, err)
			if c.msg != "" {
				if _, err := index.Open(bad); err == nil || !strings.Contains(err.Error(), c.msg) {
					t.Errorf("Open = %v, want an error saying %q", err, c.msg)
				}
				if !strings.HasPrefix(n, "index "+bad+" not used") {
					t.Errorf("the answer does not say the index was refused: note %q", n)
				}
			}
			// A blob's damage is found when the blob is read: that
			// file is then read from the build.
			if got != want {
				t.Errorf("the answer with a damaged index differs from the build's:\n%s", firstDiff(got, want))
			}
		})
	}
}

// countOpens counts the objects read from the build (not the index).
func countOpens(t *testing.T) *atomic.Int64 {
	var n atomic.Int64
	openObject = func(p string) (*object.File, error) {
		n.Add(1)
		return object.Open(p)
	}
	t.Cleanup(func() { openObject = object.Open })
	return &n
}

// TestIndexTouch: with a fresh index a query reads no object from the
// build; after one object changes (a function symbol renamed with
// objcopy), the next query reads that object alone from the build, says
// so, and its answer shows the change: it is the build's own answer.
// Indexing again reads only that object.
func TestIndexTouch(t *testing.T) {
	fixture.NeedTools(t, "objcopy")
	dir := fixture.Build(t, "rule-notpatchable")
	o := Options{Builds: []string{dir}}
	ix := buildIndex(t, o)
	o.Index = ix
	opens := countOpens(t)
	q := ImpactQuery{Func: "nt"}
	before, err := Impacted(o, q)
	if err != nil {
		t.Fatal(err)
	}
	if n := opens.Load(); n != 0 {
		t.Errorf("a query over a fresh index read %d objects from the build, want 0", n)
	}
	obj := filepath.Join(dir, "ftrace.o")
	if out, err := exec.Command("objcopy", "--redefine-sym", "p1=p1_renamed", obj).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, out)
	}
	opens.Store(0)
	after, err := Impacted(o, q)
	if err != nil {
		t.Fatal(err)
	}
	if n := opens.Load(); n != 1 {
		t.Errorf("after touching one object the query read %d objects from the build, want 1", n)
	}
	note := noted(after)
	a, b := answerText(t, after, nil), answerText(t, before, nil)
	if !strings.Contains(a, "p1_renamed") || strings.Contains(b, "p1_renamed") {
		t.Errorf("the answer does not show the change (p1 renamed p1_renamed):\n%.3000s", a)
	}
	if !strings.Contains(note, "1 file changed since it was built and were read from the build ("+obj+")") {
		t.Errorf("the answer does not say which file was read again: note %q", note)
	}
	o.Index = IndexOff
	plain, err := Impacted(o, q)
	if p := answerText(t, plain, err); a != p {
		t.Errorf("the answer after the change differs from the build's:\n%s", firstDiff(a, p))
	}
	o.Index = ix
	rep, err := BuildIndex(o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ObjectsRead != 1 || rep.DumpsRead != 0 {
		t.Errorf("indexing again read %d objects and %d dumps, want the touched object alone", rep.ObjectsRead, rep.DumpsRead)
	}
	final, _ := Impacted(o, q)
	if n := noted(final); !strings.Contains(n, "every file it names is unchanged") {
		t.Errorf("after indexing again the index is not fresh: note %q", n)
	}
}

// TestIndexConcurrentWrites: indexing one build from several goroutines
// at once while others open the index leaves one whole index (every open
// succeeds or finds no file yet, none sees a partial one) and no
// temporary file behind.
func TestIndexConcurrentWrites(t *testing.T) {
	dir := fixture.Build(t, "clones")
	ix := filepath.Join(t.TempDir(), "build.idx")
	o := Options{Builds: []string{dir}, Index: ix}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := BuildIndex(o); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				f, err := index.Open(ix)
				if os.IsNotExist(err) {
					continue
				}
				if err != nil {
					t.Errorf("a reader saw a partial index: %v", err)
					return
				}
				f.Close()
			}
		}()
	}
	wg.Wait()
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(ix), "*"))
	if len(left) != 1 {
		t.Errorf("files in the index directory: %v, want the index alone", left)
	}
	if a, err := Impacted(o, ImpactQuery{Func: "leafy"}); err != nil || !strings.Contains(noted(a), "every file it names is unchanged") {
		t.Errorf("the index written concurrently is not used: %v", err)
	}
}

// TestIndexKbuildLists: which klp_object links a unit (a .mod file that
// lists it) and whether any does (a built-in.a that no longer lists it)
// come from the index while kbuild's lists are unchanged, and from the
// lists themselves once one is rewritten in place (the directory's
// mtime unchanged): each answer is the build's own. kbuild's lists are
// written as kbuild writes them (ar cDPrST for the thin archive).
func TestIndexKbuildLists(t *testing.T) {
	fixture.NeedTools(t, "ar")
	dir := fixture.Build(t, "rule-notpatchable")
	scratch := t.TempDir()
	write := func(p string, b []byte, mtime time.Time) {
		t.Helper()
		// In place: the file keeps its inode, the directory its mtime.
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err == nil {
			_, err = f.Write(b)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err == nil {
			err = os.Chtimes(p, mtime, mtime)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// A thin archive of members, made in scratch under the same names.
	archive := func(members ...string) []byte {
		t.Helper()
		os.Remove(filepath.Join(scratch, "built-in.a"))
		for _, m := range members {
			b, err := os.ReadFile(filepath.Join(dir, m))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(scratch, m), b, 0o644)
		}
		cmd := exec.Command("ar", append([]string{"cDPrST", "built-in.a"}, members...)...)
		cmd.Dir = scratch
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ar: %v\n%s", err, out)
		}
		b, err := os.ReadFile(filepath.Join(scratch, "built-in.a"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	later := time.Now().Add(time.Hour)
	// A kernel tree as livepatch.DetectBuild tells one.
	write(filepath.Join(dir, ".config"), []byte("#\n# Linux/x86 6.1.0 Kernel Configuration\n#\n"), later)
	write(filepath.Join(dir, "Kbuild"), nil, later)
	write(filepath.Join(dir, "fix.mod"), []byte("ftrace.o\n"), later)
	write(filepath.Join(dir, "built-in.a"), archive("ftrace.o", "ftrace2.o", "plain.o"), later)
	o := Options{Builds: []string{dir}}
	ix := buildIndex(t, o)
	// nt is notrace: its callers p1 and p2 (ftrace.o) are replaced.
	q := []ImpactQuery{{Func: "nt"}}
	klpObjects := func(ans string) string {
		var r report.Result
		if err := json.Unmarshal([]byte(ans[strings.Index(ans, "{"):]), &r); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tg := range r.Targets {
			out = append(out, tg.Name+"@"+tg.TU+":"+tg.KLPObject)
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	for _, step := range []struct {
		what, want string
		change     func()
	}{
		{"as indexed", "p1@ftrace.o:fix p2@ftrace.o:fix", func() {}},
		{"fix.mod rewritten to list plain.o", "p1@ftrace.o:vmlinux p2@ftrace.o:vmlinux", func() {
			write(filepath.Join(dir, "fix.mod"), []byte("plain.o\n"), later.Add(time.Second))
		}},
		{"built-in.a rewritten without ftrace.o", "", func() {
			write(filepath.Join(dir, "built-in.a"), archive("ftrace2.o", "plain.o"), later.Add(2*time.Second))
		}},
	} {
		step.change()
		ans := compareIndexed(t, Options{Builds: []string{dir}}, ix, q)
		if got := klpObjects(ans[0]); got != step.want {
			t.Errorf("%s: the targets' klp_object are %q, want %q", step.what, got, step.want)
		}
	}
}
