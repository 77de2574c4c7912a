package object

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// This file checks the call graph against the compiler's own record of
// calls: DW_TAG_call_site (DWARF 5) and DW_TAG_GNU_call_site entries,
// which gcc -O2 -g writes for every direct call and tail call it emits,
// naming the callee (DW_AT_call_origin, DW_AT_abstract_origin) and the
// return address (DW_AT_call_return_pc, DW_AT_low_pc).
//
// What DWARF cannot show, and so this check cannot test:
//   - address references (AddrRef, DataRef): DWARF records calls only;
//   - calls the compiler or assembler adds outside the source's calls:
//     the __fentry__ entry of -pg, memcpy/memset for struct copies,
//     retpoline and return thunks, calls inside inline asm (kernel
//     alternatives, static calls);
//   - which symbol a call reaches when identical code folding gave the
//     code several names: DWARF names the source's callee (same2) while
//     the code calls the shared body (named same1 in Refs);
//   - the callee of an indirect call (DW_AT_call_target is a location);
//   - in a relocatable object, the section of an address: every section
//     starts at 0, so the caller is matched by name and offset.

const (
	tagGNUCallSite   dwarf.Tag  = 0x4109
	attrGNUTailCall  dwarf.Attr = 0x2115
	attrCallOrigin   dwarf.Attr = 0x7f
	attrCallReturnPC dwarf.Attr = 0x7d
	attrCallTailCall dwarf.Attr = 0x82
)

// dwarfCallSite is one call DWARF records.
type dwarfCallSite struct {
	caller string // the source function whose code holds the call
	callee string
	retPC  uint64
	tail   bool
}

// dwarfCallSites reads every call site with a known callee.
func dwarfCallSites(t testing.TB, path string) []dwarfCallSite {
	t.Helper()
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	d, err := ef.DWARF()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	names := map[dwarf.Offset]string{}
	origin := map[dwarf.Offset]dwarf.Offset{}
	type raw struct {
		caller dwarf.Offset // the concrete subprogram DIE
		callee dwarf.Offset
		retPC  uint64
		tail   bool
	}
	var raws []raw
	type frame struct {
		off      dwarf.Offset
		concrete bool
	}
	var stack []frame
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if e == nil {
			break
		}
		if e.Tag == 0 {
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		// The symbol's name: DW_AT_linkage_name when an asm label renames
		// it (the kernel's __real_strnlen is the symbol strnlen).
		if n, ok := e.Val(dwarf.AttrLinkageName).(string); ok {
			names[e.Offset] = n
		} else if n, ok := e.Val(dwarf.AttrName).(string); ok {
			names[e.Offset] = n
		}
		for _, a := range []dwarf.Attr{dwarf.AttrAbstractOrigin, dwarf.AttrSpecification} {
			if o, ok := e.Val(a).(dwarf.Offset); ok {
				origin[e.Offset] = o
				break
			}
		}
		switch e.Tag {
		case dwarf.TagCallSite, tagGNUCallSite:
			callee, ok := e.Val(attrCallOrigin).(dwarf.Offset)
			if !ok {
				callee, ok = e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
			}
			ret, ok2 := e.Val(attrCallReturnPC).(uint64)
			if !ok2 {
				ret, ok2 = e.Val(dwarf.AttrLowpc).(uint64)
			}
			tail := e.Val(attrCallTailCall) != nil || e.Val(attrGNUTailCall) != nil
			var caller dwarf.Offset
			for i := len(stack) - 1; i >= 0; i-- {
				if stack[i].concrete {
					caller = stack[i].off
					break
				}
			}
			if ok && ok2 && caller != 0 {
				raws = append(raws, raw{caller: caller, callee: callee, retPC: ret, tail: tail})
			}
		}
		if e.Children {
			concrete := e.Tag == dwarf.TagSubprogram && (e.Val(dwarf.AttrLowpc) != nil || e.Val(dwarf.AttrRanges) != nil)
			stack = append(stack, frame{e.Offset, concrete})
		}
	}
	nameOf := func(off dwarf.Offset) string {
		for i := 0; i < 8; i++ {
			if n, ok := names[off]; ok {
				return n
			}
			o, ok := origin[off]
			if !ok {
				return ""
			}
			off = o
		}
		return ""
	}
	var out []dwarfCallSite
	for _, r := range raws {
		cs := dwarfCallSite{caller: nameOf(r.caller), callee: nameOf(r.callee), retPC: r.retPC, tail: r.tail}
		if cs.caller != "" && cs.callee != "" {
			out = append(out, cs)
		}
	}
	return out
}

// clonesOf returns the function symbols that hold code of source
// function name: name itself, its clones (name.isra.0, name.constprop.0,
// name.part.0) and cold pieces, with their aliases.
func clonesOf(f *File, name string) map[string]bool {
	out := map[string]bool{}
	for _, fn := range f.Funcs {
		if fn.Name == name || strings.HasPrefix(fn.Name, name+".") {
			out[fn.Name] = true
			for _, a := range fn.Aliases {
				out[a] = true
			}
		}
	}
	return out
}

// dwarfMismatches checks that for each call site DWARF records, the call
// graph has a Call or TailCall from the function holding it to the
// callee, at an instruction ending at the return address.
func dwarfMismatches(t testing.TB, f *File) (problems []string, checked int) {
	t.Helper()
	for _, cs := range dwarfCallSites(t, f.Path) {
		callers := clonesOf(f, cs.caller)
		callees := clonesOf(f, cs.callee)
		if len(callees) == 0 {
			callees[cs.callee] = true // defined elsewhere
		}
		// The caller symbols whose code holds the return address.
		holders := map[string]bool{}
		for _, fn := range f.Funcs {
			if callers[fn.Name] && cs.retPC > fn.Value && cs.retPC <= fn.Value+fn.Size {
				holders[fn.Name] = true
			}
		}
		if len(holders) == 0 {
			problems = append(problems, fmt.Sprintf("call site %s -> %s (return %#x): no symbol of %s holds it", cs.caller, cs.callee, cs.retPC, cs.caller))
			continue
		}
		checked++
		found := false
		for _, r := range f.Refs {
			if (r.Kind == Call || r.Kind == TailCall) && holders[r.From] && callees[r.To] &&
				r.Site < cs.retPC && r.Site+16 > cs.retPC {
				found = true
				break
			}
		}
		if !found {
			problems = append(problems, fmt.Sprintf("missing: DWARF call site in %s to %s (tail %v, return %#x); holders %v, callee symbols %v",
				cs.caller, cs.callee, cs.tail, cs.retPC, keys(holders), keys(callees)))
		}
	}
	sort.Strings(problems)
	return problems, checked
}
