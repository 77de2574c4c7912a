package driver

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/report"
)

// BenchmarkIndexedQuery runs "impacted --func percpu_ref_put_many" with
// the rules, and writes its JSON, on the eight-directory kernel build, from a fresh index
// (built once, in a temporary directory): the work of one query of the
// CLI, in process, to profile it (-cpuprofile, -memprofile).
//
//	go test ./internal/driver -run '^$' -bench IndexedQuery -benchtime 20x -cpuprofile /tmp/q.prof
func BenchmarkIndexedQuery(b *testing.B) {
	tree := fixture.KernelFullTree(b)
	o := Options{Builds: []string{tree}, Index: filepath.Join(b.TempDir(), "idx")}
	if _, err := BuildIndex(o); err != nil {
		b.Fatal(err)
	}
	q := ImpactQuery{Func: "percpu_ref_put_many"}
	// The first query keeps the dump checks beside the index (see
	// indexchecks.go), as the CLI's first query does.
	if _, err := Impacted(o, q); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a, err := Impacted(o, q)
		if err != nil {
			b.Fatal(err)
		}
		if a.Result == nil || len(a.Result.Targets) == 0 {
			b.Fatal("no targets")
		}
		if err := report.Render(io.Discard, a.Result, report.JSON); err != nil {
			b.Fatal(err)
		}
	}
}
