package objdiff

import (
	"crypto/sha256"
	"debug/elf"
	"sort"
	"strconv"
	"strings"

	"github.com/klp-audit/klp-audit/object"
)

// Correlation.
//
// Before two functions are compared, the symbols of the original and the
// patched object are paired up, as upstream objtool klp diff does:
//
//   - functions by name (and old_sympos);
//   - clones (foo.constprop.N, .isra.N, .part.N, .lto_priv.N, chains of
//     them) by their base name, the numbers stripped, within one binding
//     and one source file, preferring equal code: GCC numbers the clones
//     of a function in the order it makes them, so one new clone
//     renumbers the unchanged ones;
//   - cold pieces (foo.cold, foo.cold.N) with their function, in order;
//   - data symbols by name, and function-local statics (__already_done.N,
//     __key.N, __warned.N, descriptor.N, _rs.N, __func__.N, CSWTCH.N: any
//     local NAME.N data symbol) by base name and owning function, the
//     functions whose code references them: GCC numbers them in file
//     order, so one added above renumbers the rest.
//
// A reference to a correlated symbol counts as equal whatever its name.
// Two candidates equally good are never guessed between: both stay
// unpaired (so both functions are reported) and the report lists the
// ambiguity.

// cloneWords are the clone suffixes whose numbers GCC (and LLVM) assign
// in creation order.
var cloneWords = []string{"constprop", "isra", "part", "cold", "lto_priv", "llvm", "localalias", "specialized"}

// baseName strips the numbers of clone suffixes, keeping the words:
// usesx.constprop.0.isra.0 -> usesx.constprop.isra, foo.cold.3 ->
// foo.cold. It returns name itself when it has no numbered clone suffix.
func baseName(name string) string {
	parts := strings.Split(name, ".")
	if len(parts) < 2 {
		return name
	}
	out := parts[:1]
	changed := false
	for i := 1; i < len(parts); i++ {
		p := parts[i]
		out = append(out, p)
		if !isCloneWord(p) || i+1 >= len(parts) || !isNumber(parts[i+1]) {
			continue
		}
		i++
		changed = true
	}
	if !changed {
		return name
	}
	return strings.Join(out, ".")
}

func isCloneWord(s string) bool {
	for _, w := range cloneWords {
		if s == w {
			return true
		}
	}
	return false
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// unitInfo is what the comparison learns about one function (with its
// cold pieces) before pairing, from one decoding of its code.
type unitInfo struct {
	fn     *object.Func
	idx    int // Funcs index
	pieces []*object.Func
	// shape is a digest of the code with every token replaced by its
	// rank in tokens; two functions have equal code when their shapes
	// and their tokens, resolved, are equal.
	shape [sha256.Size]byte
	// tokens are the distinct symbol tokens the code holds, in order of
	// first appearance.
	tokens []string
	// refs are the tokens the code references, in order of first
	// appearance: tokens without those only an anchor's base names
	// (see anchor.go). The owners of data come from them.
	refs     []string
	readable bool
	file     string // the source file of a local symbol (STT_FILE)
	base     string // baseName of the name
}

// summarize decodes fn and its cold pieces once and digests them.
func (o *Object) summarize(fn *object.Func) *unitInfo {
	ui := &unitInfo{fn: fn, idx: o.funcIndex(fn), readable: true, base: baseName(fn.Name)}
	ui.pieces = append([]*object.Func{fn}, o.coldPieces(fn)...)
	ui.file = o.funcFile(ui.idx)
	ps := make([]*piece, len(ui.pieces))
	for i, f := range ui.pieces {
		ps[i] = o.decode(f)
	}
	o.localize(ps)
	rank := map[string]int{}
	refSeen := map[string]bool{}
	h := sha256.New()
	var buf []byte
	for _, p := range ps {
		buf = append(buf[:0], 0xff, 'P')
		if !p.ok {
			ui.readable = false
			buf = append(buf, 'U')
			buf = strconv.AppendUint(buf, p.fn.Size, 10)
		}
		for i := range p.insns {
			in := &p.insns[i]
			buf = append(buf, 0xfe)
			buf = strconv.AppendInt(buf, int64(len(in.masked)), 10)
			buf = append(buf, ':')
			buf = append(buf, in.masked...)
			for k, t := range in.targets {
				buf = append(buf, 0xfd)
				buf = appendShape(buf, t, rank, &ui.tokens)
				if in.bases&slotBit(k) == 0 {
					appendRefs(t, refSeen, &ui.refs)
				}
			}
		}
		h.Write(buf)
	}
	h.Sum(ui.shape[:0])
	return ui
}

// appendRefs appends the tokens of target t not yet in seen to refs.
func appendRefs(t string, seen map[string]bool, refs *[]string) {
	for {
		i := strings.IndexByte(t, tokenMark)
		if i < 0 {
			return
		}
		j := strings.IndexByte(t[i+1:], tokenMark)
		if j < 0 {
			return
		}
		tok := t[i : i+j+2]
		if !seen[tok] {
			seen[tok] = true
			*refs = append(*refs, tok)
		}
		t = t[i+j+2:]
	}
}

// appendShape appends target t with its tokens replaced by their rank,
// adding new tokens to tokens.
func appendShape(buf []byte, t string, rank map[string]int, tokens *[]string) []byte {
	for {
		i := strings.IndexByte(t, tokenMark)
		if i < 0 {
			return append(buf, t...)
		}
		j := strings.IndexByte(t[i+1:], tokenMark)
		if j < 0 {
			return append(buf, t...)
		}
		buf = append(buf, t[:i]...)
		tok := t[i : i+j+2]
		r, ok := rank[tok]
		if !ok {
			r = len(*tokens)
			rank[tok] = r
			*tokens = append(*tokens, tok)
		}
		buf = append(buf, 0)
		buf = strconv.AppendInt(buf, int64(r), 10)
		buf = append(buf, 0)
		t = t[i+j+2:]
	}
}

// sameCode says a and b have equal code once their tokens are named by
// na and nb.
func sameCode(a, b *unitInfo, na, nb func(string) string) bool {
	if a.shape != b.shape || len(a.tokens) != len(b.tokens) || !a.readable || !b.readable {
		return false
	}
	for i := range a.tokens {
		if na(a.tokens[i]) != nb(b.tokens[i]) {
			return false
		}
	}
	return true
}

// symFiles computes the source file (the last STT_FILE entry before it
// in the symbol table) of every local symbol; global ones have none.
func (o *Object) symFiles() {
	o.files = make([]string, len(o.syms))
	o.funcSym = make([]int, 0, len(o.File.Funcs))
	file := ""
	nfiles := 0
	seen := map[string]bool{}
	for i := range o.syms {
		s := &o.syms[i]
		if s.Type == elf.STT_FILE {
			file = s.Name
			if !seen[file] {
				seen[file] = true
				nfiles++
			}
			continue
		}
		if s.Bind == elf.STB_LOCAL {
			o.files[i] = file
		}
		if s.Type == elf.STT_FUNC && s.Shndx != int(elf.SHN_UNDEF) && s.Name != "" {
			o.funcSym = append(o.funcSym, i)
		}
	}
	// One source file (or none): its name may differ between the two
	// builds (orig.c, patched.c); it is simply "the" file.
	if nfiles <= 1 {
		for i := range o.files {
			o.files[i] = ""
		}
	}
}

// funcFile returns the source file of Funcs[idx].
func (o *Object) funcFile(idx int) string {
	if idx < 0 || idx >= len(o.funcSym) || o.funcSym[idx] >= len(o.files) {
		return ""
	}
	return o.files[o.funcSym[idx]]
}

// fuzzyName names a token of o without knowing the other side: clone
// and static numbers stripped. Equal code under fuzzy names is what the
// correlation prefers among candidates.
func (o *Object) fuzzyName(kind byte, idx int) string {
	switch kind {
	case 'f':
		if idx < len(o.File.Funcs) {
			fn := &o.File.Funcs[idx]
			s := baseName(fn.Name)
			if fn.Sympos > 0 {
				s += "#" + strconv.Itoa(fn.Sympos)
			}
			return s
		}
	case 'd':
		if idx < len(o.syms) {
			return localNumbered(o.syms[idx].Name)
		}
	}
	return "?"
}

func (o *Object) fuzzy(s string) string { return resolveTokens(s, o.fuzzyName) }

// correlation is the pairing of the symbols of two objects.
type correlation struct {
	o1, o2 *Object
	u1, u2 []*unitInfo // every unit of each side
	// pairs are the paired units; added and removed those of one side.
	pairs          [][2]*unitInfo
	added, removed []*unitInfo
	n1, n2         *namer
	renames        []Rename
	ambiguities    []Ambiguity
	// dataPairs1 and dataPairs2 are the named data symbols of each side;
	// dataPartner maps an original one to its patched partner.
	dataPairs1, dataPairs2 []*dataSym
	dataPartner            map[int]int
}

// correlate pairs the functions and data symbols of o1 and o2.
func correlate(o1, o2 *Object) *correlation {
	c := &correlation{o1: o1, o2: o2,
		n1: &namer{o: o1, fn: map[int]string{}, data: map[int]string{}, side: 'o'},
		n2: &namer{o: o2, fn: map[int]string{}, data: map[int]string{}, side: 'p'}}
	k1, k2 := o1.units(), o2.units()
	info1 := map[unitKey]*unitInfo{}
	info2 := map[unitKey]*unitInfo{}
	for k, fn := range k1 {
		info1[k] = o1.summarize(fn)
	}
	for k, fn := range k2 {
		info2[k] = o2.summarize(fn)
	}
	for _, ui := range info1 {
		c.u1 = append(c.u1, ui)
	}
	for _, ui := range info2 {
		c.u2 = append(c.u2, ui)
	}
	sortUnits(c.u1)
	sortUnits(c.u2)

	// By name: every function whose name has no clone number; the
	// clones go to their pool, keyed by base name, binding and file.
	type poolKey struct {
		base string
		bind elf.SymBind
		file string
	}
	pools := map[poolKey]*[2][]*unitInfo{}
	var poolOrder []poolKey
	pool := func(side int, ui *unitInfo) {
		k := poolKey{ui.base, ui.fn.Bind, ui.file}
		p := pools[k]
		if p == nil {
			p = &[2][]*unitInfo{}
			pools[k] = p
			poolOrder = append(poolOrder, k)
		}
		p[side] = append(p[side], ui)
	}
	for _, a := range c.u1 {
		k := unitKey{a.fn.Name, a.fn.Sympos, 0}
		for info1[k] != a {
			k.dup++
		}
		b := info2[k]
		switch {
		case a.base != a.fn.Name:
			pool(0, a)
		case b != nil:
			c.pair(a, b)
		default:
			c.removed = append(c.removed, a)
		}
	}
	for _, b := range c.u2 {
		k := unitKey{b.fn.Name, b.fn.Sympos, 0}
		for info2[k] != b {
			k.dup++
		}
		switch {
		case b.base != b.fn.Name:
			pool(1, b)
		case info1[k] == nil:
			c.added = append(c.added, b)
		}
	}
	for _, k := range poolOrder {
		p := pools[k]
		c.correlatePool(p[0], p[1])
	}
	c.correlateData()
	return c
}

func sortUnits(us []*unitInfo) {
	sort.Slice(us, func(i, j int) bool { return us[i].idx < us[j].idx })
}

// pair records a and b as the same function, their cold pieces in
// order.
func (c *correlation) pair(a, b *unitInfo) {
	c.pairs = append(c.pairs, [2]*unitInfo{a, b})
	name := canonFunc(a.idx)
	c.n1.fn[a.idx] = name
	c.n2.fn[b.idx] = name
	for k := 1; k < len(a.pieces) && k < len(b.pieces); k++ {
		pn := name + "c" + strconv.Itoa(k)
		c.n1.fn[c.o1.funcIndex(a.pieces[k])] = pn
		c.n2.fn[c.o2.funcIndex(b.pieces[k])] = pn
	}
	if a.fn.Name != b.fn.Name {
		c.renames = append(c.renames, Rename{Kind: RenameFunction, Orig: funcLabel(a.fn), Patched: funcLabel(b.fn),
			EqualCode: sameCode(a, b, c.o1.fuzzy, c.o2.fuzzy)})
	}
}

// correlatePool pairs the clones of one base name: those of the same
// name and equal code; then those whose code only one candidate on each
// side has; then those of the same name; then the last two left.
// Candidates with equal code that cannot be told apart are an
// ambiguity: then none of the pool's remaining clones is paired.
func (c *correlation) correlatePool(os, ps []*unitInfo) {
	used1 := make([]bool, len(os))
	used2 := make([]bool, len(ps))
	k1 := make([]string, len(os))
	k2 := make([]string, len(ps))
	for i, u := range os {
		k1[i] = codeKey(u, c.o1.fuzzy)
	}
	for j, u := range ps {
		k2[j] = codeKey(u, c.o2.fuzzy)
	}
	type nameKey struct {
		name   string
		sympos int
	}
	byName := map[nameKey][]int{}
	for j, u := range ps {
		k := nameKey{u.fn.Name, u.fn.Sympos}
		byName[k] = append(byName[k], j)
	}
	for i, a := range os {
		for _, j := range byName[nameKey{a.fn.Name, a.fn.Sympos}] {
			if !used2[j] && k1[i] != "" && k1[i] == k2[j] {
				used1[i], used2[j] = true, true
				c.pair(a, ps[j])
				break
			}
		}
	}
	cls1, cls2 := map[string][]int{}, map[string][]int{}
	var order []string
	for i := range os {
		if !used1[i] && k1[i] != "" {
			if cls1[k1[i]] == nil {
				order = append(order, k1[i])
			}
			cls1[k1[i]] = append(cls1[k1[i]], i)
		}
	}
	for j := range ps {
		if !used2[j] && k2[j] != "" {
			cls2[k2[j]] = append(cls2[k2[j]], j)
		}
	}
	ambiguous := false
	for _, k := range order {
		a, b := cls1[k], cls2[k]
		switch {
		case len(b) == 0:
		case len(a) == 1 && len(b) == 1:
			used1[a[0]], used2[b[0]] = true, true
			c.pair(os[a[0]], ps[b[0]])
		default:
			ambiguous = true
		}
	}
	if ambiguous {
		c.ambiguity(RenameFunction, os[0].base, os, ps, used1, used2,
			"clones with equal code cannot be told apart: not correlated, each is reported as removed or added")
		c.unpaired(os, ps, used1, used2)
		return
	}
	for i, a := range os {
		if used1[i] {
			continue
		}
		for _, j := range byName[nameKey{a.fn.Name, a.fn.Sympos}] {
			if !used2[j] {
				used1[i], used2[j] = true, true
				c.pair(a, ps[j])
				break
			}
		}
	}
	left1, left2 := count(used1), count(used2)
	switch {
	case left1 == 1 && left2 == 1:
		i, j := indexOf(used1), indexOf(used2)
		used1[i], used2[j] = true, true
		c.pair(os[i], ps[j])
	case left1 > 0 && left2 > 0:
		c.ambiguity(RenameFunction, os[0].base, os, ps, used1, used2,
			"clones of different code on both sides: not correlated, each is reported as removed or added")
	}
	c.unpaired(os, ps, used1, used2)
}

// codeKey is a key equal for two functions exactly when sameCode says
// their code is equal under the naming name; "" for unreadable code.
func codeKey(u *unitInfo, name func(string) string) string {
	if !u.readable {
		return ""
	}
	var b strings.Builder
	b.Write(u.shape[:])
	for _, t := range u.tokens {
		b.WriteByte(0)
		b.WriteString(name(t))
	}
	return b.String()
}

func (c *correlation) unpaired(os, ps []*unitInfo, used1, used2 []bool) {
	for i, a := range os {
		if !used1[i] {
			c.removed = append(c.removed, a)
		}
	}
	for j, b := range ps {
		if !used2[j] {
			c.added = append(c.added, b)
		}
	}
}

func (c *correlation) ambiguity(kind RenameKind, base string, os, ps []*unitInfo, used1, used2 []bool, msg string) {
	a := Ambiguity{Kind: kind, Base: base, Orig: []string{}, Patched: []string{}, Message: msg}
	for i, u := range os {
		if !used1[i] {
			a.Orig = append(a.Orig, funcLabel(u.fn))
		}
	}
	for j, u := range ps {
		if !used2[j] {
			a.Patched = append(a.Patched, funcLabel(u.fn))
		}
	}
	c.ambiguities = append(c.ambiguities, a)
}

func count(used []bool) int {
	n := 0
	for _, u := range used {
		if !u {
			n++
		}
	}
	return n
}

func indexOf(used []bool) int {
	for i, u := range used {
		if !u {
			return i
		}
	}
	return -1
}
