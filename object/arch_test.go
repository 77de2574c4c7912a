package object

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// crossTarget is one livepatch architecture's cross compiler, with
// the flags that matter of its kernel builds.
type crossTarget struct {
	name, gcc string
	flags     []string
	call      string // the call mnemonic objdump prints
}

var crossTargets = []crossTarget{
	{"aarch64", "aarch64-linux-gnu-gcc", []string{"-fpatchable-function-entry=2"}, "bl"},
	{"ppc64le", "powerpc64le-linux-gnu-gcc", []string{"-mcmodel=medium", "-pg", "-mprofile-kernel"}, "bl"},
	{"ppc64le-large", "powerpc64le-linux-gnu-gcc", []string{"-mcmodel=large"}, "bl"},
	{"ppc64-elfv2", "powerpc64le-linux-gnu-gcc", []string{"-mbig-endian", "-mabi=elfv2", "-pg", "-mprofile-kernel"}, "bl"},
	{"s390x", "s390x-linux-gnu-gcc", []string{"-fPIE", "-pg", "-mfentry", "-mrecord-mcount", "-mnop-mcount"}, "brasl"},
	{"loongarch64", "loongarch64-linux-gnu-gcc", []string{"-fpatchable-function-entry=2"}, "bl"},
}

// crossCompile compiles src (a path) for target tg into dir, returning the
// object's path; it skips the test when the cross compiler is missing.
func crossCompile(t *testing.T, tg crossTarget, src, dir, out string, extra ...string) string {
	t.Helper()
	if _, err := exec.LookPath(tg.gcc); err != nil {
		t.Skipf("%s not installed (Debian: gcc-%s): no %s fixture", tg.gcc, strings.TrimSuffix(tg.gcc, "-gcc"), tg.name)
	}
	obj := filepath.Join(dir, out)
	flags := tg.flags
	if slices.Contains(extra, "-nostdlib") {
		// Linked without a kernel: no ftrace entry to call.
		flags = slices.DeleteFunc(slices.Clone(flags), func(f string) bool {
			return f == "-pg" || f == "-mprofile-kernel" || strings.HasPrefix(f, "-mfentry") ||
				strings.HasSuffix(f, "-mcount") || strings.HasPrefix(f, "-fpatchable")
		})
	}
	args := append(append([]string{"-O2", "-g", "-ffreestanding"}, flags...), extra...)
	args = append(args, "-o", obj, src)
	if !slices.Contains(extra, "-nostdlib") {
		args = append([]string{"-c"}, args...)
	}
	if b, err := exec.Command(tg.gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", tg.gcc, strings.Join(args, " "), err, b)
	}
	return obj
}

// crossObjdump returns an objdump that reads tg's objects: the
// multi-target one of binutils-multiarch, or the cross one.
func crossObjdump(t *testing.T, tg crossTarget) string {
	t.Helper()
	for _, c := range []string{strings.TrimSuffix(tg.gcc, "gcc") + "objdump", "objdump"} {
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		if out, err := exec.Command(p, "-i").Output(); err == nil {
			want := map[string]string{"aarch64": "aarch64", "ppc64le": "powerpc", "ppc64le-large": "powerpc", "ppc64-elfv2": "powerpc", "s390x": "s390", "loongarch64": "loongarch"}[tg.name]
			if strings.Contains(string(out), want) {
				return p
			}
		}
	}
	t.Skipf("no objdump for %s (Debian: binutils-multiarch)", tg.name)
	return ""
}

var (
	objdumpFuncRE  = regexp.MustCompile(`^[0-9a-f]+ <([^>]+)>:$`)
	objdumpInsnRE  = regexp.MustCompile(`^\s*([0-9a-f]+):\t((?:[0-9a-f]{2,8} ?)+)\s*\t(\S+)\s*(.*)$`)
	objdumpRelocRE = regexp.MustCompile(`^\s*([0-9a-f]+): (R_\S+)\s+(\S+)`)
	objdumpTgtRE   = regexp.MustCompile(`<([^>+]+)(?:[+-]0x[0-9a-f]+)?>`)
	addendRE       = regexp.MustCompile(`[+-]0x[0-9a-f]+$`)
)

// objdumpCalls returns the direct calls objdump -dr shows in obj, as
// "caller callee" (the relocation's symbol when there is one, else the
// function objdump names as the target), ftrace's calls left out.
func objdumpCalls(t *testing.T, objdump, obj, mnemonic string) []string {
	t.Helper()
	out, err := exec.Command(objdump, "-dr", obj).Output()
	if err != nil {
		t.Fatalf("objdump -dr %s: %v", obj, err)
	}
	var calls []string
	fn := ""
	var pendAddr, pendEnd uint64
	pend := ""
	flush := func() {
		if pend != "" && !fentryName(pend) {
			calls = append(calls, fn+" "+pend)
		}
		pend = ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		if m := objdumpFuncRE.FindStringSubmatch(line); m != nil {
			flush()
			fn = m[1]
			continue
		}
		if m := objdumpRelocRE.FindStringSubmatch(line); m != nil {
			if a := hexU(m[1]); pend != "" && a >= pendAddr && a < pendEnd {
				pend = addendRE.ReplaceAllString(m[3], "")
			}
			continue
		}
		m := objdumpInsnRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		flush()
		if m[3] != mnemonic {
			continue
		}
		a := hexU(m[1])
		pendAddr, pendEnd = a, a+uint64(len(strings.ReplaceAll(m[2], " ", ""))/2)
		if tm := objdumpTgtRE.FindStringSubmatch(m[4]); tm != nil {
			pend = tm[1]
		}
	}
	flush()
	sort.Strings(calls)
	return slices.Compact(calls)
}

func hexU(s string) uint64 {
	var v uint64
	for _, c := range s {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= uint64(c - '0')
		case c >= 'a' && c <= 'f':
			v |= uint64(c-'a') + 10
		}
	}
	return v
}

// TestCrossCallGraph compiles testdata/arch/calls.c for each livepatch
// architecture whose cross compiler is present, as an object and as a
// linked executable, and checks the direct calls of the call graph
// against objdump -dr of the same files: relocated calls in the object,
// calls the linker resolved (found by decoding alone) in the executable.
func TestCrossCallGraph(t *testing.T) {
	for _, tg := range crossTargets {
		t.Run(tg.name, func(t *testing.T) {
			dir := t.TempDir()
			obj := crossCompile(t, tg, "testdata/arch/calls.c", dir, "calls.o")
			objdump := crossObjdump(t, tg)
			exe := crossCompile(t, tg, "testdata/arch/calls.c", dir, "calls.elf",
				"-nostdlib", "-static", "-no-pie", "-Wl,-e,caller", "testdata/arch/stubs.c")
			for _, p := range []string{obj, exe} {
				f, err := Open(p)
				if err != nil {
					t.Fatal(err)
				}
				if !f.HasCallGraph || f.Arch == nil || !strings.HasPrefix(tg.name, f.Arch.Name) {
					t.Fatalf("%s: arch %+v, call graph %v", p, f.Arch, f.HasCallGraph)
				}
				var got []string
				decoded := map[string]bool{}
				for _, r := range f.Refs {
					if r.Kind == Call {
						got = append(got, r.From+" "+r.To)
						if !r.Reloc {
							decoded[r.From+" "+r.To] = true
						}
					}
				}
				sort.Strings(got)
				got = slices.Compact(got)
				want := objdumpCalls(t, objdump, p, tg.call)
				if !slices.Contains(want, "caller helper") || !slices.Contains(want, "far_helper helper") {
					t.Fatalf("%s: objdump shows no local calls; the fixture is broken: %q", p, want)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: calls\n got %q\nwant %q (objdump -dr)", filepath.Base(p), got, want)
				}
				if p == exe && !decoded["caller helper"] {
					t.Errorf("%s: caller's call of helper was not found by decoding", filepath.Base(p))
				}
				if p == obj {
					if !slices.ContainsFunc(f.Refs, func(r Ref) bool { return r.Kind == DataRef && r.From == "hook" && r.To == "greet" }) {
						t.Errorf("%s: no DataRef hook -> greet in %v", filepath.Base(p), edges(f.Refs))
					}
					traced := 0
					for _, fn := range f.Funcs {
						if fn.Fentry {
							traced++
						}
					}
					if want := len(f.Funcs); tg.name != "ppc64le-large" && traced != want {
						t.Errorf("%s: %d of %d functions have an ftrace entry, want all", filepath.Base(p), traced, want)
					}
				}
				if tg.name == "ppc64le" {
					for _, fn := range f.Funcs {
						if fn.Name == "caller" && fn.LocalEntry != 8 {
							t.Errorf("%s: caller's local entry %d, want 8 (st_other)", filepath.Base(p), fn.LocalEntry)
						}
					}
				}
			}
		})
	}
}

// TestUnsupportedMachines checks that a machine klp-audit does not read,
// a 32-bit class, and an unknown relocation type in code are errors that
// name what is not supported, never an object read as x86-64.
func TestUnsupportedMachines(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(fixtureDir(t, "objcalls"), "objcalls.o"))
	if err != nil {
		t.Fatal(err)
	}
	withMachine := func(m elf.Machine) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint16(b[18:], uint16(m))
		return b
	}
	ef, err := elf.NewFile(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	badType := append([]byte(nil), good...)
	rel := ef.Section(".rela.text")
	binary.LittleEndian.PutUint32(badType[rel.Offset+8:], 250) // r_info's type half
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"riscv", withMachine(elf.EM_RISCV), "EM_RISCV"},
		{"sparcv9", withMachine(elf.EM_SPARCV9), "EM_SPARCV9"},
		{"i386", withMachine(elf.EM_386), "EM_386"},
		{"32-bit", func() []byte { b := append([]byte(nil), good...); b[4] = byte(elf.ELFCLASS32); return b }(), ""},
		{"big-endian x86-64", func() []byte { b := append([]byte(nil), good...); b[5] = byte(elf.ELFDATA2MSB); return b }(), ""},
		{"little-endian s390x", withMachine(elf.EM_S390), "little-endian s390x"},
		{"unknown relocation type", badType, "relocation type 250"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewFile(bytes.NewReader(tc.data), "x.o")
			if err == nil {
				t.Fatalf("read as %v with %d functions, want an error", f.Machine, len(f.Funcs))
			}
			if !strings.Contains(err.Error(), "x.o") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name the file and %q", err, tc.want)
			}
			if tc.want != "" && !errors.Is(err, ErrUnsupported) {
				t.Errorf("error %q does not wrap ErrUnsupported", err)
			}
		})
	}
}

// TestPPC64ELFv1 checks that a big-endian ppc64 ELFv1 object, whose
// function symbols point at descriptors in .opd, is refused by name.
func TestPPC64ELFv1(t *testing.T) {
	tg := crossTarget{name: "ppc64-elfv1", gcc: "powerpc64le-linux-gnu-gcc", flags: []string{"-mbig-endian", "-mabi=elfv1"}}
	obj := crossCompile(t, tg, "testdata/arch/calls.c", t.TempDir(), "v1.o")
	_, err := Open(obj)
	if err == nil || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "ELFv1") {
		t.Fatalf("Open(ELFv1 object) = %v, want an ErrUnsupported naming ELFv1", err)
	}
}

// TestRelocationTables checks the relocation table of each machine
// against the psABI facts the comparison relies on.
func TestRelocationTables(t *testing.T) {
	le, be := binary.ByteOrder(binary.LittleEndian), binary.ByteOrder(binary.BigEndian)
	tests := []struct {
		m     elf.Machine
		bo    binary.ByteOrder
		typ   uint32
		class RelocClass
		size  int
		mask  uint64
		bias  int64
	}{
		{elf.EM_PPC64, le, uint32(elf.R_PPC64_REL24), RelocBranch, 4, 0x03fffffc, 0},
		{elf.EM_PPC64, le, uint32(elf.R_PPC64_TOC16_HA), RelocTOC, 2, 0xffff, 0},
		{elf.EM_PPC64, le, uint32(elf.R_PPC64_TOC16_LO_DS), RelocTOC, 2, 0xfffc, 0},
		{elf.EM_PPC64, le, uint32(elf.R_PPC64_ADDR64), RelocAddr, 8, 0, 0},
		{elf.EM_PPC64, be, uint32(elf.R_PPC64_PCREL34), RelocAddr, 8, 0x0003ffff0000ffff, 0},
		{elf.EM_PPC64, le, uint32(elf.R_PPC64_TLSGD), RelocMarker, 0, 0, 0},
		{elf.EM_S390, be, uint32(elf.R_390_PLT32DBL), RelocBranch, 4, 0, -2},
		{elf.EM_S390, be, uint32(elf.R_390_PC32DBL), RelocBranch, 4, 0, -2},
		{elf.EM_S390, be, uint32(elf.R_390_GOTENT), RelocGOT, 4, 0, -2},
		{elf.EM_S390, be, uint32(elf.R_390_20), RelocAddr, 4, 0x0fffff00, 0},
		{elf.EM_S390, be, uint32(elf.R_390_PC32), RelocAddr, 4, 0, 0},
		{elf.EM_LOONGARCH, le, uint32(elf.R_LARCH_B26), RelocBranch, 4, 0x03ffffff, 0},
		{elf.EM_LOONGARCH, le, uint32(elf.R_LARCH_PCALA_HI20), RelocAddr, 4, 0x01ffffe0, 0},
		{elf.EM_LOONGARCH, le, uint32(elf.R_LARCH_PCALA_LO12), RelocAddr, 4, 0x003ffc00, 0},
		{elf.EM_LOONGARCH, le, uint32(elf.R_LARCH_RELAX), RelocMarker, 0, 0, 0},
		{elf.EM_LOONGARCH, le, uint32(elf.R_LARCH_ADD32), RelocOther, 4, 0, 0},
		{elf.EM_LOONGARCH, le, rLarchCall36, RelocBranch, 8, 0x03fffc0001ffffe0, 0},
		{elf.EM_AARCH64, le, uint32(elf.R_AARCH64_CALL26), RelocBranch, 4, 0x03ffffff, 0},
		{elf.EM_X86_64, le, uint32(elf.R_X86_64_PLT32), RelocBranch, 4, 0, 0},
	}
	for _, tc := range tests {
		rt, ok := Relocation(tc.m, tc.bo, tc.typ)
		if !ok || rt.Class != tc.class || rt.Size != tc.size || rt.Mask != tc.mask || rt.Bias != tc.bias {
			t.Errorf("%v type %d: got %+v ok %v, want class %d size %d mask %#x bias %d", tc.m, tc.typ, rt, ok, tc.class, tc.size, tc.mask, tc.bias)
		}
	}
	for _, tc := range []struct {
		m   elf.Machine
		typ uint32
	}{
		{elf.EM_X86_64, 250}, {elf.EM_PPC64, 200}, {elf.EM_S390, 200}, {elf.EM_LOONGARCH, uint32(elf.R_LARCH_SOP_PUSH_PCREL)},
		{elf.EM_RISCV, uint32(elf.R_RISCV_CALL)},
	} {
		if rt, ok := Relocation(tc.m, le, tc.typ); ok {
			t.Errorf("%v type %d: known as %+v, want unknown", tc.m, tc.typ, rt)
		}
	}
	// A ppc64 DS-form field keeps its opcode bits; s390x's 20-bit
	// displacement keeps the base register.
	b := []byte{0xff, 0xff, 0xff, 0xff}
	MaskField(le, b, 0, RelocType{Size: 2, Mask: 0xfffc})
	if !bytes.Equal(b, []byte{0x03, 0x00, 0xff, 0xff}) {
		t.Errorf("DS mask: % x", b)
	}
}

// FuzzOpenMachine feeds NewFile a fixture object relabelled as each
// machine and byte order, then mutated: the decoders and relocation
// tables of every architecture meet hostile code and relocations. It must
// never panic, and every error must name the file.
func FuzzOpenMachine(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join(fixtureDir(f, "objcalls"), "objcalls.o"))
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range []elf.Machine{elf.EM_X86_64, elf.EM_AARCH64, elf.EM_PPC64, elf.EM_S390, elf.EM_LOONGARCH, elf.EM_RISCV} {
		f.Add(seed, uint16(m), false)
	}
	f.Add(seed, uint16(elf.EM_S390), true)
	f.Add(seed, uint16(elf.EM_PPC64), true)
	f.Fuzz(func(t *testing.T, data []byte, machine uint16, msb bool) {
		data = append([]byte(nil), data...)
		if len(data) >= 20 {
			binary.LittleEndian.PutUint16(data[18:], machine)
			if msb {
				data[5] = byte(elf.ELFDATA2MSB)
				binary.BigEndian.PutUint16(data[18:], machine)
			}
		}
		const path = "fuzz.o"
		file, err := NewFile(bytes.NewReader(data), path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		for i := range file.Funcs {
			_ = file.RefsFrom(&file.Funcs[i])
		}
	})
}
