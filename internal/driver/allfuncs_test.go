package driver

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/report"
	"github.com/klp-audit/klp-audit/rules"
)

// TestAllFunctions: every line of impacted --all-functions is, for its
// function and unit, the answer of impacted --func F --tu TU
// --dumps-only: the same holders, depths, transformations, parents
// (the last step of each chain), dump lines and cycles; every function
// of every unit with a dump has its line; and the stream is the same
// from the index as from the build.
func TestAllFunctions(t *testing.T) {
	for _, name := range []string{"clones", "cycle", "header", "lto", "simd", "statics", "rule-containment"} {
		t.Run(name, func(t *testing.T) {
			dir := fixture.Build(t, name)
			o := Options{Builds: []string{dir}, Index: IndexOff}
			var out bytes.Buffer
			n, err := AllFunctions(o, &out)
			if err != nil {
				t.Fatal(err)
			}
			full, err := Load(o)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, tu := range full.graph.TUs() {
				for _, nm := range full.graph.Names() {
					for _, id := range full.graph.Lookup(nm) {
						if id.TU == tu.Name && len(tu.Dumps) > 0 {
							want++
						}
					}
				}
			}
			if n != want || n == 0 {
				t.Errorf("%d answers, want one per function of every unit with a dump: %d", n, want)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			for _, ln := range lines {
				var l report.FunctionLine
				if err := json.Unmarshal([]byte(ln), &l); err != nil {
					t.Fatalf("%v: %s", err, ln)
				}
				a, err := full.Impacted(ImpactQuery{Func: l.Function, TU: l.TU, DumpsOnly: true}, rules.DefaultPolicy(), nil)
				if err != nil {
					t.Fatalf("%s@%s: %v", l.Function, l.TU, err)
				}
				var got, exp []string
				for _, h := range l.Holding {
					got = append(got, strings.Join([]string{h.Name, h.From, h.How, itoa(h.Depth), l.Dumps[h.Dump] + ":" + itoa(h.DumpLine), boolS(h.InCycle), boolS(h.Removed)}, " "))
				}
				for _, e := range a.Result.Entries {
					if e.Depth == 0 {
						continue
					}
					st := e.Chain[len(e.Chain)-1]
					exp = append(exp, strings.Join([]string{e.Name, st.From, st.How, itoa(e.Depth), st.Evidence, boolS(e.InCycle), boolS(e.RemovedInDump)}, " "))
				}
				if strings.Join(got, "\n") != strings.Join(exp, "\n") {
					t.Errorf("%s@%s:\n got %q\nwant %q", l.Function, l.TU, got, exp)
				}
			}
			ix := buildIndex(t, Options{Builds: []string{dir}})
			var fromIndex bytes.Buffer
			if _, err := AllFunctions(Options{Builds: []string{dir}, Index: ix}, &fromIndex); err != nil {
				t.Fatal(err)
			}
			if fromIndex.String() != out.String() {
				t.Error("--all-functions from the index differs from the build's")
			}
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func boolS(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
