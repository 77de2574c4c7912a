package dwarfinfo

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const extentsSrc = `static int helper(int x)
{
	return x * 3;
}

int entry(int x)
{
	int y = helper(x);

	return y + 1;
}
`

// compileExtents compiles extentsSrc with -g and returns the object.
func compileExtents(t *testing.T) (obj, src string) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	src = filepath.Join(dir, "ext.c")
	if err := os.WriteFile(src, []byte(extentsSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	obj = filepath.Join(dir, "ext.o")
	if out, err := exec.Command("gcc", "-O0", "-g", "-c", "-o", obj, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return obj, src
}

// TestFunctionExtents: each function's extent runs from its
// DW_AT_decl_line to the last line the line table gives code to.
func TestFunctionExtents(t *testing.T) {
	obj, _ := compileExtents(t)
	ext, errs := FunctionExtents([]string{obj}, []string{"ext.c"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got := map[string][2]int{}
	for _, e := range ext["ext.c"] {
		got[e.Name] = [2]int{e.First, e.Last}
	}
	// -O0: every line with a statement or a brace holding code is in the
	// line table; the closing braces are lines 4 and 11.
	want := map[string][2]int{"helper": {1, 4}, "entry": {6, 11}}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s: extent %v, want %v (all: %v)", n, got[n], w, got)
		}
	}
}

// TestFunctionExtentsCorrupt: an object whose DWARF is damaged is named
// in the errors, never skipped as if it had none.
func TestFunctionExtentsCorrupt(t *testing.T) {
	obj, _ := compileExtents(t)
	ef, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	sec := ef.Section(".debug_info")
	if sec == nil || sec.Type == elf.SHT_RELA {
		t.Fatal("no .debug_info")
	}
	off, size := int64(sec.Offset), int64(sec.Size)
	ef.Close()
	b, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	// Past the compile unit's header (11 bytes in DWARF 5), an abbrev
	// code no table defines.
	for i := off + 12; i < off+size; i++ {
		b[i] = 0x7f
	}
	if err := os.WriteFile(obj, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs := FunctionExtents([]string{obj}, []string{"ext.c"})
	if len(errs) == 0 {
		t.Fatal("corrupt .debug_info: no error")
	}
	if !strings.Contains(errs[0].Error(), obj) {
		t.Errorf("error %v does not name the object", errs[0])
	}
}
