package objdiff

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// maxFuzzObject bounds each input of FuzzCompare: the comparison is
// meant to be linear in the object (a few quadratic steps are bounded by
// the number of same-named candidates), so larger inputs only slow the
// fuzzer down.
const maxFuzzObject = 256 << 10

// FuzzCompare compares two hostile objects, each way and each with
// itself: no panic, no hang, and an object compared with itself has no
// added or removed function. Seeds are the orig/patched pairs of the
// diff fixtures (renumbered clones, renamed statics, __LINE__ without
// DWARF, data changes).
func FuzzCompare(f *testing.F) {
	for _, fx := range []struct{ name, orig, patched string }{
		{"diff-clones", "orig.o", "patched.o"},
		{"diff-clones", "orig-nog.o", "patched-nog.o"},
		{"diff-statics", "orig.o", "patched.o"},
		{"diff-mightsleep", "orig.o", "patched.o"},
		{"diff-data", "orig.o", "patched.o"},
		{"diff-cold", "orig.o", "patched.o"},
	} {
		dir := fixture.Build(f, fx.name)
		a, err := os.ReadFile(filepath.Join(dir, fx.orig))
		if err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, fx.patched))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(a, b)
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if len(a) > maxFuzzObject || len(b) > maxFuzzObject {
			return
		}
		o1, err1 := NewObject(bytes.NewReader(a), "orig.o")
		o2, err2 := NewObject(bytes.NewReader(b), "patched.o")
		start := time.Now()
		if err1 == nil {
			if d := Compare(o1, o1); len(d.Added)+len(d.Removed) > 0 {
				t.Errorf("an object compared with itself has added or removed functions: %+v", d)
			}
		}
		if err1 == nil && err2 == nil {
			Compare(o1, o2)
			Compare(o2, o1)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("comparison took %v", el)
		}
	})
}
