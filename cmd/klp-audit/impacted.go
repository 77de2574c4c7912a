package main

import (
	"debug/elf"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/object"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/report"
	"github.com/klp-audit/klp-audit/rules"
)

// ImpactedOptions are the inputs of "klp-audit impacted".
type ImpactedOptions struct {
	Streams *Streams
	EvidenceOptions
	Func   string
	File   string
	TU     string
	Format string
	// DumpsOnly answers from the dumps alone, without reading objects.
	DumpsOnly bool
	// evidence, when set, is the build already loaded (check asks one
	// query per changed function of the same build).
	evidence *evidence
	// NoRules skips the safety rules: only the functions holding the code.
	NoRules bool
	// Policy is a policy file replacing the default one.
	Policy string
	// Vmlinux are the linked vmlinux and modules (.ko) old_sympos is
	// counted in (sympos.go).
	Vmlinux []string
	// Explain names the target whose reason chain to explain, as NAME or
	// NAME@TU (explain.go).
	Explain string
}

func newImpactedCmd(s *Streams, runF func(*ImpactedOptions) error) *cobra.Command {
	opts := &ImpactedOptions{Streams: s}
	cmd := &cobra.Command{
		Use:   "impacted --func NAME --build DIR",
		Short: "List the functions that carry the code of a function",
		Long: `List every function that contains the code of NAME after GCC's
inter-procedural optimisations: the functions NAME was inlined into, its
.constprop, .isra, .part and simd clones, and transitively everything those
were inlined into. A livepatch that fixes NAME must replace each of them that
exists in the running kernel (vmlinux or the module), or the old code keeps
running.

Each entry carries its reason chain, for example
  percpu_ref_put_many -constprop-> percpu_ref_put_many.constprop.0
    -inlined into-> css_put -inlined into-> cgroup_bpf_release
and entries are grouped by translation unit (object file): a static or
header inline function is a different function in every unit that has it,
so one name can need several klp_func entries (told apart by old_sympos).
Use --file or --tu to keep one of them.

A function that no dump line mentions, but that an object defines, is listed
as carrying only its own code there. When any dump line or file cannot be
read, the answer is marked incomplete and the exit status is 1.

--vmlinux gives the linked vmlinux and the modules' .ko files of the running
kernel: each target then gets its klp_func.old_sympos, its position among
the same-named symbols in kallsyms order (0 when the name is unique), the
symbol found by its code (and DWARF compile unit where copies are
identical). A position that cannot be told makes the answer incomplete.

--explain NAME (or NAME@TU) prints, instead of the report, why NAME is a
target: every hop from the changed function with its evidence (the dump
line, quoted; the call instruction, disassembled), each symbol's section,
offset, size and binding, and the rules with their severity and note.
--format json or yaml writes the same as data.`,
		Example: `  # Every function that holds percpu_ref_put_many's code, as a tree
  klp-audit impacted --build ~/linux --func percpu_ref_put_many

  # The static helper of one file only, as a YAML report for review
  klp-audit impacted --build ~/linux --func oom_badness --file mm/oom_kill.c --format yaml

  # One translation unit, as a Graphviz graph
  klp-audit impacted --build ~/linux --func css_put --tu kernel/cgroup/cgroup.o --format dot | dot -Tsvg >css_put.svg

  # With old_sympos counted in the running kernel's vmlinux and a module
  klp-audit impacted --build ~/linux --func oom_badness --vmlinux /usr/lib/debug/boot/vmlinux-6.1 --vmlinux nfsd.ko

  # Why must cgroup_bpf_release be replaced? The chain, with its evidence
  klp-audit impacted --build ~/linux --func percpu_ref_put_many --explain cgroup_bpf_release@kernel/bpf/cgroup.o

  # Dumps listed in a file, as kgraft-analysis-tool takes them
  find ~/linux -name '*.ipa-clones' >dumps.txt
  klp-audit impacted --dumps-from dumps.txt --func css_put --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := report.ParseFormat(opts.Format); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runImpacted(opts)
		},
	}
	opts.EvidenceOptions.bind(cmd)
	fl := cmd.Flags()
	fl.StringVar(&opts.Func, "func", "", "function `NAME` the fix changes (assembler name, as in vmlinux)")
	fl.StringVar(&opts.File, "file", "", "keep only the copies declared in source `FILE` (e.g. mm/oom_kill.c or include/linux/percpu-refcount.h)")
	fl.StringVar(&opts.TU, "tu", "", "keep only translation unit `OBJ` (e.g. mm/oom_kill.o)")
	fl.StringVar(&opts.Format, "format", "text", "output `FORMAT`: text, table, yaml, json or dot")
	fl.BoolVar(&opts.DumpsOnly, "dumps-only", false,
		"answer from the dumps alone: do not read the objects (whether each function exists as a symbol stays unchecked; no safety rules)")
	fl.BoolVar(&opts.NoRules, "no-rules", false, "list the functions holding the code only, without the safety rules' must-patch set")
	fl.StringVar(&opts.Policy, "policy", "", "policy `FILE` (YAML) replacing the default one (klp-audit policy prints it)")
	_ = cmd.MarkFlagFilename("policy", "yaml", "yml")
	fl.StringArrayVar(&opts.Vmlinux, "vmlinux", nil,
		"linked vmlinux or module `FILE` (.ko) of the running kernel: set each target's old_sympos (repeatable)")
	fl.StringVar(&opts.Explain, "explain", "",
		"explain one target `NAME` (or NAME@TU): its chain from the changed function with the evidence of every hop")
	_ = cmd.MarkFlagRequired("func")
	_ = cmd.RegisterFlagCompletionFunc("format", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		out := make([]string, len(report.Formats))
		for i, f := range report.Formats {
			out[i] = string(f)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func runImpacted(opts *ImpactedOptions) error {
	format, err := report.ParseFormat(opts.Format)
	if err != nil {
		return err
	}
	if opts.Explain != "" {
		if err := checkExplainFlags(opts, format); err != nil {
			return err
		}
	}
	a, err := computeImpacted(opts)
	if err != nil {
		return err
	}
	if opts.Explain != "" {
		return runExplain(opts, a, format)
	}
	res, s := a.res, opts.Streams
	for _, p := range res.Problems {
		fmt.Fprintln(s.Err, p.String())
	}
	if err := report.Render(s.Out, res, format); err != nil {
		return err
	}
	if !res.Complete {
		reportIncomplete(s, res)
		return errIncomplete
	}
	return nil
}

// reportIncomplete tells on stderr that the answer printed is incomplete.
func reportIncomplete(s *Streams, res *report.Result) {
	n := fmt.Sprintf("%d problems", len(res.Problems))
	if len(res.Problems) == 1 {
		n = "1 problem"
	}
	fmt.Fprintf(s.Err, "klp-audit: answer INCOMPLETE: %s reading the build; the list may be short\n", n)
}

// impactAnswer is impacted's answer before it is printed: what --explain
// and klp-skeleton build on.
type impactAnswer struct {
	ev     *evidence
	res    *report.Result
	policy *rules.Policy
	// objs reads the objects; nil with --dumps-only.
	objs *callgraph.Objects
	// rules is the rules' answer; nil when they did not run.
	rules *rules.Result
}

// computeImpacted reads the build and answers the query of opts: the
// functions holding the code, the rules' targets and, with --vmlinux,
// their old_sympos. Errors that leave nothing to answer are returned;
// missing evidence is in the result's problems.
func computeImpacted(opts *ImpactedOptions) (*impactAnswer, error) {
	var err error
	policy := rules.DefaultPolicy()
	if opts.Policy != "" {
		if policy, err = rules.LoadPolicy(opts.Policy); err != nil {
			return nil, inputErrorf("%v", err)
		}
	}
	var linked *linkedFiles
	if len(opts.Vmlinux) > 0 {
		if opts.DumpsOnly || opts.NoRules {
			return nil, inputErrorf("--vmlinux sets the old_sympos of the rules' targets: it needs the objects and the rules (drop --dumps-only and --no-rules)")
		}
		if linked, err = openLinkedFiles(opts.Vmlinux); err != nil {
			return nil, err
		}
		defer linked.close()
	}
	var ev *evidence
	if opts.evidence != nil {
		ev = opts.evidence.forQuery()
	} else if ev, err = loadEvidence(&opts.EvidenceOptions); err != nil {
		return nil, err
	}
	g := ev.graph
	s := opts.Streams
	a := &impactAnswer{ev: ev, policy: policy}

	all := g.Lookup(opts.Func)
	// Objects that define the function although no dump line mentions it
	// in their unit: GCC left those copies untouched.
	var untouched []string
	if defs, err := callgraph.ObjectsDefining(ev.objectsOf(), opts.Func, 0); err != nil || len(defs) > 0 {
		addProblems(ev, err)
		inGraph := map[string]bool{}
		for _, id := range all {
			inGraph[id.TU] = true
		}
		for _, obj := range defs {
			if tu := ev.tuOfObject(obj); !inGraph[tu] {
				untouched = append(untouched, tu)
			}
		}
	}
	// Objects with no dump beside them that define the function: their
	// inlining of it is unknown (fail closed), unless --dwarf-inlining
	// already took it from their DWARF.
	if !opts.DWARFInlining {
		var orphans []string
		for _, u := range objectsWithoutDump(opts.Builds, ev.objects, ev.dumps) {
			orphans = append(orphans, u.Object)
		}
		defs, err := callgraph.UnitObjectsDefining(orphans, opts.Func, 0)
		if len(defs) > 0 {
			for _, obj := range defs {
				ev.problems = append(ev.problems, report.Problem{File: obj, Message: rules.FailClosed + ": " + obj +
					" defines " + opts.Func + " but has no ipa-clones dump beside it: where its code was inlined or cloned there is unknown (rebuild it with KCFLAGS=-fdump-ipa-clones, or pass --dwarf-inlining)"})
			}
			if len(all) == 0 && len(untouched) == 0 {
				return nil, inputErrorf("%s is defined only in objects without an ipa-clones dump (%s): rebuild them with KCFLAGS=-fdump-ipa-clones, or pass --dwarf-inlining to take their inlining from DWARF",
					opts.Func, strings.Join(defs, ", "))
			}
		}
		// An object that cannot be read might define the function too.
		addProblems(ev, err)
	}
	if len(all) == 0 && len(untouched) == 0 {
		msg := fmt.Sprintf("function %q is in none of the %d dumps read and no object defines it", opts.Func, len(ev.dumps))
		if sug := g.Suggest(opts.Func, 8); len(sug) > 0 {
			msg += "; closest known names: " + strings.Join(sug, ", ")
		}
		if len(ev.problems) > 0 {
			msg += fmt.Sprintf("\n(%d problems reading the build; it may be in what could not be read)", len(ev.problems))
		}
		return nil, inputErrorf("%s", msg)
	}

	file := ipadump.NormalizePath(opts.File, opts.StripPrefixes)
	var starts []callgraph.NodeID
	for _, id := range all {
		n, _ := g.Node(id)
		if opts.File != "" && !matchFile(n, file) || opts.TU != "" && !matchTU(id.TU, opts.TU) {
			continue
		}
		starts = append(starts, id)
	}
	var keptUntouched []string
	for _, tu := range untouched {
		if opts.TU != "" && !matchTU(tu, opts.TU) || opts.File != "" && !fileMayBeIn(file, tu) {
			continue
		}
		keptUntouched = append(keptUntouched, tu)
	}
	if len(starts) == 0 && len(keptUntouched) == 0 {
		return nil, inputErrorf("function %q is not in the selected translation units or files; it is in: %s",
			opts.Func, strings.Join(whereIs(g, all, untouched), ", "))
	}
	if tus := countTUs(starts, keptUntouched); tus > 1 && opts.File == "" && opts.TU == "" {
		fmt.Fprintf(s.Err, "note: %s is a separate function in %d translation units; all are shown (narrow with --file or --tu)\n",
			opts.Func, tus)
	}

	imp := g.Impacted(starts...)
	res := impactResult(ev, opts, imp, keptUntouched)
	a.res = res
	if !opts.DumpsOnly {
		objs := ev.objectCache()
		a.objs = objs
		addObjectEvidence(objs, res)
		if !opts.NoRules {
			klp := newKLPObjects(opts.Builds)
			eng := &rules.Engine{Graph: g, Objects: objs, Policy: policy,
				KernelBuild: func(tu string) bool {
					t, ok := g.TU(tu)
					return ok && klp.inKernelTree(t.Object)
				}}
			changed := append([]callgraph.NodeID(nil), starts...)
			for _, tu := range keptUntouched {
				changed = append(changed, callgraph.NodeID{Name: opts.Func, TU: tu})
			}
			a.rules = eng.Run(changed)
			addRules(res, a.rules, policy, klp)
			if linked != nil {
				addOldSympos(res, a.rules, linked)
			}
		}
	}
	return a, nil
}

func addProblems(ev *evidence, err error) {
	if err == nil {
		return
	}
	var l ipadump.ErrorList
	addErrs(&l, err)
	for _, e := range l {
		ev.problems = append(ev.problems, problemOf(e))
	}
}

func impactResult(ev *evidence, opts *ImpactedOptions, imp *callgraph.Impact, untouched []string) *report.Result {
	g := ev.graph
	res := &report.Result{
		SchemaVersion: report.SchemaVersion,
		Tool:          report.Tool{Name: "klp-audit", Version: version(), Revision: toolRevision()},
		Inputs:        ev.inputs,
		Query:         report.Query{Command: "impacted", Function: opts.Func, File: opts.File, TU: opts.TU},
	}
	for _, r := range imp.Nodes {
		n, _ := g.Node(r.ID)
		e := report.Entry{
			Name: r.ID.Name, TU: r.ID.TU, SourceFile: n.File, SourceLine: n.Line,
			Depth: r.Depth, Reached: "queried", RemovedInDump: n.Removed, InCycle: r.InCycle, LTO: n.LTO,
		}
		for _, k := range n.CloneOf {
			e.CloneOf = append(e.CloneOf, callgraph.KindName(k, ""))
		}
		for _, st := range r.Chain {
			e.Chain = append(e.Chain, stepOf(st))
		}
		if len(e.Chain) > 0 {
			e.Reached = e.Chain[len(e.Chain)-1].How
		}
		res.Entries = append(res.Entries, e)
	}
	for _, tu := range untouched {
		res.Entries = append(res.Entries, report.Entry{Name: opts.Func, TU: tu, Reached: "queried", NotInDump: true})
	}
	sort.SliceStable(res.Entries, func(i, j int) bool {
		a, b := res.Entries[i], res.Entries[j]
		if a.TU != b.TU {
			return a.TU < b.TU
		}
		if a.Depth != b.Depth {
			return a.Depth < b.Depth
		}
		return a.Name < b.Name
	})
	for _, e := range imp.Edges {
		res.Edges = append(res.Edges, stepOf(e))
	}
	tus := map[string]bool{}
	for _, e := range res.Entries {
		tus[e.TU] = true
		if e.RemovedInDump {
			res.Summary.Removed++
		}
	}
	res.Summary.Functions = len(res.Entries)
	res.Summary.TUs = len(tus)
	res.Complete = len(ev.problems) == 0
	res.Problems = ev.problems
	return res
}

// addObjectEvidence reads the objects of the units in the answer and
// records, per entry, whether the function exists as a symbol, its
// binding, cold pieces, folded aliases and callers. An object that cannot
// be read makes the answer incomplete: which functions a livepatch can
// replace there is unknown.
func addObjectEvidence(objs *callgraph.Objects, res *report.Result) {
	var tus []string
	seen := map[string]bool{}
	for _, e := range res.Entries {
		if !seen[e.TU] {
			seen[e.TU] = true
			tus = append(tus, e.TU)
		}
	}
	objs.Prefetch(tus, 0)
	bad := map[string]bool{}
	for i := range res.Entries {
		e := &res.Entries[i]
		oe := objs.Evidence(callgraph.NodeID{Name: e.Name, TU: e.TU})
		e.Object = oe.Object
		switch oe.Emission {
		case callgraph.Emitted:
			e.Emitted = "yes"
			res.Summary.Emitted++
		case callgraph.NotEmitted:
			e.Emitted = "no"
			e.WhyNotEmitted = oe.Why
		default:
			e.Emitted = "unknown"
			e.WhyNotEmitted = oe.Why
			if !bad[e.TU] {
				bad[e.TU] = true
				res.Problems = append(res.Problems, report.Problem{File: oe.Object,
					Message: "object not read (" + oe.Why + "): which functions of " + e.TU + " a livepatch can replace is unknown"})
			}
		}
		for _, s := range oe.Symbols {
			e.Symbols = append(e.Symbols, report.Symbol{
				Name: s.Name, Binding: bindingName(s.Bind), Section: s.Section, Offset: s.Value, Size: s.Size,
				Cold: s.Cold, Aliases: s.Aliases, Fentry: s.Fentry,
			})
		}
		for _, r := range oe.Callers {
			e.Callers = append(e.Callers, report.Caller{Name: r.From, How: refKindName(r.Kind), Site: r.Site})
		}
	}
	if len(bad) > 0 {
		res.Complete = false
	}
}

// addRules records the safety rules' answer in the report.
func addRules(res *report.Result, rr *rules.Result, p *rules.Policy, klp *klpObjects) {
	res.Policy = p.Source
	res.Targets = []report.Target{}
	for _, t := range rr.Targets {
		rt := report.Target{
			Name: t.ID.Name, TU: t.ID.TU, Object: t.Object, KLPObject: klp.of(t.Object),
			Binding: bindingName(t.Symbol.Bind), Section: t.Symbol.Section,
			Severity: string(t.Severity), Rule: t.Rule, Also: t.Also, Note: t.Note,
			Chain: []report.Step{},
		}
		for _, st := range t.Chain {
			rt.Chain = append(rt.Chain, report.Step{From: st.From, To: st.To, TU: st.TU, How: st.How, Evidence: st.Evidence, Rule: st.Rule})
		}
		for _, e := range res.Entries {
			if e.Name == t.ID.Name && e.TU == t.ID.TU {
				rt.SourceFile, rt.SourceLine = e.SourceFile, e.SourceLine
			}
		}
		switch {
		case t.Ignored != nil:
			rt.IgnoredBecause = t.Ignored.Justification
			res.Summary.Ignored++
		case t.Severity == rules.Review:
			res.Summary.Review++
		default:
			res.Summary.Must++
		}
		res.Targets = append(res.Targets, rt)
	}
	for _, e := range rr.Explained {
		res.Explained = append(res.Explained, report.Explained{Name: e.ID.Name, TU: e.ID.TU, Rule: e.Rule, Why: e.Why})
	}
	res.Notes = rr.Notes
	unread := map[string]bool{}
	for _, pr := range res.Problems {
		if strings.Contains(pr.Message, "object not read") {
			unread[pr.File] = true
		}
	}
	for _, pr := range rr.Problems {
		if unread[pr.File] && strings.Contains(pr.Msg, "object not read") {
			continue // already reported with the entries
		}
		res.Problems = append(res.Problems, report.Problem{File: pr.File, Message: pr.Msg})
	}
	if len(rr.Problems) > 0 {
		res.Complete = false
	}
}

func bindingName(b elf.SymBind) string {
	switch b {
	case elf.STB_LOCAL:
		return "local"
	case elf.STB_GLOBAL:
		return "global"
	case elf.STB_WEAK:
		return "weak"
	}
	return b.String()
}

func refKindName(k object.RefKind) string {
	switch k {
	case object.Call:
		return "call"
	case object.TailCall:
		return "tail call"
	case object.AddrRef:
		return "address taken"
	case object.DataRef:
		return "data reference"
	}
	return "reference"
}

func stepOf(e callgraph.Edge) report.Step {
	return report.Step{
		From: e.From.Name, To: e.To.Name, TU: e.From.TU,
		How: callgraph.KindName(e.Kind, e.Unknown), Evidence: e.Evidence.String(),
	}
}

// matchFile reports whether node n is declared in file: the same
// normalised path, or one is the other with leading directories (an
// absolute path given for a relative one, or the reverse).
func matchFile(n *callgraph.Node, file string) bool {
	for _, f := range n.DeclFiles() {
		if f == file || strings.HasSuffix(f, "/"+file) || strings.HasSuffix(file, "/"+f) {
			return true
		}
	}
	return false
}

// fileMayBeIn reports whether a function found only in tu's symbol table
// (so with no declaration file known) may be declared in file: a .c file
// only in its own unit; any other file (a header) anywhere.
func fileMayBeIn(file, tu string) bool {
	if path.Ext(file) != ".c" {
		return true
	}
	stem := strings.TrimSuffix(file, ".c")
	tuStem := strings.TrimSuffix(tu, path.Ext(tu))
	return stem == tuStem || strings.HasSuffix(stem, "/"+tuStem) || strings.HasSuffix(tuStem, "/"+stem)
}

// matchTU reports whether the translation unit tu is the one the user
// named: its object path with or without extension, or its source path.
func matchTU(tu, want string) bool {
	want = path.Clean(want)
	if tu == want {
		return true
	}
	ts := strings.TrimSuffix(tu, path.Ext(tu))
	ws := strings.TrimSuffix(want, path.Ext(want))
	return ts == ws || strings.HasSuffix(ws, "/"+ts) || strings.HasSuffix(ts, "/"+ws)
}

func whereIs(g *callgraph.Graph, all []callgraph.NodeID, untouched []string) []string {
	var out []string
	for _, id := range all {
		n, _ := g.Node(id)
		out = append(out, fmt.Sprintf("%s (declared in %s)", id.TU, strings.Join(n.DeclFiles(), ", ")))
	}
	for _, tu := range untouched {
		out = append(out, tu+" (symbol only)")
	}
	sort.Strings(out)
	return out
}

func countTUs(starts []callgraph.NodeID, untouched []string) int {
	tus := map[string]bool{}
	for _, s := range starts {
		tus[s.TU] = true
	}
	for _, t := range untouched {
		tus[t] = true
	}
	return len(tus)
}
