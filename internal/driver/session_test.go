package driver

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/object"
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
