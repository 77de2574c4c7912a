package objdiff

import (
	"fmt"
	"sort"
	"strings"

	"github.com/klp-audit/klp-audit/object"
)

// unitKey pairs functions across the two objects: the name, and the
// position among same-named local functions (old_sympos).
type unitKey struct {
	name   string
	sympos int
	// dup numbers symbols that name and sympos do not tell apart (two
	// global definitions of one name, which only broken or hand-made
	// objects have), in symbol-table order, so none is dropped.
	dup int
}

// units returns the functions of o that are compared on their own: every
// function symbol except cold pieces attached to their parent.
func (o *Object) units() map[unitKey]*object.Func {
	out := make(map[unitKey]*object.Func, len(o.File.Funcs))
	for i := range o.File.Funcs {
		fn := &o.File.Funcs[i]
		if fn.ColdOf != "" && o.coldParent(fn) != nil {
			continue
		}
		k := unitKey{fn.Name, fn.Sympos, 0}
		for out[k] != nil {
			k.dup++
		}
		out[k] = fn
	}
	return out
}

func functionOf(fn *object.Func) Function {
	return Function{Name: fn.Name, Sympos: fn.Sympos, Section: fn.Section, Size: fn.Size, Cold: fn.Cold}
}

// Compare compares orig and patched function by function, after
// correlating their symbols (see correlate.go): functions pair by name
// and, among same-named local functions, by position (as
// klp_func.old_sympos counts them); renumbered clones and function-local
// statics by base name. See the package documentation for what counts
// as equal.
func Compare(orig, patched *Object) *ObjectDiff {
	d := &ObjectDiff{
		Path:          patched.Path,
		Status:        ObjectCompared,
		Machine:       patched.File.Machine.String(),
		Changed:       []Change{},
		LineShiftOnly: []Change{},
		Added:         []Function{},
		Removed:       []Function{},
	}
	c := correlate(orig, patched)
	sort.Slice(c.pairs, func(i, j int) bool { return unitLess(c.pairs[i][1].fn, c.pairs[j][1].fn) })
	noLines := false
	for _, p := range c.pairs {
		ch := c.compareUnit(p[0], p[1])
		switch {
		case ch == nil:
			d.Unchanged++
		case ch.Reason == "":
			d.LineShiftOnly = append(d.LineShiftOnly, *ch)
		default:
			if ch.Reason == ReasonImmediate && (orig.lines == nil || patched.lines == nil) {
				noLines = true
			}
			d.Changed = append(d.Changed, *ch)
		}
	}
	for _, u := range c.added {
		d.Added = append(d.Added, functionOf(u.fn))
	}
	for _, u := range c.removed {
		d.Removed = append(d.Removed, functionOf(u.fn))
	}
	sortFunctions(d.Added)
	sortFunctions(d.Removed)
	sortChanges(d.Changed)
	sortChanges(d.LineShiftOnly)
	d.Renames = c.renames
	sort.SliceStable(d.Renames, func(i, j int) bool {
		x, y := d.Renames[i], d.Renames[j]
		if x.Kind != y.Kind {
			return x.Kind > y.Kind // functions first
		}
		return x.Orig < y.Orig
	})
	d.Ambiguities = c.ambiguities
	d.DataChanges = c.compareData()
	if len(d.DataChanges) == 0 {
		d.DataChanges = nil
	}
	d.Notes = append(append(d.Notes, orig.notes...), patched.notes...)
	for _, a := range d.Ambiguities {
		d.Notes = append(d.Notes, fmt.Sprintf("ambiguous %s %s: original %s, patched %s: %s",
			a.Kind, a.Base, strings.Join(a.Orig, ", "), strings.Join(a.Patched, ", "), a.Message))
	}
	if n := len(d.DataChanges); n > 0 {
		var names []string
		for _, dc := range d.DataChanges {
			names = append(names, fmt.Sprintf("%s (%s)", dc.Name, dc.Status))
		}
		if len(names) > 10 {
			names = append(names[:10], "...")
		}
		d.Notes = append(d.Notes, fmt.Sprintf("%d data objects differ, which a livepatch cannot replace: %s (see data_changes in YAML or JSON)", n, strings.Join(names, ", ")))
	}
	if noLines {
		d.Notes = append(d.Notes, "no line table (compile with -g) on one side: functions whose only differences are immediates count as changed, since nothing shows those are __LINE__ numbers (except an immediate that only feeds the line parameter of a known kernel callee such as __might_sleep, marked heuristic)")
	}
	return d
}

func unitLess(a, b *object.Func) bool {
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.Sympos < b.Sympos
}

func sortFunctions(fs []Function) {
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Name != fs[j].Name {
			return fs[i].Name < fs[j].Name
		}
		return fs[i].Sympos < fs[j].Sympos
	})
}

func sortChanges(cs []Change) {
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].Name != cs[j].Name {
			return cs[i].Name < cs[j].Name
		}
		return cs[i].Sympos < cs[j].Sympos
	})
}

// unitCmp is the comparison of one function pair in progress.
type unitCmp struct {
	o1, o2 *Object
	n1, n2 *namer
	a, b   *object.Func // the functions compared
	c      *Change
	// lineMap maps (file, orig line) to the patched line, from the line
	// rows at the same offsets of the function's pieces on both sides;
	// -1 marks a line the rows disagree about.
	lineMap map[fileLine]int
}

type fileLine struct {
	file string
	line int
}

// immCand is an instruction pair whose only difference is immediates.
type immCand struct {
	p1, p2 *piece
	ia, ib int // the instructions' indexes in p1 and p2
	a, b   *insn
	pairs  []immPair
}

// resolveInsns names the targets of p's instructions canonically, for
// comparison, and those shown to people (pcTarget, comments) by o's own
// names.
func resolveInsns(o *Object, n *namer, p *piece) {
	for i := range p.insns {
		in := &p.insns[i]
		for k, t := range in.targets {
			in.targets[k] = n.resolve(t)
		}
		in.pcTarget = o.display(in.pcTarget)
		for k, t := range in.comments {
			in.comments[k] = o.display(t)
		}
	}
}

// coldSuffix is what a cold piece's name adds to its function's name,
// its number stripped (".cold" for foo.cold.3).
func coldSuffix(parent, piece string) string {
	return baseName("x" + strings.TrimPrefix(piece, parent))
}

// compareUnit compares function a of the original with b of the patched
// object, cold pieces included, and returns nil when they are the same.
func (cr *correlation) compareUnit(ua, ub *unitInfo) *Change {
	o1, o2 := cr.o1, cr.o2
	a, b := ua.fn, ub.fn
	u := &unitCmp{o1: o1, o2: o2, n1: cr.n1, n2: cr.n2, a: a, b: b, c: &Change{Function: functionOf(b)}}
	m := o1.File.Machine
	p1, p2 := ua.pieces, ub.pieces
	var cands []immCand
	if !sameCode(ua, ub, cr.n1.resolve, cr.n2.resolve) {
		// Decode every piece again: targets inside the function are
		// named by instruction index, which needs all of them.
		d1, d2 := make([]*piece, len(p1)), make([]*piece, len(p2))
		for i, f := range p1 {
			d1[i] = o1.decode(f)
		}
		for i, f := range p2 {
			d2[i] = o2.decode(f)
		}
		o1.localize(d1)
		o2.localize(d2)
		for _, p := range d1 {
			resolveInsns(o1, cr.n1, p)
		}
		for _, p := range d2 {
			resolveInsns(o2, cr.n2, p)
		}
		for i := 0; i < len(p1) && i < len(p2); i++ {
			fa, fb := p1[i], p2[i]
			pa, pb := d1[i], d2[i]
			if !pa.ok || !pb.ok {
				if pa.ok != pb.ok || fa.Size != fb.Size {
					u.c.Reason = ReasonUnreadable
					u.c.First = &Difference{Piece: fa.Name, Orig: readable(pa.ok), Patched: readable(pb.ok)}
					return u.c
				}
				continue
			}
			n := min(len(pa.insns), len(pb.insns))
			for k := 0; k < n; k++ {
				x, y := &pa.insns[k], &pb.insns[k]
				if x.equal(y) {
					continue
				}
				if pairs, ok := immediates(m, x, y); ok {
					cands = append(cands, immCand{pa, pb, k, k, x, y, pairs})
					continue
				}
				u.c.Reason = ReasonCode
				u.c.First = &Difference{Piece: fa.Name, Offset: uint64(x.off), PatchedOffset: uint64(y.off),
					Orig: disasm(m, x), Patched: disasm(o2.File.Machine, y)}
				return u.c
			}
			if len(pa.insns) != len(pb.insns) {
				var x, y *insn
				off1, off2 := fa.Size, fb.Size
				if n < len(pa.insns) {
					x = &pa.insns[n]
					off1 = uint64(x.off)
				}
				if n < len(pb.insns) {
					y = &pb.insns[n]
					off2 = uint64(y.off)
				}
				u.c.Reason = ReasonCode
				u.c.First = &Difference{Piece: fa.Name, Offset: off1, PatchedOffset: off2,
					Orig: disasm(m, x), Patched: disasm(o2.File.Machine, y)}
				return u.c
			}
		}
	}
	if !sameColdPieces(p1, p2) {
		n1, n2 := pieceNames(p1), pieceNames(p2)
		u.c.Reason = ReasonCold
		u.c.First = &Difference{Piece: a.Name, Orig: "pieces: " + strings.Join(n1, ", "), Patched: "pieces: " + strings.Join(n2, ", ")}
		return u.c
	}
	for _, ic := range cands {
		for _, pr := range ic.pairs {
			ls, ok := u.lineShift(ic, pr)
			if !ok {
				u.c.Reason = ReasonImmediate
				u.c.First = &Difference{Piece: ic.p1.fn.Name, Offset: uint64(ic.a.off), PatchedOffset: uint64(ic.b.off),
					Orig: disasm(m, ic.a), Patched: disasm(o2.File.Machine, ic.b)}
				return u.c
			}
			u.c.LineShifts = append(u.c.LineShifts, ls)
		}
	}
	if !u.compareTables(a, b) {
		return u.c
	}
	if len(u.c.LineShifts) == 0 {
		return nil
	}
	sort.SliceStable(u.c.LineShifts, func(i, j int) bool {
		x, y := u.c.LineShifts[i], u.c.LineShifts[j]
		if x.Piece != y.Piece {
			return x.Piece < y.Piece
		}
		return x.Offset < y.Offset
	})
	return u.c
}

// sameColdPieces says two functions have as many cold pieces, of the
// same kinds (foo.cold, foo.part.0.cold), numbers aside.
func sameColdPieces(p1, p2 []*object.Func) bool {
	if len(p1) != len(p2) {
		return false
	}
	for k := 1; k < len(p1); k++ {
		if coldSuffix(p1[0].Name, p1[k].Name) != coldSuffix(p2[0].Name, p2[k].Name) {
			return false
		}
	}
	return true
}

func readable(ok bool) string {
	if ok {
		return "(code readable)"
	}
	return "(code not readable)"
}

func pieceNames(fs []*object.Func) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

// compareTables compares the table entries attached to a and b. It
// returns false, with the Change's reason and first difference set, when
// they differ beyond __bug_table line numbers; line differences are
// added to the Change's line shifts.
func (u *unitCmp) compareTables(a, b *object.Func) bool {
	e1 := u.o1.tables[u.o1.funcIndex(a)]
	e2 := u.o2.tables[u.o2.funcIndex(b)]
	n := max(len(e1), len(e2))
	for i := 0; i < n; i++ {
		var x, y *tableEntry
		if i < len(e1) {
			x = &e1[i]
		}
		if i < len(e2) {
			y = &e2[i]
		}
		if x != nil && y != nil && x.table == y.table && x.role == y.role && x.off == y.off &&
			u.n1.resolve(x.piece) == u.n2.resolve(y.piece) && u.n1.resolve(x.desc) == u.n2.resolve(y.desc) {
			if x.line != y.line {
				u.c.LineShifts = append(u.c.LineShifts, LineShift{Piece: u.o1.display(x.piece), Offset: x.off,
					Where: x.table, Orig: int64(x.line), Patched: int64(y.line)})
			}
			continue
		}
		u.c.Reason = ReasonTable
		u.c.First = &Difference{Orig: u.o1.entryString(x), Patched: u.o2.entryString(y)}
		if x != nil {
			u.c.First.Piece, u.c.First.Offset = u.o1.display(x.piece), x.off
		}
		if y != nil {
			if x == nil {
				u.c.First.Piece = u.o2.display(y.piece)
			}
			u.c.First.PatchedOffset = y.off
		}
		return false
	}
	return true
}

func (o *Object) entryString(e *tableEntry) string {
	if e == nil {
		return "(no entry)"
	}
	s := fmt.Sprintf("%s entry at %s%s: %s", e.table, o.display(e.piece), offset(int64(e.off)), o.display(e.desc))
	if e.bug {
		s += fmt.Sprintf(" line=%d", e.line)
	}
	return s
}

// lineShift says whether the immediate pair pr of candidate ic is a
// __LINE__ number that moved with its code, and returns it as a
// LineShift. With line tables on both sides the test is exact (see
// isLineShift); without, the immediate must only feed the line
// parameter of a known line-taking kernel callee on both sides (see
// lineCallee), and the shift is marked heuristic.
func (u *unitCmp) lineShift(ic immCand, pr immPair) (LineShift, bool) {
	ls := LineShift{Piece: ic.p1.fn.Name, Offset: uint64(ic.a.off), Where: "immediate", Orig: pr.orig, Patched: pr.patched}
	if pr.orig <= 0 || pr.patched <= 0 {
		return ls, false
	}
	if u.o1.lines != nil && u.o2.lines != nil {
		return ls, u.isLineShift(ic, pr)
	}
	c1, ok1 := lineCallee(u.o1.File.Machine, ic.p1, ic.ia)
	c2, ok2 := lineCallee(u.o2.File.Machine, ic.p2, ic.ib)
	if !ok1 || !ok2 || c1 != c2 {
		return ls, false
	}
	ls.Heuristic, ls.Callee = true, c1
	return ls, true
}

// isLineShift says the immediate pair pr of candidate ic is a __LINE__
// number that moved with its code: either the instruction's own line in
// the line table is the immediate's value on both sides (report(__LINE__)
// loads its argument on that line), or the function's line rows, paired
// by offset, map the original value to the patched one (the load was
// scheduled on another line). Without line tables it is never one.
func (u *unitCmp) isLineShift(ic immCand, pr immPair) bool {
	if pr.orig <= 0 || pr.patched <= 0 || u.o1.lines == nil || u.o2.lines == nil {
		return false
	}
	pos1 := ic.p1.fn.Value + uint64(ic.a.off)
	pos2 := ic.p2.fn.Value + uint64(ic.b.off)
	f1, l1, ok1 := u.o1.lines.at(u.o1.key(ic.p1.shndx), pos1)
	f2, l2, ok2 := u.o2.lines.at(u.o2.key(ic.p2.shndx), pos2)
	if ok1 && ok2 && f1 == f2 && int64(l1) == pr.orig && int64(l2) == pr.patched {
		return true
	}
	if u.lineMap == nil {
		u.buildLineMap()
	}
	for fl, l := range u.lineMap {
		if int64(fl.line) == pr.orig && l > 0 && int64(l) == pr.patched {
			return true
		}
	}
	return false
}

// buildLineMap pairs the line rows of the function on both sides by
// offset: the main pieces, and the cold pieces of the same names.
func (u *unitCmp) buildLineMap() {
	u.lineMap = map[fileLine]int{}
	add := func(f1, f2 *object.Func) {
		r1 := u.o1.lines.within(u.o1.key(f1.Shndx), f1.Value, f1.Value+f1.Size)
		r2 := u.o2.lines.within(u.o2.key(f2.Shndx), f2.Value, f2.Value+f2.Size)
		at := map[uint64][]lineRow{}
		for _, r := range r2 {
			at[r.pos-f2.Value] = append(at[r.pos-f2.Value], r)
		}
		seen := map[uint64]int{}
		for _, r := range r1 {
			off := r.pos - f1.Value
			rs := at[off]
			k := seen[off]
			seen[off]++
			if k >= len(rs) || rs[k].file != r.file {
				continue
			}
			fl := fileLine{r.file, r.line}
			if old, ok := u.lineMap[fl]; ok && old != rs[k].line {
				u.lineMap[fl] = -1
				continue
			}
			u.lineMap[fl] = rs[k].line
		}
	}
	add(u.a, u.b)
	for _, c1 := range u.o1.coldPieces(u.a) {
		for _, c2 := range u.o2.coldPieces(u.b) {
			if c1.Name == c2.Name {
				add(c1, c2)
			}
		}
	}
}
