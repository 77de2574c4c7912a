package dwarfinfo_test

import (
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/internal/fixture"
)

// TestEveryFixture reads every ELF file every fixture builds: the fast
// unit reader agrees with debug/dwarf, and every function with code
// resolves to an ELF symbol.
func TestEveryFixture(t *testing.T) {
	dirs, err := os.ReadDir(filepath.Join(fixture.Root(), "testdata", "fixtures"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		t.Run(d.Name(), func(t *testing.T) {
			dir := fixture.Build(t, d.Name())
			files, _ := os.ReadDir(dir)
			n := 0
			for _, fe := range files {
				p := filepath.Join(dir, fe.Name())
				if f, err := elf.Open(p); err != nil {
					continue
				} else {
					f.Close()
				}
				n++
				fast, err := dwarfinfo.Producers(p)
				if errors.Is(err, dwarfinfo.ErrNoDWARF) {
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", fe.Name(), err)
					continue
				}
				if fast[0].From == dwarfinfo.FromDebugInfo {
					slow, err := dwarfinfo.SlowProducers(p)
					if err != nil || !reflect.DeepEqual(fast, slow) {
						t.Errorf("%s: fast %+v, debug/dwarf %+v, %v", fe.Name(), fast, slow, err)
					}
				}
				in, err := dwarfinfo.Inlines(p)
				if err != nil {
					t.Errorf("%s: %v", fe.Name(), err)
					continue
				}
				for _, fn := range in.Funcs {
					if fn.NoSymbol {
						t.Errorf("%s: no symbol for the code of %s at %#x size %d", fe.Name(), fn.Origin, fn.Addr, fn.Size)
					}
				}
			}
			if n == 0 {
				t.Errorf("fixture %s built no ELF file", d.Name())
			}
		})
	}
}
