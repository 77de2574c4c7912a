package object

import (
	"debug/elf"
	"sort"
	"strings"
)

// rela is one relocation. off is a section offset in a relocatable
// object and an address in a linked file, like symbol values.
type rela struct {
	off    uint64
	typ    uint32
	sym    uint32
	addend int64
}

// target is where a relocation or a decoded instruction leads.
type target struct {
	fn      int32  // canonical Funcs index, or -1
	name    string // set for an undefined symbol (fn == -1)
	isFunc  bool   // name is known to be a function (STT_FUNC)
	atStart bool   // the position is the function's first byte
	body    int    // index in bodies, -1 for undefined symbols
}

var noTarget = target{fn: -1, body: -1}

// fentryName says a call to name is the ftrace entry call that -pg
// -mfentry (or plain -pg) puts first in every traceable function.
func fentryName(name string) bool {
	switch name {
	case "__fentry__", "mcount", "_mcount", "__mcount":
		return true
	}
	return false
}

// metadataSection says relocations in the named section are bookkeeping
// about code (ftrace, unwind, alternatives, exception and bug tables,
// kprobe and error-injection lists), not function pointers the program
// stores: they give no DataRef.
func metadataSection(name string) bool {
	switch name {
	case ".eh_frame", ".eh_frame_hdr", ".gcc_except_table",
		"__mcount_loc", "__patchable_function_entries",
		"__jump_table", "__ex_table", "__bug_table", ".smp_locks",
		".static_call_sites", ".retpoline_sites", ".return_sites",
		".call_sites", ".ibt_endbr_seal", ".cfi_sites", ".kcfi_traps",
		".altinstructions", ".parainstructions",
		".orc_unwind", ".orc_unwind_ip", ".orc_header",
		"_kprobe_blacklist", "_error_injection_whitelist",
		"__ksymtab_strings":
		return true
	}
	for _, p := range []string{".discard", ".debug", ".note", ".rela", ".rel.", ".zdebug", ".gnu"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// refBuilder collects the refs of one object.
type refBuilder struct {
	rd     *reader
	f      *File
	refs   []Ref
	relocs map[int][]rela // by target section
	// mcount holds the function entries that __mcount_loc and
	// __patchable_function_entries list: key (section, offset), or
	// (0, address) in a linked file.
	mcount map[[2]uint64]bool
	objs   []objSym // STT_OBJECT symbols, for DataRef.From
	// externAddrs collects File.ExternAddrs.
	externAddrs map[string]bool
}

type objSym struct {
	shndx       int
	start, size uint64
	name        string
}

func (rd *reader) buildRefs() error {
	b := &refBuilder{rd: rd, f: rd.f, relocs: map[int][]rela{}, mcount: map[[2]uint64]bool{}}
	if err := b.readRelocs(); err != nil {
		return err
	}
	if err := b.readMcount(); err != nil {
		return err
	}
	ef := rd.ef
	for i, s := range ef.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || i == 0 {
			continue
		}
		rs := b.relocs[i]
		if s.Flags&elf.SHF_EXECINSTR != 0 && s.Type == elf.SHT_PROGBITS {
			code, err := b.rd.sectionData(s)
			if err != nil {
				return rd.errorf("%w: section %s: %w", ErrCorrupt, s.Name, err)
			}
			if err := b.checkRelocs(s.Name, rs); err != nil {
				return err
			}
			b.code(i, code, rs, decoderFor(b.f.Arch))
			continue
		}
		if len(rs) > 0 && !metadataSection(s.Name) && !tocSection(ef.Machine, s.Name) {
			b.data(i, rs)
		}
	}
	// Dedup and sort.
	sortRefs(b.refs)
	out := b.refs[:0]
	for i, r := range b.refs {
		if i > 0 {
			p := &out[len(out)-1]
			if p.From == r.From && p.Site == r.Site && p.To == r.To && p.Kind == r.Kind &&
				p.FromSympos == r.FromSympos && p.ToSympos == r.ToSympos {
				p.Reloc = p.Reloc || r.Reloc
				continue
			}
		}
		out = append(out, r)
	}
	rd.f.Refs = out
	for n := range b.externAddrs {
		rd.f.ExternAddrs = append(rd.f.ExternAddrs, n)
	}
	sort.Strings(rd.f.ExternAddrs)
	return nil
}

// externAddr records that the object takes the address of undefined
// symbol name.
func (b *refBuilder) externAddr(name string) {
	if b.externAddrs == nil {
		b.externAddrs = map[string]bool{}
	}
	b.externAddrs[name] = true
}

// decoderFor returns the instruction decoder of a machine.
func decoderFor(a *Arch) decoder {
	switch a.Machine {
	case elf.EM_AARCH64:
		return arm64Decoder{}
	case elf.EM_PPC64:
		return ppc64Decoder{bo: a.Order}
	case elf.EM_S390:
		return s390xDecoder{}
	case elf.EM_LOONGARCH:
		return loong64Decoder{}
	}
	return x86Decoder{}
}

// checkRelocs fails on a relocation of code whose type the machine's
// ABI does not define (or klp-audit does not read): it could be a call
// or an address, and the call graph would miss it silently.
func (b *refBuilder) checkRelocs(sec string, rs []rela) error {
	a := b.f.Arch
	for _, r := range rs {
		if _, ok := Relocation(a.Machine, a.Order, r.typ); !ok {
			return b.rd.errorf("%w: section %s+%#x: relocation type %d (%s) is not a %s relocation klp-audit reads",
				ErrUnsupported, sec, r.off, r.typ, relocName(a.Machine, r.typ), a.Name)
		}
	}
	return nil
}

// relocName names relocation type typ as debug/elf does.
func relocName(m elf.Machine, typ uint32) string {
	switch m {
	case elf.EM_X86_64:
		return elf.R_X86_64(typ).String()
	case elf.EM_AARCH64:
		return elf.R_AARCH64(typ).String()
	case elf.EM_PPC64:
		return elf.R_PPC64(typ).String()
	case elf.EM_S390:
		return elf.R_390(typ).String()
	case elf.EM_LOONGARCH:
		return elf.R_LARCH(typ).String()
	}
	return "unknown"
}

// readRelocs reads the SHT_RELA sections that apply to allocated
// sections. Relocations of linked files (--emit-relocs, .rela.dyn) are
// placed by address.
func (b *refBuilder) readRelocs() error {
	ef := b.rd.ef
	le := ef.ByteOrder
	for _, s := range ef.Sections {
		if s.Type != elf.SHT_RELA {
			continue
		}
		tgt := int(s.Info)
		if s.Flags&elf.SHF_ALLOC == 0 || !b.f.linked {
			if tgt <= 0 || tgt >= len(ef.Sections) || ef.Sections[tgt].Flags&elf.SHF_ALLOC == 0 {
				continue // .rela.debug_info and friends
			}
		} else {
			tgt = -1 // dynamic relocations: place each by address
		}
		if tgt > 0 {
			name := ef.Sections[tgt].Name
			if ef.Sections[tgt].Flags&elf.SHF_EXECINSTR == 0 && metadataSection(name) &&
				name != "__mcount_loc" && name != "__patchable_function_entries" {
				continue // nothing there gives a ref: not worth reading
			}
		}
		data, err := b.rd.sectionData(s)
		if err != nil {
			return b.rd.errorf("%w: section %s: %w", ErrCorrupt, s.Name, err)
		}
		n := len(data) / rela64Size
		if tgt > 0 && b.relocs[tgt] == nil {
			b.relocs[tgt] = make([]rela, 0, n)
		}
		for i := 0; i < n; i++ {
			e := data[i*rela64Size:]
			info := le.Uint64(e[8:])
			r := rela{off: le.Uint64(e), typ: uint32(info), sym: uint32(info >> 32), addend: int64(le.Uint64(e[16:]))}
			if int(r.sym) >= len(b.rd.syms) {
				return b.rd.errorf("%w: section %s: relocation %d: symbol index %d out of range", ErrCorrupt, s.Name, i, r.sym)
			}
			t := tgt
			if t < 0 {
				t = b.sectionByAddr(r.off)
				if t < 0 {
					continue
				}
			}
			b.relocs[t] = append(b.relocs[t], r)
		}
	}
	for k, rs := range b.relocs {
		if !sort.SliceIsSorted(rs, func(i, j int) bool { return rs[i].off < rs[j].off }) {
			sort.SliceStable(rs, func(i, j int) bool { return rs[i].off < rs[j].off })
			b.relocs[k] = rs
		}
	}
	return nil
}

func (b *refBuilder) sectionByAddr(addr uint64) int {
	for i, s := range b.f.sections {
		if s.flags&elf.SHF_ALLOC != 0 && s.typ != elf.SHT_NOBITS && addr >= s.addr && addr < s.addr+s.size {
			return i
		}
	}
	return -1
}

// readMcount collects the ftrace entry table: relocations in
// __mcount_loc and __patchable_function_entries of a relocatable object,
// the addresses those sections (or vmlinux's __start_mcount_loc ..
// __stop_mcount_loc table) hold in a linked file.
func (b *refBuilder) readMcount() error {
	ef := b.rd.ef
	for i, s := range ef.Sections {
		if s.Name != "__mcount_loc" && s.Name != "__patchable_function_entries" {
			continue
		}
		if !b.f.linked {
			for _, r := range b.relocs[i] {
				if r.sym == 0 {
					continue
				}
				sy := &b.rd.syms[r.sym]
				if !sy.defined() {
					continue
				}
				b.mcount[[2]uint64{uint64(sy.shndx), sy.value + uint64(r.addend)}] = true
			}
			continue
		}
		if s.Type == elf.SHT_NOBITS {
			continue
		}
		data, err := b.rd.sectionData(s)
		if err != nil {
			return b.rd.errorf("%w: section %s: %w", ErrCorrupt, s.Name, err)
		}
		b.addrTable(data)
	}
	if b.f.linked {
		var start, stop *sym
		for i := range b.rd.syms {
			switch b.rd.syms[i].name {
			case "__start_mcount_loc":
				start = &b.rd.syms[i]
			case "__stop_mcount_loc":
				stop = &b.rd.syms[i]
			}
		}
		if start != nil && stop != nil && start.defined() && stop.value > start.value {
			s := ef.Sections[start.shndx]
			if s.Type != elf.SHT_NOBITS && start.value >= s.Addr && stop.value <= s.Addr+s.Size {
				data, err := b.rd.sectionData(s)
				if err != nil {
					return b.rd.errorf("%w: section %s: %w", ErrCorrupt, s.Name, err)
				}
				b.addrTable(data[start.value-s.Addr : stop.value-s.Addr])
			}
		}
	}
	return nil
}

func (b *refBuilder) addrTable(data []byte) {
	for j := 0; j+8 <= len(data); j += 8 {
		b.mcount[[2]uint64{0, b.f.Arch.Order.Uint64(data[j:])}] = true
	}
}

// listed says the ftrace table lists the entry at off of section shndx.
func (b *refBuilder) listed(shndx int, off uint64) bool {
	if b.f.linked {
		shndx = 0
	}
	return b.mcount[[2]uint64{uint64(shndx), off}]
}

// resolve finds the function at position pos of section shndx.
func (b *refBuilder) resolve(shndx int, pos uint64) target {
	bi := b.f.bodyAt(shndx, pos)
	if bi < 0 {
		return noTarget
	}
	bd := &b.f.bodies[bi]
	// ppc64: a local call branches to the local entry point, past the
	// global entry's TOC pointer setup; it calls the function all the
	// same.
	le := b.f.Funcs[bd.fn].LocalEntry
	return target{fn: bd.fn, isFunc: true, atStart: pos == bd.start || le > 0 && pos == bd.start+le, body: bi}
}

// relTarget is where relocation r leads; adj is added for PC-relative
// relocations of instructions (the distance from the relocated field to
// the end of the instruction, from which the CPU counts).
func (b *refBuilder) relTarget(r rela, adj uint64) target {
	return b.relTargetDepth(r, adj, 0)
}

func (b *refBuilder) relTargetDepth(r rela, adj uint64, depth int) target {
	if r.sym == 0 {
		if b.f.linked && isRelativeType(b.f.Machine, r.typ) {
			return b.resolve(0, uint64(r.addend))
		}
		return noTarget
	}
	s := &b.rd.syms[r.sym]
	pos := s.value + uint64(r.addend) + adj
	// ppc64: a TOC-relative reference to a .toc entry means what the
	// entry holds, which its own relocation names.
	if depth == 0 && s.defined() && tocSection(b.f.Machine, b.f.sections[s.shndx].name) {
		if rt, ok := relocPPC64(b.f.Arch.Order, r.typ); ok && rt.Class == RelocTOC {
			if e, ok := b.relocAt(int(s.shndx), pos); ok {
				return b.relTargetDepth(e, 0, depth+1)
			}
			return noTarget
		}
	}
	if !s.defined() {
		if s.shndx != uint32(elf.SHN_UNDEF) || s.name == "" {
			return noTarget
		}
		return target{fn: -1, body: -1, name: s.name, isFunc: s.typ() == elf.STT_FUNC, atStart: pos == s.value}
	}
	switch s.typ() {
	case elf.STT_FUNC:
		if pos == s.value {
			if fi := b.rd.funcOf[r.sym]; fi >= 0 {
				t := b.resolve(int(s.shndx), pos)
				if t.fn < 0 { // a symbol of size 0 beyond any body
					return target{fn: b.f.canon[fi], isFunc: true, atStart: true, body: -1}
				}
				return t
			}
		}
		return b.resolve(int(s.shndx), pos)
	case elf.STT_SECTION, elf.STT_NOTYPE:
		if b.f.sections[s.shndx].flags&elf.SHF_EXECINSTR == 0 {
			return noTarget
		}
		return b.resolve(int(s.shndx), pos)
	}
	return noTarget
}

// relocAt returns the relocation at position pos of section shndx.
func (b *refBuilder) relocAt(shndx int, pos uint64) (rela, bool) {
	rs := b.relocs[shndx]
	i := sort.Search(len(rs), func(i int) bool { return rs[i].off >= pos })
	if i < len(rs) && rs[i].off == pos {
		return rs[i], true
	}
	return rela{}, false
}

// isRelativeType says typ is the machine's R_*_RELATIVE: a linked
// file's dynamic relocation whose addend is the address stored.
func isRelativeType(m elf.Machine, typ uint32) bool {
	switch m {
	case elf.EM_X86_64:
		return elf.R_X86_64(typ) == elf.R_X86_64_RELATIVE
	case elf.EM_AARCH64:
		return elf.R_AARCH64(typ) == elf.R_AARCH64_RELATIVE
	case elf.EM_PPC64:
		return elf.R_PPC64(typ) == elf.R_PPC64_RELATIVE
	case elf.EM_S390:
		return elf.R_390(typ) == elf.R_390_RELATIVE
	case elf.EM_LOONGARCH:
		return elf.R_LARCH(typ) == elf.R_LARCH_RELATIVE
	}
	return false
}

// data records the DataRefs of one data section: each relocation that
// stores the address of a function's first byte.
func (b *refBuilder) data(shndx int, rs []rela) {
	for _, r := range rs {
		if !dataReloc(b.f.Arch, r.typ) {
			continue
		}
		t := b.relTarget(r, 0)
		if t.fn < 0 && t.name != "" && t.atStart && !t.isFunc {
			b.externAddr(t.name)
		}
		if !t.atStart || !t.isFunc {
			continue
		}
		to, toPos := t.name, 0
		if t.fn >= 0 {
			to, toPos = b.f.Funcs[t.fn].Name, b.f.Funcs[t.fn].Sympos
		}
		b.refs = append(b.refs, Ref{From: b.dataSymbol(shndx, r.off), To: to, Kind: DataRef, Site: r.off, Reloc: true, ToSympos: toPos})
	}
}

func dataReloc(a *Arch, typ uint32) bool {
	switch a.Machine {
	case elf.EM_X86_64:
		switch elf.R_X86_64(typ) {
		case elf.R_X86_64_64, elf.R_X86_64_32, elf.R_X86_64_32S, elf.R_X86_64_PC32,
			elf.R_X86_64_PC64, elf.R_X86_64_RELATIVE:
			return true
		}
	case elf.EM_AARCH64:
		switch elf.R_AARCH64(typ) {
		case elf.R_AARCH64_ABS64, elf.R_AARCH64_ABS32, elf.R_AARCH64_PREL32,
			elf.R_AARCH64_PREL64, elf.R_AARCH64_RELATIVE:
			return true
		}
	default:
		rt, ok := Relocation(a.Machine, a.Order, typ)
		return ok && rt.Class == RelocAddr && rt.Size >= 4
	}
	return false
}

// dataSymbol names the data holding position off of section shndx: the
// STT_OBJECT symbol covering it (an ops table), else the section.
func (b *refBuilder) dataSymbol(shndx int, off uint64) string {
	if b.objs == nil {
		b.objs = []objSym{}
		for i := range b.rd.syms {
			s := &b.rd.syms[i]
			if s.typ() == elf.STT_OBJECT && s.defined() && s.name != "" {
				sh := int(s.shndx)
				if b.f.linked {
					sh = 0
				}
				b.objs = append(b.objs, objSym{shndx: sh, start: s.value, size: s.size, name: s.name})
			}
		}
		sort.SliceStable(b.objs, func(i, j int) bool {
			if b.objs[i].shndx != b.objs[j].shndx {
				return b.objs[i].shndx < b.objs[j].shndx
			}
			return b.objs[i].start < b.objs[j].start
		})
	}
	key := shndx
	if b.f.linked {
		key = 0
	}
	i := sort.Search(len(b.objs), func(i int) bool {
		o := &b.objs[i]
		return o.shndx > key || (o.shndx == key && o.start > off)
	}) - 1
	for n := 0; i >= 0 && n < 16 && b.objs[i].shndx == key; i, n = i-1, n+1 {
		if o := &b.objs[i]; off >= o.start && off < o.start+o.size {
			return o.name
		}
	}
	return b.f.sections[shndx].name
}

// insn is one decoded instruction, as the call graph sees it.
type insn struct {
	len int
	// kind is Call or TailCall for a direct branch (rel set, relative to
	// the instruction's end) or an indirect one through memory (mem set:
	// a GOT slot a relocation names); AddrRef for an instruction that
	// computes a code address (lea rip-relative, adr: rel set); 0 else.
	kind RefKind
	rel  int64
	// hasRel says rel is meaningful. field is the offset of the
	// relative field in the instruction, where a relocation would sit,
	// when hasField.
	hasRel   bool
	mem      bool
	hasField bool
	field    int
	// imm is an absolute immediate that a linked file may use as a
	// function address (mov $f, %rdi), with hasImm.
	imm    uint64
	hasImm bool
}

// decoder decodes one architecture's instructions.
type decoder interface {
	// decode decodes the instruction at the start of code; ok false
	// means not an instruction (data, an unknown opcode).
	decode(code []byte) (in insn, ok bool)
	// step is the distance to the next decoding attempt after a failure.
	step() int
	// entryPad is the length of what comes before the ftrace call at
	// the start of fn's code: a landing pad (endbr64, bti c), ppc64's
	// global entry and -mprofile-kernel prologue; or 0.
	entryPad(code []byte, fn *Func) int
	// relocKind classifies a relocation of code that no decoded
	// instruction claimed (its instruction start is guessed from the
	// bytes before it): the kind, the instruction start and the
	// adjustment for PC-relative targets. kind 0: not a ref.
	relocKind(code []byte, field int, typ uint32) (kind RefKind, start int, adj uint64)
	// pcRelAdj is the adjustment for a relocation of type typ at field
	// of an instruction ending at end (both section positions).
	pcRelAdj(typ uint32, field, end uint64) uint64
	// gotCall says typ loads a GOT slot (call *f@GOTPCREL(%rip)).
	gotCall(typ uint32) bool
}

// code decodes the function bodies of one executable section and
// records their refs.
func (b *refBuilder) code(shndx int, code []byte, rs []rela, d decoder) {
	f := b.f
	sec := f.sections[shndx]
	base := uint64(0)
	if f.linked {
		base = sec.addr
	}
	used := make([]bool, len(rs))
	// The bodies of this section: contiguous in f.bodies.
	lo := sort.Search(len(f.bodies), func(i int) bool {
		ks, ko := f.bodyKey(int(f.bodies[i].shndx), f.bodies[i].start)
		s, o := f.bodyKey(shndx, base)
		return ks > s || (ks == s && ko >= o)
	})
	for bi := lo; bi < len(f.bodies); bi++ {
		bd := &f.bodies[bi]
		if f.linked {
			if bd.start >= base+uint64(len(code)) {
				break
			}
			if int(bd.shndx) != shndx {
				continue
			}
		} else if int(bd.shndx) != shndx {
			break
		}
		if bd.start < base || bd.end > base+uint64(len(code)) || bd.end <= bd.start {
			continue // outside the section's bytes, or size 0
		}
		b.decodeBody(bi, shndx, code[bd.start-base:bd.end-base], base, rs, used, d)
	}
	// Relocations no decoded instruction claimed: code outside function
	// symbols (.altinstr_replacement), or bytes the decoder skipped.
	for j, r := range rs {
		if used[j] || r.off < base || r.off-base >= uint64(len(code)) {
			continue
		}
		kind, start, adj := d.relocKind(code, int(r.off-base), r.typ)
		if kind == 0 {
			continue
		}
		site := base + uint64(start)
		from := sec.name
		fromBody := -1
		if bi := f.bodyAt(shndx, site); bi >= 0 {
			fromBody = bi
			from = f.Funcs[f.bodies[bi].fn].Name
		}
		t := b.relTarget(r, adj)
		if (kind == Call || kind == TailCall) && t.fn < 0 && fentryName(t.name) {
			continue
		}
		b.add(from, fromBody, site, kind, t, true)
	}
}

// decodeBody decodes the code of f.bodies[bi], held in code, and records
// its refs; rs are the relocations of its section, used marks those that
// an instruction claimed.
func (b *refBuilder) decodeBody(bi, shndx int, code []byte, base uint64, rs []rela, used []bool, d decoder) {
	f := b.f
	bd := &f.bodies[bi]
	from := f.Funcs[bd.fn].Name
	start := bd.start
	// The ftrace entry: the first instruction, after a landing pad.
	entry := d.entryPad(code, &f.Funcs[bd.fn])
	fentry := b.listed(shndx, start) || (entry > 0 && b.listed(shndx, start+uint64(entry)))
	if f.Machine == elf.EM_AARCH64 && start >= 8 && b.listed(shndx, start-8) {
		fentry = true // -fpatchable-function-entry=N,2: NOPs before the entry
	}
	j := sort.Search(len(rs), func(i int) bool { return rs[i].off >= start })
	for off := 0; off < len(code); {
		in, ok := d.decode(code[off:])
		if !ok || in.len <= 0 || off+in.len > len(code) {
			off += d.step()
			continue
		}
		pos := start + uint64(off)
		end := pos + uint64(in.len)
		for j < len(rs) && rs[j].off < pos {
			j++ // relocations of skipped bytes stay unclaimed
		}
		claimed := false
		for k := j; k < len(rs) && rs[k].off < end; k++ {
			r := rs[k]
			used[k] = true
			isField := in.hasField && r.off == pos+uint64(in.field)
			if isField {
				claimed = true
			}
			var kind RefKind
			site, adj := pos, d.pcRelAdj(r.typ, r.off, end)
			switch {
			case isField && (in.kind == Call || in.kind == TailCall) && (in.hasRel || d.gotCall(r.typ)):
				kind = in.kind
			case isField:
				// The relative field of some other instruction (lea,
				// mov rip-relative): an address, if it is a function's.
				kind, _, _ = d.relocKind(nil, 0, r.typ)
				if kind != 0 {
					kind = AddrRef
				}
			default:
				// The relocation's type and the bytes before it tell;
				// a branch found so means the decoder lost step here.
				var st int
				var a uint64
				kind, st, a = d.relocKind(code, int(r.off-start), r.typ)
				if kind == Call || kind == TailCall {
					site, adj = start+uint64(st), a
				}
			}
			if kind == 0 {
				continue
			}
			t := b.relTarget(r, adj)
			if (kind == Call || kind == TailCall) && site == start+uint64(entry) && b.isFentry(t) {
				fentry = true
				continue
			}
			b.add(from, bi, site, kind, t, true)
		}
		if !claimed && in.kind != 0 {
			var t target
			switch {
			case in.hasRel:
				t = b.resolve(shndx, uint64(int64(end)+in.rel))
			case in.hasImm && f.linked:
				t = b.resolve(shndx, in.imm)
				if in.kind != AddrRef {
					t = noTarget
				}
			default:
				t = noTarget
			}
			if t.fn >= 0 {
				if (in.kind == Call || in.kind == TailCall) && off == entry && b.isFentry(t) {
					fentry = true
				} else {
					b.addDecoded(from, bi, pos, in.kind, t)
				}
			}
		}
		off += in.len
	}
	if fentry {
		for i := range f.Funcs {
			if f.canon[i] == bd.fn {
				f.Funcs[i].Fentry = true
			}
		}
	}
}

func (b *refBuilder) isFentry(t target) bool {
	if t.fn < 0 {
		return fentryName(t.name)
	}
	if !t.atStart {
		return false
	}
	fn := &b.f.Funcs[t.fn]
	if fentryName(fn.Name) {
		return true
	}
	for _, a := range fn.Aliases {
		if fentryName(a) {
			return true
		}
	}
	return false
}

// add records a ref that a relocation gave. fromBody is the index of the
// code it comes from in f.bodies, or -1 (then from names a section).
func (b *refBuilder) add(from string, fromBody int, site uint64, kind RefKind, t target, reloc bool) {
	var to string
	var toPos, fromPos int
	if fromBody >= 0 {
		fromPos = b.f.Funcs[b.f.bodies[fromBody].fn].Sympos
	}
	switch {
	case t.fn >= 0:
		to, toPos = b.f.Funcs[t.fn].Name, b.f.Funcs[t.fn].Sympos
	case t.name != "":
		to = t.name
	default:
		return
	}
	switch kind {
	case Call:
		// A call into the middle of its own body is a trick (call 1f),
		// not a call of the function; a call of its own start is
		// recursion.
		if t.body >= 0 && t.body == fromBody && !t.atStart {
			return
		}
	case TailCall:
		if t.body >= 0 && t.body == fromBody {
			return // a jump inside the function
		}
	case AddrRef, DataRef:
		if t.fn < 0 && t.name != "" && t.atStart && !t.isFunc && reloc {
			b.externAddr(t.name)
		}
		if !t.atStart || !t.isFunc {
			return
		}
	}
	b.refs = append(b.refs, Ref{From: from, To: to, Kind: kind, Site: site, Reloc: reloc, FromSympos: fromPos, ToSympos: toPos})
}

// addDecoded records a ref found by decoding alone. It is stricter than
// add, since the bytes might not be code: a call or an address must hit a
// function's first byte, and a jump must too unless it joins a function
// and its cold piece.
func (b *refBuilder) addDecoded(from string, fromBody int, site uint64, kind RefKind, t target) {
	if t.body == fromBody && kind != Call {
		return
	}
	if !t.atStart {
		if kind != TailCall || !b.coldPair(b.f.bodies[fromBody].fn, t.fn) {
			return
		}
	}
	b.add(from, fromBody, site, kind, t, false)
}

func (b *refBuilder) coldPair(a, c int32) bool {
	fa, fc := &b.f.Funcs[a], &b.f.Funcs[c]
	return fa.ColdOf == fc.Name || fc.ColdOf == fa.Name
}

// rela64Size is the size of an Elf64_Rela entry.
const rela64Size = 24
