package callgraph

import (
	"fmt"
	"sort"
	"strings"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/ipadump"
)

// Disagreement is a function on which a unit's dump and its object
// disagree.
type Disagreement struct {
	Function string
	Why      string
}

// DumpCheck is the result of checking a unit's dump against its object:
// a dump written by another compile than the object's (a stale dump)
// shows as functions the object has and the dump cannot account for.
type DumpCheck struct {
	TU, Object string
	Dumps      []string
	Disagree   []Disagreement
}

// CheckDump checks that the dump of unit tu describes its object:
//   - every inlined copy DWARF shows is in the dump's closure
//     (CompareInlining's NotInDump);
//   - every function symbol of the object is a node of the dump, or is
//     explained: a .cold piece, a vector-ABI (simd) variant, an LTO
//     private name, an alias of a dump node (folded code), a symbol with
//     no DWARF subprogram (top-level assembler), or a function GCC left
//     alone, which DWARF confirms: no clone suffix and no inlined copy in
//     its code (GCC writes an "inlining to" line for every inlining).
//
// Reading the object or its DWARF fails with an error naming it.
func (o *Objects) CheckDump(tu string) (*DumpCheck, error) {
	t, ok := o.g.TU(tu)
	if !ok || !t.HasObject {
		return nil, fmt.Errorf("%s: no object to read", tu)
	}
	f, err := o.File(tu)
	if err != nil {
		return nil, err
	}
	in, err := dwarfinfo.Inlines(t.Object)
	if err != nil {
		return nil, err
	}
	c := &DumpCheck{TU: tu, Object: t.Object, Dumps: t.Dumps}
	seen := map[string]bool{}
	add := func(fn, why string) {
		if !seen[fn] {
			seen[fn] = true
			c.Disagree = append(c.Disagree, Disagreement{Function: fn, Why: why})
		}
	}
	for _, p := range o.compareInlining(tu, t.Object, in).NotInDump {
		add(p.Into, "DWARF shows "+p.Inlined+" inlined into it, and the dump has no inlining of "+p.Inlined+" that reaches it")
	}
	bySym := map[string]*dwarfinfo.Func{}
	for i := range in.Funcs {
		fn := &in.Funcs[i]
		if fn.NoSymbol {
			continue
		}
		bySym[fn.Symbol] = fn
		for _, a := range fn.Aliases {
			if bySym[a] == nil {
				bySym[a] = fn
			}
		}
	}
	inDump := func(name string) bool {
		_, ok := o.g.Node(NodeID{Name: name, TU: tu})
		return ok
	}
	for _, fn := range f.Funcs {
		name := fn.Name
		switch {
		case inDump(name),
			fn.ColdOf != "" || strings.HasSuffix(name, ".cold") || strings.Contains(name, ".cold."),
			strings.HasPrefix(name, "_ZGV"),
			strings.Contains(name, ".lto_priv."):
			continue
		}
		if aliasInDump(fn.Aliases, inDump) {
			continue
		}
		if _, kinds, _ := ipadump.CloneName(name); len(kinds) > 0 {
			add(name, fmt.Sprintf("the object has this %s clone, and the dump never names it", kinds[len(kinds)-1]))
			continue
		}
		d := bySym[name]
		if d == nil {
			continue // no DWARF subprogram: not compiled from C here
		}
		if len(d.Inlined) > 0 {
			add(name, "the dump never names it, but DWARF shows "+d.Inlined[0].Name+" inlined into it")
		}
	}
	sort.Slice(c.Disagree, func(i, j int) bool { return c.Disagree[i].Function < c.Disagree[j].Function })
	return c, nil
}

func aliasInDump(aliases []string, inDump func(string) bool) bool {
	for _, a := range aliases {
		if inDump(a) {
			return true
		}
	}
	return false
}
