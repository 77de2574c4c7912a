package objdiff

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/klp-audit/klp-audit/internal/safeio"
	"github.com/klp-audit/klp-audit/object"
)

// ErrNotELF is wrapped by the error for an input that is not an ELF file
// at all (a source file or a text file given by mistake).
var ErrNotELF = errors.New("not an ELF object")

// Object is one side of a comparison: an object file read with its code,
// relocations, symbol table, tables about code (__bug_table,
// __jump_table, ...) and, when it has DWARF, its line table.
type Object struct {
	// Path is the path given to Open or NewObject.
	Path string
	// File is the object as object reads it, code kept.
	File *object.File

	syms  []object.Symbol
	secs  []object.SectionHeader
	lines *lineTable
	// data holds the named data symbols of each section (by section
	// index, or key 0 in a linked file), sorted by Value.
	data map[int][]int
	// tables holds the entries of the tables about code, by the
	// function (its Funcs index) whose code they describe.
	tables map[int][]tableEntry
	// notes are facts about the object a reader of the diff should know
	// (a table whose layout was not recognised, missing line info).
	notes []string
	fidx  map[*object.Func]int // File.Funcs index by pointer
	// linesErr is why the line table could not be read, if it could not.
	linesErr error
	// files holds the source file (STT_FILE) of each local symbol, by
	// symbol index; funcSym the symbol index of each of File.Funcs.
	files   []string
	funcSym []int
}

// Open reads the object at path: a relocatable object (.o, .ko,
// vmlinux.o) or a linked file. Errors name the file; an input that is not
// ELF gives an error wrapping ErrNotELF.
func Open(path string) (*Object, error) {
	fh, err := safeio.OpenObject(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return NewObject(fh.SectionReader(), path)
}

// NewObject reads an object from r; path is used in errors only.
func NewObject(r io.ReaderAt, path string) (*Object, error) {
	var magic [4]byte
	if n, _ := r.ReadAt(magic[:], 0); n < 4 || string(magic[:]) != elf.ELFMAG {
		return nil, fmt.Errorf("%s: %w (no ELF magic number)", path, ErrNotELF)
	}
	f, err := object.NewFileCode(r, path)
	if err != nil {
		return nil, err
	}
	o := &Object{Path: path, File: f, syms: f.Symbols(), secs: f.Sections()}
	o.lines, o.linesErr = readLines(r, o.syms)
	if o.linesErr != nil {
		o.lines = nil
		o.notes = append(o.notes, fmt.Sprintf("%s: line table unreadable (%v): immediates cannot be told apart from __LINE__ shifts", path, o.linesErr))
	}
	o.fidx = make(map[*object.Func]int, len(f.Funcs))
	for i := range f.Funcs {
		o.fidx[&f.Funcs[i]] = i
	}
	o.indexData()
	o.symFiles()
	o.readTables()
	return o, nil
}

// key returns the index key of a section: the section in a relocatable
// object, 0 in a linked file, where positions are addresses.
func (o *Object) key(shndx int) int {
	if o.File.Linked() {
		return 0
	}
	return shndx
}

// indexData collects the named symbols that can hold data: objects,
// TLS, and untyped labels.
func (o *Object) indexData() {
	o.data = map[int][]int{}
	for i := range o.syms {
		s := &o.syms[i]
		if s.Name == "" || !s.Defined() || s.Shndx >= len(o.secs) {
			continue
		}
		switch s.Type {
		case elf.STT_OBJECT, elf.STT_TLS, elf.STT_NOTYPE, elf.STT_COMMON:
		default:
			continue
		}
		if strings.HasPrefix(s.Name, ".L") || mappingSymbol(o.File.Machine, s) {
			continue // assembler-local labels, mapping symbols
		}
		k := o.key(s.Shndx)
		o.data[k] = append(o.data[k], i)
	}
	for k, idx := range o.data {
		sort.SliceStable(idx, func(a, b int) bool {
			sa, sb := &o.syms[idx[a]], &o.syms[idx[b]]
			if sa.Value != sb.Value {
				return sa.Value < sb.Value
			}
			// At one address, a sized object before a label.
			return sa.Size > sb.Size
		})
		o.data[k] = idx
	}
}

// mappingSymbol says s is an ARM, AArch64 or RISC-V mapping symbol
// ($x, $d, $x.12, ...): it marks where code or data starts in a section
// (objdump switches its disassembly there) and names nothing. At the
// start of .data it would otherwise name the position of the variable
// beside it, and a section symbol plus addend would read as "$d".
func mappingSymbol(m elf.Machine, s *object.Symbol) bool {
	if m != elf.EM_AARCH64 && m != elf.EM_ARM && m != elf.EM_RISCV || s.Type != elf.STT_NOTYPE || s.Bind != elf.STB_LOCAL {
		return false
	}
	n := s.Name
	if len(n) < 2 || n[0] != '$' {
		return false
	}
	switch n[1] {
	case 'x', 'd', 'a', 't':
		return len(n) == 2 || n[2] == '.'
	}
	return false
}

// dataAt returns the symbol-table index of the data symbol covering pos
// of section shndx, or -1. A symbol of size 0 covers its own address only,
// and a sized object at that address names it first: without lockdep the
// empty struct lock_class_key __key.2 sits at memcg_oom_lock's address,
// and a reference there is to memcg_oom_lock.
func (o *Object) dataAt(shndx int, pos uint64) int {
	idx := o.data[o.key(shndx)]
	i := sort.Search(len(idx), func(i int) bool { return o.syms[idx[i]].Value > pos }) - 1
	label := -1
	for n := 0; i >= 0 && n < 16; i, n = i-1, n+1 {
		s := &o.syms[idx[i]]
		if o.File.Linked() && s.Shndx != shndx && shndx != 0 {
			continue
		}
		if pos >= s.Value && pos < s.Value+s.Size {
			return idx[i]
		}
		if pos == s.Value && s.Size == 0 && label < 0 {
			label = idx[i]
		}
	}
	return label
}

// sectionOf returns the section holding position pos: shndx itself in a
// relocatable object, the allocated section containing the address in a
// linked file.
func (o *Object) sectionOf(shndx int, pos uint64) int {
	if !o.File.Linked() {
		return shndx
	}
	for i, s := range o.secs {
		if s.Flags&elf.SHF_ALLOC != 0 && pos >= s.Addr && pos < s.Addr+s.Size {
			return i
		}
	}
	return shndx
}

// sectionBytes returns the contents of section shndx from position pos
// on (pos is an address in a linked file).
func (o *Object) sectionBytes(shndx int, pos uint64) []byte {
	if shndx <= 0 || shndx >= len(o.secs) {
		return nil
	}
	d := o.File.SectionData(shndx)
	if o.File.Linked() {
		if pos < o.secs[shndx].Addr {
			return nil
		}
		pos -= o.secs[shndx].Addr
	}
	if pos > uint64(len(d)) {
		return nil
	}
	return d[pos:]
}

// funcLabel names a function as targets do: its name, and its
// old_sympos when the name is not unique.
func funcLabel(fn *object.Func) string {
	if fn.Sympos > 0 {
		return fn.Name + "#" + strconv.Itoa(fn.Sympos)
	}
	return fn.Name
}

// offset renders a signed offset: "", "+0x10", "-0x4".
func offset(d int64) string {
	switch {
	case d == 0:
		return ""
	case d < 0:
		return fmt.Sprintf("-%#x", uint64(-d))
	}
	return fmt.Sprintf("+%#x", d)
}

// stringSection says section s holds string literals: SHF_MERGE|SHF_STRINGS
// (.rodata.str1.1, .rodata.str1.8), or a .rodata.str* name.
func stringSection(s *object.SectionHeader) bool {
	return s.Flags&(elf.SHF_MERGE|elf.SHF_STRINGS) == elf.SHF_MERGE|elf.SHF_STRINGS ||
		strings.HasPrefix(s.Name, ".rodata.str")
}

// maxString bounds the string literal content a target shows.
const maxString = 200

// stringAt renders the string literal holding position pos of string
// section shndx: its content, quoted, and the offset into it.
func (o *Object) stringAt(shndx int, pos uint64) (string, bool) {
	s := &o.secs[shndx]
	unit := int(s.Entsize)
	if unit < 1 || unit > 4 {
		unit = 1
	}
	all := o.sectionBytes(shndx, 0)
	rel := pos
	if o.File.Linked() {
		if pos < s.Addr {
			return "", false
		}
		rel = pos - s.Addr
	}
	if all == nil || rel > uint64(len(all)) {
		return "", false
	}
	isNul := func(i int) bool {
		for k := 0; k < unit; k++ {
			if i+k >= len(all) || all[i+k] != 0 {
				return false
			}
		}
		return true
	}
	p := int(rel) - int(rel)%unit
	start := p
	for start >= unit && !isNul(start-unit) {
		start -= unit
	}
	end := p
	for end < len(all) && !isNul(end) {
		end += unit
	}
	content := all[start:min(end, len(all))]
	var text string
	if unit == 1 {
		text = string(content)
	} else {
		text = hex.EncodeToString(content) // wide strings: shown as bytes
	}
	q := strconv.Quote(text)
	if len(q) > maxString {
		sum := sha256.Sum256(content)
		q = q[:maxString-1] + `..."` + "{sha256:" + hex.EncodeToString(sum[:6]) + "}"
	}
	return q + offset(int64(rel)-int64(start)), true
}

// localNumbered strips the ".N" that GCC appends to function-local static
// variables (__already_done.12, __func__.3, CSWTCH.45): the numbers
// follow their order in the file, so adding one renumbers the rest. The
// correlation pairs such statics by this base name and their owners.
func localNumbered(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || i == len(name)-1 {
		return name
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return name
		}
	}
	return name[:i]
}

// dataLabel names the data symbol i: its token (see naming.go; the
// comparison resolves it to the symbol it was correlated with) and, for
// read-only local data, a digest of its content, since a new copy of the
// function would carry the new content.
func (o *Object) dataLabel(i int) string {
	s := &o.syms[i]
	name := dataToken(i)
	if s.Bind != elf.STB_LOCAL {
		return name
	}
	sec := &o.secs[s.Shndx]
	if sec.Flags&elf.SHF_WRITE != 0 || s.Size == 0 || sec.Type == elf.SHT_NOBITS {
		return name
	}
	return name + "{" + o.content(s.Shndx, s.Value, s.Size) + "}"
}

// content describes size bytes at pos of section shndx: the string they
// hold, their bytes when few, else a digest; relocated fields count by
// their targets.
func (o *Object) content(shndx int, pos, size uint64) string {
	b := o.sectionBytes(shndx, pos)
	if uint64(len(b)) < size {
		return "?"
	}
	b = b[:size]
	rs := o.File.RelocsIn(shndx, pos, pos+size)
	if len(rs) == 0 {
		if n := len(b); n > 1 && b[n-1] == 0 && printable(b[:n-1]) {
			q := strconv.Quote(string(b[:n-1]))
			if len(q) <= maxString {
				return q
			}
		}
		if len(b) <= 16 {
			return hex.EncodeToString(b)
		}
	}
	h := sha256.New()
	h.Write(b)
	var refs strings.Builder
	for k, r := range rs {
		if k < maxContentRefs {
			// By token, after the digest: a pointer to a function or
			// variable the correlation renamed (foo.constprop.1 for
			// .0, __key.4 for .3) counts as the same pointer.
			fmt.Fprintf(h, "|%d:%d", r.Off-pos, r.Type)
			fmt.Fprintf(&refs, "|@%d=%s", r.Off-pos, o.relocTargetRef(r))
			continue
		}
		fmt.Fprintf(h, "|%d:%d:%s", r.Off-pos, r.Type, o.relocTargetShallow(r))
	}
	return fmt.Sprintf("sha256:%x", h.Sum(nil)[:6]) + refs.String()
}

// maxContentRefs bounds how many relocated fields of a data object its
// content names by token; the rest count by their raw names, inside the
// digest.
const maxContentRefs = 64

// relocTargetRef names a relocation's target for a content digest: a
// function or data symbol by its token (never by the data's own
// content, so no recursion), anything else as relocTargetShallow does.
func (o *Object) relocTargetRef(r object.Reloc) string {
	if r.Sym <= 0 || r.Sym >= len(o.syms) {
		return o.relocTargetShallow(r)
	}
	s := &o.syms[r.Sym]
	if !s.Defined() || s.Shndx <= 0 || s.Shndx >= len(o.secs) || stringSection(&o.secs[s.Shndx]) {
		return o.relocTargetShallow(r)
	}
	sec, pos, ok := o.relocPos(r, 0)
	if !ok || sec <= 0 || sec >= len(o.secs) {
		return o.relocTargetShallow(r)
	}
	if o.secs[sec].Flags&elf.SHF_EXECINSTR != 0 {
		if fn := o.File.FuncAt(sec, pos); fn != nil {
			return o.funcToken(fn) + offset(int64(pos-fn.Value))
		}
	} else if i := o.dataAt(sec, pos); i >= 0 {
		return dataToken(i) + offset(int64(pos-o.syms[i].Value))
	}
	return o.relocTargetShallow(r)
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// relocTargetShallow names a relocation's target without looking into
// data contents (used inside content digests, to avoid recursion).
func (o *Object) relocTargetShallow(r object.Reloc) string {
	if r.Sym <= 0 || r.Sym >= len(o.syms) {
		return offset(r.Addend)
	}
	s := &o.syms[r.Sym]
	// A pointer to a string literal counts by the string: literals move
	// in .rodata.str1.1 whenever another one is added.
	if s.Defined() && s.Shndx > 0 && s.Shndx < len(o.secs) && stringSection(&o.secs[s.Shndx]) {
		if t, ok := o.stringAt(s.Shndx, s.Value+uint64(r.Addend)); ok {
			return t
		}
	}
	if s.Name != "" && s.Type != elf.STT_SECTION {
		return s.Name + offset(r.Addend)
	}
	if s.Defined() && s.Shndx < len(o.secs) {
		return o.secs[s.Shndx].Name + offset(int64(s.Value)+r.Addend)
	}
	return "?" + offset(r.Addend)
}

// posName names position pos of section shndx (an address in a linked
// file) the way targets are compared: a function and the offset into it;
// a string literal by content; a data symbol and the offset into it; a
// mergeable constant by content; else the section and offset.
func (o *Object) posName(shndx int, pos uint64) string {
	shndx = o.sectionOf(shndx, pos)
	if shndx <= 0 || shndx >= len(o.secs) {
		return fmt.Sprintf("%#x", pos)
	}
	s := &o.secs[shndx]
	if s.Flags&elf.SHF_EXECINSTR != 0 {
		if fn := o.File.FuncAt(shndx, pos); fn != nil {
			return o.funcToken(fn) + offset(int64(pos-fn.Value))
		}
	}
	if stringSection(s) {
		if t, ok := o.stringAt(shndx, pos); ok {
			return t
		}
	}
	if o.tocSection(s) {
		if t, ok := o.tocEntry(shndx, pos); ok {
			return t
		}
	}
	if i := o.dataAt(shndx, pos); i >= 0 {
		return o.dataLabel(i) + offset(int64(pos-o.syms[i].Value))
	}
	if s.Flags&elf.SHF_MERGE != 0 && s.Entsize > 0 && s.Entsize <= 64 {
		base := pos - pos%s.Entsize
		if b := o.sectionBytes(shndx, base); uint64(len(b)) >= s.Entsize {
			return s.Name + "{" + hex.EncodeToString(b[:s.Entsize]) + "}" + offset(int64(pos-base))
		}
	}
	base := uint64(0)
	if o.File.Linked() {
		base = s.Addr
	}
	return s.Name + offset(int64(pos-base))
}

// relocTarget names where relocation r leads, adj being the distance
// from the relocated field to the end of its instruction for PC-relative
// types (the CPU counts from there), 0 otherwise.
func (o *Object) relocTarget(r object.Reloc, adj int64) string {
	if r.Sym <= 0 || r.Sym >= len(o.syms) {
		if o.File.Linked() && isRelative(o.File.Machine, r.Type) {
			return o.posName(0, uint64(r.Addend))
		}
		return "*ABS*" + offset(r.Addend)
	}
	s := &o.syms[r.Sym]
	d := r.Addend + adj
	if !s.Defined() {
		return s.Name + offset(d)
	}
	if s.Shndx >= len(o.secs) {
		return s.Name + offset(d)
	}
	pos := s.Value + uint64(d)
	// Section symbols, assembler-local labels (.LC1 in a string section
	// stays a symbol when inline asm names it) and string literals: by
	// position, so by content or by the symbol covering it.
	if s.Type == elf.STT_SECTION || s.Name == "" || s.Type == elf.STT_NOTYPE && s.Bind == elf.STB_LOCAL ||
		stringSection(&o.secs[s.Shndx]) {
		return o.posName(s.Shndx, pos)
	}
	// A named symbol: the function or data it names, if pos is inside.
	switch s.Type {
	case elf.STT_FUNC:
		if pos >= s.Value && (pos < s.Value+s.Size || pos == s.Value) {
			return o.posName(s.Shndx, pos)
		}
	case elf.STT_OBJECT, elf.STT_TLS:
		if pos >= s.Value && (pos < s.Value+s.Size || pos == s.Value) {
			return o.dataLabel(r.Sym) + offset(d)
		}
	}
	return s.Name + offset(d)
}

func isRelative(m elf.Machine, typ uint32) bool {
	switch m {
	case elf.EM_X86_64:
		return elf.R_X86_64(typ) == elf.R_X86_64_RELATIVE
	case elf.EM_AARCH64:
		return elf.R_AARCH64(typ) == elf.R_AARCH64_RELATIVE
	}
	return isRelativeOther(m, typ)
}

// relocSuffix marks relocation types whose target is not the symbol's
// address itself (a GOT slot, a TLS offset).
func relocSuffix(m elf.Machine, typ uint32) string {
	if m != elf.EM_X86_64 {
		return ""
	}
	switch elf.R_X86_64(typ) {
	case elf.R_X86_64_GOTPCREL, elf.R_X86_64_GOTPCRELX, elf.R_X86_64_REX_GOTPCRELX, elf.R_X86_64_GOT32, elf.R_X86_64_GOT64, elf.R_X86_64_GOTPCREL64:
		return "@GOT"
	case elf.R_X86_64_TPOFF32, elf.R_X86_64_TPOFF64:
		return "@TPOFF"
	case elf.R_X86_64_GOTTPOFF:
		return "@GOTTPOFF"
	case elf.R_X86_64_TLSGD:
		return "@TLSGD"
	case elf.R_X86_64_TLSLD:
		return "@TLSLD"
	case elf.R_X86_64_DTPOFF32, elf.R_X86_64_DTPOFF64:
		return "@DTPOFF"
	case elf.R_X86_64_GOTOFF64:
		return "@GOTOFF"
	case elf.R_X86_64_SIZE32, elf.R_X86_64_SIZE64:
		return "@SIZE"
	}
	return ""
}

// relocField returns the size of the field relocation type typ patches
// and whether the CPU computes it relative to the instruction.
func relocField(m elf.Machine, typ uint32) (size int, pcrel bool) {
	switch m {
	case elf.EM_X86_64:
		switch elf.R_X86_64(typ) {
		case elf.R_X86_64_64, elf.R_X86_64_GOTOFF64, elf.R_X86_64_GOT64, elf.R_X86_64_SIZE64,
			elf.R_X86_64_TPOFF64, elf.R_X86_64_DTPOFF64:
			return 8, false
		case elf.R_X86_64_PC64, elf.R_X86_64_GOTPCREL64, elf.R_X86_64_GOTPC64:
			return 8, true
		case elf.R_X86_64_32, elf.R_X86_64_32S, elf.R_X86_64_GOT32, elf.R_X86_64_TPOFF32,
			elf.R_X86_64_DTPOFF32, elf.R_X86_64_SIZE32:
			return 4, false
		case elf.R_X86_64_PC32, elf.R_X86_64_PLT32, elf.R_X86_64_GOTPCREL, elf.R_X86_64_GOTPCRELX,
			elf.R_X86_64_REX_GOTPCRELX, elf.R_X86_64_GOTTPOFF, elf.R_X86_64_TLSGD, elf.R_X86_64_TLSLD,
			elf.R_X86_64_GOTPC32:
			return 4, true
		case elf.R_X86_64_16:
			return 2, false
		case elf.R_X86_64_PC16:
			return 2, true
		case elf.R_X86_64_8:
			return 1, false
		case elf.R_X86_64_PC8:
			return 1, true
		}
		return 4, false
	case elf.EM_AARCH64:
		switch elf.R_AARCH64(typ) {
		case elf.R_AARCH64_ABS64, elf.R_AARCH64_PREL64:
			return 8, false
		case elf.R_AARCH64_ABS16, elf.R_AARCH64_PREL16:
			return 2, false
		}
		// Instruction relocations patch bits of one 4-byte word; the
		// target is symbol + addend, page or not.
		return 4, false
	}
	// Other machines: the field's size from object's table; PC-relative
	// targets are symbol + addend + relocBias.
	if rt, ok := object.Relocation(m, binary.LittleEndian, typ); ok && rt.Size > 0 {
		return rt.Size, false
	}
	return 4, false
}
