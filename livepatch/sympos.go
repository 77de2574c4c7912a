package livepatch

// This file computes klp_func.old_sympos for "impacted --vmlinux".
//
// The kernel resolves a klp_func in klp_find_object_symbol
// (kernel/livepatch/core.c): it walks the kallsyms of the klp_object
// (kallsyms_on_each_symbol for vmlinux, module_kallsyms_on_each_symbol
// for a module), counts every symbol whose name is old_name, of any type
// and binding, and takes the old_sympos-th. old_sympos 0 asks for the only
// one: with two or more of the name it is an "unresolvable ambiguity" and
// the livepatch does not load. So old_sympos is the 1-based position of
// our function among all same-named kallsyms entries, 0 when the name is
// unique. The order is the order kallsyms walks:
//
//   - vmlinux: scripts/kallsyms sorts the symbols (nm -n of vmlinux) by
//     address (at one address: strong before weak), so the position is
//     the address order. kallsyms keeps every symbol nm lists (data too:
//     CONFIG_LIVEPATCH depends on CONFIG_KALLSYMS_ALL) except undefined,
//     absolute and debugging symbols and a few fixed names.
//   - a module: module_kallsyms_on_each_symbol walks the module's own
//     symbol table in order. After loading, the kernel keeps the "core"
//     symbols (named, in allocated sections, not .init); while the module
//     is still loading it walks them all.
//
// Which of several same-named functions is ours is decided by the code:
// a candidate must be a function symbol of the same binding and size
// whose bytes equal the object's outside its relocated fields (the object
// is relocatable, the linked file is not). Functions with identical code
// (a static helper copied into several units) are then told apart by the
// linked file's DWARF: the compile unit whose address ranges hold the
// candidate must be the object's own compile unit (mm/oom_kill.c for
// mm/oom_kill.o). In a module, a relocatable file, DWARF ranges are
// section offsets that several sections share, so a candidate more than
// one unit's ranges cover stays ambiguous. When no candidate or several
// remain, old_sympos is unknown: a fail-closed problem.

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/internal/safeio"
	"github.com/klp-audit/klp-audit/object"
)

// LinkedFile is a linked kernel file given with --vmlinux: vmlinux itself,
// or a module (.ko). Its symbols are kept in the order the kernel's
// kallsyms walks them, which is the order old_sympos counts in.
type LinkedFile struct {
	path string
	// module is the module's name (as klp_object.name has it); "" for
	// vmlinux.
	module string
	fh     *os.File
	ef     *elf.File
	// syms are the kallsyms entries in kallsyms order; byName indexes them.
	syms   []kallsym
	byName map[string][]int

	dwarfOnce sync.Once
	units     []unitRanges
	dwarfErr  error
}

// kallsym is one symbol the kernel's kallsyms lists for the file.
type kallsym struct {
	name  string
	value uint64 // the address (vmlinux), or the offset in its section (module)
	size  uint64
	shndx int
	typ   elf.SymType
	bind  elf.SymBind
	// loading marks a module symbol that kallsyms lists only while the
	// module is loading (one in an .init section, say).
	loading bool
}

// unitRanges is one DWARF compile unit of a linked file.
type unitRanges struct {
	name   string
	ranges [][2]uint64
}

// LinkedFiles are all the files given with --vmlinux.
type LinkedFiles struct {
	vmlinux *LinkedFile
	modules map[string]*LinkedFile
	all     []*LinkedFile

	// OpenObject reads a relocatable object with its code (object.OpenCode
	// when nil): a caller that already has the build's objects open
	// passes its cache, so no object is read twice.
	OpenObject func(path string) (*object.File, error)

	mu   sync.Mutex
	objs map[string]*objCode
}

// objCode is an object (.o) read with its code, or why it could not be.
type objCode struct {
	f     *object.File
	units []string // its DWARF compile units' names
	err   error
}

// OpenLinkedFiles opens the files of --vmlinux. A file that is not a
// linked ELF file or a module, has no symbol table, or a second vmlinux
// or a module given twice, is an input error.
func OpenLinkedFiles(paths []string) (*LinkedFiles, error) {
	lfs := &LinkedFiles{modules: map[string]*LinkedFile{}, objs: map[string]*objCode{}}
	for _, p := range paths {
		lf, err := openLinkedFile(p)
		if err != nil {
			lfs.Close()
			return nil, fmt.Errorf("--vmlinux %v", err)
		}
		lfs.all = append(lfs.all, lf)
		if lf.module == "" {
			if lfs.vmlinux != nil {
				lfs.Close()
				return nil, fmt.Errorf("--vmlinux given twice for vmlinux: %s and %s", lfs.vmlinux.path, p)
			}
			lfs.vmlinux = lf
			continue
		}
		if o, ok := lfs.modules[lf.module]; ok {
			lfs.Close()
			return nil, fmt.Errorf("--vmlinux given twice for module %s: %s and %s", lf.module, o.path, p)
		}
		lfs.modules[lf.module] = lf
	}
	return lfs, nil
}

func (lfs *LinkedFiles) Close() {
	if lfs == nil {
		return
	}
	for _, lf := range lfs.all {
		lf.fh.Close()
	}
}

func openLinkedFile(p string) (lf *LinkedFile, err error) {
	sf, err := safeio.OpenObject(p)
	if err != nil {
		return nil, err
	}
	fh := sf.File
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: %w: %v", p, object.ErrCorrupt, r)
		}
		if err != nil {
			fh.Close()
		}
	}()
	ef, err := elf.NewFile(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	lf = &LinkedFile{path: p, fh: fh, ef: ef, byName: map[string][]int{}}
	switch ef.Type {
	case elf.ET_EXEC, elf.ET_DYN:
	case elf.ET_REL:
		if ef.Section(".modinfo") == nil && ef.Section(".gnu.linkonce.this_module") == nil {
			return nil, fmt.Errorf("%s: a relocatable object that is not a module: give the linked vmlinux (not vmlinux.o) or a module's .ko", p)
		}
		lf.module = moduleName(ef, p)
	default:
		return nil, fmt.Errorf("%s: ELF type %v: want the linked vmlinux or a module's .ko", p, ef.Type)
	}
	syms, err := ef.Symbols()
	if err != nil {
		if errors.Is(err, elf.ErrNoSymbols) {
			return nil, fmt.Errorf("%s: no symbol table (stripped?): kallsyms, and so old_sympos, cannot be told", p)
		}
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if lf.module == "" {
		lf.readVmlinuxSyms(syms)
	} else {
		lf.readModuleSyms(syms)
	}
	for i, s := range lf.syms {
		lf.byName[s.name] = append(lf.byName[s.name], i)
	}
	return lf, nil
}

// moduleName returns the name the kernel knows a module by: the name=
// field of .modinfo (modpost writes it), else the file name with - as _.
func moduleName(ef *elf.File, p string) string {
	if s := ef.Section(".modinfo"); s != nil {
		if b, err := s.Data(); err == nil {
			for _, f := range bytes.Split(b, []byte{0}) {
				if n, ok := bytes.CutPrefix(f, []byte("name=")); ok && len(n) > 0 {
					return string(n)
				}
			}
		}
	}
	base := strings.TrimSuffix(filepath.Base(p), ".ko")
	return strings.ReplaceAll(base, "-", "_")
}

func symOf(s elf.Symbol) kallsym {
	return kallsym{name: s.Name, value: s.Value, size: s.Size, shndx: int(s.Section),
		typ: elf.ST_TYPE(s.Info), bind: elf.ST_BIND(s.Info)}
}

// readVmlinuxSyms keeps the symbols scripts/kallsyms keeps, sorted as it
// sorts them.
func (lf *LinkedFile) readVmlinuxSyms(syms []elf.Symbol) {
	secs := lf.ef.Sections
	for _, s := range syms {
		t := elf.ST_TYPE(s.Info)
		if s.Name == "" || t == elf.STT_SECTION || t == elf.STT_FILE {
			continue // nm does not list them
		}
		if s.Section == elf.SHN_UNDEF || s.Section >= elf.SHN_LORESERVE || int(s.Section) >= len(secs) {
			continue // undefined, absolute (ignored by kallsyms), common
		}
		if secs[s.Section].Flags&elf.SHF_ALLOC == 0 || kallsymsIgnored(s.Name) {
			continue // debugging symbols, and names kallsyms drops
		}
		lf.syms = append(lf.syms, symOf(s))
	}
	sort.SliceStable(lf.syms, func(i, j int) bool {
		a, b := &lf.syms[i], &lf.syms[j]
		if a.value != b.value {
			return a.value < b.value
		}
		return a.bind != elf.STB_WEAK && b.bind == elf.STB_WEAK
	})
}

// readModuleSyms keeps a module's symbols in symbol-table order, marking
// those the kernel lists only while the module is loading.
func (lf *LinkedFile) readModuleSyms(syms []elf.Symbol) {
	secs := lf.ef.Sections
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF || s.Name == "" {
			continue // never listed, or never matching a name
		}
		k := symOf(s)
		// is_core_symbol (kernel/module/kallsyms.c): a named symbol in an
		// allocated section that is not an init section.
		core := int(s.Section) < len(secs) && s.Section < elf.SHN_LORESERVE &&
			secs[s.Section].Flags&elf.SHF_ALLOC != 0 && !strings.HasPrefix(secs[s.Section].Name, ".init")
		k.loading = !core
		lf.syms = append(lf.syms, k)
	}
}

// kallsymsIgnored mirrors is_ignored_symbol of scripts/kallsyms.c (Linux
// 6.1) for names: what it drops besides undefined, absolute and debugging
// symbols.
func kallsymsIgnored(name string) bool {
	switch name {
	case "kallsyms_addresses", "kallsyms_offsets", "kallsyms_relative_base", "kallsyms_num_syms",
		"kallsyms_names", "kallsyms_markers", "kallsyms_token_table", "kallsyms_token_index",
		"kallsyms_seqs_of_names", "_SDA_BASE_", "_SDA2_BASE_":
		return true
	}
	for _, p := range []string{"__efistub_", "__kvm_nvhe_$", "__kvm_nvhe_.L", "__AArch64ADRPThunk_",
		"__ARMV5PILongThunk_", "__ARMV7PILongThunk_", "__ThumbV7PILongThunk_", "__LA25Thunk_",
		"__microLA25Thunk_", "__kcfi_typeid_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	for _, s := range []string{"_from_arm", "_from_thumb", "_veneer"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return strings.Contains(name, ".long_branch.") || strings.Contains(name, ".plt_branch.")
}

// Path is the file's path as given.
func (lf *LinkedFile) Path() string { return lf.path }

// klpName is how messages name the file's klp_object.
func (lf *LinkedFile) klpName() string {
	if lf.module == "" {
		return "vmlinux"
	}
	return "module " + lf.module
}

// FileFor returns the linked file holding the klp_object klp ("vmlinux",
// a module name, or "" when the build is not a kernel tree), or why
// there is none.
func (lfs *LinkedFiles) FileFor(klp string) (*LinkedFile, string) {
	switch klp {
	case "vmlinux":
		if lfs.vmlinux == nil {
			return nil, "vmlinux not given (--vmlinux FILE)"
		}
		return lfs.vmlinux, ""
	case "":
		// Outside a kernel tree the klp_object is unknown: a single
		// file given is the one meant.
		if len(lfs.all) == 1 {
			return lfs.all[0], ""
		}
		if lfs.vmlinux != nil {
			return lfs.vmlinux, ""
		}
		return nil, "its klp_object is unknown (the build is not a kernel tree) and no vmlinux was given"
	}
	if lf := lfs.modules[klp]; lf != nil {
		return lf, ""
	}
	return nil, "module " + klp + "'s .ko not given (--vmlinux " + klp + ".ko)"
}

// object returns the object at p read with its code, cached.
func (lfs *LinkedFiles) object(p string) *objCode {
	lfs.mu.Lock()
	defer lfs.mu.Unlock()
	if oc, ok := lfs.objs[p]; ok {
		return oc
	}
	oc := &objCode{}
	open := lfs.OpenObject
	if open == nil {
		open = object.OpenCode
	}
	oc.f, oc.err = open(p)
	if oc.err == nil {
		if us, err := dwarfinfo.Producers(p); err == nil {
			for _, u := range us {
				if u.Name != "" {
					oc.units = append(oc.units, u.Name)
				}
			}
		}
	}
	lfs.objs[p] = oc
	return oc
}

// SymposAnswer is the old_sympos of one klp_func, or why it is unknown.
type SymposAnswer struct {
	// Pos is klp_func.old_sympos; meaningful when Problem is empty.
	Pos int
	// Count is how many kallsyms entries share the name.
	Count int
	// File is the linked file counted in.
	File string
	// Address is the chosen symbol's value there.
	Address uint64
	// Evidence says how the symbol was found and counted.
	Evidence string
	// Problem says why old_sympos is unknown.
	Problem string
}

// Sympos computes the old_sympos of function fn of object obj (its
// symbol in the relocatable object) in lf.
func (lfs *LinkedFiles) Sympos(lf *LinkedFile, obj string, fn object.Func) SymposAnswer {
	ans := SymposAnswer{File: lf.path}
	all := lf.byName[fn.Name]
	var core, loading []int
	for _, i := range all {
		if lf.syms[i].loading {
			loading = append(loading, i)
		} else {
			core = append(core, i)
		}
	}
	ans.Count = len(core)
	if len(core) == 0 {
		ans.Problem = fmt.Sprintf("%s has no symbol named %s: is it the %s of this build?", lf.path, fn.Name, lf.klpName())
		return ans
	}
	local := fn.Bind == elf.STB_LOCAL
	var cands []int
	for _, i := range core {
		s := &lf.syms[i]
		if s.typ == elf.STT_FUNC && (s.bind == elf.STB_LOCAL) == local {
			cands = append(cands, i)
		}
	}
	bind := "global"
	if local {
		bind = "local"
	}
	if len(cands) == 0 {
		ans.Problem = fmt.Sprintf("%s has %d symbols named %s but no %s function: is it the %s of this build?",
			lf.path, len(core), fn.Name, bind, lf.klpName())
		return ans
	}
	oc := lfs.object(obj)
	if oc.err != nil {
		ans.Problem = fmt.Sprintf("the code of %s cannot be read from %s (%v), so which of the %d symbols named %s in %s is it cannot be told",
			fn.Name, obj, oc.err, len(cands), fn.Name, lf.path)
		return ans
	}
	code, mask, masked, ok := objFuncCode(oc.f, fn)
	if !ok {
		ans.Problem = fmt.Sprintf("the code of %s is not in %s (size %d), so which of the %d symbols named %s in %s is it cannot be told",
			fn.Name, obj, fn.Size, len(cands), fn.Name, lf.path)
		return ans
	}
	var same []int
	for _, i := range cands {
		s := &lf.syms[i]
		if s.size != fn.Size {
			continue
		}
		b, ok := lf.code(s)
		if ok && sameCode(code, mask, b) {
			same = append(same, i)
		}
	}
	how := fmt.Sprintf("matched by code (%d bytes equal outside %s)", fn.Size, plural(masked, "relocated field", "relocated fields"))
	switch {
	case len(same) == 0:
		ans.Problem = fmt.Sprintf("none of the %s named %s in %s has the code of %s's (same size, equal bytes outside relocated fields): is it the %s of this build?",
			plural(len(cands), bind+" function", bind+" functions"), fn.Name, lf.path, obj, lf.klpName())
		return ans
	case len(same) > 1:
		units := oc.units
		if len(units) == 0 {
			ans.Problem = fmt.Sprintf("%d %s functions named %s in %s have the code of %s's, and %s has no DWARF compile unit to tell them apart: old_sympos is %s",
				len(same), bind, fn.Name, lf.path, obj, obj, positions(same, core))
			return ans
		}
		var inUnit []int
		for _, i := range same {
			names, err := lf.unitsAt(lf.syms[i].value)
			if err != nil {
				ans.Problem = fmt.Sprintf("%d %s functions named %s in %s have the code of %s's, and its DWARF cannot tell them apart (%v): old_sympos is %s",
					len(same), bind, fn.Name, lf.path, obj, err, positions(same, core))
				return ans
			}
			if len(names) == 1 && unitMatches(names[0], units) {
				inUnit = append(inUnit, i)
			}
		}
		if len(inUnit) != 1 {
			ans.Problem = fmt.Sprintf("%d %s functions named %s in %s have the code of %s's, and %d of them lie in compile unit %s by DWARF: old_sympos is %s",
				len(same), bind, fn.Name, lf.path, obj, len(inUnit), strings.Join(units, ", "), positions(same, core))
			return ans
		}
		how += fmt.Sprintf(", the same as %s, told apart by DWARF compile unit %s",
			plural(len(same)-1, "other", "others"), strings.Join(units, ", "))
		same = inUnit
	}
	k := same[0]
	pos := 0
	for n, i := range core {
		if i == k {
			pos = n + 1
		}
	}
	ans.Address = lf.syms[k].value
	order := "kallsyms order: address order"
	if lf.module != "" {
		order = "kallsyms order: the module's symbol table order"
	}
	if len(core) == 1 {
		ans.Pos = 0
		ans.Evidence = fmt.Sprintf("%s: the only symbol named %s (at %#x), %s", lf.path, fn.Name, ans.Address, how)
	} else {
		ans.Pos = pos
		ans.Evidence = fmt.Sprintf("%s: %s of %d symbols named %s (%s), at %#x, %s",
			lf.path, Ordinal(pos), len(core), fn.Name, order, ans.Address, how)
	}
	if len(loading) > 0 {
		ans.Problem = fmt.Sprintf("module %s has %s named %s that kallsyms lists only while the module loads: old_sympos %d holds once it has loaded, and may not while it is loading",
			lf.module, plural(len(loading), "more symbol", "more symbols"), fn.Name, ans.Pos)
	}
	return ans
}

// positions lists the old_sympos of the entries same among core, for a
// message.
func positions(same, core []int) string {
	var out []string
	for n, i := range core {
		for _, j := range same {
			if i == j {
				out = append(out, fmt.Sprint(n+1))
			}
		}
	}
	return strings.Join(out, " or ")
}

// Ordinal writes n as an English ordinal: 1st, 2nd, 3rd, 11th, 21st.
func Ordinal(n int) string {
	suf := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suf = "st"
	case n%10 == 2:
		suf = "nd"
	case n%10 == 3:
		suf = "rd"
	}
	return fmt.Sprintf("%d%s", n, suf)
}

// objFuncCode returns fn's code in object f and which of its bytes a
// relocation fills in (the linker's to decide), with the number of
// relocated fields.
func objFuncCode(f *object.File, fn object.Func) (code []byte, mask []bool, fields int, ok bool) {
	var in *object.Func
	for _, c := range f.Lookup(fn.Name) {
		if c.Shndx == fn.Shndx && c.Value == fn.Value {
			in = c
		}
	}
	if in == nil || in.Size == 0 {
		return nil, nil, 0, false
	}
	code, relocs, ok := f.Code(in)
	if !ok {
		return nil, nil, 0, false
	}
	mask = make([]bool, len(code))
	for _, r := range relocs {
		lo, hi := object.RelocField(f, r)
		start := int64(r.Off-in.Value) + lo
		for i := max(start, 0); i < int64(r.Off-in.Value)+hi && i < int64(len(mask)); i++ {
			mask[i] = true
		}
	}
	return code, mask, len(relocs), true
}

// sameCode reports whether linked bytes b equal the object's code outside
// the masked bytes.
func sameCode(code []byte, mask []bool, b []byte) bool {
	if len(code) != len(b) {
		return false
	}
	for i := range code {
		if !mask[i] && code[i] != b[i] {
			return false
		}
	}
	return true
}

// code returns the bytes of symbol s in the linked file.
func (lf *LinkedFile) code(s *kallsym) ([]byte, bool) {
	if s.shndx <= 0 || s.shndx >= len(lf.ef.Sections) {
		return nil, false
	}
	sec := lf.ef.Sections[s.shndx]
	if sec.Type == elf.SHT_NOBITS {
		return nil, false
	}
	off := s.value
	if lf.module == "" {
		if off < sec.Addr {
			return nil, false
		}
		off -= sec.Addr
	}
	if off > sec.Size || s.size > sec.Size-off {
		return nil, false
	}
	b := make([]byte, s.size)
	if _, err := sec.ReadAt(b, int64(off)); err != nil {
		return nil, false
	}
	return b, true
}

// unitsAt returns the names of the DWARF compile units whose address
// ranges hold addr. The DWARF is read on first need only: a vmlinux's is
// large.
func (lf *LinkedFile) unitsAt(addr uint64) ([]string, error) {
	lf.dwarfOnce.Do(lf.readUnits)
	if lf.dwarfErr != nil {
		return nil, lf.dwarfErr
	}
	var out []string
	for _, u := range lf.units {
		for _, r := range u.ranges {
			if addr >= r[0] && addr < r[1] {
				out = append(out, u.name)
				break
			}
		}
	}
	return out, nil
}

func (lf *LinkedFile) readUnits() {
	defer func() {
		if r := recover(); r != nil {
			lf.dwarfErr = fmt.Errorf("%s: %w: %v", lf.path, object.ErrCorrupt, r)
		}
	}()
	if lf.ef.Section(".debug_info") == nil && lf.ef.Section(".zdebug_info") == nil {
		lf.dwarfErr = fmt.Errorf("%s has no DWARF (built without -g, or stripped)", lf.path)
		return
	}
	d, err := lf.ef.DWARF()
	if err != nil {
		lf.dwarfErr = fmt.Errorf("%s: no usable DWARF (%v)", lf.path, err)
		return
	}
	rd := d.Reader()
	for {
		e, err := rd.Next()
		if err != nil {
			lf.dwarfErr = fmt.Errorf("%s: DWARF: %w", lf.path, err)
			return
		}
		if e == nil {
			break
		}
		if e.Tag == dwarf.TagCompileUnit || e.Tag == dwarf.TagPartialUnit {
			name, _ := e.Val(dwarf.AttrName).(string)
			rs, err := d.Ranges(e)
			if err == nil && name != "" {
				u := unitRanges{name: name}
				for _, r := range rs {
					u.ranges = append(u.ranges, [2]uint64{r[0], r[1]})
				}
				lf.units = append(lf.units, u)
			}
		}
		rd.SkipChildren()
	}
	if len(lf.units) == 0 {
		lf.dwarfErr = fmt.Errorf("%s: no DWARF compile units (built without -g?)", lf.path)
	}
}

// unitMatches reports whether compile unit name is one of the object's
// units: the same source path, or one is the other with leading
// directories (absolute against relative).
func unitMatches(name string, units []string) bool {
	name = path.Clean(filepath.ToSlash(name))
	for _, u := range units {
		u = path.Clean(filepath.ToSlash(u))
		if u == name || strings.HasSuffix(u, "/"+name) || strings.HasSuffix(name, "/"+u) {
			return true
		}
	}
	return false
}

// plural counts n things: "1 symbol", "2 symbols".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
