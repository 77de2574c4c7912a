package object

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/klp-audit/klp-audit/internal/par"
	"github.com/klp-audit/klp-audit/internal/safeio"
)

// ErrNoSymbols is wrapped by the error for an object without a symbol
// table (a stripped vmlinux or module): it cannot tell which functions
// exist, so it cannot back a klp_func list.
var ErrNoSymbols = errors.New("no symbol table")

// ErrUnsupported is wrapped by the error for an ELF file klp-audit does
// not read: a machine other than x86-64, AArch64, ppc64le (or ppc64
// ELFv2), s390x and LoongArch64, a 32-bit class, a byte order the
// machine's kernels do not use, or code with a relocation type the
// machine's ABI does not define. The message names what it is.
var ErrUnsupported = errors.New("unsupported ELF file")

// ErrCorrupt is wrapped by the error for an ELF file whose tables point
// outside the file or contradict each other (truncated downloads, damaged
// objects). The std library's own format errors are wrapped as they are.
var ErrCorrupt = errors.New("corrupt ELF file")

// Open reads the object at path: a relocatable object (.o, .ko,
// vmlinux.o) or a linked vmlinux. The error names the file.
//
// Only a regular file is opened (a FIFO or a device is an error at once),
// and a file whose compressed sections would expand beyond
// safeio.DecompressedLimit (64 times its size, at least 64 MiB) is
// refused before anything is decompressed.
func Open(path string) (*File, error) {
	fh, err := safeio.OpenObject(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return NewFile(fh.SectionReader(), path)
}

// NewFile reads an object from r; path is used in the File and in errors
// only. The File keeps no reference to r. Corrupt input gives an error
// naming path, never a panic.
func NewFile(r io.ReaderAt, path string) (f *File, err error) {
	defer func() {
		if p := recover(); p != nil {
			f = nil
			err = fmt.Errorf("%s: %w: %v", path, ErrCorrupt, p)
		}
	}()
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer ef.Close()
	rd := &reader{path: path, ef: ef, fileSize: -1}
	if s, ok := r.(interface{ Size() int64 }); ok {
		rd.fileSize = s.Size()
		if err := safeio.CheckCompressed(ef, path, rd.fileSize); err != nil {
			return nil, err
		}
	}
	rd.flags = elfFlags(r, ef)
	f, err = rd.read()
	if err != nil {
		return nil, err
	}
	return f, nil
}

// OpenAll opens the objects at paths with workers goroutines (at least
// one) and returns them in input order. An object that cannot be read
// leaves a nil entry; its error is in the returned errors.Join list, so a
// caller that goes on with the rest knows its evidence is incomplete.
func OpenAll(paths []string, workers int) ([]*File, error) {
	if workers < 1 {
		workers = 1
	}
	files := make([]*File, len(paths))
	errs := make([]error, len(paths))
	par.Each(len(paths), workers, func(i int) { files[i], errs[i] = Open(paths[i]) })
	return files, errors.Join(errs...)
}

// sym is one ELF symbol as read from the table; names share one string.
type sym struct {
	name  string
	info  uint8
	other uint8  // st_other: visibility, ppc64's local entry point
	shndx uint32 // SHN_XINDEX already resolved
	value uint64
	size  uint64
}

func (s *sym) typ() elf.SymType  { return elf.ST_TYPE(s.info) }
func (s *sym) bind() elf.SymBind { return elf.ST_BIND(s.info) }

// defined says the symbol has a home in a real section.
func (s *sym) defined() bool {
	return s.shndx != uint32(elf.SHN_UNDEF) && s.shndx < uint32(elf.SHN_LORESERVE)
}

// reader holds what one NewFile call needs while it works.
type reader struct {
	path   string
	ef     *elf.File
	f      *File
	syms   []sym
	linked bool
	// funcOf maps a symbol-table index to its Funcs index, -1 if none.
	funcOf []int32
	// fileSize is the input's size, -1 when the reader does not tell.
	fileSize int64
	// flags is the header's e_flags, which debug/elf does not keep.
	flags uint32
}

// elfFlags reads e_flags from an ELF64 header (debug/elf has read and
// checked the header already); 0 when it cannot.
func elfFlags(r io.ReaderAt, ef *elf.File) uint32 {
	var b [4]byte
	if ef.Class != elf.ELFCLASS64 {
		return 0
	}
	if n, _ := r.ReadAt(b[:], 48); n < 4 {
		return 0
	}
	return ef.ByteOrder.Uint32(b[:])
}

// sectionData reads a section's bytes. A section that says it is larger
// than the file (corrupt input), or that occupies no file space (NOBITS,
// which debug/elf would fill with zeros however large it claims to be),
// gives an error rather than a huge allocation.
func (rd *reader) sectionData(s *elf.Section) ([]byte, error) {
	if s.Type == elf.SHT_NOBITS {
		return nil, fmt.Errorf("section %s has no data in the file (SHT_NOBITS)", s.Name)
	}
	if rd.fileSize >= 0 && s.Flags&elf.SHF_COMPRESSED == 0 && s.Size > uint64(rd.fileSize) {
		return nil, fmt.Errorf("section %s: size %d beyond the file's %d bytes", s.Name, s.Size, rd.fileSize)
	}
	return s.Data()
}

func (rd *reader) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: "+format, append([]any{rd.path}, args...)...)
}

func (rd *reader) read() (*File, error) {
	ef := rd.ef
	arch, err := archOf(ef.Class, ef.Data, ef.Machine, rd.flags)
	if err != nil {
		return nil, rd.errorf("%w", err)
	}
	f := &File{Path: rd.path, Machine: ef.Machine, Arch: arch, Type: ef.Type}
	rd.f = f
	rd.linked = ef.Type != elf.ET_REL
	f.linked = rd.linked
	f.sections = make([]section, len(ef.Sections))
	for i, s := range ef.Sections {
		f.sections[i] = section{name: s.Name, flags: s.Flags, typ: s.Type, addr: s.Addr, size: s.Size}
		if s.Name == ".debug_info" || s.Name == ".zdebug_info" {
			f.HasDWARF = true
		}
	}
	if err := rd.readSymbols(); err != nil {
		return nil, err
	}
	rd.makeFuncs()
	f.index()
	f.HasCallGraph = true
	if err := rd.buildRefs(); err != nil {
		return nil, err
	}
	return f, nil
}

// readSymbols reads .symtab (or, for a linked file without one, .dynsym)
// with SHN_XINDEX support, which debug/elf lacks and objects with more
// than 65279 sections (vmlinux.o with -ffunction-sections) need.
func (rd *reader) readSymbols() error {
	ef := rd.ef
	var st *elf.Section
	for _, s := range ef.Sections {
		if s.Type == elf.SHT_SYMTAB {
			st = s
			break
		}
	}
	if st == nil && rd.linked {
		for _, s := range ef.Sections {
			if s.Type == elf.SHT_DYNSYM {
				st = s
				break
			}
		}
	}
	if st == nil {
		return rd.errorf("%w", ErrNoSymbols)
	}
	data, err := rd.sectionData(st)
	if err != nil {
		return rd.errorf("%w: symbol table %s: %w", ErrCorrupt, st.Name, err)
	}
	if len(data)%elf.Sym64Size != 0 {
		return rd.errorf("%w: symbol table %s: size %d is not a multiple of %d", ErrCorrupt, st.Name, len(data), elf.Sym64Size)
	}
	if int(st.Link) <= 0 || int(st.Link) >= len(ef.Sections) {
		return rd.errorf("%w: symbol table %s: string table index %d out of range", ErrCorrupt, st.Name, st.Link)
	}
	strb, err := rd.sectionData(ef.Sections[st.Link])
	if err != nil {
		return rd.errorf("%w: string table: %w", ErrCorrupt, err)
	}
	strtab := string(strb) // one copy; names are substrings of it
	var xindex []byte
	for i, s := range ef.Sections {
		if s.Type == elf.SHT_SYMTAB_SHNDX && int(s.Link) < len(ef.Sections) && ef.Sections[s.Link] == st {
			xindex, err = rd.sectionData(s)
			if err != nil {
				return rd.errorf("%w: section %d (%s): %w", ErrCorrupt, i, s.Name, err)
			}
		}
	}
	n := len(data) / elf.Sym64Size
	syms := make([]sym, n)
	le := ef.ByteOrder
	for i := 0; i < n; i++ {
		b := data[i*elf.Sym64Size:]
		nameOff := le.Uint32(b)
		s := sym{info: b[4], other: b[5], shndx: uint32(le.Uint16(b[6:])), value: le.Uint64(b[8:]), size: le.Uint64(b[16:])}
		if int(nameOff) < len(strtab) {
			end := strings.IndexByte(strtab[nameOff:], 0)
			if end < 0 {
				end = len(strtab) - int(nameOff)
			}
			s.name = strtab[nameOff : int(nameOff)+end]
		} else if nameOff != 0 {
			return rd.errorf("%w: symbol %d: name offset %d beyond string table (%d bytes)", ErrCorrupt, i, nameOff, len(strtab))
		}
		if s.shndx == uint32(elf.SHN_XINDEX) {
			if len(xindex) < (i+1)*4 {
				return rd.errorf("%w: symbol %d (%s): SHN_XINDEX without an entry in .symtab_shndx", ErrCorrupt, i, s.name)
			}
			s.shndx = le.Uint32(xindex[i*4:])
		}
		if s.defined() && int(s.shndx) >= len(ef.Sections) {
			return rd.errorf("%w: symbol %d (%s): section index %d out of range", ErrCorrupt, i, s.name, s.shndx)
		}
		syms[i] = s
	}
	rd.syms = syms
	return nil
}

// makeFuncs fills Funcs from the symbols: Sympos, aliases, cold pieces.
func (rd *reader) makeFuncs() {
	f := rd.f
	rd.funcOf = make([]int32, len(rd.syms))
	for i := range rd.syms {
		rd.funcOf[i] = -1
		s := &rd.syms[i]
		if s.typ() != elf.STT_FUNC || s.shndx == uint32(elf.SHN_UNDEF) || s.name == "" {
			continue
		}
		fn := Func{Name: s.name, Bind: s.bind(), Shndx: int(s.shndx), Value: s.value, Size: s.size}
		if f.Machine == elf.EM_PPC64 {
			fn.LocalEntry = ppc64LocalEntry(s.other)
		}
		if s.defined() {
			fn.Section = f.sections[s.shndx].name
		} else if s.shndx == uint32(elf.SHN_ABS) {
			fn.Section = "*ABS*"
		}
		rd.funcOf[i] = int32(len(f.Funcs))
		f.Funcs = append(f.Funcs, fn)
	}
	f.byName = make(map[string][]int32, len(f.Funcs))
	for i := range f.Funcs {
		n := f.Funcs[i].Name
		f.byName[n] = append(f.byName[n], int32(i))
	}
	// Sympos: the position among the local function symbols of the name,
	// when the name is not unique. A module's kallsyms keep symbol-table
	// order; vmlinux's are sorted by address (scripts/kallsyms), so a
	// linked file counts in address order.
	for _, idx := range f.byName {
		if len(idx) < 2 {
			continue
		}
		var order []int32
		for _, i := range idx {
			if f.Funcs[i].Bind == elf.STB_LOCAL {
				order = append(order, i)
			}
		}
		if rd.linked {
			sort.SliceStable(order, func(a, b int) bool { return f.Funcs[order[a]].Value < f.Funcs[order[b]].Value })
		}
		for pos, i := range order {
			f.Funcs[i].Sympos = pos + 1
		}
	}
	// Aliases: same section and value.
	type key struct {
		shndx int
		value uint64
	}
	at := make(map[key][]int32, len(f.Funcs))
	for i := range f.Funcs {
		fn := &f.Funcs[i]
		if fn.Shndx <= 0 || fn.Shndx >= len(f.sections) {
			continue
		}
		k := key{fn.Shndx, fn.Value}
		at[k] = append(at[k], int32(i))
	}
	for _, idx := range at {
		if len(idx) < 2 {
			continue
		}
		all := make([]string, 0, len(idx))
		for _, j := range idx {
			all = append(all, f.Funcs[j].Name)
		}
		sort.Strings(all)
		all = dedupStrings(all)
		if len(all) > maxAliases+1 {
			all = all[:maxAliases+1] // only crafted input has so many
		}
		for _, i := range idx {
			names := make([]string, 0, len(all)-1)
			for _, n := range all {
				if n != f.Funcs[i].Name {
					names = append(names, n)
				}
			}
			if len(names) > maxAliases {
				names = names[:maxAliases]
			}
			if len(names) > 0 {
				f.Funcs[i].Aliases = names
			}
		}
	}
	// Cold pieces: foo.cold, foo.cold.N belong to foo. When foo is
	// defined several times (ld -r of units with the same static foo),
	// the k-th foo.cold goes with the k-th foo in symbol-table order,
	// which is unit order.
	coldRank := map[string]int{}
	for i := range f.Funcs {
		fn := &f.Funcs[i]
		parent, ok := coldParent(fn.Name)
		if !ok {
			continue
		}
		ps := f.byName[parent]
		if len(ps) == 0 {
			continue
		}
		p := ps[0]
		if len(ps) > 1 {
			k := coldRank[fn.Name]
			coldRank[fn.Name]++
			if k < len(ps) {
				p = ps[k]
			}
		}
		fn.ColdOf = parent
		f.Funcs[p].Cold = append(f.Funcs[p].Cold, fn.Name)
	}
}

// maxAliases bounds Func.Aliases: a crafted object with thousands of
// symbols at one address must not cost quadratic memory.
const maxAliases = 1000

// coldParent strips a ".cold" or ".cold.N" suffix.
func coldParent(name string) (string, bool) {
	i := strings.LastIndex(name, ".cold")
	if i <= 0 {
		return "", false
	}
	rest := name[i+len(".cold"):]
	if rest != "" {
		if rest[0] != '.' {
			return "", false
		}
		if _, err := strconv.ParseUint(rest[1:], 10, 32); err != nil {
			return "", false
		}
	}
	return name[:i], true
}

func dedupStrings(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}
