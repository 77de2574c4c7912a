package rules_test

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/rules"
)

// unit is one object of a compiled fixture, loaded as a build of its own:
// the fixtures compile one source several ways (plain.o, lp.o, ftrace.o),
// and each way is a separate kernel build, never mixed with the others.
type unit struct {
	dir  string // the fixture's build directory
	tu   string // the translation unit: the object's name ("plain.o")
	obj  string // the object's path
	g    *callgraph.Graph
	objs *callgraph.Objects
}

// buildFixture compiles fixture name (skipping the test without gcc, or on
// another architecture than x86-64: the fixtures' evidence is x86 code).
func buildFixture(t *testing.T, name string) string {
	t.Helper()
	dir := fixture.Build(t, name)
	for _, o := range mustGlob(t, filepath.Join(dir, "*.o")) {
		f, err := elf.Open(o)
		if err != nil {
			t.Fatal(err)
		}
		m := f.Machine
		f.Close()
		if m != elf.EM_X86_64 {
			t.Skipf("fixture %s: gcc builds %v objects; the expectations are x86-64 code", name, m)
		}
	}
	return dir
}

func mustGlob(t *testing.T, pat string) []string {
	t.Helper()
	m, err := filepath.Glob(pat)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// loadUnit loads the dump of object obj in dir into a graph of its own.
func loadUnit(t *testing.T, dir, obj string) *unit {
	t.Helper()
	return loadUnits(t, dir, obj)
}

// loadUnits is loadUnit with more units of dir in the graph besides obj
// (the one the unit is about).
func loadUnits(t *testing.T, dir, obj string, more ...string) *unit {
	t.Helper()
	ds, err := ipadump.Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	var keep []ipadump.Dump
	for _, d := range ds {
		if d.TU == obj || slices.Contains(more, d.TU) {
			keep = append(keep, d)
		}
	}
	if len(keep) == 0 {
		var tus []string
		for _, d := range ds {
			tus = append(tus, d.TU)
		}
		t.Fatalf("%s: no dump for %s; dumps are for %v", dir, obj, tus)
	}
	g, err := callgraph.Load(keep, callgraph.LoadOptions{})
	if err != nil {
		t.Fatalf("%s: %v", obj, err)
	}
	return &unit{dir: dir, tu: obj, obj: filepath.Join(dir, obj), g: g, objs: callgraph.NewObjects(g, nil)}
}

// run applies the rules (policy p; nil for the default) to the changed
// functions of u, and checks the answer's precision.
func (u *unit) run(t *testing.T, p *rules.Policy, changed ...string) *rules.Result {
	t.Helper()
	var ids []callgraph.NodeID
	for _, n := range changed {
		ids = append(ids, callgraph.NodeID{Name: n, TU: u.tu})
	}
	eng := &rules.Engine{Graph: u.g, Objects: u.objs, Policy: p}
	res := eng.Run(ids)
	if res.Complete() {
		checkPrecision(t, u, res)
	}
	return res
}

// checkPrecision checks, with debug/elf rather than the object package the
// rules read, that every target is a function symbol defined in its object
// (and starts with an ftrace entry when the object was built with one),
// and that every function explained as not emitted has no symbol.
func checkPrecision(t *testing.T, u *unit, res *rules.Result) {
	t.Helper()
	e := readELF(t, u.obj)
	for _, tg := range res.Targets {
		if tg.ID.TU != u.tu || tg.Object != u.obj {
			t.Errorf("target %s: unit %s object %s, want %s %s", tg.ID.Name, tg.ID.TU, tg.Object, u.tu, u.obj)
		}
		s, ok := e.funcs[tg.ID.Name]
		if !ok {
			t.Errorf("target %s is not a function symbol of %s (symbols: %s)", tg.ID.Name, u.obj, e.names())
			continue
		}
		if tg.Symbol.Name != tg.ID.Name || tg.Symbol.Value != s.Value {
			t.Errorf("target %s: symbol %s at %#x, the object has it at %#x", tg.ID.Name, tg.Symbol.Name, tg.Symbol.Value, s.Value)
		}
		if e.ftrace && !e.fentry(s) {
			t.Errorf("target %s: %s is built with ftrace entries but %s has none: a livepatch cannot redirect it", tg.ID.Name, u.obj, tg.ID.Name)
		}
		if strings.Contains(tg.ID.Name, ".cold") {
			t.Errorf("target %s is a cold piece: its function is the klp_func", tg.ID.Name)
		}
	}
	for _, x := range res.Explained {
		if strings.HasPrefix(x.Why, "not emitted") {
			if _, ok := e.funcs[x.ID.Name]; ok {
				t.Errorf("%s explained as %q, but %s defines it", x.ID.Name, x.Why, u.obj)
			}
		}
	}
}

// elfObj is what the tests read themselves from an object with debug/elf.
type elfObj struct {
	f      *elf.File
	funcs  map[string]elf.Symbol // defined FUNC symbols by name
	ftrace bool                  // the object has __mcount_loc or calls __fentry__
	relocs map[string][]rela     // by relocated section name
	syms   []elf.Symbol
}

type rela struct {
	off    uint64
	typ    elf.R_X86_64
	sym    string
	addend int64
}

func readELF(t *testing.T, path string) *elfObj {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	e := &elfObj{f: f, funcs: map[string]elf.Symbol{}, relocs: map[string][]rela{}, syms: syms}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF {
			e.funcs[s.Name] = s
		}
		if s.Name == "__fentry__" {
			e.ftrace = true
		}
	}
	for _, sec := range f.Sections {
		if sec.Type != elf.SHT_RELA || int(sec.Info) >= len(f.Sections) {
			continue
		}
		b, err := sec.Data()
		if err != nil {
			t.Fatalf("%s: %s: %v", path, sec.Name, err)
		}
		target := f.Sections[sec.Info].Name
		for i := 0; i+24 <= len(b); i += 24 {
			info := binary.LittleEndian.Uint64(b[i+8:])
			r := rela{off: binary.LittleEndian.Uint64(b[i:]), typ: elf.R_X86_64(info & 0xffffffff),
				addend: int64(binary.LittleEndian.Uint64(b[i+16:]))}
			if si := int(info >> 32); si > 0 && si <= len(syms) {
				r.sym = syms[si-1].Name
				if r.sym == "" && int(syms[si-1].Section) < len(f.Sections) {
					r.sym = f.Sections[syms[si-1].Section].Name // a section symbol
				}
			}
			e.relocs[target] = append(e.relocs[target], r)
		}
	}
	return e
}

func (e *elfObj) names() string {
	var out []string
	for n := range e.funcs {
		out = append(out, n)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// fentry reports whether function s starts with "call __fentry__": an e8
// whose field holds a relocation against __fentry__.
func (e *elfObj) fentry(s elf.Symbol) bool {
	code := e.code(s)
	if len(code) < 5 || code[0] != 0xe8 {
		return false
	}
	for _, r := range e.relocs[e.f.Sections[s.Section].Name] {
		if r.off == s.Value+1 && r.sym == "__fentry__" {
			return true
		}
	}
	return false
}

// code returns the bytes of function s.
func (e *elfObj) code(s elf.Symbol) []byte {
	if int(s.Section) >= len(e.f.Sections) {
		return nil
	}
	b, err := e.f.Sections[s.Section].Data()
	if err != nil || s.Value+s.Size > uint64(len(b)) {
		return nil
	}
	return b[s.Value : s.Value+s.Size]
}

// inst is one decoded instruction of a function.
type inst struct {
	off uint64 // offset in the section
	x86asm.Inst
	// target is the section offset a direct call or jump goes to when
	// the assembler resolved it (no relocation in its field).
	target uint64
	reloc  *rela // the relocation in the instruction, if any
}

func (i inst) String() string {
	return fmt.Sprintf("%#x: %s", i.off, x86asm.GNUSyntax(i.Inst, i.off, nil))
}

// disasm decodes function name of e.
func disasm(t *testing.T, e *elfObj, name string) []inst {
	t.Helper()
	s, ok := e.funcs[name]
	if !ok {
		t.Fatalf("no function %s (have %s)", name, e.names())
	}
	code := e.code(s)
	if len(code) == 0 {
		t.Fatalf("%s: no code", name)
	}
	rs := e.relocs[e.f.Sections[s.Section].Name]
	var out []inst
	for off := 0; off < len(code); {
		in, err := x86asm.Decode(code[off:], 64)
		if err != nil {
			t.Fatalf("%s+%#x: %v", name, off, err)
		}
		i := inst{off: s.Value + uint64(off), Inst: in}
		for k := range rs {
			if rs[k].off > i.off && rs[k].off < i.off+uint64(in.Len) {
				i.reloc = &rs[k]
			}
		}
		if rel, ok := in.Args[0].(x86asm.Rel); ok && i.reloc == nil {
			i.target = uint64(int64(i.off) + int64(in.Len) + int64(rel))
		}
		out = append(out, i)
		off += in.Len
	}
	return out
}

// callsTo returns the indexes of the direct calls in is to function
// callee of e (resolved by the assembler: a local function of the same
// section).
func callsTo(e *elfObj, is []inst, callee string) []int {
	s, ok := e.funcs[callee]
	if !ok {
		return nil
	}
	var out []int
	for k, i := range is {
		if i.Op == x86asm.CALL && i.reloc == nil && i.target == s.Value {
			out = append(out, k)
		}
	}
	return out
}

func listing(is []inst) string {
	var b strings.Builder
	for _, i := range is {
		b.WriteString("\t" + i.String() + "\n")
	}
	return b.String()
}

// clobbered are the call-clobbered registers of the x86-64 SysV ABI,
// by family, without %rax (it carries the return value).
var clobbered = []string{"rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11"}

// family names the 64-bit register a register is part of ("ecx" -> "rcx").
func family(r x86asm.Reg) string {
	n := strings.ToLower(r.String())
	switch {
	case r >= x86asm.AL && r <= x86asm.R15B, r >= x86asm.AX && r <= x86asm.R15W,
		r >= x86asm.EAX && r <= x86asm.R15L, r >= x86asm.RAX && r <= x86asm.R15:
	default:
		return ""
	}
	for _, p := range [][2]string{{"al", "rax"}, {"cl", "rcx"}, {"dl", "rdx"}, {"bl", "rbx"}, {"sil", "rsi"}, {"dil", "rdi"},
		{"spl", "rsp"}, {"bpl", "rbp"}, {"ax", "rax"}, {"cx", "rcx"}, {"dx", "rdx"}, {"bx", "rbx"}, {"si", "rsi"},
		{"di", "rdi"}, {"sp", "rsp"}, {"bp", "rbp"}} {
		if n == p[0] || n == "e"+p[0] || n == "r"+p[0] {
			return p[1]
		}
	}
	// r8..r15 with b, w, l suffixes
	return strings.TrimRight(n, "bwl")
}

// uses reports how instruction i touches register family f: read and
// written.
func uses(i inst, f string) (read, write bool) {
	for k, a := range i.Args {
		if a == nil {
			break
		}
		switch a := a.(type) {
		case x86asm.Reg:
			if family(a) != f {
				continue
			}
			if k > 0 {
				read = true
				continue
			}
			switch i.Op {
			case x86asm.MOV, x86asm.LEA, x86asm.MOVZX, x86asm.MOVSX, x86asm.MOVSXD, x86asm.POP:
				write = true
			case x86asm.CMP, x86asm.TEST, x86asm.PUSH:
				read = true
			default:
				read, write = true, true
			}
		case x86asm.Mem:
			if family(a.Base) == f || family(a.Index) == f {
				read = true
			}
		}
	}
	return read, write
}

// stored reports whether i saves register family f to memory (push, or a
// move to a memory operand).
func stored(i inst, f string) bool {
	if i.Op == x86asm.PUSH {
		if r, ok := i.Args[0].(x86asm.Reg); ok && family(r) == f {
			return true
		}
	}
	if _, ok := i.Args[0].(x86asm.Mem); ok && i.Op == x86asm.MOV {
		if r, ok := i.Args[1].(x86asm.Reg); ok && family(r) == f {
			return true
		}
	}
	return false
}

// carried returns the call-clobbered registers that hold a value the
// function computed before the call at is[c] (written by an instruction of
// the function, not saved to memory) and reads after it before writing
// them again: values kept in registers the ABI lets the callee destroy.
func carried(is []inst, c int) []string {
	var out []string
	for _, f := range clobbered {
		written, saved := false, false
		for _, i := range is[:c] {
			if _, w := uses(i, f); w {
				written = true
			}
			if stored(i, f) {
				saved = true
			}
		}
		if !written || saved {
			continue
		}
	after:
		for _, i := range is[c+1:] {
			switch i.Op {
			case x86asm.CALL, x86asm.JMP, x86asm.RET:
				break after
			}
			r, w := uses(i, f)
			if r {
				out = append(out, f)
				break
			}
			if w {
				break
			}
		}
	}
	return out
}

// deleteFile removes a file of a fixture build.
func deleteFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// gccVersion names the compiler in messages about its choices.
func gccVersion() string {
	if v := fixture.GCCVersion(); v != "" {
		return v
	}
	return "(unknown version)"
}

// mustPolicy parses a policy for a test.
func mustPolicy(t *testing.T, yaml string) *rules.Policy {
	t.Helper()
	p, err := rules.ParsePolicy([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatalf("policy %q: %v", yaml, err)
	}
	return p
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
