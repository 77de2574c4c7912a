package object

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// This file checks the call graph against GNU objdump, a disassembler
// that shares no code with ours: every direct call and jump that objdump
// shows from one function to another must be a Ref, and every Call or
// TailCall Ref must be such an instruction.

// odBranch is one call or jump that objdump printed.
type odBranch struct {
	sec       string
	addr, end uint64 // end: the next instruction's address
	call      bool
	target    uint64 // direct target printed by objdump, if hasTarget
	hasTarget bool
	relocs    []odReloc
	text      string
}

type odReloc struct {
	off    uint64
	typ    string
	sym    string
	addend int64
}

var (
	odSectionRE = regexp.MustCompile(`^Disassembly of section (\S+):$`)
	odInsnRE    = regexp.MustCompile(`^\s*([0-9a-f]+):$`)
	odRelocRE   = regexp.MustCompile(`^\s*([0-9a-f]+): (R_\w+)$`)
	odSymAddRE  = regexp.MustCompile(`^(.*?)([+-]0x[0-9a-f]+)?$`)
	odTargetRE  = regexp.MustCompile(`^([0-9a-f]+) <`)
)

// x86 prefixes objdump prints as words before the mnemonic.
var odPrefixes = map[string]bool{"cs": true, "ds": true, "ss": true, "es": true, "fs": true, "gs": true,
	"bnd": true, "notrack": true, "data16": true, "addr32": true, "lock": true, "rex": true, "rex.W": true}

// objdumpBranches runs objdump -drw on path and returns its calls and
// jumps (direct, or indirect through a relocated slot).
func objdumpBranches(t testing.TB, path string) []odBranch {
	t.Helper()
	if _, err := exec.LookPath("objdump"); err != nil {
		t.Skip("objdump not installed")
	}
	out, err := exec.Command("objdump", "-drw", "--no-show-raw-insn", path).Output()
	if err != nil {
		t.Fatalf("objdump %s: %v", path, err)
	}
	var brs []odBranch
	var sec string
	var last *odBranch // the previous instruction, if a branch
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := odSectionRE.FindStringSubmatch(line); m != nil {
			sec, last = m[1], nil
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) < 2 {
			continue
		}
		m := odInsnRE.FindStringSubmatch(fields[0])
		if m == nil {
			continue
		}
		addr, _ := strconv.ParseUint(m[1], 16, 64)
		if last != nil && last.sec == sec && last.end == 0 {
			last.end = addr
		}
		words := strings.Fields(fields[1])
		for len(words) > 0 && odPrefixes[words[0]] {
			words = words[1:]
		}
		var relocs []odReloc
		for i := 2; i+1 < len(fields); i += 2 {
			rm := odRelocRE.FindStringSubmatch(fields[i])
			if rm == nil {
				continue
			}
			off, _ := strconv.ParseUint(rm[1], 16, 64)
			sm := odSymAddRE.FindStringSubmatch(fields[i+1])
			var add int64
			if sm[2] != "" {
				v, _ := strconv.ParseUint(sm[2][3:], 16, 64)
				add = int64(v)
				if sm[2][0] == '-' {
					add = -add
				}
			}
			relocs = append(relocs, odReloc{off: off, typ: rm[2], sym: sm[1], addend: add})
		}
		last = nil
		if len(words) == 0 {
			continue
		}
		mn := strings.TrimSuffix(words[0], "q")
		isCall := mn == "call"
		if !isCall && !strings.HasPrefix(mn, "j") && !strings.HasPrefix(mn, "loop") {
			continue
		}
		if len(words) > 1 && strings.HasPrefix(words[1], "*") {
			// Indirect: a ref only through a GOT slot naming the
			// function (call *f@GOTPCREL(%rip)); a call through data
			// (call *pv_ops+0xfc(%rip)) does not say what it calls.
			got := false
			for _, r := range relocs {
				got = got || strings.Contains(r.typ, "GOTPCREL")
			}
			if !got {
				continue
			}
		}
		b := odBranch{sec: sec, addr: addr, call: isCall, relocs: relocs, text: fields[1]}
		if len(words) > 1 {
			if tm := odTargetRE.FindStringSubmatch(strings.Join(words[1:], " ")); tm != nil {
				b.target, _ = strconv.ParseUint(tm[1], 16, 64)
				b.hasTarget = true
			}
		}
		brs = append(brs, b)
		last = &brs[len(brs)-1]
	}
	return brs
}

// elfSyms is an independent view of an object's symbols, read with
// debug/elf, to resolve what objdump and DWARF print.
type elfSyms struct {
	linked bool
	secs   map[string]int // section name -> index (first)
	funcs  []elf.Symbol   // defined STT_FUNC
	syms   map[string]elf.Symbol
}

func readElfSyms(t testing.TB, path string) *elfSyms {
	t.Helper()
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	syms, err := ef.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	es := &elfSyms{linked: ef.Type != elf.ET_REL, secs: map[string]int{}, syms: map[string]elf.Symbol{}}
	for i, s := range ef.Sections {
		if _, ok := es.secs[s.Name]; !ok {
			es.secs[s.Name] = i
		}
	}
	for _, s := range syms {
		if _, ok := es.syms[s.Name]; !ok {
			es.syms[s.Name] = s
		}
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF && s.Section < elf.SHN_LORESERVE {
			es.funcs = append(es.funcs, s)
		}
	}
	return es
}

// containing returns the function symbols whose code holds pos in
// section shndx (any section of a linked file), with their aliases.
func (es *elfSyms) containing(shndx int, pos uint64) []elf.Symbol {
	var out []elf.Symbol
	for _, s := range es.funcs {
		if (es.linked || int(s.Section) == shndx) && pos >= s.Value && (pos < s.Value+s.Size || pos == s.Value) {
			out = append(out, s)
		}
	}
	// Only the innermost start, and everything at that start.
	if len(out) > 1 {
		var best uint64
		for _, s := range out {
			if s.Value > best {
				best = s.Value
			}
		}
		in := out[:0]
		for _, s := range out {
			if s.Value == best {
				in = append(in, s)
			}
		}
		out = in
	}
	return out
}

func symNames(ss []elf.Symbol) map[string]bool {
	m := map[string]bool{}
	for _, s := range ss {
		m[s.Name] = true
	}
	return m
}

// objdumpMismatches compares f's Call and TailCall refs with objdump's
// disassembly of the same file and describes every difference.
func objdumpMismatches(t testing.TB, f *File) (problems []string, checked int) {
	t.Helper()
	brs := objdumpBranches(t, f.Path)
	es := readElfSyms(t, f.Path)
	type key struct {
		sec  string
		site uint64
	}
	bySite := map[key][]Ref{}
	for _, r := range f.Refs {
		if r.Kind != Call && r.Kind != TailCall {
			continue
		}
		sec := ""
		for _, fn := range f.Lookup(r.From) {
			if fn.Sympos == r.FromSympos {
				sec = fn.Section
			}
		}
		if sec == "" {
			continue // From is a section: code outside functions
		}
		if f.linked {
			sec = ""
		}
		bySite[key{sec, r.Site}] = append(bySite[key{sec, r.Site}], r)
	}
	seen := map[key]bool{}
	for _, b := range brs {
		shndx, ok := es.secs[b.sec]
		if !ok {
			continue
		}
		from := es.containing(shndx, b.addr)
		if len(from) == 0 {
			continue // not in a function
		}
		fromStart := from[0].Value
		var toNames map[string]bool
		var toStart, pos uint64
		toIsFunc := false
		var via string
		switch {
		case len(b.relocs) > 0:
			r := b.relocs[len(b.relocs)-1]
			end := b.end
			if end == 0 || end <= r.off {
				end = r.off + 4
			}
			via = fmt.Sprintf("%s %s%+#x", r.typ, r.sym, r.addend)
			if s, ok := es.syms[r.sym]; ok {
				if s.Section == elf.SHN_UNDEF {
					toNames = map[string]bool{r.sym: true}
					break
				}
				if elf.ST_TYPE(s.Info) != elf.STT_FUNC {
					continue
				}
				pos = s.Value + uint64(r.addend) + (end - r.off)
				shndx = int(s.Section)
			} else if si, ok := es.secs[r.sym]; ok {
				pos = uint64(r.addend) + (end - r.off)
				shndx = si
			} else {
				continue
			}
			to := es.containing(shndx, pos)
			if len(to) == 0 {
				continue
			}
			toNames, toStart, toIsFunc = symNames(to), to[0].Value, true
		case b.hasTarget:
			to := es.containing(shndx, b.target)
			if len(to) == 0 {
				continue
			}
			via = fmt.Sprintf("%#x", b.target)
			pos = b.target
			toNames, toStart, toIsFunc = symNames(to), to[0].Value, true
		default:
			continue // indirect
		}
		if toIsFunc && toStart == fromStart && (es.linked || shndx == es.secs[b.sec]) && !(b.call && pos == fromStart) {
			continue // inside the function; only a call of its start is a ref
		}
		isEntry := b.addr == fromStart || b.addr == fromStart+4
		if b.call && isEntry && (toNames["__fentry__"] || toNames["mcount"]) {
			continue // the ftrace entry: Func.Fentry, not a Ref
		}
		checked++
		sec := b.sec
		if f.linked {
			sec = ""
		}
		k := key{sec, b.addr}
		seen[k] = true
		kind := TailCall
		if b.call {
			kind = Call
		}
		found := false
		for _, r := range bySite[k] {
			if r.Kind == kind && symNames(from)[r.From] && (toNames[r.To] || aliasOf(f, r.To, toNames)) {
				found = true
			}
		}
		if !found {
			problems = append(problems, fmt.Sprintf("missing: %s %s+%#x %q (%s) from %v to %v; refs at site: %v",
				kind, b.sec, b.addr, b.text, via, keys(symNames(from)), keys(toNames), bySite[k]))
		}
	}
	for k, rs := range bySite {
		if !seen[k] {
			problems = append(problems, fmt.Sprintf("extra: %v at %s+%#x: objdump shows no call or jump between functions there", rs, k.sec, k.site))
		}
	}
	sort.Strings(problems)
	return problems, checked
}

// aliasOf says name shares code with one of names.
func aliasOf(f *File, name string, names map[string]bool) bool {
	for _, fn := range f.Lookup(name) {
		for _, a := range fn.Aliases {
			if names[a] {
				return true
			}
		}
	}
	return false
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
