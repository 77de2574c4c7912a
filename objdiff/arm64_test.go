package objdiff

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestARM64 compares two AArch64 objects assembled from testdata/arm64
// (see the header of orig.s for what they hold).
func TestARM64(t *testing.T) {
	mc, err := exec.LookPath("llvm-mc")
	if err != nil {
		t.Skip("llvm-mc not installed")
	}
	dir := t.TempDir()
	var objs []*Object
	for _, n := range []string{"orig", "patched"} {
		obj := filepath.Join(dir, n+".o")
		if out, err := exec.Command(mc, "-triple=aarch64-linux-gnu", "-filetype=obj", "-o", obj, filepath.Join("testdata", "arm64", n+".s")).CombinedOutput(); err != nil {
			t.Fatalf("llvm-mc: %v\n%s", err, out)
		}
		o, err := Open(obj)
		if err != nil {
			t.Fatal(err)
		}
		if o.lines == nil {
			t.Fatalf("%s: no line table (%v)", n, o.linesErr)
		}
		objs = append(objs, o)
	}
	// bl callee is resolved by the assembler and its displacement moved.
	blAt := func(o *Object) []byte {
		fn := o.File.Lookup("caller")[0]
		code, relocs, _ := o.File.Code(fn)
		for _, r := range relocs {
			if r.Off == fn.Value+4 {
				t.Fatalf("bl callee has a relocation; the test expects none")
			}
		}
		return code[4:8]
	}
	if slices.Equal(blAt(objs[0]), blAt(objs[1])) {
		t.Errorf("bl callee encodes the same on both sides; the test expects its displacement to move")
	}
	d := Compare(objs[0], objs[1])
	expect(t, d, []string{"greet", "konst"}, []string{"caller"}, []string{"pad"}, nil, 1)
	if c := change(d, "caller"); c == nil || !slices.Equal(c.LineShifts, []LineShift{{Piece: "caller", Offset: 8, Where: "immediate", Orig: 21, Patched: 24}}) {
		t.Errorf("caller: %+v", c)
	}
	if c := change(d, "konst"); c == nil || c.Reason != ReasonImmediate {
		t.Errorf("konst: %+v", c)
	}
	if c := change(d, "greet"); c == nil || c.First == nil || !strings.Contains(c.First.Orig, `"hello"`) || !strings.Contains(c.First.Patched, `"hello, world"`) {
		t.Errorf("greet: %+v", c)
	}
}
