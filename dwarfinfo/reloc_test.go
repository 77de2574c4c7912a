package dwarfinfo_test

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/internal/fixture"
)

// sameDWARF compares two readings of one object's DWARF: every entry
// with its attributes, each unit's line-table files, and the address
// ranges of every entry that has some.
func sameDWARF(a, b *dwarf.Data) error {
	ra, rb := a.Reader(), b.Reader()
	n := 0
	for {
		ea, erra := ra.Next()
		eb, errb := rb.Next()
		if fmt.Sprint(erra) != fmt.Sprint(errb) {
			return fmt.Errorf("entry %d: errors %v and %v", n, erra, errb)
		}
		if ea == nil || eb == nil {
			if ea != nil || eb != nil {
				return fmt.Errorf("entry %d: one reading ends early", n)
			}
			return nil
		}
		n++
		if !reflect.DeepEqual(ea, eb) {
			return fmt.Errorf("entry %d differs:\n  %+v\n  %+v", n, ea, eb)
		}
		if ea.Tag == dwarf.TagCompileUnit {
			la, erra := a.LineReader(ea)
			lb, errb := b.LineReader(eb)
			if fmt.Sprint(erra) != fmt.Sprint(errb) || (la == nil) != (lb == nil) {
				return fmt.Errorf("unit at %#x: line tables %v, %v", ea.Offset, erra, errb)
			}
			if la != nil && !reflect.DeepEqual(la.Files(), lb.Files()) {
				return fmt.Errorf("unit at %#x: line-table files differ", ea.Offset)
			}
		}
		rga, erra := a.Ranges(ea)
		rgb, errb := b.Ranges(eb)
		if fmt.Sprint(erra) != fmt.Sprint(errb) || !reflect.DeepEqual(rga, rgb) {
			return fmt.Errorf("entry at %#x: ranges %v %v; %v %v", ea.Offset, rga, erra, rgb, errb)
		}
	}
}

// TestLoadDWARF: the DWARF read with klp-audit's own relocation of the
// debug sections is debug/elf's, entry for entry, on every object the
// fixtures build with the machine's gcc and on kernel objects; objects
// it does not read itself are left to debug/elf.
func TestLoadDWARF(t *testing.T) {
	var paths []string
	dirs, err := os.ReadDir(filepath.Join(fixture.Root(), "testdata", "fixtures"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if d.IsDir() {
			ps, _ := filepath.Glob(filepath.Join(fixture.Build(t, d.Name()), "*"))
			paths = append(paths, ps...)
		}
	}
	if fast := checkLoadDWARF(t, paths); fast < 20 {
		t.Errorf("only %d objects read by the fast path", fast)
	}
}

// TestKernelLoadDWARF is TestLoadDWARF on a sample of kernel objects
// (kernel/ and mm/).
func TestKernelLoadDWARF(t *testing.T) {
	_, objs := kernelObjects(t)
	var paths []string
	for i := 0; i < len(objs); i += 7 { // a sample, spread
		paths = append(paths, objs[i])
	}
	if fast := checkLoadDWARF(t, paths); fast != len(paths) {
		t.Errorf("%d of %d kernel objects read by the fast path", fast, len(paths))
	}
}

// checkLoadDWARF compares the two readings of each ELF file of paths and
// returns how many the fast path read.
func checkLoadDWARF(t *testing.T, paths []string) int {
	t.Helper()
	fast := 0
	for _, p := range paths {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		slow, serr := f.DWARF()
		d, ok, err := dwarfinfo.FastDWARF(f)
		if !ok {
			if f.Type == elf.ET_REL && f.Machine == elf.EM_X86_64 && f.Class == elf.ELFCLASS64 {
				t.Errorf("%s: an x86-64 object left to debug/elf", p)
			}
			f.Close()
			continue
		}
		fast++
		if fmt.Sprint(err) != fmt.Sprint(serr) {
			t.Errorf("%s: %v; debug/elf: %v", p, err, serr)
		} else if err == nil {
			if e := sameDWARF(d, slow); e != nil {
				t.Errorf("%s: %v", p, e)
			}
			if e, _ := d.Reader().Next(); e == nil {
				t.Errorf("%s: no DWARF entries read", p)
			}
		}
		f.Close()
	}
	return fast
}

// BenchmarkKernelLoadDWARF reads the DWARF of kernel/ and mm/'s largest
// objects through debug/elf and through loadDWARF (go test ./dwarfinfo
// -bench KernelLoadDWARF -run XXX).
func BenchmarkKernelLoadDWARF(b *testing.B) {
	_, objs := kernelObjects(b)
	sort.Slice(objs, func(i, j int) bool { return fileSize(objs[i]) > fileSize(objs[j]) })
	objs = objs[:48]
	for _, c := range []struct {
		name string
		read func(*elf.File) (*dwarf.Data, error)
	}{
		{"debug-elf", (*elf.File).DWARF},
		{"own", func(f *elf.File) (*dwarf.Data, error) { d, _, err := dwarfinfo.FastDWARF(f); return d, err }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				for _, p := range objs {
					f, err := elf.Open(p)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := c.read(f); err != nil {
						b.Fatal(err)
					}
					f.Close()
				}
			}
		})
	}
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

// FuzzLoadDWARF: whatever the bytes, loadDWARF's own reading never
// panics (dwarfinfo's callers turn a panic into "corrupt", which would
// hide one), and when it and debug/elf both read the DWARF, they read
// the same entries.
func FuzzLoadDWARF(f *testing.F) {
	seedObjects(f, "clones", "livepatch-flags")
	f.Fuzz(func(t *testing.T, b []byte) {
		ef, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			return
		}
		d, ok, err := dwarfinfo.FastDWARF(ef)
		if !ok || err != nil {
			return
		}
		slow, serr := func() (d *dwarf.Data, err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panic: %v", r)
				}
			}()
			return ef.DWARF()
		}()
		if serr != nil {
			return // a section loadDWARF does not read may be what debug/elf refuses
		}
		if e := sameDWARFSafe(d, slow); e != nil {
			t.Fatal(e)
		}
	})
}

// sameDWARFSafe is sameDWARF that takes a panic of debug/dwarf (reading
// entries of damaged DWARF) for no difference: both readings hold the
// same bytes then, and dwarfinfo's callers recover from it.
func sameDWARFSafe(a, b *dwarf.Data) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = nil
		}
	}()
	return sameDWARF(a, b)
}
