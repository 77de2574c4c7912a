package driver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/object"
	"github.com/klp-audit/klp-audit/report"
)

// countLoads counts the Loads and the objects opened for the session's
// cache while the test runs.
func countLoads(t *testing.T) (loads *int, opens map[string]int) {
	t.Helper()
	var mu sync.Mutex
	loads, opens = new(int), map[string]int{}
	onLoad = func(Options) { *loads++ }
	openObject = func(p string) (*object.File, error) {
		mu.Lock()
		opens[p]++
		mu.Unlock()
		return object.Open(p)
	}
	t.Cleanup(func() { onLoad, openObject = nil, object.Open })
	return loads, opens
}

// TestCheckLoadsOnce: a fix changing two functions is checked over one
// reading of the build, each object opened once, whatever the number of
// changed functions.
func TestCheckLoadsOnce(t *testing.T) {
	fixture.NeedTools(t, "diff")
	dir := fixture.Build(t, "klp-check")
	src, err := os.ReadFile(filepath.Join(dir, "check.c"))
	if err != nil {
		t.Fatal(err)
	}
	fixed := strings.Replace(string(src), "\tif (len > 64)\n", "\tif (len > 63)\n", 1)
	fixed = strings.Replace(fixed, "\tm->len = clamp_len(len);\n", "\tm->len = clamp_len(len + 1);\n", 1)
	if fixed == string(src) {
		t.Fatal("the fixture changed: the fix no longer applies")
	}
	work := t.TempDir()
	for _, side := range []string{"a", "b"} {
		os.MkdirAll(filepath.Join(work, side), 0o755)
	}
	os.WriteFile(filepath.Join(work, "a", "check.c"), src, 0o644)
	os.WriteFile(filepath.Join(work, "b", "check.c"), []byte(fixed), 0o644)
	cmd := exec.Command("diff", "-u", "a/check.c", "b/check.c")
	cmd.Dir = work
	d, _ := cmd.Output() // diff exits 1: the files differ
	fix := filepath.Join(work, "fix.patch")
	os.WriteFile(fix, d, 0o644)

	loads, opens := countLoads(t)
	res, err := Check(Options{Builds: []string{dir}}, CheckQuery{Diff: fix, Livepatch: filepath.Join(dir, "complete.c")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changed) != 2 {
		t.Fatalf("changed functions %+v, want clamp_len and read_msg", res.Changed)
	}
	if *loads != 1 {
		t.Errorf("the build was read %d times for %d changed functions, want once", *loads, len(res.Changed))
	}
	if len(opens) == 0 {
		t.Fatal("no object opened: the test proves nothing")
	}
	for p, n := range opens {
		if n != 1 {
			t.Errorf("%s opened %d times", p, n)
		}
	}
}

// TestExplainOpensOnce: explaining a target reads its object once, with
// the code the call sites are disassembled from.
func TestExplainOpensOnce(t *testing.T) {
	dir := fixture.Build(t, "rule-callers")
	_, opens := countLoads(t)
	var code []string
	openObjectCode = func(p string) (*object.File, error) {
		code = append(code, p)
		return object.OpenCode(p)
	}
	t.Cleanup(func() { openObjectCode = object.OpenCode })
	a, err := Impacted(Options{Builds: []string{dir}}, ImpactQuery{Func: "leafy", TU: "plain.o", Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Result.Targets) < 2 {
		t.Fatalf("targets %+v: want leafy and a caller", a.Result.Targets)
	}
	var caller string
	for _, tg := range a.Result.Targets {
		if tg.Name != "leafy" && tg.Name != "leafy.isra.0" {
			caller = tg.Name + "@" + tg.TU
		}
	}
	x, err := a.Explain(caller)
	if err != nil {
		t.Fatal(err)
	}
	sites := 0
	for _, st := range x.Chain {
		sites += len(st.CallSites)
	}
	if sites == 0 {
		t.Fatalf("explain %s: no call site disassembled: %+v", caller, x.Chain)
	}
	if len(opens) != 0 {
		t.Errorf("objects opened without their code too: %v", opens)
	}
	seen := map[string]bool{}
	for _, p := range code {
		if seen[p] {
			t.Errorf("%s opened twice", p)
		}
		seen[p] = true
	}
}

// TestLongChainLinear: a linear inline chain of 8,000 functions (a
// 570 KB dump) is answered, and its JSON written, in memory linear in
// the chain: each entry carries at most report.MaxChain steps, sharing
// their arrays. Copying every entry's whole chain took more than 23 GB.
func TestLongChainLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an 8,000-function answer")
	}
	dir := t.TempDir()
	var b strings.Builder
	const n = 8000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "Callgraph clone;f%d;%d;x.c;%d;1;f%d;%d;x.c;%d;1;inlining to\n", i, i+1, i+1, i+1, i+2, i+2)
	}
	if err := os.WriteFile(filepath.Join(dir, "x.c.000i.ipa-clones"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	a, err := Impacted(Options{Builds: []string{dir}}, ImpactQuery{Func: "f0", DumpsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var out countWriter
	if err := report.Render(&out, a.Result, report.JSON); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := len(a.Result.Entries); got != n+1 {
		t.Fatalf("%d entries, want %d", got, n+1)
	}
	last := a.Result.Entries[len(a.Result.Entries)-1]
	if len(last.Chain) != report.MaxChain || last.ChainOmitted != n-report.MaxChain || last.Chain[len(last.Chain)-1].To != "f8000" {
		t.Errorf("deepest entry %s: %d steps, %d omitted; want the last %d of %d", last.Name, len(last.Chain), last.ChainOmitted, report.MaxChain, n)
	}
	// Quadratic would be n²/2 = 32 million steps; linear is a few
	// hundred bytes per entry. The bound is generous.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<30 {
		t.Errorf("answering and writing allocated %d MB: not linear in the chain", alloc>>20)
	}
	t.Logf("%d entries, JSON %d bytes, %d MB allocated", len(a.Result.Entries), out.n, (after.TotalAlloc-before.TotalAlloc)>>20)
}

// countWriter counts what is written to it.
type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }
