package objdiff

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"

	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/x86/x86asm"

	"github.com/klp-audit/klp-audit/object"
)

// insn is one instruction of a function, normalised for comparison.
type insn struct {
	off    int    // offset in the piece
	raw    []byte // the bytes as the object holds them
	masked []byte // raw with relocated and PC-relative fields zeroed
	// targets name what those fields lead to, in field order: a call to
	// the same function compares equal wherever either side put it.
	targets []string
	// comments are the targets of relocated fields the disassembly does
	// not show symbolically (immediates, absolute displacements).
	comments []string
	// pcTarget is the symbolic target of the PC-relative field, if any,
	// and pcSlot its index in targets.
	pcTarget string
	pcSlot   int
	// tgtSec and tgtPos are where the PC-relative field leads (section
	// and position, an address in a linked file), when hasTgt: a target
	// inside the function's own pieces is compared by instruction index.
	tgtSec int
	tgtPos uint64
	hasTgt bool
	x86    *x86asm.Inst // nil when not x86-64 or not decodable
	be     bool         // the code is big-endian (s390x, ppc64)
	// rels are the relocated fields' targets as positions, kept on the
	// machines whose code reaches data through section anchors
	// (AArch64, s390x): see anchor.go.
	rels []relPos
	// bases marks the targets (by slot, bit k for targets[k]) that are
	// an anchor's base rather than a reference of their own: they take
	// part in the comparison, not in finding the owners of data.
	bases uint64
}

// relPos is where the relocated field of targets[slot] leads.
type relPos struct {
	slot int
	typ  uint32
	sec  int
	pos  uint64
}

// piece is one function symbol's code: a function, or a cold piece.
type piece struct {
	fn    *object.Func
	shndx int
	insns []insn
	ok    bool // the code was readable
}

// decode splits fn's code into normalised instructions.
func (o *Object) decode(fn *object.Func) *piece {
	p := &piece{fn: fn, shndx: fn.Shndx}
	code, relocs, ok := o.File.Code(fn)
	if !ok {
		return p
	}
	p.ok = true
	switch o.File.Machine {
	case elf.EM_X86_64:
		p.insns = o.decodeX86(fn, code, relocs)
	case elf.EM_AARCH64:
		p.insns = o.decodeARM64(fn, code, relocs)
	case elf.EM_PPC64, elf.EM_S390, elf.EM_LOONGARCH:
		p.insns = o.decodeOther(fn, code, relocs)
	default:
		p.insns = o.decodeBytes(fn, code, relocs)
	}
	if o.anchored() {
		o.followAnchors(p)
	}
	return p
}

// fieldTargets masks the relocated fields inside [pos, end) and names
// their targets; it reports whether a relocation sits at field pcOff
// (pcOff < 0: none).
func (o *Object) fieldTargets(in *insn, pos, end uint64, relocs []object.Reloc, ri *int, pcOff int) (pcCovered bool) {
	for *ri < len(relocs) && relocs[*ri].Off < pos {
		*ri++
	}
	for ; *ri < len(relocs) && relocs[*ri].Off < end; *ri++ {
		r := relocs[*ri]
		field := int(r.Off - pos)
		size, pcrel := relocField(o.File.Machine, r.Type)
		o.maskReloc(in.masked, field, size, r.Type)
		var adj int64
		if pcrel {
			adj = int64(end - r.Off)
		}
		adj += o.relocBias(r.Type)
		t := o.relocTarget(r, adj) + o.relocSuffixOf(r.Type)
		in.targets = append(in.targets, fmt.Sprintf("@%d=%s", field, t))
		if o.anchored() {
			if sec, p, ok := o.relocPos(r, adj); ok {
				in.rels = append(in.rels, relPos{slot: len(in.targets) - 1, typ: r.Type, sec: sec, pos: p})
			}
		}
		if field == pcOff {
			pcCovered = true
			in.pcTarget, in.pcSlot = t, len(in.targets)-1
			if o.relocSuffixOf(r.Type) == "" {
				in.tgtSec, in.tgtPos, in.hasTgt = o.relocPos(r, adj)
			}
		} else {
			in.comments = append(in.comments, t)
		}
	}
	return pcCovered
}

// maskReloc zeroes the bits of b that a relocation of type typ at field
// patches: the whole field on x86-64, the immediate bits of the word on
// AArch64 (in a relocatable object they are zero anyway; in a linked
// file they hold the resolved value).
func (o *Object) maskReloc(b []byte, field, size int, typ uint32) {
	if field < 0 || field >= len(b) {
		return
	}
	if otherArch(o.File.Machine) {
		if rt, ok := o.archReloc(typ); ok {
			object.MaskField(o.order(), b, field, rt)
			return
		}
	}
	if o.File.Machine == elf.EM_AARCH64 && size == 4 && field+4 <= len(b) {
		if m := arm64RelocMask(typ); m != 0 {
			w := binary.LittleEndian.Uint32(b[field:])
			binary.LittleEndian.PutUint32(b[field:], w&^m)
			return
		}
	}
	for k := field; k < field+size && k < len(b); k++ {
		b[k] = 0
	}
}

func signExt(b []byte) int64 {
	switch len(b) {
	case 1:
		return int64(int8(b[0]))
	case 2:
		return int64(int16(binary.LittleEndian.Uint16(b)))
	case 4:
		return int64(int32(binary.LittleEndian.Uint32(b)))
	case 8:
		return int64(binary.LittleEndian.Uint64(b))
	}
	return 0
}

func (o *Object) decodeX86(fn *object.Func, code []byte, relocs []object.Reloc) []insn {
	var out []insn
	ri := 0
	for off := 0; off < len(code); {
		inst, err := x86asm.Decode(code[off:], 64)
		n := inst.Len
		if err != nil || n <= 0 || off+n > len(code) {
			n = 1
		}
		raw := code[off : off+n]
		in := insn{off: off, raw: raw, masked: append([]byte(nil), raw...)}
		pos := fn.Value + uint64(off)
		end := pos + uint64(n)
		pcOff := -1
		if err == nil && inst.Len == n {
			in.x86 = &inst
			if inst.PCRel > 0 {
				pcOff = inst.PCRelOff
			}
		}
		covered := o.fieldTargets(&in, pos, end, relocs, &ri, pcOff)
		if pcOff >= 0 && !covered && pcOff+inst.PCRel <= n {
			// Resolved by the assembler (a local function in the same
			// section) or the linker: compare by target, not distance.
			disp := signExt(raw[pcOff : pcOff+inst.PCRel])
			tpos := uint64(int64(end) + disp)
			t := o.posName(fn.Shndx, tpos)
			for k := pcOff; k < pcOff+inst.PCRel; k++ {
				in.masked[k] = 0
			}
			in.pcTarget = t
			in.targets = append(in.targets, fmt.Sprintf("@%d=%s", pcOff, t))
			in.pcSlot = len(in.targets) - 1
			in.tgtSec, in.tgtPos, in.hasTgt = o.sectionOf(fn.Shndx, tpos), tpos, true
		}
		if in.x86 != nil && in.pcTarget != "" && isRelBranch(in.x86) {
			// A direct call or jump compares by what it is and where it
			// goes, not by its encoding: the assembler picks jmp rel8 or
			// rel32 by the distance, which code elsewhere can change.
			in.masked = []byte(branchKey(in.x86))
			in.targets[in.pcSlot] = "=" + in.pcTarget
		}
		out = append(out, in)
		off += n
	}
	return out
}

// arm64RelocMask returns the bits of an instruction word that an AArch64
// relocation of type typ patches, 0 for types not in instructions.
func arm64RelocMask(typ uint32) uint32 {
	switch elf.R_AARCH64(typ) {
	case elf.R_AARCH64_CALL26, elf.R_AARCH64_JUMP26:
		return 0x03ffffff
	case elf.R_AARCH64_CONDBR19, elf.R_AARCH64_LD_PREL_LO19:
		return 0x00ffffe0
	case elf.R_AARCH64_TSTBR14:
		return 0x0007ffe0
	case elf.R_AARCH64_ADR_PREL_LO21, elf.R_AARCH64_ADR_PREL_PG_HI21, elf.R_AARCH64_ADR_PREL_PG_HI21_NC,
		elf.R_AARCH64_ADR_GOT_PAGE:
		return 0x60ffffe0
	case elf.R_AARCH64_ADD_ABS_LO12_NC, elf.R_AARCH64_LDST8_ABS_LO12_NC, elf.R_AARCH64_LDST16_ABS_LO12_NC,
		elf.R_AARCH64_LDST32_ABS_LO12_NC, elf.R_AARCH64_LDST64_ABS_LO12_NC, elf.R_AARCH64_LDST128_ABS_LO12_NC,
		elf.R_AARCH64_LD64_GOT_LO12_NC:
		return 0x003ffc00
	case elf.R_AARCH64_MOVW_UABS_G0, elf.R_AARCH64_MOVW_UABS_G0_NC, elf.R_AARCH64_MOVW_UABS_G1,
		elf.R_AARCH64_MOVW_UABS_G1_NC, elf.R_AARCH64_MOVW_UABS_G2, elf.R_AARCH64_MOVW_UABS_G2_NC,
		elf.R_AARCH64_MOVW_UABS_G3:
		return 0x001fffe0
	}
	return 0
}

// arm64Branch decodes the PC-relative immediate of an AArch64 word: the
// target's distance from the instruction, and the bits holding it.
func arm64Branch(w uint32) (disp int64, mask uint32, page, ok bool) {
	sx := func(v uint32, bits uint) int64 { return int64(uint64(v)<<(64-bits)) >> (64 - bits) }
	switch {
	case w&0x7c000000 == 0x14000000: // b, bl
		return sx(w&0x03ffffff, 26) * 4, 0x03ffffff, false, true
	case w&0xff000010 == 0x54000000, w&0x7e000000 == 0x34000000: // b.cond, cbz/cbnz
		return sx((w>>5)&0x7ffff, 19) * 4, 0x00ffffe0, false, true
	case w&0x7e000000 == 0x36000000: // tbz/tbnz
		return sx((w>>5)&0x3fff, 14) * 4, 0x0007ffe0, false, true
	case w&0x9f000000 == 0x10000000: // adr
		return sx((w>>29)&3|((w>>5)&0x7ffff)<<2, 21), 0x60ffffe0, false, true
	case w&0x9f000000 == 0x90000000: // adrp
		return sx((w>>29)&3|((w>>5)&0x7ffff)<<2, 21) << 12, 0x60ffffe0, true, true
	}
	return 0, 0, false, false
}

func (o *Object) decodeARM64(fn *object.Func, code []byte, relocs []object.Reloc) []insn {
	var out []insn
	ri := 0
	for off := 0; off < len(code); off += 4 {
		n := 4
		if off+n > len(code) {
			n = len(code) - off
		}
		raw := code[off : off+n]
		in := insn{off: off, raw: raw, masked: append([]byte(nil), raw...)}
		pos := fn.Value + uint64(off)
		covered := o.fieldTargets(&in, pos, pos+uint64(n), relocs, &ri, 0)
		if n == 4 && !covered {
			w := binary.LittleEndian.Uint32(raw)
			if disp, mask, page, ok := arm64Branch(w); ok {
				base := pos
				if page {
					base &^= 0xfff
				}
				tpos := uint64(int64(base) + disp)
				t := o.posName(fn.Shndx, tpos)
				binary.LittleEndian.PutUint32(in.masked, w&^mask)
				in.pcTarget = t
				in.targets = append(in.targets, "@0="+t)
				in.pcSlot = len(in.targets) - 1
				if !page {
					in.tgtSec, in.tgtPos, in.hasTgt = o.sectionOf(fn.Shndx, tpos), tpos, true
				}
			}
		}
		out = append(out, in)
	}
	return out
}

// decodeBytes is the fallback for machines without a decoder: 4-byte
// words, relocated fields masked.
func (o *Object) decodeBytes(fn *object.Func, code []byte, relocs []object.Reloc) []insn {
	var out []insn
	ri := 0
	for off := 0; off < len(code); off += 4 {
		n := min(4, len(code)-off)
		raw := code[off : off+n]
		in := insn{off: off, raw: raw, masked: append([]byte(nil), raw...)}
		pos := fn.Value + uint64(off)
		o.fieldTargets(&in, pos, pos+uint64(n), relocs, &ri, -1)
		out = append(out, in)
	}
	return out
}

// isRelBranch says inst is a direct call, jump or conditional jump.
func isRelBranch(inst *x86asm.Inst) bool {
	_, ok := inst.Args[0].(x86asm.Rel)
	return ok
}

// branchKey is what a direct branch compares by besides its target: the
// operation and its prefixes (cs, bnd, notrack, hints), not the size of
// its displacement.
func branchKey(inst *x86asm.Inst) string {
	k := "branch " + inst.Op.String()
	for _, p := range inst.Prefix {
		if p == 0 {
			break
		}
		if p&0xf0 == 0x40 {
			continue // REX: irrelevant to a branch
		}
		k += fmt.Sprintf(" %#x", uint8(p))
	}
	return k
}

// localize rewrites the targets that land inside the function's own
// pieces as instruction indexes (foo#12): two versions whose
// instructions are equal but whose encodings differ in length (a jump
// relaxed from rel8 to rel32) still compare equal.
func (o *Object) localize(pieces []*piece) {
	for _, p := range pieces {
		for i := range p.insns {
			in := &p.insns[i]
			if !in.hasTgt {
				continue
			}
			for _, q := range pieces {
				fn := q.fn
				if in.tgtPos < fn.Value || in.tgtPos >= fn.Value+fn.Size || !o.File.Linked() && in.tgtSec != fn.Shndx {
					continue
				}
				off := int(in.tgtPos - fn.Value)
				k := sort.Search(len(q.insns), func(j int) bool { return q.insns[j].off >= off })
				if k < len(q.insns) && q.insns[k].off == off {
					name := fmt.Sprintf("%s#%d", o.funcToken(fn), k)
					t := in.targets[in.pcSlot]
					if eq := strings.IndexByte(t, '='); eq >= 0 {
						in.targets[in.pcSlot] = t[:eq+1] + name
					}
				}
				break
			}
		}
	}
}

// equal says two instructions are the same once relocations and
// PC-relative fields are taken symbolically.
func (a *insn) equal(b *insn) bool {
	return bytes.Equal(a.masked, b.masked) && slices.Equal(a.targets, b.targets)
}

// immPair is one immediate operand that differs between two otherwise
// equal instructions.
type immPair struct{ orig, patched int64 }

// immediates returns the immediate operands that differ between a and b
// when that is their only difference: same length, same opcode,
// prefixes and other operands, same symbolic targets. ok is false
// otherwise.
func immediates(m elf.Machine, a, b *insn) (pairs []immPair, ok bool) {
	if len(a.raw) != len(b.raw) || !slices.Equal(a.targets, b.targets) || bytes.HasPrefix(a.masked, []byte("branch ")) {
		return nil, false
	}
	switch m {
	case elf.EM_X86_64:
		if a.x86 == nil || b.x86 == nil {
			return nil, false
		}
		x, y := a.x86, b.x86
		if x.Op != y.Op || x.Opcode != y.Opcode || x.Prefix != y.Prefix || x.Mode != y.Mode ||
			x.DataSize != y.DataSize || x.AddrSize != y.AddrSize || x.MemBytes != y.MemBytes {
			return nil, false
		}
		for i := range x.Args {
			p, q := x.Args[i], y.Args[i]
			if p == nil || q == nil {
				if p != q {
					return nil, false
				}
				continue
			}
			switch pv := p.(type) {
			case x86asm.Imm:
				qv, isImm := q.(x86asm.Imm)
				if !isImm {
					return nil, false
				}
				if pv != qv {
					pairs = append(pairs, immPair{int64(pv), int64(qv)})
				}
			case x86asm.Rel:
				if _, isRel := q.(x86asm.Rel); !isRel {
					return nil, false
				}
			case x86asm.Mem:
				qv, isMem := q.(x86asm.Mem)
				if !isMem {
					return nil, false
				}
				if pv.Base == x86asm.RIP {
					pv.Disp, qv.Disp = 0, 0 // compared by target
				}
				if pv != qv {
					return nil, false
				}
			default:
				if p != q {
					return nil, false
				}
			}
		}
	case elf.EM_AARCH64:
		if len(a.raw) != 4 {
			return nil, false
		}
		wa, wb := binary.LittleEndian.Uint32(a.masked), binary.LittleEndian.Uint32(b.masked)
		// movz: sf 10 100101 hw imm16 rd (how __LINE__ is loaded).
		const movzMask, movz, imm16 = 0x7f800000, 0x52800000, 0x001fffe0
		if wa&movzMask != movz || wb&movzMask != movz || wa&^imm16 != wb&^imm16 {
			return nil, false
		}
		hw := (wa >> 21) & 3
		pairs = append(pairs, immPair{int64((wa>>5)&0xffff) << (16 * hw), int64((wb>>5)&0xffff) << (16 * hw)})
	case elf.EM_PPC64, elf.EM_S390, elf.EM_LOONGARCH:
		return otherImmediates(m, orderOf(m, a), a, b)
	default:
		return nil, false
	}
	return pairs, len(pairs) > 0
}

// disasm renders an instruction in GNU syntax with its symbolic targets.
func disasm(m elf.Machine, in *insn) string {
	if in == nil {
		return "(end of function)"
	}
	var text string
	switch {
	case m == elf.EM_X86_64 && in.x86 != nil:
		inst := *in.x86
		const base = 1 << 40 // any non-zero pc: GNUSyntax prints .+N for pc 0
		pc := uint64(base + in.off)
		want := uint64(0)
		hasPC := false
		if in.pcTarget != "" && inst.PCRel > 0 {
			for i, a := range inst.Args {
				switch v := a.(type) {
				case x86asm.Rel:
					want, hasPC = pc+uint64(inst.Len)+uint64(int64(v)), true
				case x86asm.Mem:
					if v.Base == x86asm.RIP {
						// A marker displacement makes GNUSyntax ask for
						// the symbol (it does not for a zero one).
						v.Disp = 1
						inst.Args[i] = v
						want, hasPC = pc+uint64(inst.Len)+1, true
					}
				}
			}
		}
		text = x86asm.GNUSyntax(inst, pc, func(addr uint64) (string, uint64) {
			if hasPC && addr == want {
				name := in.pcTarget
				if inst.PCRel > 0 && isRIPMem(&inst) {
					name += "(%rip)"
				}
				return name, addr
			}
			return "", 0
		})
		// One relocated immediate or absolute displacement, still zero
		// in a relocatable object: show its target in its place.
		if len(in.comments) == 1 {
			if strings.HasSuffix(text, " $0x0") && strings.Count(text, "0x0") == 1 {
				return strings.TrimSuffix(text, "0x0") + in.comments[0]
			}
			for _, z := range []string{"$0x0,", "0x0("} {
				if strings.Count(text, z) == 1 && strings.Count(text, "0x0") == 1 {
					repl := in.comments[0] + z[len(z)-1:]
					if z[0] == '$' {
						repl = "$" + repl
					}
					return strings.Replace(text, z, repl, 1)
				}
			}
		}
	case m == elf.EM_AARCH64 && len(in.raw) == 4:
		if inst, err := arm64asm.Decode(in.raw); err == nil {
			text = arm64asm.GNUSyntax(inst)
			if in.pcTarget != "" {
				in2 := *in
				in2.comments = append([]string{in.pcTarget}, in.comments...)
				return withComments(text, in2.comments)
			}
		} else {
			text = fmt.Sprintf(".inst %#08x", binary.LittleEndian.Uint32(in.raw))
		}
	case otherArch(m):
		t, ok := otherDisasm(m, orderOf(m, in), in)
		if !ok {
			t = fmt.Sprintf(".byte %x", in.raw)
		}
		if in.pcTarget != "" {
			return withComments(t, append([]string{in.pcTarget}, in.comments...))
		}
		text = t
	default:
		hexb := make([]string, len(in.raw))
		for i, c := range in.raw {
			hexb[i] = fmt.Sprintf("%#02x", c)
		}
		text = ".byte " + strings.Join(hexb, ",")
		if in.pcTarget != "" {
			return withComments(text, append([]string{in.pcTarget}, in.comments...))
		}
	}
	return withComments(text, in.comments)
}

func isRIPMem(inst *x86asm.Inst) bool {
	for _, a := range inst.Args {
		if m, ok := a.(x86asm.Mem); ok && m.Base == x86asm.RIP {
			return true
		}
	}
	return false
}

func withComments(text string, comments []string) string {
	if len(comments) == 0 {
		return text
	}
	return text + "\t# " + strings.Join(comments, ", ")
}
