package livepatch

import (
	"debug/elf"
	"fmt"
	"sort"
	"strings"
)

// KernelResolve applies the kernel's rule for a klp_func
// (klp_find_object_symbol, kernel/livepatch/core.c) to the count of
// kallsyms entries of its klp_object named old_name, of any type and
// binding: it returns "" when the kernel resolves the entry, else the
// kernel's reason for refusing the livepatch. old_sympos 0 asks for the
// only symbol of the name; N asks for the Nth in kallsyms order.
func KernelResolve(name, object string, count, sympos int) string {
	switch {
	case count == 0:
		return fmt.Sprintf("symbol '%s' not found in symbol table", name)
	case count > 1 && sympos == 0:
		return fmt.Sprintf("unresolvable ambiguity for symbol '%s' in object '%s': %d symbols of the name and no old_sympos", name, object, count)
	case sympos > count:
		return fmt.Sprintf("symbol position %d for symbol '%s' in object '%s' not found: there are %d", sympos, name, object, count)
	}
	return ""
}

// Kallsym is one kallsyms entry of a linked file, as a klp_func sees it.
type Kallsym struct {
	Func, Local bool
	Addr        uint64
}

// Named returns the kallsyms entries of lf named name, in kallsyms order
// (the order old_sympos counts in), and how many more a module lists
// only while it is loading.
func (lf *LinkedFile) Named(name string) (core []Kallsym, loading int) {
	for _, i := range lf.byName[name] {
		s := &lf.syms[i]
		if s.loading {
			loading++
			continue
		}
		core = append(core, Kallsym{Func: s.typ == elf.STT_FUNC, Local: s.bind == elf.STB_LOCAL, Addr: s.value})
	}
	return core, loading
}

// WithPrefix returns the names of lf's function symbols that start with
// prefix (name. for the clones GCC made of name), sorted, at most max.
func (lf *LinkedFile) WithPrefix(prefix string, max int) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range lf.syms {
		if s.typ == elf.STT_FUNC && strings.HasPrefix(s.name, prefix) && !seen[s.name] {
			seen[s.name] = true
			out = append(out, s.name)
		}
	}
	sort.Strings(out)
	if len(out) > max {
		out = out[:max]
	}
	return out
}

// KLPName is how messages name lf's klp_object: vmlinux or "module NAME".
func (lf *LinkedFile) KLPName() string { return lf.klpName() }
