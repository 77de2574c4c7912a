package object

import (
	"path/filepath"
	"reflect"
	"testing"
)

// TestImageRoundTrip: every object of the compiled fixtures, given back
// from its image, is the File read from disk (functions, refs, lookup
// tables), so an index that keeps images answers as the objects do.
func TestImageRoundTrip(t *testing.T) {
	n := 0
	for _, name := range []string{"clones", "cold", "icf", "objcalls", "fentry", "simd", "lto"} {
		objs, _ := filepath.Glob(filepath.Join(fixtureDir(t, name), "*.o"))
		for _, p := range objs {
			f, err := Open(p)
			if err != nil {
				continue
			}
			n++
			if g := FromImage(f.Image()); !reflect.DeepEqual(f, g) {
				t.Errorf("%s: the File from its image differs from the File read:\n%+v\n%+v", p, f, g)
			}
		}
	}
	if n == 0 {
		t.Fatal("no fixture object read")
	}
}
