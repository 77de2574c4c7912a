package objdiff

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// TestCorruptObjects reads fixture objects with random bytes damaged and
// compares them: no panic, no hang. It complements FuzzObject, which the
// fuzzing engine drives slowly on inputs this large; this is how the
// null-entry loop in testdata/fuzz/FuzzObject was found.
func TestCorruptObjects(t *testing.T) {
	var seeds [][]byte
	for _, fx := range []string{"diff-line", "diff-cold", "diff-clones", "diff-statics"} {
		objs, _ := filepath.Glob(filepath.Join(fixture.Build(t, fx), "*.o"))
		for _, p := range objs {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			seeds = append(seeds, b)
		}
	}
	ref, err := NewObject(bytes.NewReader(seeds[0]), "ref.o")
	if err != nil {
		t.Fatal(err)
	}
	n := 3000
	if testing.Short() {
		n = 300
	}
	r := rand.New(rand.NewSource(1))
	opened := 0
	for i := 0; i < n; i++ {
		b := append([]byte(nil), seeds[r.Intn(len(seeds))]...)
		for j := 1 + r.Intn(8); j > 0; j-- {
			p := r.Intn(len(b))
			switch r.Intn(3) {
			case 0:
				b[p] = byte(r.Intn(256))
			case 1:
				b[p] ^= 1 << uint(r.Intn(8))
			default:
				b[p] = 0xff
			}
		}
		o, err := NewObject(bytes.NewReader(b), "damaged.o")
		if err != nil {
			continue
		}
		opened++
		Compare(o, o)
		Compare(ref, o)
		Compare(o, ref)
	}
	t.Logf("%d of %d damaged objects opened and compared", opened, n)
}
