package callgraph

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/klp-audit/klp-audit/internal/par"
	"github.com/klp-audit/klp-audit/internal/safeio"
)

// Definers indexes which objects define which function symbols, read from
// the objects' ELF symbol tables once: what a query for a function that no
// dump line mentions needs. GCC records only transformations, so a
// function it neither inlined nor cloned, or an out-of-line copy of a
// header inline in a unit that did not transform it, appears in no dump.
type Definers struct {
	paths  []string
	byName map[string][]int // function name -> indexes into paths, in input order
	// weak holds the (name, index) pairs whose definition is a weak
	// symbol: the link keeps a strong one of the name instead.
	weak map[weakDef]bool
	err  error
}

type weakDef struct {
	name string
	i    int
}

// NewDefiners reads the symbol tables of the objects at paths with
// workers goroutines (8 when 0: opening objects mostly waits on the
// disk). With unitsOnly, objects that ld -r combined from several units
// (kbuild's composite module objects, vmlinux.o), recognised by their
// several STT_FILE symbols, are left out, as their parts are read on their
// own. Objects that cannot be read are reported by Err (a list) and left
// out: an answer built on the index is then incomplete.
func NewDefiners(paths []string, workers int, unitsOnly bool) *Definers {
	if workers <= 0 {
		workers = 8
	}
	names := make([][]string, len(paths))
	weaks := make([]map[string]bool, len(paths))
	errs := make([]error, len(paths))
	par.Each(len(paths), workers, func(i int) { names[i], weaks[i], errs[i] = definedFuncs(paths[i], unitsOnly) })
	d := &Definers{paths: paths, byName: map[string][]int{}, weak: map[weakDef]bool{}, err: errors.Join(errs...)}
	for i, ns := range names {
		for _, n := range ns {
			if l := d.byName[n]; len(l) == 0 || l[len(l)-1] != i {
				d.byName[n] = append(l, i)
			}
		}
		for n := range weaks[i] {
			d.weak[weakDef{n, i}] = true
		}
	}
	return d
}

// Weak reports whether the object at path defines function name only as
// a weak symbol (kernel/sys_ni.o's COND_SYSCALL stubs): a link that also
// holds a strong definition keeps that one, and kallsyms lists it alone.
func (d *Definers) Weak(name, path string) bool {
	for _, i := range d.byName[name] {
		if d.paths[i] == path {
			return d.weak[weakDef{name, i}]
		}
	}
	return false
}

// Defining returns, in input order, the objects that define a function
// symbol named name.
func (d *Definers) Defining(name string) []string {
	var out []string
	for _, i := range d.byName[name] {
		out = append(out, d.paths[i])
	}
	return out
}

// WithPrefix returns the defined function names that start with prefix
// (name. for the clones GCC made of name: name.constprop.0), sorted.
func (d *Definers) WithPrefix(prefix string) []string {
	var out []string
	for n := range d.byName {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Err reports the objects that could not be read, or nil.
func (d *Definers) Err() error { return d.err }

// ObjectsDefining returns, in input order, the objects among paths whose
// ELF symbol table defines a function symbol named name (see Definers).
// Objects that cannot be read are reported in the error (a list) and
// skipped: the caller must treat its answer as incomplete then. The
// answer and the error are NewDefiners' (Defining and Err), but of most
// objects only the section headers and the symbol names are read: the
// symbol table is parsed only where the names hold name, or where
// anything looks amiss (then reading it tells what).
func ObjectsDefining(paths []string, name string, workers int) ([]string, error) {
	return ObjectsDefiningWith(paths, name, workers, nil)
}

// ObjectsDefiningWith is ObjectsDefining that takes what pre found
// (nil: nothing): an object whose string table pre read is not read
// again, and not opened at all when it cannot name name.
func ObjectsDefiningWith(paths []string, name string, workers int, pre *Prescan) ([]string, error) {
	if workers <= 0 {
		workers = 8
	}
	defines := make([]bool, len(paths))
	errs := make([]error, len(paths))
	par.Each(len(paths), workers, func(i int) {
		lacks, known := pre.lacksName(paths[i], name)
		if !known {
			lacks = name != "" && namesLack(paths[i], name)
		}
		if !lacks {
			defines[i], errs[i] = definesIn(paths[i], name)
		}
	})
	var out []string
	for i, p := range paths {
		if defines[i] {
			out = append(out, p)
		}
	}
	return out, errors.Join(errs...)
}

// definesIn reports whether the object at path defines a function
// symbol named name (ObjectsDefiningWith looked at its string table
// first); the error is definedFuncs'.
func definesIn(path, name string) (bool, error) {
	names, _, err := definedFuncs(path, false)
	return slices.Contains(names, name), err
}

// namesLack reports that the object at path is one definedFuncs reads
// without error and that no symbol of it can be named name: its symbol
// string table does not hold name followed by the NUL that ends every
// symbol name. False when it cannot tell.
func namesLack(path, name string) bool {
	fh, err := safeio.OpenRaw(path, safeio.MaxObjectSize) // safeio.OpenObject's checks
	if err != nil {
		return false
	}
	defer fh.Close()
	return fileLacks(fh, name)
}

// fileLacks is namesLack of the object open as fh.
func fileLacks(fh *safeio.RawFile, name string) bool {
	b := lackBufs.Get().(*lackBuf)
	lacks := elfLacks(fh, fh.Size, name, b)
	lackBufs.Put(b)
	return lacks
}

// lackBufs hold what elfLacks reads: a query reads the section headers
// and string tables of every object of the build.
var lackBufs = sync.Pool{New: func() any { return new(lackBuf) }}

// lackBuf holds the section headers, a string table and the symbol
// table of an object.
type lackBuf struct{ shdrs, strs, syms []byte }

// elfLacks is namesLack for the size bytes of an object read through r,
// into b. It reads the ELF header, the section headers, their names and
// the symbol string table (four reads, and no allocation once b has
// grown) and says true only of a 64-bit object that debug/elf.NewFile,
// safeio.CheckCompressed and File.Symbols all read without error, whose
// string table lacks name. Anything else, even what they would accept,
// is false: the caller reads the object with debug/elf then, which
// tells.
func elfLacks(r io.ReaderAt, size int64, name string, b *lackBuf) bool {
	rs, ok := readSymtab(r, size, b, false)
	if !ok {
		return false
	}
	needle := make([]byte, 0, len(name)+1)
	needle = append(append(needle, name...), 0)
	return !bytes.Contains(rs.strtab, needle)
}

// rawSymtab is what readSymtab read of an object: its symbol string
// table and, when asked, its symbol table (ELF64 entries), both in the
// lackBuf given, and their byte order.
type rawSymtab struct {
	strtab, symtab []byte
	bo             binary.ByteOrder
}

// readSymtab reads, into b, the symbol string table of the size bytes of
// an object read through r, and its symbol table with syms. It says ok
// only of a 64-bit relocatable object that debug/elf.NewFile,
// safeio.CheckCompressed and File.Symbols all read without error (see
// elfLacks).
func readSymtab(r io.ReaderAt, size int64, b *lackBuf, syms bool) (rawSymtab, bool) {
	var no rawSymtab
	const (
		ehdrSize = 64 // Header64
		shdrSize = 64 // Section64
	)
	var h [ehdrSize]byte
	if size < ehdrSize {
		return no, false
	}
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return no, false
	}
	var bo binary.ByteOrder
	switch elf.Data(h[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		bo = binary.LittleEndian
	case elf.ELFDATA2MSB:
		bo = binary.BigEndian
	default:
		return no, false
	}
	if string(h[:4]) != elf.ELFMAG || elf.Class(h[elf.EI_CLASS]) != elf.ELFCLASS64 ||
		elf.Version(h[elf.EI_VERSION]) != elf.EV_CURRENT || elf.Version(bo.Uint32(h[20:])) != elf.EV_CURRENT {
		return no, false
	}
	phoff, shoff := int64(bo.Uint64(h[32:])), int64(bo.Uint64(h[40:]))
	phnum := bo.Uint16(h[56:])
	shentsize, shnum, shstrndx := int64(bo.Uint16(h[58:])), int64(bo.Uint16(h[60:])), int64(bo.Uint16(h[62:]))
	// A relocatable object: no program headers, sections counted in the
	// header (not in the first section's), and named.
	if phoff < 0 || phnum != 0 || shoff <= 0 || shnum == 0 || shentsize < shdrSize ||
		shstrndx == 0 || shstrndx >= shnum || shoff > size || shnum*shentsize > size-shoff {
		return no, false
	}
	within := func(off, n uint64) bool { return off <= uint64(size) && n <= uint64(size)-off }
	// The section headers, then the names of the sections.
	shdrs := grow(&b.shdrs, int(shnum*shentsize))
	if _, err := r.ReadAt(shdrs, shoff); err != nil {
		return no, false
	}
	type section struct {
		name, typ, link uint32
		off, size       uint64
	}
	sect := func(i int64) section {
		e := shdrs[i*shentsize:]
		return section{name: bo.Uint32(e[0:]), typ: bo.Uint32(e[4:]), link: bo.Uint32(e[40:]),
			off: bo.Uint64(e[24:]), size: bo.Uint64(e[32:])}
	}
	symtab := int64(-1)
	for i := range shnum {
		flags, s := elf.SectionFlag(bo.Uint64(shdrs[i*shentsize+8:])), sect(i)
		if int64(s.off) < 0 || int64(s.size) < 0 || flags&elf.SHF_COMPRESSED != 0 {
			return no, false
		}
		if symtab < 0 && elf.SectionType(s.typ) == elf.SHT_SYMTAB {
			symtab = i
		}
	}
	shstr := sect(shstrndx)
	if elf.SectionType(shstr.typ) != elf.SHT_STRTAB || !within(shstr.off, shstr.size) || shstr.size == 0 {
		return no, false
	}
	if symtab < 0 {
		return no, false
	}
	sym := sect(symtab)
	if sym.link == 0 || int64(sym.link) >= shnum || sym.size == 0 || sym.size%elf.Sym64Size != 0 || !within(sym.off, sym.size) {
		return no, false
	}
	str := sect(int64(sym.link))
	if elf.SectionType(str.typ) == elf.SHT_NOBITS || !within(str.off, str.size) {
		return no, false
	}
	shstrtab := grow(&b.strs, int(shstr.size))
	if _, err := r.ReadAt(shstrtab, int64(shstr.off)); err != nil || shstrtab[len(shstrtab)-1] != 0 {
		return no, false
	}
	for i := range shnum {
		// Every name resolves (the table ends in a NUL); none is of
		// the .zdebug sections debug/elf decompresses.
		if n := sect(i).name; uint64(n) >= shstr.size || bytes.HasPrefix(shstrtab[n:], []byte(".zdebug")) {
			return no, false
		}
	}
	strtab := grow(&b.strs, int(str.size))
	if _, err := r.ReadAt(strtab, int64(str.off)); err != nil {
		return no, false
	}
	rs := rawSymtab{strtab: strtab, bo: bo}
	if syms {
		rs.symtab = grow(&b.syms, int(sym.size))
		if _, err := r.ReadAt(rs.symtab, int64(sym.off)); err != nil {
			return no, false
		}
	}
	return rs, true
}

// each calls f for every symbol of rs but the null one, with its name as
// debug/elf's File.Symbols gives it (empty when the string table holds
// no NUL after it, or it lies past the table; valid during the call
// only), its st_info and its section index.
func (rs rawSymtab) each(f func(name []byte, info byte, shndx elf.SectionIndex)) {
	for e := rs.symtab[elf.Sym64Size:]; len(e) >= elf.Sym64Size; e = e[elf.Sym64Size:] {
		var name []byte
		if n := uint64(rs.bo.Uint32(e)); n < uint64(len(rs.strtab)) {
			if i := bytes.IndexByte(rs.strtab[n:], 0); i >= 0 {
				name = rs.strtab[n : n+uint64(i)]
			}
		}
		f(name, e[4], elf.SectionIndex(rs.bo.Uint16(e[6:])))
	}
}

// undefined returns the names of rs's undefined symbols, as
// debug/elf's File.Symbols names them, empty names left out.
func (rs rawSymtab) undefined() []string {
	var out []string
	rs.each(undefinedInto(&out))
	return out
}

// undefinedInto is a callback of each and eachSymbol that appends to out
// the name of every undefined symbol, empty names left out.
func undefinedInto(out *[]string) func(name []byte, info byte, shndx elf.SectionIndex) {
	return func(name []byte, _ byte, shndx elf.SectionIndex) {
		if shndx == elf.SHN_UNDEF && len(name) > 0 {
			*out = append(*out, string(name))
		}
	}
}

// eachSymbol calls f for every symbol of the object open as fh (at
// path) but the null one, as rawSymtab.each does: read raw (readSymtab)
// when it reads plainly, else through debug/elf, which says what is
// wrong (an object with no symbol table is an error). name is valid
// during the call only.
func eachSymbol(fh *safeio.File, path string, f func(name []byte, info byte, shndx elf.SectionIndex)) error {
	b := lackBufs.Get().(*lackBuf)
	defer lackBufs.Put(b)
	if rs, ok := readSymtab(fh, fh.Size, b, true); ok {
		rs.each(f)
		return nil
	}
	ef, err := elf.NewFile(fh.SectionReader())
	if err != nil {
		return fmt.Errorf("object %s: %w", path, err)
	}
	if err := safeio.CheckCompressed(ef, path, fh.Size); err != nil {
		return fmt.Errorf("object %w", err)
	}
	syms, err := ef.Symbols()
	if err != nil {
		if errors.Is(err, elf.ErrNoSymbols) {
			return fmt.Errorf("object %s: no symbol table", path)
		}
		return fmt.Errorf("object %s: %w", path, err)
	}
	for _, s := range syms {
		f([]byte(s.Name), s.Info, s.Section)
	}
	return nil
}

// grow returns (*buf)[:n], growing *buf to hold n bytes.
func grow(buf *[]byte, n int) []byte {
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	return (*buf)[:n]
}

// UnitObjectsDefining is ObjectsDefining over objects compiled from one
// source file (see NewDefiners' unitsOnly).
func UnitObjectsDefining(paths []string, name string, workers int) ([]string, error) {
	d := NewDefiners(paths, workers, true)
	return d.Defining(name), d.Err()
}

// definedFuncs returns the names of the function symbols the object at
// path defines; none for a combined object when unitsOnly.
func definedFuncs(path string, unitsOnly bool) ([]string, map[string]bool, error) {
	fh, err := safeio.OpenObject(path)
	if err != nil {
		return nil, nil, fmt.Errorf("object %s: %w", path, err)
	}
	defer fh.Close()
	var names []string
	var weak map[string]bool
	strong := map[string]bool{}
	files := 0
	err = eachSymbol(fh, path, func(name []byte, info byte, shndx elf.SectionIndex) {
		switch {
		case elf.ST_TYPE(info) == elf.STT_FILE:
			files++
		case elf.ST_TYPE(info) == elf.STT_FUNC && shndx != elf.SHN_UNDEF:
			n := string(name)
			names = append(names, n)
			if elf.ST_BIND(info) == elf.STB_WEAK {
				if weak == nil {
					weak = map[string]bool{}
				}
				weak[n] = true
			} else {
				strong[n] = true
			}
		}
	})
	if err != nil {
		return nil, nil, err
	}
	if unitsOnly && files > 1 {
		return nil, nil, nil
	}
	for n := range weak {
		if strong[n] {
			delete(weak, n) // a strong copy of the name in the object too
		}
	}
	return names, weak, nil
}
