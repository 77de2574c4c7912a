package objdiff

import (
	"fmt"
	"slices"
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

// Compare compares orig and patched function by function. Functions pair
// by name and, among same-named local functions, by position (as
// klp_func.old_sympos counts them). See the package documentation for
// what counts as equal.
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
	u1, u2 := orig.units(), patched.units()
	keys := make([]unitKey, 0, len(u1)+len(u2))
	for k := range u1 {
		keys = append(keys, k)
	}
	for k := range u2 {
		if _, ok := u1[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].name != keys[j].name {
			return keys[i].name < keys[j].name
		}
		if keys[i].sympos != keys[j].sympos {
			return keys[i].sympos < keys[j].sympos
		}
		return keys[i].dup < keys[j].dup
	})
	noLines := false
	for _, k := range keys {
		a, b := u1[k], u2[k]
		switch {
		case b == nil:
			d.Removed = append(d.Removed, functionOf(a))
		case a == nil:
			d.Added = append(d.Added, functionOf(b))
		default:
			c := compareUnit(orig, patched, a, b)
			switch {
			case c == nil:
				d.Unchanged++
			case c.Reason == "":
				d.LineShiftOnly = append(d.LineShiftOnly, *c)
			default:
				if c.Reason == ReasonImmediate && (orig.lines == nil || patched.lines == nil) {
					noLines = true
				}
				d.Changed = append(d.Changed, *c)
			}
		}
	}
	d.Notes = append(append(d.Notes, orig.notes...), patched.notes...)
	if noLines {
		d.Notes = append(d.Notes, "no line table (compile with -g) on one side: functions whose only differences are immediates count as changed, since nothing shows those are __LINE__ numbers")
	}
	return d
}

// unitCmp is the comparison of one function pair in progress.
type unitCmp struct {
	o1, o2 *Object
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
	a, b   *insn
	pairs  []immPair
}

// compareUnit compares function a of o1 with b of o2, cold pieces
// included, and returns nil when they are the same.
func compareUnit(o1, o2 *Object, a, b *object.Func) *Change {
	u := &unitCmp{o1: o1, o2: o2, a: a, b: b, c: &Change{Function: functionOf(b)}}
	m := o1.File.Machine
	p1 := append([]*object.Func{a}, o1.coldPieces(a)...)
	p2 := append([]*object.Func{b}, o2.coldPieces(b)...)
	var cands []immCand
	// Decode every piece first: targets inside the function are named by
	// instruction index, which needs all of them.
	d1, d2 := make([]*piece, len(p1)), make([]*piece, len(p2))
	for i, f := range p1 {
		d1[i] = o1.decode(f)
	}
	for i, f := range p2 {
		d2[i] = o2.decode(f)
	}
	o1.localize(d1)
	o2.localize(d2)
	for i, fa := range p1 {
		var fb *object.Func
		var pb *piece
		for j, x := range p2 {
			if x.Name == fa.Name || i == 0 && j == 0 {
				fb, pb = x, d2[j]
				break
			}
		}
		if fb == nil {
			continue
		}
		pa := d1[i]
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
				cands = append(cands, immCand{pa, pb, x, y, pairs})
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
	if n1, n2 := pieceNames(p1), pieceNames(p2); !slices.Equal(n1, n2) {
		u.c.Reason = ReasonCold
		u.c.First = &Difference{Piece: a.Name, Orig: "pieces: " + strings.Join(n1, ", "), Patched: "pieces: " + strings.Join(n2, ", ")}
		return u.c
	}
	for _, ic := range cands {
		for _, pr := range ic.pairs {
			if !u.isLineShift(ic, pr) {
				u.c.Reason = ReasonImmediate
				u.c.First = &Difference{Piece: ic.p1.fn.Name, Offset: uint64(ic.a.off), PatchedOffset: uint64(ic.b.off),
					Orig: disasm(m, ic.a), Patched: disasm(o2.File.Machine, ic.b)}
				return u.c
			}
			u.c.LineShifts = append(u.c.LineShifts, LineShift{Piece: ic.p1.fn.Name, Offset: uint64(ic.a.off),
				Where: "immediate", Orig: pr.orig, Patched: pr.patched})
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
		if x != nil && y != nil && x.table == y.table && x.piece == y.piece && x.off == y.off && x.desc == y.desc {
			if x.line != y.line {
				u.c.LineShifts = append(u.c.LineShifts, LineShift{Piece: x.piece, Offset: x.off,
					Where: x.table, Orig: int64(x.line), Patched: int64(y.line)})
			}
			continue
		}
		u.c.Reason = ReasonTable
		u.c.First = &Difference{Orig: entryString(x), Patched: entryString(y)}
		if x != nil {
			u.c.First.Piece, u.c.First.Offset = x.piece, x.off
		}
		if y != nil {
			if x == nil {
				u.c.First.Piece = y.piece
			}
			u.c.First.PatchedOffset = y.off
		}
		return false
	}
	return true
}

func entryString(e *tableEntry) string {
	if e == nil {
		return "(no entry)"
	}
	s := fmt.Sprintf("%s entry at %s%s: %s", e.table, e.piece, offset(int64(e.off)), e.desc)
	if e.bug {
		s += fmt.Sprintf(" line=%d", e.line)
	}
	return s
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
