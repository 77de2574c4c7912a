package objdiff

import (
	"debug/elf"
	"encoding/binary"
	"strings"

	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/s390x/s390xasm"
)

// Section anchors.
//
// GCC on AArch64 and s390x (-fsection-anchors, on by default there)
// reaches the static variables of one section through one address: the
// section's start, loaded once into a register, and a displacement per
// variable. objdump -dr of a WARN_ONCE on AArch64:
//
//	adrp x2, 0            R_AARCH64_ADR_PREL_PG_HI21  .data.once
//	add  x2, x2, #0x0     R_AARCH64_ADD_ABS_LO12_NC   .data.once
//	ldrb w0, [x2, #1]     (__already_done.3, at .data.once+1)
//
// and on s390x "larl %r1,.data.once" then "cli 2(%r1),0". The relocation
// names the variable at the anchor, not the one the code uses. So that
// the comparison and the owners of a function-local static (see
// correlate.go) see the variable really used, followAnchors follows the
// anchor register forward, straight-line, and adds to each instruction
// that uses it with a displacement the variable at anchor plus
// displacement as a target of its own. The displacement stays in the
// compared bytes too: a target is only ever added, so the comparison
// is never looser than without it.
//
// The anchor's own target then counts as a base, not as a reference to
// the variable at the anchor, when every use found has a known
// displacement; any other use (an index register, address arithmetic)
// keeps it a reference. The scan stops where the register is written,
// at an unconditional branch or return, at a call when the register is
// not callee-saved, and after anchorScanLimit instructions. A call is
// not counted as a use (which parameters a callee takes is not known),
// so an anchor whose only use is as a call's argument stays a reference
// of its own; one that is also passed after displaced uses loses that
// owner, never a comparison: the base's target is compared all the same.

// anchorScanLimit bounds how far followAnchors looks for uses.
const anchorScanLimit = 256

// anchored says o's machine uses section anchors.
func (o *Object) anchored() bool {
	m := o.File.Machine
	return m == elf.EM_AARCH64 || m == elf.EM_S390
}

// anchorUse is what an instruction does with an anchor register.
type anchorUse uint8

const (
	useNone       anchorUse = iota
	useDisp                 // a memory access or address at the anchor plus disp
	useDirect               // the anchor's address itself, copied or stored
	useUnresolved           // an access whose displacement is not known
)

// followAnchors adds the targets that the anchors of p's code lead to.
func (o *Object) followAnchors(p *piece) {
	m := o.File.Machine
	for k := range p.insns {
		in := &p.insns[k]
		for _, rp := range in.rels {
			if m == elf.EM_AARCH64 && isPageReloc(rp.typ) {
				// adrp: the page of what the next add or load names.
				in.bases |= slotBit(rp.slot)
				continue
			}
			reg, ok := o.anchorReg(in, rp)
			if !ok {
				continue
			}
			if o.followAnchor(p, k, reg, rp) {
				in.bases |= slotBit(rp.slot)
			}
		}
	}
}

func slotBit(slot int) uint64 {
	if slot < 0 || slot >= 64 {
		return 0
	}
	return 1 << uint(slot)
}

// isPageReloc says typ is an AArch64 adrp relocation.
func isPageReloc(typ uint32) bool {
	switch elf.R_AARCH64(typ) {
	case elf.R_AARCH64_ADR_PREL_PG_HI21, elf.R_AARCH64_ADR_PREL_PG_HI21_NC:
		return true
	}
	return false
}

// anchorReg says in loads the address of data rp leads to into a
// register (AArch64 "add xD, xN, #:lo12:sym", s390x "larl %rD,sym"),
// and returns it.
func (o *Object) anchorReg(in *insn, rp relPos) (int, bool) {
	if rp.sec <= 0 || rp.sec >= len(o.secs) {
		return 0, false
	}
	s := &o.secs[rp.sec]
	if s.Flags&elf.SHF_ALLOC == 0 || s.Flags&elf.SHF_EXECINSTR != 0 || stringSection(s) {
		return 0, false
	}
	switch o.File.Machine {
	case elf.EM_AARCH64:
		if elf.R_AARCH64(rp.typ) != elf.R_AARCH64_ADD_ABS_LO12_NC || len(in.raw) != 4 {
			return 0, false
		}
		w := binary.LittleEndian.Uint32(in.raw)
		if w&0xffc00000 != 0x91000000 { // add xD, xN, #imm12 (no shift)
			return 0, false
		}
		return int(w & 31), w&31 != 31
	case elf.EM_S390:
		if elf.R_390(rp.typ) != elf.R_390_PC32DBL || len(in.raw) != 6 || in.raw[0] != 0xc0 || in.raw[1]&0x0f != 0 {
			return 0, false // larl: c0 r0 i32
		}
		return int(in.raw[1] >> 4), true
	}
	return 0, false
}

// followAnchor follows register reg, loaded with rp's position by
// instruction k, and adds a target to each instruction that uses it. It
// says whether every use found had a known displacement.
func (o *Object) followAnchor(p *piece, k, reg int, rp relPos) bool {
	found, resolved := false, true
	for j := k + 1; j < len(p.insns) && j <= k+anchorScanLimit; j++ {
		in := &p.insns[j]
		var use anchorUse
		var disp int64
		var stop bool
		switch o.File.Machine {
		case elf.EM_AARCH64:
			use, disp, stop = arm64AnchorUse(in.raw, reg)
		case elf.EM_S390:
			use, disp, stop = s390AnchorUse(in.raw, reg)
		}
		switch use {
		case useDisp, useDirect:
			found = true
			t := o.posName(rp.sec, uint64(int64(rp.pos)+disp))
			in.targets = append(in.targets, "@anchor="+t)
			in.comments = append(in.comments, t)
		case useUnresolved:
			found, resolved = true, false
		}
		if stop {
			break
		}
	}
	return found && resolved
}

// arm64AnchorUse says what AArch64 instruction word raw does with
// register reg (0-30): a load or store at reg plus a known displacement,
// an add of an immediate to it, a copy of it, another use; stop when the
// scan must end after it (reg written, a branch away, a call that
// clobbers reg).
func arm64AnchorUse(raw []byte, reg int) (use anchorUse, disp int64, stop bool) {
	if len(raw) != 4 {
		return useNone, 0, true
	}
	w := binary.LittleEndian.Uint32(raw)
	rt, rn, rt2 := int(w&31), int((w>>5)&31), int((w>>10)&31)
	sx := func(v uint32, bits uint) int64 { return int64(uint64(v)<<(64-bits)) >> (64 - bits) }
	switch {
	case w&0x3b000000 == 0x39000000: // ldr/str (unsigned offset)
		size, v, opc := w>>30, (w>>26)&1, (w>>22)&3
		scale := size
		if v == 1 && opc&2 != 0 {
			scale = 4
		}
		load := opc != 0
		return memUse(rn == reg, rt == reg, load, int64((w>>10)&0xfff)<<scale)
	case w&0x3b200c00 == 0x38000000: // ldur/stur (unscaled)
		load := (w>>22)&3 != 0
		return memUse(rn == reg, rt == reg, load, sx((w>>12)&0x1ff, 9))
	case w&0x3b800000 == 0x29000000: // ldp/stp (signed offset)
		opc, v, l := w>>30, (w>>26)&1, (w>>22)&1
		scale := 2 + opc
		if v == 0 && opc == 1 {
			scale = 2 // ldpsw
		}
		u, d, s := memUse(rn == reg, rt == reg || rt2 == reg, l == 1, sx((w>>15)&0x7f, 7)<<scale)
		return u, d, s
	case w&0xff800000 == 0x91000000 && rn == reg: // add xD, xN, #imm
		imm := int64((w >> 10) & 0xfff)
		if (w>>22)&1 == 1 {
			imm <<= 12
		}
		return useDisp, imm, rt == reg
	}
	inst, err := arm64asm.Decode(raw)
	if err != nil {
		return useUnresolved, 0, true
	}
	op := inst.Op.String()
	switch {
	case op == "RET" && reg == 0:
		return useDirect, 0, true // the address returned
	case op == "B" || op == "BR" || op == "RET" || op == "ERET" || op == "BRK" || op == "HLT" || op == "UDF":
		return useNone, 0, true
	case op == "BL" || op == "BLR":
		// x19-x29 are callee-saved (AAPCS64). Whether the callee takes
		// the register as an argument is not known: a call is no use.
		return useNone, 0, reg < 19 || reg > 29
	}
	text := arm64asm.GNUSyntax(inst)
	sp := strings.IndexByte(text, ' ')
	if sp < 0 {
		return useNone, 0, false
	}
	ops := strings.Split(text[sp+1:], ",")
	first := -1
	for i, o := range ops {
		if arm64Names(strings.TrimSpace(o), reg) {
			if first < 0 {
				first = i
			}
			if i > 0 {
				if op == "MOV" && i == 1 && len(ops) == 2 {
					use = useDirect
				} else {
					use = useUnresolved
				}
			}
		}
	}
	if first == 0 {
		if strings.HasPrefix(op, "ST") || strings.HasPrefix(op, "CMP") || strings.HasPrefix(op, "CMN") ||
			strings.HasPrefix(op, "TST") || strings.HasPrefix(op, "CB") || strings.HasPrefix(op, "TB") || strings.HasPrefix(op, "CCM") {
			if use == useNone {
				use = useUnresolved // compared, tested or stored as a value
			}
			return use, 0, false
		}
		return use, 0, true // written
	}
	return use, 0, false
}

// memUse classifies a load or store: at base plus disp when the anchor
// is the base; the anchor written by a load into it; stored as a value.
func memUse(base, value, load bool, disp int64) (anchorUse, int64, bool) {
	switch {
	case base:
		return useDisp, disp, value && load
	case value && load:
		return useNone, 0, true
	case value:
		return useDirect, 0, false
	}
	return useNone, 0, false
}

// arm64Names says operand o of GNU syntax names x<reg> or w<reg>,
// directly or as the base or index of a memory operand.
func arm64Names(o string, reg int) bool {
	o = strings.Trim(o, "[]!{} ")
	if i := strings.IndexByte(o, ' '); i >= 0 {
		o = o[:i] // "x1 lsl #2"
	}
	n := strings.TrimLeft(o, "xw")
	if len(n) == len(o) || len(o)-len(n) != 1 {
		return false
	}
	v := 0
	for _, c := range n {
		if c < '0' || c > '9' {
			return false
		}
		v = v*10 + int(c-'0')
	}
	return n != "" && v == reg
}

// s390AnchorUse says what s390x instruction raw does with general
// register reg (1-15): a memory operand based on it with no index, an
// address copied from it, another use; stop when the scan must end after
// it.
func s390AnchorUse(raw []byte, reg int) (use anchorUse, disp int64, stop bool) {
	inst, err := s390xasm.Decode(raw)
	if err != nil || inst.Len != len(raw) {
		return useUnresolved, 0, true
	}
	op := inst.Op.String()
	switch op {
	case "brc", "brcl", "bcr", "bc":
		if m, ok := inst.Args[0].(s390xasm.Mask); ok && m == 15 {
			if op == "bcr" && reg == 2 && regIs(inst.Args[1], 14) {
				return useDirect, 0, true // br %r14 returning the address
			}
			return useNone, 0, true // j, jg, br
		}
		if op == "bcr" || op == "bc" {
			if regIs(inst.Args[1], reg) || baseIs(inst.Args, reg) {
				return useUnresolved, 0, true
			}
		}
		return useNone, 0, false
	case "bras", "brasl", "basr", "bas":
		// r6-r13 are callee-saved (s390x ELF ABI); r14 takes the
		// return address. Whether the callee takes the register as an
		// argument is not known: a call is no use.
		return useNone, 0, reg < 6 || reg > 13
	case "stmg", "stm", "stmy":
		return useNone, 0, false // a register save
	case "lmg", "lm", "lmy":
		lo, _ := inst.Args[0].(s390xasm.Reg)
		hi, _ := inst.Args[1].(s390xasm.Reg)
		r := s390xasm.R0 + s390xasm.Reg(reg)
		return useNone, 0, lo <= r && r <= hi
	}
	var d int64
	for i, a := range inst.Args {
		switch v := a.(type) {
		case s390xasm.Disp12:
			d = int64(v)
		case s390xasm.Disp20:
			d = int64(int32(v))
		case s390xasm.Index:
			if int(v-s390xasm.X0) == reg {
				use = useUnresolved
			}
		case s390xasm.Base:
			if int(v-s390xasm.B0) != reg {
				continue
			}
			if i == 0 {
				use = useUnresolved
			} else if x, ok := inst.Args[i-1].(s390xasm.Index); ok && x != s390xasm.X0 {
				use = useUnresolved
			} else if use == useNone {
				use, disp = useDisp, d
			}
		case s390xasm.Reg:
			if !regIs(v, reg) {
				continue
			}
			if i == 0 {
				switch {
				case strings.HasPrefix(op, "st"):
					if use == useNone {
						use = useDirect // the address stored
					}
				case strings.HasPrefix(op, "c"), strings.HasPrefix(op, "tm"):
					if use == useNone {
						use = useUnresolved
					}
				case strings.HasPrefix(op, "l"):
					stop = true // loaded: a new value
				default:
					use, stop = useUnresolved, true // arithmetic on the address
				}
				continue
			}
			if (op == "lgr" || op == "lr") && i == 1 {
				use = useDirect
			} else {
				use = useUnresolved
			}
		}
	}
	return use, disp, stop
}

func regIs(a s390xasm.Arg, reg int) bool {
	r, ok := a.(s390xasm.Reg)
	return ok && r >= s390xasm.R0 && r <= s390xasm.R15 && int(r-s390xasm.R0) == reg
}

func baseIs(args s390xasm.Args, reg int) bool {
	for _, a := range args {
		if b, ok := a.(s390xasm.Base); ok && int(b-s390xasm.B0) == reg {
			return true
		}
	}
	return false
}
