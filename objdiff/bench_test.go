package objdiff

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// BenchmarkCompareKernel reads two copies of a kernel object (the cached
// build's mm/page_alloc.o, 150 functions) and compares them: what one
// object pair of a tree comparison costs.
//
//	go test -run XXX -bench CompareKernel -benchmem ./objdiff
func BenchmarkCompareKernel(b *testing.B) {
	tree := fixture.KernelTree(b)
	path := filepath.Join(tree, "mm/page_alloc.o")
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(2 * fi.Size())
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		a, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		c, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if d := Compare(a, c); d.Unchanged == 0 {
			b.Fatal("nothing compared")
		}
	}
}
