package callgraph

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

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
	if workers <= 0 {
		workers = 8
	}
	defines := make([]bool, len(paths))
	errs := make([]error, len(paths))
	par.Each(len(paths), workers, func(i int) { defines[i], errs[i] = definesFunc(paths[i], name) })
	var out []string
	for i, p := range paths {
		if defines[i] {
			out = append(out, p)
		}
	}
	return out, errors.Join(errs...)
}

// definesFunc reports whether the object at path defines a function
// symbol named name; the error is definedFuncs'.
func definesFunc(path, name string) (bool, error) {
	if name != "" && namesLack(path, name) {
		return false, nil
	}
	names, _, err := definedFuncs(path, false)
	return slices.Contains(names, name), err
}

// namesLack reports that the object at path is one definedFuncs reads
// without error and that no symbol of it can be named name: its symbol
// string table does not hold name followed by the NUL that ends every
// symbol name. False when it cannot tell.
func namesLack(path, name string) bool {
	fh, err := safeio.Open(path)
	if err != nil {
		return false
	}
	defer fh.Close()
	f, err := elf.NewFile(fh.SectionReader())
	if err != nil || safeio.CheckCompressed(f, path, fh.Size) != nil {
		return false
	}
	symtab := f.SectionByType(elf.SHT_SYMTAB)
	entSize := uint64(elf.Sym64Size)
	if f.Class == elf.ELFCLASS32 {
		entSize = elf.Sym32Size
	}
	// What elf.File.Symbols checks: a table of whole entries, readable,
	// and a string table it links to, readable.
	if symtab == nil || symtab.Flags&elf.SHF_COMPRESSED != 0 || symtab.Size == 0 || symtab.Size%entSize != 0 ||
		symtab.Offset > uint64(fh.Size) || symtab.Size > uint64(fh.Size)-symtab.Offset ||
		symtab.Link == 0 || int(symtab.Link) >= len(f.Sections) {
		return false
	}
	strs, err := f.Sections[symtab.Link].Data()
	if err != nil {
		return false
	}
	needle := make([]byte, 0, len(name)+1)
	needle = append(append(needle, name...), 0)
	return !bytes.Contains(strs, needle)
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
	fh, err := safeio.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("object %s: %w", path, err)
	}
	defer fh.Close()
	f, err := elf.NewFile(fh.SectionReader())
	if err != nil {
		return nil, nil, fmt.Errorf("object %s: %w", path, err)
	}
	if err := safeio.CheckCompressed(f, path, fh.Size); err != nil {
		return nil, nil, fmt.Errorf("object %w", err)
	}
	syms, err := f.Symbols()
	if err != nil {
		if errors.Is(err, elf.ErrNoSymbols) {
			return nil, nil, fmt.Errorf("object %s: no symbol table", path)
		}
		return nil, nil, fmt.Errorf("object %s: %w", path, err)
	}
	var names []string
	var weak map[string]bool
	strong := map[string]bool{}
	files := 0
	for _, s := range syms {
		switch {
		case elf.ST_TYPE(s.Info) == elf.STT_FILE:
			files++
		case elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF:
			names = append(names, s.Name)
			if elf.ST_BIND(s.Info) == elf.STB_WEAK {
				if weak == nil {
					weak = map[string]bool{}
				}
				weak[s.Name] = true
			} else {
				strong[s.Name] = true
			}
		}
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
