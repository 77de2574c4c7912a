package driver

import (
	"debug/elf"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/livepatch"
	"github.com/klp-audit/klp-audit/object"
	"github.com/klp-audit/klp-audit/patch"
	"github.com/klp-audit/klp-audit/report"
	"github.com/klp-audit/klp-audit/rules"
)

// ImpactQuery is one question of "klp-audit impacted": which functions
// hold the code of Func, and which must a livepatch replace.
type ImpactQuery struct {
	Func string
	// File and TU keep only the copies declared in a source file or
	// compiled in one translation unit.
	File, TU string
	// DumpsOnly answers from the dumps, reading the objects only for
	// their symbol names (copies of the function no dump line names).
	DumpsOnly bool
	// NoRules skips the safety rules: only the functions holding the code.
	NoRules bool
	// Policy is a policy file merged over the default one.
	Policy string
	// Vmlinux are the linked vmlinux and modules (.ko) old_sympos is
	// counted in.
	Vmlinux []string
	// Explain says the answer will be explained (Answer.Explain): the
	// objects are read with their code, once, for the call sites.
	Explain bool
	// Fix is a fix (unified diff) to resolve the answer with: the units
	// it touches are rebuilt as check rebuilds them (Rebuild tunes it;
	// Fuzz is patch(1)'s -F) and the conditional and review targets
	// become must or are dropped by what really changed.
	Fix     string
	Fuzz    int
	Rebuild RebuildOptions
}

// Answer is impacted's answer: the report, and what --explain and
// klp-skeleton build on.
type Answer struct {
	// Result is the report model.
	Result *report.Result
	// Notices are remarks for the terminal, not part of the result (the
	// function is a separate one in several units).
	Notices []string

	ev     *Session
	policy *rules.Policy
	// objs reads the objects; nil with --dumps-only.
	objs *callgraph.Objects
	// rules is the rules' answer; nil when they did not run.
	rules *rules.Result
}

// CloneABI says the policy's author writes clone-ABI replacements.
func (a *Answer) CloneABI() bool {
	rp, ok := a.policy.Rules[rules.ChangedABI]
	return ok && rp.AuthorSuppliesCloneABI
}

// LoadPolicy reads a policy file merged over the default policy; "" is
// the default policy.
func LoadPolicy(path string) (*rules.Policy, error) {
	if path == "" {
		return rules.DefaultPolicy(), nil
	}
	p, err := rules.LoadPolicy(path)
	if err != nil {
		return nil, inputErr(err)
	}
	return p, nil
}

// OpenVmlinux opens the linked vmlinux and modules old_sympos is counted
// in; none gives nil.
func OpenVmlinux(paths []string) (*livepatch.LinkedFiles, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	lfs, err := livepatch.OpenLinkedFiles(paths)
	return lfs, inputErr(err)
}

// Impacted reads the build o names and answers q: the functions holding
// the code, the rules' targets and, with Vmlinux, their old_sympos.
// Errors that leave nothing to answer are returned; missing evidence is
// in the result's problems.
func Impacted(o Options, q ImpactQuery) (*Answer, error) {
	policy, err := LoadPolicy(q.Policy)
	if err != nil {
		return nil, err
	}
	if len(q.Vmlinux) > 0 && (q.DumpsOnly || q.NoRules) {
		return nil, Inputf("--vmlinux sets the old_sympos of the rules' targets: it needs the objects and the rules (drop --dumps-only and --no-rules)")
	}
	var fix []patch.File
	if q.Fix != "" {
		if q.DumpsOnly || q.NoRules || q.Explain {
			return nil, Inputf("--fix resolves the must-patch set by rebuilding: it needs the objects and the rules, and answers with the set (drop --dumps-only, --no-rules and --explain)")
		}
		if fix, err = readDiff(q.Fix); err != nil {
			return nil, err
		}
	}
	linked, err := OpenVmlinux(q.Vmlinux)
	if err != nil {
		return nil, err
	}
	defer linked.Close()
	var fx *fixInput
	var fxErr error
	pending := &pendingRebuild{off: true}
	if fix != nil {
		// The units the fix touches compile while the build is read; a
		// fix that does not apply is said once the build is known to be
		// readable.
		if fx, fxErr = locateFix(o, fix, q.Fuzz); fxErr == nil {
			pending = startRebuild(rebuildInput{o: o, ro: q.Rebuild, files: fx.asGiven, sources: fx.sources})
		}
	}
	defer pending.stop()
	if fx == nil {
		// A query allocates a few times its small live heap: fewer
		// collections (see sparseGC).
		defer sparseGC()()
	}
	lo := o
	lo.settleLater = true
	s, err := loadFor(lo, q.Func)
	if err != nil {
		return nil, err
	}
	if fxErr != nil {
		return nil, fxErr
	}
	t0 := time.Now()
	a, err := s.Impacted(q, policy, linked)
	t0 = phase("impacted: the answer", t0)
	settled := s.settled()
	phase("impacted: waiting for the index's stat pass", t0)
	if !settled {
		// A file changed since the index was built: ask again, over a
		// session that knows which.
		if s, err = loadFor(o, q.Func); err != nil {
			return nil, err
		}
		a, err = s.Impacted(q, policy, linked)
	}
	if err != nil {
		return a, err
	}
	s.addIndexNote(a)
	if fx == nil {
		return a, nil
	}
	s.resolveByRebuild(o, q, fx, pending, a, policy, linked)
	return a, nil
}

// Impacted answers q over the session's evidence with the given policy
// and linked files (nil: none). Problems a query finds stay its own.
func (sess *Session) Impacted(q ImpactQuery, policy *rules.Policy, linked *livepatch.LinkedFiles) (*Answer, error) {
	opts := q
	if q.Explain {
		sess.keepCode = true
	}
	ev := sess.forQuery()
	g := ev.graph
	a := &Answer{ev: ev, policy: policy}

	all := g.Lookup(opts.Func)
	// Objects that define the function although no dump line mentions it
	// in their unit: GCC left those copies untouched.
	var untouched []string
	if defs, err := ev.defining(opts.Func); err != nil || len(defs) > 0 {
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
	if len(all) == 0 && len(untouched) == 0 {
		msg := fmt.Sprintf("function %q is in none of the %d dumps read and no object defines it", opts.Func, len(ev.dumps))
		if sug := g.Suggest(opts.Func, 8); len(sug) > 0 {
			msg += "; closest known names: " + strings.Join(sug, ", ")
		}
		if len(ev.problems) > 0 {
			msg += fmt.Sprintf("\n(%s reading the build; it may be in what could not be read:", plural(len(ev.problems), "problem", "problems"))
			for _, p := range ev.problems {
				msg += "\n  " + p.String()
			}
			msg += ")"
		}
		return nil, Inputf("%s", msg)
	}

	file := ipadump.NormalizePath(opts.File, ev.opts.StripPrefixes)
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
		return nil, Inputf("function %q is not in the selected translation units or files; it is in: %s",
			opts.Func, strings.Join(whereIs(g, all, untouched), ", "))
	}
	if tus := countTUs(starts, keptUntouched); tus > 1 && opts.File == "" && opts.TU == "" {
		a.Notices = append(a.Notices, fmt.Sprintf("note: %s is a separate function in %d translation units; all are shown (narrow with --file or --tu)",
			opts.Func, tus))
	}

	t0 := time.Now()
	imp := g.Impacted(starts...)
	res := impactResult(ev, opts, imp, keptUntouched)
	t0 = phase("impacted: the closure", t0)
	a.Result = res
	if !opts.DumpsOnly {
		objs := ev.objectCache()
		a.objs = objs
		checked := ev.startDumpChecks(objs, res)
		var klp *livepatch.Objects
		var eng *rules.Engine
		if !opts.NoRules {
			klp = ev.klpObjects()
			eng = &rules.Engine{Graph: g, Objects: objs, Policy: policy, Closure: imp,
				KernelBuild: func(tu string) bool {
					t, ok := g.TU(tu)
					return ok && klp.InKernelTree(t.Object)
				},
				NotLinked: func(tu string) string {
					t, ok := g.TU(tu)
					if !ok || !t.HasObject {
						return ""
					}
					return klp.NotLinked(t.Object)
				},
				Unbuilt: func(tu, name string) ([]string, bool) {
					t, ok := g.TU(tu)
					if !ok {
						return nil, false
					}
					return klp.UnbuiltNaming(t.Object, name)
				},
				UnbuiltMany: func(tus, names []string) {
					var objs, ns []string
					for i, tu := range tus {
						if t, ok := g.TU(tu); ok {
							objs, ns = append(objs, t.Object), append(ns, names[i])
						}
					}
					klp.UnbuiltNamingMany(objs, ns)
				}}
			// What the rules read of every object starts while the
			// answer's objects are read.
			eng.Prefetch()
		}
		addObjectEvidence(objs, res, ev.notLinked)
		t0 = phase("impacted: the answer's objects read", t0)
		if !opts.NoRules {
			changed := append([]callgraph.NodeID(nil), starts...)
			for _, tu := range keptUntouched {
				changed = append(changed, callgraph.NodeID{Name: opts.Func, TU: tu})
			}
			a.rules = eng.Run(changed)
			t0 = phase("impacted: the rules", t0)
		}
		// The dumps' problems precede the rules'.
		checked()
		phase("impacted: the dumps checked against DWARF, after", t0)
		if !opts.NoRules {
			addRules(res, a.rules, policy, klp)
			res.Notes = onceEach(append(res.Notes, ev.notes...))
			if linked != nil {
				addOldSympos(res, a.rules, linked)
			}
		}
	}
	addLateProblems(ev, res)
	return a, nil
}

func addProblems(ev *Session, err error) {
	if err == nil {
		return
	}
	var l ipadump.ErrorList
	addErrs(&l, err)
	for _, e := range l {
		ev.problems = append(ev.problems, problemOf(e))
	}
}

func impactResult(ev *Session, opts ImpactQuery, imp *callgraph.Impact, untouched []string) *report.Result {
	g := ev.graph
	res := &report.Result{
		SchemaVersion: report.SchemaVersion,
		Tool:          Tool(),
		Inputs:        ev.inputs,
		Query:         report.Query{Command: "impacted", Function: opts.Func, File: opts.File, TU: opts.TU},
	}
	// The chains share their common prefixes (linear in the graph's
	// size), and an entry keeps at most the last report.MaxChain steps.
	chains := callgraph.Chains(imp, stepOf)
	for i, r := range imp.Nodes {
		n, _ := g.Node(r.ID)
		e := report.Entry{
			Name: r.ID.Name, TU: r.ID.TU, SourceFile: n.File, SourceLine: n.Line,
			Depth: r.Depth, Reached: "queried", RemovedInDump: n.Removed, InCycle: r.InCycle, LTO: n.LTO,
		}
		for _, k := range n.CloneOf {
			e.CloneOf = append(e.CloneOf, callgraph.KindName(k, ""))
		}
		e.Chain = chains[i]
		if over := len(e.Chain) - report.MaxChain; over > 0 {
			e.Chain, e.ChainOmitted = e.Chain[over:], over
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
//
// A unit whose object is linked into neither vmlinux nor a module (the
// vDSO, boot code: notLinked says why) holds no livepatch target: its
// entries are not emitted as far as a livepatch goes when its object
// (perhaps a 32-bit one) cannot be read, and that is no problem.
func addObjectEvidence(objs *callgraph.Objects, res *report.Result, notLinked func(tu string) string) {
	var tus []string
	seen := map[string]bool{}
	unlinked := map[string]string{}
	for _, e := range res.Entries {
		if seen[e.TU] {
			continue
		}
		seen[e.TU] = true
		if why := notLinked(e.TU); why != "" {
			unlinked[e.TU] = why
		}
	}
	seen = map[string]bool{}
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
		if why := unlinked[e.TU]; why != "" && oe.Emission != callgraph.Emitted && oe.Emission != callgraph.NotEmitted {
			// Its object (a 32-bit vDSO one, say) could not be read,
			// and it holds no livepatch target either way.
			e.Object = oe.Object
			e.Emitted = "no"
			e.WhyNotEmitted = report.WhyNotLinked + why
			continue
		}
		e.Object = oe.Object
		switch oe.Emission {
		case callgraph.Emitted:
			if why := unlinked[e.TU]; why != "" {
				// A symbol of the vDSO or boot image: no klp_func
				// can name it.
				e.Emitted = "no"
				e.WhyNotEmitted = "a symbol of its object, but " + report.WhyNotLinked + why
				break
			}
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
				res.Problems = append(res.Problems, report.Problem{File: oe.Object, Kind: report.KindInput,
					Message: "object not read (" + oe.Why + "): which functions of " + e.TU + " a livepatch can replace is unknown"})
			}
		}
		for _, s := range oe.Symbols {
			e.Symbols = append(e.Symbols, symbolOf(s))
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
func addRules(res *report.Result, rr *rules.Result, p *rules.Policy, klp *livepatch.Objects) {
	res.Policy = p.Source
	res.Targets = []report.Target{}
	for _, t := range rr.Targets {
		klpObject, err := klp.Of(t.Object)
		if err != nil {
			res.Problems = append(res.Problems, report.Problem{File: t.Object, Kind: report.KindFailClosed, Message: err.Error()})
			res.Complete = false
		}
		rt := report.Target{
			Name: t.ID.Name, TU: t.ID.TU, Object: t.Object, KLPObject: klpObject,
			Binding: bindingName(t.Symbol.Bind), Section: t.Symbol.Section,
			Severity: string(t.Severity), Rule: t.Rule, Also: t.Also, Note: t.Note,
			Chain: []report.Step{},
		}
		for _, st := range t.Chain {
			rt.Chain = append(rt.Chain, reportStep(st))
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
		case t.Severity == rules.Conditional:
			res.Summary.Conditional++
		default:
			res.Summary.Must++
		}
		res.Targets = append(res.Targets, rt)
	}
	for _, e := range rr.Explained {
		res.Explained = append(res.Explained, report.Explained{Name: e.ID.Name, TU: e.ID.TU, Rule: e.Rule, Why: e.Why})
	}
	res.Notes = append([]string(nil), rr.Notes...)
	if n := notLivepatchNote(rr.NotLivepatchUnits, res.Targets); n != "" {
		res.Notes = append(res.Notes, n)
	}
	// Objects the entries could not read were reported with them.
	unread := map[string]bool{}
	for _, e := range res.Entries {
		if e.Emitted == "unknown" {
			unread[e.Object] = true
		}
	}
	for _, pr := range rr.Problems {
		if pr.Unread && unread[pr.File] {
			continue // already reported with the entries
		}
		res.Problems = append(res.Problems, report.Problem{File: pr.File, Line: pr.Line, Kind: pr.Kind, Message: pr.Message})
	}
	if len(rr.Problems) > 0 {
		res.Complete = false
	}
}

// onceEach returns notes without repeats, in their first order: a note is
// said once per answer.
func onceEach(notes []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range notes {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// notLivepatchNote says, once, that units outside a kernel tree built
// without ftrace entries are not livepatch builds, so patchability was not
// checked there; only when it matters to the answer: for the units where
// a target's klp_object is unknown. "" when none is.
func notLivepatchNote(units []string, ts []report.Target) string {
	var where []string
	for _, u := range units {
		for _, t := range ts {
			if t.TU == u && t.KLPObject == "" {
				where = append(where, u)
				break
			}
		}
	}
	if len(where) == 0 {
		return ""
	}
	return "klp_object unknown: not a kernel livepatch build (outside a kernel tree, no ftrace entries: -pg -mfentry or " +
		"-fpatchable-function-entry), so patchability (" + rules.NotPatchable + ") was not checked in " + strings.Join(where, ", ")
}

// symbolOf is the report's form of a function symbol.
func symbolOf(s object.Func) report.Symbol {
	return report.Symbol{Name: s.Name, Binding: bindingName(s.Bind), Section: s.Section, Offset: s.Value, Size: s.Size,
		Cold: s.Cold, Aliases: s.Aliases, Fentry: s.Fentry}
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
		How: callgraph.KindName(e.Kind, e.Unknown), Evidence: e.Evidence.String(), At: positionOf(&e.Evidence),
	}
}

// reportStep is the report's form of a step of the rules.
func reportStep(st rules.Step) report.Step {
	return report.Step{From: st.From, To: st.To, TU: st.TU, How: st.How, Evidence: st.Evidence, Rule: st.Rule,
		Severity: string(st.Severity), At: positionOf(st.At)}
}

func positionOf(p *ipadump.Pos) *report.Position {
	if p == nil {
		return nil
	}
	return &report.Position{File: p.Dump, Line: p.Line, DWARF: p.DWARF}
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

// DefaultPolicyYAML is the embedded default policy, as "klp-audit policy"
// prints it.
func DefaultPolicyYAML() []byte { return rules.DefaultPolicyYAML() }

// notLinked says why unit tu's object is linked into neither vmlinux nor
// a module (livepatch.Objects.NotLinked), "" when it is linked or nothing
// tells.
func (ev *Session) notLinked(tu string) string {
	t, ok := ev.graph.TU(tu)
	if !ok || !t.HasObject {
		return ""
	}
	return ev.klpObjects().NotLinked(t.Object)
}
