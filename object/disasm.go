package object

import (
	"debug/elf"
	"encoding/hex"
	"fmt"
	"strings"

	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/x86/x86asm"
)

// Site is one call or jump of a caller's code, described for a reader:
// where it is, its bytes, the instruction disassembled and the
// relocation that names its target.
type Site struct {
	Object string
	Caller string
	Kind   RefKind
	// Section is the caller's section; Offset the instruction's offset
	// in it (relocatable object) or its address (linked file);
	// FuncOffset its distance from the caller's first byte.
	Section    string
	Offset     uint64
	FuncOffset uint64
	// Bytes are the instruction's bytes in hex, space-separated.
	Bytes string
	// Instruction is the instruction in GNU syntax, the target named by
	// its relocation when it has one.
	Instruction string
	Relocation  string
}

// DescribeSite disassembles the instruction of ref r in caller's code. f
// must have been read with its code (OpenCode).
func (f *File) DescribeSite(caller *Func, r Ref) Site {
	cs := Site{Object: f.Path, Caller: caller.Name, Kind: r.Kind, Section: caller.Section, Offset: r.Site}
	if r.Site >= caller.Value {
		cs.FuncOffset = r.Site - caller.Value
	}
	code, relocs, ok := f.Code(caller)
	if !ok || cs.FuncOffset >= uint64(len(code)) {
		cs.Instruction = "(code not readable)"
		return cs
	}
	b := code[cs.FuncOffset:]
	n := 0
	switch f.Machine {
	case elf.EM_X86_64:
		inst, err := x86asm.Decode(b, 64)
		if err != nil {
			cs.Instruction = "(" + err.Error() + ")"
			break
		}
		n = inst.Len
		cs.Instruction = x86asm.GNUSyntax(inst, r.Site, symbolizer(f, caller))
	case elf.EM_AARCH64:
		if len(b) >= 4 {
			n = 4
			if inst, err := arm64asm.Decode(b[:4]); err == nil {
				cs.Instruction = arm64asm.GNUSyntax(inst)
			} else {
				cs.Instruction = "(" + err.Error() + ")"
			}
		}
	default:
		cs.Instruction = "(no disassembler for " + f.Machine.String() + ")"
	}
	if n == 0 {
		n = min(len(b), 8)
	}
	cs.Bytes = spacedHex(b[:n])
	for _, rl := range relocs {
		if rl.Off >= r.Site && rl.Off < r.Site+uint64(n) {
			cs.Relocation = relocString(f, rl)
			// The field holds zeros until the linker fills it: the
			// relocation, not the decoded displacement, names the target.
			if target := relocCallee(f, rl, r.Site+uint64(n)); target != "" && f.Machine == elf.EM_X86_64 {
				if op, _, ok := strings.Cut(cs.Instruction, " "); ok {
					cs.Instruction = op + " " + target
				}
			}
		}
	}
	return cs
}

// symbolizer names the function at an address in caller's section.
func symbolizer(f *File, caller *Func) func(uint64) (string, uint64) {
	return func(addr uint64) (string, uint64) {
		fn := f.FuncAt(caller.Shndx, addr)
		if fn == nil {
			return "", 0
		}
		return fn.Name, fn.Value
	}
}

func spacedHex(b []byte) string {
	s := hex.EncodeToString(b)
	var out strings.Builder
	for i := 0; i < len(s); i += 2 {
		if i > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(s[i : i+2])
	}
	return out.String()
}

// relocTarget names what relocation r points at: a symbol, or a section
// plus offset.
func relocTarget(f *File, r Reloc) string {
	syms := f.Symbols()
	if r.Sym <= 0 || r.Sym >= len(syms) {
		return ""
	}
	s := syms[r.Sym]
	if s.Type == elf.STT_SECTION {
		if hs := f.Sections(); s.Shndx > 0 && s.Shndx < len(hs) {
			return fmt.Sprintf("%s%+#x", hs[s.Shndx].Name, r.Addend)
		}
		return ""
	}
	return s.Name
}

// relocCallee names the function a relocated call or jump field reaches:
// the symbol, or for a section symbol the function at the addend plus the
// distance from the field to the instruction's end.
func relocCallee(f *File, r Reloc, end uint64) string {
	syms := f.Symbols()
	if r.Sym <= 0 || r.Sym >= len(syms) {
		return ""
	}
	s := syms[r.Sym]
	if s.Type != elf.STT_SECTION {
		return s.Name
	}
	off := s.Value + uint64(r.Addend) + (end - r.Off)
	if fn := f.FuncAt(s.Shndx, off); fn != nil {
		if off == fn.Value {
			return fn.Name
		}
		return fmt.Sprintf("%s+%#x", fn.Name, off-fn.Value)
	}
	return relocTarget(f, r)
}

func relocString(f *File, r Reloc) string {
	var typ string
	switch f.Machine {
	case elf.EM_X86_64:
		typ = elf.R_X86_64(r.Type).String()
	case elf.EM_AARCH64:
		typ = elf.R_AARCH64(r.Type).String()
	default:
		typ = fmt.Sprintf("type %d", r.Type)
	}
	t := relocTarget(f, r)
	if t == "" {
		return typ
	}
	syms := f.Symbols()
	if r.Sym > 0 && r.Sym < len(syms) && syms[r.Sym].Type == elf.STT_SECTION {
		return typ + " " + t
	}
	if r.Addend != 0 {
		return fmt.Sprintf("%s %s%+#x", typ, t, r.Addend)
	}
	return typ + " " + t
}
