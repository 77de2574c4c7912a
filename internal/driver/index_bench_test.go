package driver

import (
	"io"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/internal/par"
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

// BenchmarkStatFloor is the least a query with a fresh index must do
// before it may answer: stat every file and directory the index names,
// on every core, and nothing else (no comparison, no allocation kept).
// Set beside BenchmarkIndexedQuery it shows how much of a query is this
// floor; on the eight-directory tree it is about 13,000 stats.
//
//	go test ./internal/driver -run '^$' -bench 'StatFloor|IndexedQuery' -benchtime 50x
func BenchmarkStatFloor(b *testing.B) {
	tree := fixture.KernelFullTree(b)
	o := Options{Builds: []string{tree}, Index: filepath.Join(b.TempDir(), "idx")}
	if _, err := BuildIndex(o); err != nil {
		b.Fatal(err)
	}
	x, err := openIndexFile(o.Index)
	if err != nil {
		b.Fatal(err)
	}
	defer x.close()
	t := x.toc
	var paths []string
	for _, d := range t.Dumps {
		paths = append(paths, d.Dump.Path)
	}
	for _, ob := range t.Objects {
		paths = append(paths, ob.Path)
	}
	for _, d := range t.Dirs {
		paths = append(paths, d.Path)
	}
	for _, k := range t.Kbuild {
		paths = append(paths, k.Path)
	}
	b.ResetTimer()
	for range b.N {
		par.Each(len(paths), runtime.GOMAXPROCS(0), func(i int) {
			var st syscall.Stat_t
			_ = syscall.Stat(paths[i], &st)
		})
	}
	b.ReportMetric(float64(len(paths)), "stats/op")
}

// BenchmarkWalkFloor is the least a query without an index must do
// before it may answer about any function: list every directory of the
// build (which of them kbuild entered is not known otherwise) and read
// every dump whole, on every core, and nothing else: no line is checked,
// no name searched, no object read. BenchmarkColdQuery is the query
// itself.
//
//	go test ./internal/driver -run '^$' -bench 'WalkFloor|ColdQuery' -benchtime 10x
func BenchmarkWalkFloor(b *testing.B) {
	tree := fixture.KernelFullTree(b)
	var dirs, dumps []string
	err := filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			dirs = append(dirs, p)
		case strings.HasSuffix(p, ".ipa-clones") && d.Type().IsRegular():
			dumps = append(dumps, p)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		par.Each(len(dirs), runtime.GOMAXPROCS(0), func(i int) {
			fd, err := syscall.Open(dirs[i], syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
			if err != nil {
				return
			}
			var buf [32 << 10]byte
			for {
				n, err := syscall.ReadDirent(fd, buf[:])
				if err != nil || n <= 0 {
					break
				}
			}
			syscall.Close(fd)
		})
		par.Each(len(dumps), runtime.GOMAXPROCS(0), func(i int) {
			fd, err := syscall.Open(dumps[i], syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
			if err != nil {
				return
			}
			var buf [64 << 10]byte
			for {
				n, err := syscall.Read(fd, buf[:])
				if err != nil || n <= 0 {
					break
				}
			}
			syscall.Close(fd)
		})
	}
	b.ReportMetric(float64(len(dirs)), "dirs/op")
	b.ReportMetric(float64(len(dumps)), "dumps/op")
}

// BenchmarkColdQuery is "impacted --func percpu_ref_put_many --dumps-only"
// on the eight-directory kernel build without an index, in process: the
// query BenchmarkWalkFloor is the floor of.
func BenchmarkColdQuery(b *testing.B) {
	tree := fixture.KernelFullTree(b)
	o := Options{Builds: []string{tree}, Index: IndexOff}
	q := ImpactQuery{Func: "percpu_ref_put_many", DumpsOnly: true}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		a, err := Impacted(o, q)
		if err != nil {
			b.Fatal(err)
		}
		if a.Result == nil || len(a.Result.Entries) == 0 {
			b.Fatal("no entries")
		}
	}
}
