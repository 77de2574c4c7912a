package object

import (
	"debug/elf"
	"math/rand"
	"testing"
)

// checkFast compares x86Fast with x86Slow on the instruction at code[0]:
// where x86Fast decodes it, x86Slow must decode it the same.
func checkFast(t *testing.T, code []byte, where string) bool {
	t.Helper()
	fast, ok := x86Fast(code)
	if !ok {
		return false
	}
	slow, sok := x86Slow(code)
	if !sok || fast != slow {
		t.Errorf("%s: % x: x86Fast %+v, x86Slow %+v (ok %v)", where, code[:min(len(code), 16)], fast, slow, sok)
	}
	return true
}

// TestX86FastAsSlow: the fast decoder gives x86asm's answer on every
// instruction it decodes, at every byte offset of the code of the kernel
// fixture's objects (where the code is, and where it is not: a decoder
// that lost step) and on random bytes weighted towards the opcodes it
// knows.
func TestX86FastAsSlow(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	known := []byte{0x01, 0x03, 0x09, 0x0b, 0x21, 0x23, 0x29, 0x2b, 0x31, 0x33, 0x39, 0x3b, 0x83, 0x84, 0x85, 0x86,
		0x87, 0x88, 0x89, 0x8a, 0x8b, 0x50, 0x5f, 0x90, 0xc3, 0xc9, 0xcc, 0xe8, 0xe9, 0xeb, 0x74, 0x7f, 0x0f, 0x48, 0x41, 0x4c}
	handled := 0
	for n := 0; n < 2_000_000; n++ {
		b := make([]byte, 1+rng.Intn(15))
		rng.Read(b)
		b[0] = known[rng.Intn(len(known))]
		if len(b) > 1 && rng.Intn(2) == 0 {
			b[1] = known[rng.Intn(len(known))]
		}
		if len(b) > 2 && b[1] == 0x0f {
			b[2] = []byte{0x1f, 0x40, 0x4f, 0x84, 0x85, 0x8f, 0x94, 0x9f, 0xaf, 0xb6, 0xb7, 0xbe, 0xbf}[rng.Intn(13)]
		}
		if checkFast(t, b, "random") {
			handled++
		}
		if t.Failed() {
			return
		}
	}
	if handled < 500_000 {
		t.Errorf("x86Fast decoded only %d of the random instructions", handled)
	}
	if testing.Short() {
		return
	}
	objs := kernelObjects(t)
	total, fast := 0, 0
	for i, p := range objs {
		if i%8 != 0 { // an eighth of the objects is enough
			continue
		}
		f, err := elf.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range f.Sections {
			if s.Flags&elf.SHF_EXECINSTR == 0 || s.Type != elf.SHT_PROGBITS {
				continue
			}
			code, err := s.Data()
			if err != nil {
				t.Fatal(err)
			}
			for off := range code {
				total++
				if checkFast(t, code[off:], p+" "+s.Name) {
					fast++
				}
				if t.Failed() {
					f.Close()
					return
				}
			}
		}
		f.Close()
	}
	t.Logf("x86Fast decoded %d of %d code offsets", fast, total)
}
