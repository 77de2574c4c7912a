package dwarfinfo

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Inline is one inlined copy of a function inside another function's
// machine code (a DW_TAG_inlined_subroutine).
type Inline struct {
	// Name is the inlined function: its assembler (linkage) name when
	// DWARF gives one, else its DW_AT_name.
	Name string
	// Into is the function whose code holds the call that was inlined:
	// the enclosing inlined copy's Name, or the Func's Origin.
	Into string
	// Depth is 1 for a copy inlined straight into the Func's own code, 2
	// for a copy inlined into such a copy, and so on.
	Depth int
	// File and Line are the call site (DW_AT_call_file, DW_AT_call_line);
	// File is relative to the unit's compilation directory when inside
	// it. Both are zero when DWARF does not record them.
	File string
	Line int
	// DeclFile and DeclLine are where the inlined function is declared
	// (its DW_AT_decl_file and DW_AT_decl_line: include/linux/cgroup.h
	// for css_put inlined into a .c file), relative like File; empty when
	// DWARF does not say.
	DeclFile string
	DeclLine int
}

// Func is one function with machine code in the object (a concrete
// DW_TAG_subprogram).
type Func struct {
	// Symbol is the ELF function symbol at the code's address and size,
	// preferring a name that starts with Origin: splitme.part.0 for
	// splitme's .part clone. When no symbol matches (NoSymbol), it is
	// Origin.
	Symbol string
	// Origin is the function whose code it is, found through
	// DW_AT_abstract_origin and DW_AT_specification: "splitme" for
	// splitme.part.0, "big" for big.constprop.0.
	Origin string
	// Addr and Size locate the code of Symbol (section-relative in a
	// relocatable object).
	Addr, Size uint64
	// Pieces are further symbols holding parts of the function's code:
	// the foo.cold part of a hot/cold split. Replacing the function
	// replaces them too.
	Pieces []string
	// Aliases are the other function symbols at the same address and
	// size: functions -fipa-icf folded into this one (or plain aliases).
	// They share the code: replacing one replaces all. Containment does
	// not list them, as no dump line records the folding.
	Aliases []string
	// NoSymbol reports that no ELF function symbol matched the code.
	NoSymbol bool
	// Inlined lists every function inlined into this code, at any depth,
	// in DWARF order.
	Inlined []Inline
}

// Inlining is what an object's DWARF says about where each function's
// code ended up.
type Inlining struct {
	Path string
	// Funcs are the functions with machine code, sorted by Symbol and
	// Addr.
	Funcs []Func
}

// Inlines reads the DWARF of the ELF object at path. A slim LTO object
// (GIMPLE only, no machine code) gives an empty Inlining; an object with
// no DWARF gives an error wrapping ErrNoDWARF. Errors name the file.
func Inlines(path string) (in *Inlining, err error) {
	defer recoverCorrupt(path, &err)
	f, closer, err := openELF(path)
	if err != nil {
		return nil, fileErr(path, err)
	}
	defer closer.Close()
	in, err = inlines(f)
	if err != nil {
		return nil, fileErr(path, err)
	}
	in.Path = path
	return in, nil
}

func inlines(f *elf.File) (*Inlining, error) {
	if !hasData(f, ".debug_info") && !hasData(f, ".zdebug_info") {
		if isSlimLTO(f) {
			return &Inlining{}, nil
		}
		return nil, ErrNoDWARF
	}
	d, err := loadDWARF(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	syms, err := f.Symbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, err
	}
	w := newWalker(d)
	if err := w.walk(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := w.checkOrigins(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return w.resolve(syms), nil
}

// isSlimLTO reports whether f holds GCC LTO bytecode only.
func isSlimLTO(f *elf.File) bool {
	for _, s := range f.Sections {
		if strings.HasPrefix(s.Name, ".gnu.lto_") || strings.HasPrefix(s.Name, ".gnu.debuglto_") {
			return true
		}
	}
	return false
}

// concrete is a function found by the walk, before symbol resolution.
type concrete struct {
	die     dwarf.Offset
	ranges  [][2]uint64
	inlined []pendingInline
}

type pendingInline struct {
	die    dwarf.Offset // the DW_TAG_inlined_subroutine
	origin dwarf.Offset // DW_AT_abstract_origin of the inlined copy
	into   dwarf.Offset // DIE naming the function holding the call
	depth  int
	file   string
	line   int
}

// frame is one open DIE with children.
type frame struct {
	fn    *concrete    // innermost concrete function, nil outside one
	into  dwarf.Offset // DIE naming the code the frame belongs to
	depth int          // inline nesting depth
	skip  bool         // inside an abstract subprogram: no code
}

type walker struct {
	d      *dwarf.Data
	names  map[dwarf.Offset]string
	decls  map[dwarf.Offset]declPos
	origin map[dwarf.Offset]dwarf.Offset
	// subprograms are the offsets of every DW_TAG_subprogram: an inlined
	// copy's DW_AT_abstract_origin must be one of them.
	subprograms map[dwarf.Offset]bool
	funcs       []*concrete
	// the current unit
	files   []*dwarf.LineFile
	compDir string
}

func newWalker(d *dwarf.Data) *walker {
	return &walker{d: d, names: map[dwarf.Offset]string{}, decls: map[dwarf.Offset]declPos{}, origin: map[dwarf.Offset]dwarf.Offset{}, subprograms: map[dwarf.Offset]bool{}}
}

// descend lists the tags whose children may hold code.
func descend(t dwarf.Tag) bool {
	switch t {
	case dwarf.TagCompileUnit, dwarf.TagPartialUnit, dwarf.TagSkeletonUnit, dwarf.TagSubprogram,
		dwarf.TagInlinedSubroutine, dwarf.TagLexDwarfBlock, dwarf.TagTryDwarfBlock, dwarf.TagCatchDwarfBlock,
		dwarf.TagNamespace, dwarf.TagModule:
		return true
	}
	return false
}

func (w *walker) walk() error {
	r := w.d.Reader()
	var stack []frame
	for {
		e, err := r.Next()
		if err != nil {
			return err
		}
		if e == nil {
			return nil
		}
		if e.Tag == 0 {
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		var top frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		next := top
		switch e.Tag {
		case dwarf.TagCompileUnit, dwarf.TagPartialUnit, dwarf.TagSkeletonUnit:
			w.unit(e)
			next = frame{}
		case dwarf.TagSubprogram:
			w.record(e)
			rs, err := w.d.Ranges(e)
			if err != nil {
				return err
			}
			if len(rs) == 0 || top.skip {
				// An abstract instance or a declaration: no code.
				if e.Children {
					r.SkipChildren()
				}
				continue
			}
			c := &concrete{die: e.Offset, ranges: rs}
			w.funcs = append(w.funcs, c)
			next = frame{fn: c, into: e.Offset}
		case dwarf.TagInlinedSubroutine:
			o, _ := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
			if top.fn != nil && !top.skip {
				p := pendingInline{die: e.Offset, origin: o, into: top.into, depth: top.depth + 1}
				if fi, ok := e.Val(dwarf.AttrCallFile).(int64); ok && fi >= 0 && fi < int64(len(w.files)) && w.files[fi] != nil {
					p.file = w.relative(w.files[fi].Name)
				}
				if l, ok := e.Val(dwarf.AttrCallLine).(int64); ok {
					p.line = int(l)
				}
				top.fn.inlined = append(top.fn.inlined, p)
			}
			next = frame{fn: top.fn, into: e.Offset, depth: top.depth + 1, skip: top.skip}
			w.origin[e.Offset] = o
		}
		if !e.Children {
			continue
		}
		if !descend(e.Tag) {
			r.SkipChildren()
			continue
		}
		stack = append(stack, next)
	}
}

// unit starts a compilation unit: its file table names call sites.
func (w *walker) unit(e *dwarf.Entry) {
	w.compDir, _ = e.Val(dwarf.AttrCompDir).(string)
	w.files = nil
	if lr, err := w.d.LineReader(e); err == nil && lr != nil {
		w.files = lr.Files()
	}
}

func (w *walker) relative(name string) string {
	if w.compDir != "" {
		if r, ok := strings.CutPrefix(name, strings.TrimSuffix(w.compDir, "/")+"/"); ok {
			return r
		}
	}
	return name
}

// attrMIPSLinkageName is DW_AT_MIPS_linkage_name, the pre-DWARF 4
// spelling of DW_AT_linkage_name that GCC still emits with -gstrict-dwarf
// off for DWARF 2 and 3.
const attrMIPSLinkageName dwarf.Attr = 0x2007

// checkOrigins fails on an inlined copy whose DW_AT_abstract_origin is
// missing or names no subprogram (a reference out of range, or into the
// middle of another entry): which function was inlined there is unknown,
// and dropping the copy would drop a holder of its code.
func (w *walker) checkOrigins() error {
	for _, c := range w.funcs {
		for _, p := range c.inlined {
			if !w.subprograms[p.origin] {
				if p.origin == 0 {
					return fmt.Errorf("DW_TAG_inlined_subroutine at .debug_info offset %#x has no DW_AT_abstract_origin: which function was inlined there is unknown", p.die)
				}
				return fmt.Errorf("DW_TAG_inlined_subroutine at .debug_info offset %#x: DW_AT_abstract_origin %#x is not a DW_TAG_subprogram entry (out of range or corrupt): which function was inlined there is unknown", p.die, p.origin)
			}
		}
	}
	return nil
}

// declPos is where a subprogram is declared.
type declPos struct {
	file string
	line int
}

// record keeps a subprogram's name, declaration and where it comes from.
func (w *walker) record(e *dwarf.Entry) {
	w.subprograms[e.Offset] = true
	if fi, ok := e.Val(dwarf.AttrDeclFile).(int64); ok && fi >= 0 && fi < int64(len(w.files)) && w.files[fi] != nil {
		l, _ := e.Val(dwarf.AttrDeclLine).(int64)
		w.decls[e.Offset] = declPos{file: w.relative(w.files[fi].Name), line: int(l)}
	}
	name, _ := e.Val(dwarf.AttrLinkageName).(string)
	if name == "" {
		name, _ = e.Val(attrMIPSLinkageName).(string)
	}
	if name == "" {
		name, _ = e.Val(dwarf.AttrName).(string)
	}
	if name != "" {
		w.names[e.Offset] = name
	}
	if o, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok {
		w.origin[e.Offset] = o
	} else if o, ok := e.Val(dwarf.AttrSpecification).(dwarf.Offset); ok {
		w.origin[e.Offset] = o
	}
}

// declOf follows abstract origins and specifications to a declaration.
func (w *walker) declOf(off dwarf.Offset) declPos {
	for range 16 {
		if d, ok := w.decls[off]; ok {
			return d
		}
		o, ok := w.origin[off]
		if !ok {
			return declPos{}
		}
		off = o
	}
	return declPos{}
}

// nameOf follows abstract origins and specifications to a name.
func (w *walker) nameOf(off dwarf.Offset) string {
	for range 16 {
		if n, ok := w.names[off]; ok {
			return n
		}
		o, ok := w.origin[off]
		if !ok {
			return ""
		}
		off = o
	}
	return ""
}

// resolve names the functions by their ELF symbols.
func (w *walker) resolve(syms []elf.Symbol) *Inlining {
	byAddr := map[uint64][]elf.Symbol{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF {
			byAddr[s.Value] = append(byAddr[s.Value], s)
		}
	}
	in := &Inlining{}
	for _, c := range w.funcs {
		origin := w.nameOf(c.die)
		fn := Func{Origin: origin}
		main := -1
		var names []string
		for i, r := range c.ranges {
			n := pickSymbol(byAddr[r[0]], r[1]-r[0], origin)
			names = append(names, n)
			if n != "" && main < 0 && !strings.HasSuffix(n, ".cold") && !strings.Contains(n, ".cold.") {
				main = i
			}
		}
		if main < 0 {
			for i, n := range names {
				if n != "" {
					main = i
					break
				}
			}
		}
		if main < 0 {
			if origin == "" {
				continue // neither a symbol nor a name: nothing to report
			}
			fn.Symbol, fn.NoSymbol = origin, true
			main = 0
		} else {
			fn.Symbol = names[main]
		}
		fn.Addr, fn.Size = c.ranges[main][0], c.ranges[main][1]-c.ranges[main][0]
		if !fn.NoSymbol {
			// Same section too: in a relocatable object built with
			// -ffunction-sections every function starts at 0.
			sec := elf.SHN_UNDEF
			for _, s := range byAddr[fn.Addr] {
				if s.Name == fn.Symbol {
					sec = s.Section
				}
			}
			for _, s := range byAddr[fn.Addr] {
				if s.Size == fn.Size && s.Name != fn.Symbol && s.Section == sec {
					fn.Aliases = append(fn.Aliases, s.Name)
				}
			}
			sort.Strings(fn.Aliases)
			fn.Aliases = compactStrings(fn.Aliases)
		}
		for i, n := range names {
			if i != main && n != "" && n != fn.Symbol {
				fn.Pieces = append(fn.Pieces, n)
			}
		}
		sort.Strings(fn.Pieces)
		fn.Pieces = compactStrings(fn.Pieces)
		for _, p := range c.inlined {
			into := w.nameOf(p.into)
			if p.into == c.die {
				into = origin
			}
			decl := w.declOf(p.origin)
			fn.Inlined = append(fn.Inlined, Inline{Name: w.nameOf(p.origin), Into: into, Depth: p.depth, File: p.file, Line: p.line,
				DeclFile: decl.file, DeclLine: decl.line})
		}
		in.Funcs = append(in.Funcs, fn)
	}
	sort.SliceStable(in.Funcs, func(i, j int) bool {
		a, b := in.Funcs[i], in.Funcs[j]
		if a.Symbol != b.Symbol {
			return a.Symbol < b.Symbol
		}
		return a.Addr < b.Addr
	})
	return in
}

// pickSymbol chooses among the function symbols at one address: those of
// the range's size first, then the one named like origin (origin itself,
// or a clone origin.xxx), else the first by name.
func pickSymbol(cands []elf.Symbol, size uint64, origin string) string {
	var exact []string
	for _, s := range cands {
		if s.Size == size {
			exact = append(exact, s.Name)
		}
	}
	if len(exact) == 0 {
		for _, s := range cands {
			exact = append(exact, s.Name)
		}
	}
	sort.Strings(exact)
	if origin != "" {
		for _, n := range exact {
			if n == origin {
				return n
			}
		}
		for _, n := range exact {
			if strings.HasPrefix(n, origin+".") {
				return n
			}
		}
	}
	if len(exact) > 0 {
		return exact[0]
	}
	return ""
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// Func returns the function whose code is at symbol.
func (in *Inlining) Func(symbol string) (Func, bool) {
	i := sort.Search(len(in.Funcs), func(i int) bool { return in.Funcs[i].Symbol >= symbol })
	if i < len(in.Funcs) && in.Funcs[i].Symbol == symbol {
		return in.Funcs[i], true
	}
	return Func{}, false
}

// Containment returns, for every function X, the ELF function symbols
// whose machine code contains X's code: X's own out-of-line copies and
// clones (functions whose Origin is X) and every function with an inlined
// copy of X at any depth, each with its Pieces (a .cold piece is part of
// its function). Functions with no symbol (NoSymbol) are left out: no
// symbol holds them. An empty Inlining gives an empty map.
func (in *Inlining) Containment() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	add := func(x string, fn *Func) {
		if x == "" {
			return
		}
		m := out[x]
		if m == nil {
			m = map[string]bool{}
			out[x] = m
		}
		m[fn.Symbol] = true
		for _, p := range fn.Pieces {
			m[p] = true
		}
	}
	for i := range in.Funcs {
		fn := &in.Funcs[i]
		if fn.NoSymbol {
			continue
		}
		add(fn.Origin, fn)
		for _, inl := range fn.Inlined {
			add(inl.Name, fn)
		}
	}
	return out
}
