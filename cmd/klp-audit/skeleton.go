package main

import (
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/report"
	"github.com/klp-audit/klp-audit/rules"
)

// SkeletonOptions are the inputs of "klp-audit klp-skeleton": those of
// impacted that decide the targets.
type SkeletonOptions struct {
	Streams *Streams
	EvidenceOptions
	Func    string
	File    string
	TU      string
	Policy  string
	Vmlinux []string
}

func newSkeletonCmd(s *Streams, runF func(*SkeletonOptions) error) *cobra.Command {
	opts := &SkeletonOptions{Streams: s}
	cmd := &cobra.Command{
		Use:   "klp-skeleton --func NAME --build DIR [--vmlinux FILE] [--policy FILE]",
		Short: "Print the klp_func and klp_object arrays a livepatch needs",
		Long: `Print, as C ready to paste into a livepatch module, the struct klp_func
array of every klp_object (vmlinux, or a module) and the struct klp_object
array, listing every function the livepatch must replace when it fixes NAME:
the targets of "klp-audit impacted" (same inputs, same rules, same policy),
laid out as samples/livepatch/livepatch-sample.c does:

  static struct klp_func funcs_vmlinux[] = {
  	{
  		/* must, containment: percpu_ref_put_many.constprop.0 -inlined-> cgroup_bpf_release [kernel/bpf/cgroup.o, kernel/bpf/cgroup.c:292] */
  		.old_name = "cgroup_bpf_release",
  		.new_func = livepatch_cgroup_bpf_release,
  		.old_sympos = 2,
  	},
  	{ }
  };

Each entry's comment gives its severity, the rule that made it a target and
the last step of its reason (klp-audit impacted --explain NAME shows the whole
chain). Targets a reviewer must decide on are marked /* REVIEW: ... */ and
kept, so the livepatch replaces them until someone decides otherwise;
targets the policy ignores are listed in comments only. new_func is
livepatch_ plus the name with every character that cannot be in a C
identifier made _ (foo.constprop.0: livepatch_foo_constprop_0), and the
translation unit appended when a name is a target in several. Define each
replacement above the arrays with the prototype of the function it replaces;
for a clone (.constprop, .isra, .part) the policy's
author-supplies-clone-abi says it must have the clone's own ABI, and its
comment says so.

old_sympos is set from --vmlinux (the linked vmlinux and the modules' .ko
files of the running kernel), as "impacted --vmlinux" computes it; without
them it is left out, and a comment says so where the function is local.

When the answer is incomplete (evidence missing, old_sympos unknown), the
output starts with an #error line listing the problems, so it cannot be
built as if it were safe, and the exit status is 1.

` + exitCodesHelp,
		Example: `  # The klp_func arrays for a fix to should_skip_region, old_sympos from vmlinux
  klp-audit klp-skeleton --build ~/linux --func should_skip_region --vmlinux ~/linux/vmlinux >klp-funcs.c

  # A module's static function, counting old_sympos in its .ko
  klp-audit klp-skeleton --build ~/linux --func nfsd_cache_lookup --vmlinux ~/linux/fs/nfsd/nfsd.ko

  # The author writes clone-ABI replacements: the policy says so
  klp-audit klp-skeleton --build ~/linux --func big --policy clone-abi.yaml --vmlinux ~/linux/vmlinux`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runSkeleton(opts)
		},
	}
	opts.EvidenceOptions.bind(cmd)
	fl := cmd.Flags()
	fl.StringVar(&opts.Func, "func", "", "function `NAME` the fix changes (assembler name, as in vmlinux)")
	fl.StringVar(&opts.File, "file", "", "keep only the copies declared in source `FILE` (e.g. mm/oom_kill.c)")
	fl.StringVar(&opts.TU, "tu", "", "keep only translation unit `OBJ` (e.g. mm/oom_kill.o)")
	fl.StringVar(&opts.Policy, "policy", "", "policy `FILE` (YAML) replacing the default one (klp-audit policy prints it)")
	fl.StringArrayVar(&opts.Vmlinux, "vmlinux", nil,
		"linked vmlinux or module `FILE` (.ko) of the running kernel: set each entry's old_sympos (repeatable)")
	_ = cmd.MarkFlagFilename("policy", "yaml", "yml")
	_ = cmd.MarkFlagRequired("func")
	return cmd
}

func runSkeleton(opts *SkeletonOptions) error {
	iopts := &ImpactedOptions{Streams: opts.Streams, EvidenceOptions: opts.EvidenceOptions, Func: opts.Func,
		File: opts.File, TU: opts.TU, Format: string(report.Text), Policy: opts.Policy, Vmlinux: opts.Vmlinux}
	a, err := computeImpacted(iopts)
	if err != nil {
		return err
	}
	s := opts.Streams
	for _, p := range a.res.Problems {
		fmt.Fprintln(s.Err, p.String())
	}
	if err := writeSkeleton(s.Out, a, len(opts.Vmlinux) > 0); err != nil {
		return err
	}
	if !a.res.Complete {
		reportIncomplete(s, a.res)
		return errIncomplete
	}
	return nil
}

// writeSkeleton writes the C arrays for answer a; linked says --vmlinux
// was given.
func writeSkeleton(w io.Writer, a *impactAnswer, linked bool) error {
	res := a.res
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

	cloneABI := false
	if rp, ok := a.policy.Rules[rules.ChangedABI]; ok {
		cloneABI = rp.AuthorSuppliesCloneABI
	}
	// Group the targets by klp_object: vmlinux first, then the modules.
	groups := map[string][]report.Target{}
	var ignored = map[string][]report.Target{}
	for _, t := range res.Targets {
		klp := t.KLPObject
		if klp == "" {
			klp = "vmlinux"
		}
		if t.IgnoredBecause != "" {
			ignored[klp] = append(ignored[klp], t)
			continue
		}
		groups[klp] = append(groups[klp], t)
	}
	names := newFuncNames(groups)
	objs := make([]string, 0, len(groups)+len(ignored))
	for k := range groups {
		objs = append(objs, k)
	}
	for k := range ignored {
		if _, ok := groups[k]; !ok {
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
		for _, t := range ignored[klp] {
			fmt.Fprintf(&b, "\t/* ignored by the policy: %s (%s), %s: %s */\n", cComment(t.Name), cComment(t.TU),
				cComment(t.Rule), cComment(t.IgnoredBecause))
		}
		if len(groups[klp]) == 0 {
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
	if t.Severity == string(rules.Review) {
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

// lastStep says in one line how t became a target: the last hop of its
// chain (impacted --explain shows the whole chain and its evidence).
func lastStep(t report.Target) string {
	if len(t.Chain) == 0 {
		return "the changed function itself"
	}
	st := t.Chain[len(t.Chain)-1]
	return st.From + " -" + st.How + "-> " + st.To
}

var cloneSuffixRE = regexp.MustCompile(`\.(constprop|isra|part|simdclone)\.[0-9]+`)

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
		for _, m := range cloneSuffixRE.FindAllStringSubmatch(t.Name, -1) {
			kinds = append(kinds, m[1])
		}
	}
	return kinds
}

// baseName strips clone suffixes: big.constprop.0.isra.0 -> big.
func baseName(name string) string {
	if i := cloneSuffixRE.FindStringIndex(name); i != nil {
		return name[:i[0]]
	}
	return name
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
	s = printable(s)
	s = strings.ReplaceAll(s, "*/", "* /")
	s = strings.ReplaceAll(s, "/*", "/ *")
	return s
}
