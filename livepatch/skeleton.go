package livepatch

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/report"
)

// SkeletonOptions say how the skeleton is written.
type SkeletonOptions struct {
	// Linked says the linked vmlinux or modules were read (--vmlinux), so
	// a local target without old_sympos is unknown, not just uncomputed.
	Linked bool
	// CloneABI says the author writes replacements with a clone's own
	// ABI (the policy's author-supplies-clone-abi).
	CloneABI bool
}

// WriteSkeleton writes, as C, the struct klp_func array of every
// klp_object and the struct klp_object array for the targets of res, one
// commented entry per target. A conditional target is a comment, not an
// entry: its condition, and the entry to add if the fix meets it. An
// incomplete answer starts with #error.
func WriteSkeleton(w io.Writer, res *report.Result, opt SkeletonOptions) error {
	linked := opt.Linked
	var b strings.Builder
	if !res.Complete {
		msgs := make([]string, len(res.Problems))
		for i, p := range res.Problems {
			msgs[i] = fmt.Sprintf("(%d) %s", i+1, p.String())
		}
		if len(msgs) == 0 {
			msgs = []string{"evidence missing"}
		}
		fmt.Fprintf(&b, "#error %s\n", cString(fmt.Sprintf("klp-audit: INCOMPLETE answer, not safe to build: %s: %s",
			plural(len(res.Problems), "problem", "problems"), strings.Join(msgs, "; "))))
	}
	fmt.Fprintf(&b, "/*\n * klp-audit klp-skeleton --func %s: the functions a livepatch fixing\n", cComment(res.Query.Function))
	fmt.Fprintf(&b, " * %s must replace, as klp_func entries per klp_object (see\n", cComment(res.Query.Function))
	b.WriteString(" * samples/livepatch/livepatch-sample.c). Define each livepatch_* function\n")
	b.WriteString(" * above these arrays, with the prototype of the function it replaces.\n")
	fmt.Fprintf(&b, " * Policy: %s.\n", cComment(res.Policy))
	if !linked {
		b.WriteString(" * old_sympos: not computed (no --vmlinux given); a local function\n")
		b.WriteString(" * whose name vmlinux or its module has more than once needs it.\n")
	}
	if !res.Complete {
		b.WriteString(" *\n * INCOMPLETE: the list may be short or an old_sympos unknown:\n")
		for _, p := range res.Problems {
			fmt.Fprintf(&b, " *   - %s\n", cComment(p.String()))
		}
	}
	b.WriteString(" */\n")

	cloneABI := opt.CloneABI
	// Group the targets by klp_object: vmlinux first, then the modules.
	// Conditional targets are written as comments: the author decides
	// whether the fix changes what they assumed.
	groups := map[string][]report.Target{}
	var ignored = map[string][]report.Target{}
	var cond = map[string][]report.Target{}
	for _, t := range res.Targets {
		klp := t.KLPObject
		if klp == "" {
			klp = "vmlinux"
		}
		switch {
		case t.IgnoredBecause != "":
			ignored[klp] = append(ignored[klp], t)
		case t.Severity == report.SeverityConditional:
			cond[klp] = append(cond[klp], t)
		default:
			groups[klp] = append(groups[klp], t)
		}
	}
	all := map[string][]report.Target{}
	for k, ts := range groups {
		all[k] = append(all[k], ts...)
	}
	for k, ts := range cond {
		all[k] = append(all[k], ts...)
	}
	names := newFuncNames(all)
	objs := make([]string, 0, len(all)+len(ignored))
	for k := range all {
		objs = append(objs, k)
	}
	for k := range ignored {
		if _, ok := all[k]; !ok {
			objs = append(objs, k)
		}
	}
	sort.Slice(objs, func(i, j int) bool {
		if (objs[i] == "vmlinux") != (objs[j] == "vmlinux") {
			return objs[i] == "vmlinux"
		}
		return objs[i] < objs[j]
	})
	if len(objs) == 0 {
		objs = []string{"vmlinux"}
	}
	unknownKLP := false
	for _, t := range res.Targets {
		if t.KLPObject == "" {
			unknownKLP = true
		}
	}
	for _, klp := range objs {
		fmt.Fprintf(&b, "\nstatic struct klp_func %s[] = {\n", funcsArray(klp))
		for _, t := range groups[klp] {
			writeEntry(&b, t, names[[2]string{t.Name, t.TU}], linked, cloneABI, res)
		}
		for _, t := range cond[klp] {
			writeConditional(&b, t, names[[2]string{t.Name, t.TU}], linked)
		}
		for _, t := range ignored[klp] {
			fmt.Fprintf(&b, "\t/* ignored by the policy: %s (%s), %s: %s */\n", cComment(t.Name), cComment(t.TU),
				cComment(t.Rule), cComment(t.IgnoredBecause))
		}
		switch {
		case len(groups[klp]) == 0 && len(cond[klp]) > 0:
			b.WriteString("\t/* no function to replace for certain */\n")
		case len(groups[klp]) == 0:
			b.WriteString("\t/* no function to replace */\n")
		}
		b.WriteString("\t{ }\n};\n")
	}
	b.WriteString("\nstatic struct klp_object objs[] = {\n")
	for i, klp := range objs {
		if i == 0 {
			b.WriteString("\t{\n")
		} else {
			b.WriteString("\t}, {\n")
		}
		if klp == "vmlinux" {
			b.WriteString("\t\t/* name being NULL means vmlinux */\n")
			if unknownKLP {
				b.WriteString("\t\t/* REVIEW: the build is not a kernel tree, so the klp_object is unknown: vmlinux assumed */\n")
			}
			b.WriteString("\t\t.name = NULL,\n")
		} else {
			fmt.Fprintf(&b, "\t\t.name = %s,\n", cString(klp))
		}
		fmt.Fprintf(&b, "\t\t.funcs = %s,\n", funcsArray(klp))
	}
	b.WriteString("\t}, { }\n};\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// writeEntry writes one klp_func.
func writeEntry(b *strings.Builder, t report.Target, newFunc string, linked, cloneABI bool, res *report.Result) {
	b.WriteString("\t{\n")
	reason := cComment(t.Rule) + ": " + cComment(lastStep(t))
	if t.Note != "" {
		reason += "; " + cComment(t.Note)
	}
	where := cComment(t.TU)
	if t.SourceFile != "" {
		where += ", " + cComment(fmt.Sprintf("%s:%d", t.SourceFile, t.SourceLine))
	}
	if t.Severity == "review" {
		fmt.Fprintf(b, "\t\t/* REVIEW: %s [%s]; decide whether the fix needs it replaced, then keep or delete this entry */\n", reason, where)
	} else {
		fmt.Fprintf(b, "\t\t/* %s, %s [%s] */\n", cComment(t.Severity), reason, where)
	}
	if kinds := abiKinds(t, res); len(kinds) > 0 && cloneABI {
		fmt.Fprintf(b, "\t\t/* %s must have the ABI of the %s clone %s (its parameters, not %s's prototype): the policy says author-supplies-clone-abi */\n",
			newFunc, strings.Join(kinds, "/"), cComment(t.Name), cComment(baseName(t.Name)))
	}
	fmt.Fprintf(b, "\t\t.old_name = %s,\n", cString(t.Name))
	fmt.Fprintf(b, "\t\t.new_func = %s,\n", newFunc)
	switch {
	case t.OldSympos != nil:
		fmt.Fprintf(b, "\t\t.old_sympos = %d,\n", *t.OldSympos)
	case t.Binding == "local" && !linked:
		fmt.Fprintf(b, "\t\t/* .old_sympos not computed (no --vmlinux): needed if another symbol is named %s there */\n", cComment(t.Name))
	case t.Binding == "local":
		b.WriteString("\t\t/* .old_sympos UNKNOWN: see the #error above */\n")
	}
	b.WriteString("\t},\n")
}

// writeConditional writes a conditional target as a comment: the
// condition under which it is needed, and the entry to add if it holds.
func writeConditional(b *strings.Builder, t report.Target, newFunc string, linked bool) {
	where := cComment(t.TU)
	if t.SourceFile != "" {
		where += ", " + cComment(fmt.Sprintf("%s:%d", t.SourceFile, t.SourceLine))
	}
	fmt.Fprintf(b, "\t/*\n\t * CONDITIONAL, %s: %s [%s]\n", cComment(t.Rule), cComment(lastStep(t)), where)
	if t.Note != "" {
		fmt.Fprintf(b, "\t * %s.\n", cComment(t.Note))
	}
	b.WriteString("\t * If it is needed, add:\n")
	fmt.Fprintf(b, "\t * {\n\t *\t.old_name = %s,\n\t *\t.new_func = %s,\n", cComment(cString(t.Name)), newFunc)
	switch {
	case t.OldSympos != nil:
		fmt.Fprintf(b, "\t *\t.old_sympos = %d,\n", *t.OldSympos)
	case t.Binding == "local" && !linked:
		fmt.Fprintf(b, "\t *\t(.old_sympos not computed: no --vmlinux)\n")
	case t.Binding == "local":
		b.WriteString("\t *\t(.old_sympos UNKNOWN: see the #error above)\n")
	}
	b.WriteString("\t * },\n\t */\n")
}

// lastStep says in one line how t became a target: the last hop of its
// chain (impacted --explain shows the whole chain and its evidence).
func lastStep(t report.Target) string {
	if len(t.Chain) == 0 {
		return "the changed function itself"
	}
	return report.Relation(t.Chain[len(t.Chain)-1])
}

// abiKinds returns the clone kinds of t that change its ABI: from the
// entry GCC's dump gave it, else from its name.
func abiKinds(t report.Target, res *report.Result) []string {
	var kinds []string
	for _, e := range res.Entries {
		if e.Name == t.Name && e.TU == t.TU {
			for _, k := range e.CloneOf {
				if ipadump.ParseTransform(k).ChangesABI() && k != "(null)" {
					kinds = append(kinds, k)
				}
			}
		}
	}
	if len(kinds) == 0 {
		_, ks, _ := ipadump.CloneName(t.Name)
		for _, k := range ks {
			kinds = append(kinds, k.String())
		}
	}
	return kinds
}

// baseName strips clone suffixes: big.constprop.0.isra.0 -> big.
func baseName(name string) string {
	base, _, _ := ipadump.CloneName(name)
	return base
}

// funcsArray names the klp_func array of klp_object klp.
func funcsArray(klp string) string { return "funcs_" + cIdent(klp) }

// newFuncNames gives every entry its new_func identifier: livepatch_ plus
// the name made a C identifier, and the unit appended when the same
// identifier would serve several targets.
func newFuncNames(groups map[string][]report.Target) map[[2]string]string {
	count := map[string]int{}
	for _, es := range groups {
		for _, t := range es {
			count["livepatch_"+cIdent(t.Name)]++
		}
	}
	out := map[[2]string]string{}
	used := map[string]bool{}
	var keys []string
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, t := range groups[k] {
			id := "livepatch_" + cIdent(t.Name)
			if count[id] > 1 {
				id += "__" + cIdent(strings.TrimSuffix(t.TU, path.Ext(t.TU)))
			}
			for base, n := id, 2; used[id]; n++ {
				id = fmt.Sprintf("%s_%d", base, n)
			}
			used[id] = true
			out[[2]string{t.Name, t.TU}] = id
		}
	}
	return out
}

// cIdent makes s a C identifier: every other character becomes _.
func cIdent(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// cString quotes s as a C string literal.
func cString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(s) {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '?':
			b.WriteString(`\?`) // no trigraphs
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\%03o`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// cComment makes s safe inside a /* */ comment on one line.
func cComment(s string) string {
	s = report.Printable(s)
	s = strings.ReplaceAll(s, "*/", "* /")
	s = strings.ReplaceAll(s, "/*", "/ *")
	return s
}
