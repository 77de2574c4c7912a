package rules

import (
	"debug/elf"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/object"
)

// Step is one hop of a reason chain: To holds, calls or shares the code of
// From, as Rule says.
type Step struct {
	From, To string
	TU       string
	// Rule is the rule that took the step; How is its kind: GCC's
	// transformation for containment ("inlined", "constprop", ...), else
	// one of the Step* kinds.
	Rule, How string
	// Severity is the severity the step gives the function it leads to:
	// the policy's for the rule (for caller-assumptions, the strongest of
	// the live IPA passes of its side), never stronger than the step
	// before it.
	Severity Severity
	// Evidence cites the proof: a dump line, or a call site in an object.
	Evidence string
	// At is the dump line (or DWARF record) of a containment step.
	At *ipadump.Pos
}

// Target is a function the livepatch must replace (or a reviewer decide
// on): an emitted symbol of an object.
type Target struct {
	ID       callgraph.NodeID
	Symbol   object.Func // the symbol in the object
	Object   string      // the object file
	Rule     string      // the rule that first made it a target
	Severity Severity
	// Chain leads from a changed function to this one.
	Chain []Step
	// Also lists the other rules that reached it.
	Also []string
	// Note adds what the rule found (the IPA passes, the aliases).
	Note string
	// Ignored is set when the policy drops the target; it is then
	// reported apart, with the justification.
	Ignored *Ignore

	// cond is the condition of a conditional target, and condOf the
	// target caller-assumptions made conditional: itself, or the one it
	// is replaced for (through not-patchable, changed-abi, icf).
	cond, condOf string
}

// Explained is a function in the chain that is not a target, and why: it
// has no symbol (inlined everywhere, replaced by clones), or it cannot be
// replaced directly and its callers are targets instead.
type Explained struct {
	ID     callgraph.NodeID
	Rule   string
	Why    string
	Chain  []Step
	Object string
}

// Problem is missing evidence: it makes the result incomplete.
type Problem struct {
	File string
	Line int
	// Kind is FailClosed for every problem of the rules: evidence a
	// target depends on is missing, so the answer is incomplete.
	Kind string
	// Unread says the problem is that File, an object, could not be
	// read: a caller that reported it already need not repeat it.
	Unread  bool
	Message string
}

// Result is the rules' answer.
type Result struct {
	Targets   []*Target
	Explained []Explained
	Problems  []Problem
	// Notes are facts that do not change the answer but a reader should
	// know (a unit built without ftrace entries, say).
	Notes []string
	// NotLivepatchUnits are the units outside a kernel tree built without
	// ftrace entries where a target was found: not livepatch builds, so
	// patchability (not-patchable) was not checked there. Sorted.
	NotLivepatchUnits []string
}

// Complete reports whether no evidence was missing.
func (r *Result) Complete() bool { return len(r.Problems) == 0 }

// Engine applies the rules to a build's evidence.
type Engine struct {
	Graph   *callgraph.Graph
	Objects *callgraph.Objects
	Policy  *Policy
	// Flags returns the compile flags of a unit; nil reads them from the
	// unit's object with dwarfinfo.Producers.
	Flags func(tu string) ([]dwarfinfo.Flags, error)
	// KernelBuild reports whether unit tu is part of a kernel tree, where
	// a unit built without ftrace entries (kernel/trace, say) holds
	// nothing a livepatch can replace; outside one, such a unit is simply
	// not a livepatch build. Nil: the build counts as a kernel's when any
	// of its units has ftrace entries.
	KernelBuild func(tu string) bool
	// NotLinked says why unit tu's object is linked into neither vmlinux
	// nor a module (the vDSO, boot or real-mode code, the kexec
	// purgatory: images of their own), "" when it is linked or nothing
	// tells. Such a unit's functions are no livepatch targets, and it
	// calls nothing a livepatch replaces. Nil: every unit is linked.
	NotLinked func(tu string) string
	// Unbuilt returns the sources of unit tu's kernel tree that name
	// function name in directories kbuild did not build: calls there are
	// not in the objects. searched is false when they could not be
	// searched (or tu is not in a kernel tree). Nil: nothing was left
	// unbuilt.
	Unbuilt func(tu, name string) (files []string, searched bool)
	// UnbuiltMany, when set with Unbuilt, searches at once for every
	// names[i] what Unbuilt(tus[i], names[i]) answers, before Run asks
	// Unbuilt for each: Run then decides the targets that need it once
	// its other work is done (in the order its problems had). Nil: each
	// name is searched when it is asked.
	UnbuiltMany func(tus, names []string)
	// Closure is Graph.Impacted of the changed functions Run is given
	// that are nodes of the graph, when the caller worked it out already
	// (for its own answer): Run takes it when its Starts are those.
	Closure *callgraph.Impact

	flagsMu    sync.Mutex
	flagsCache map[string]flagsEntry
}

// Prefetch starts, in the background, the reads Run begins with and
// that depend on nothing it is asked: the store's index of every object
// (Objects.PreloadStore) and NotLinked of every unit with an object. A
// caller with other work before Run (reading its answer's objects) calls
// it first; Run finds them done, or waits for them.
func (e *Engine) Prefetch() {
	e.Objects.PreloadStore()
	if e.NotLinked == nil {
		return
	}
	go func() {
		for _, tu := range e.Graph.TUs() {
			if tu.HasObject {
				e.NotLinked(tu.Name)
			}
		}
	}()
}

type flagsEntry struct {
	f   []dwarfinfo.Flags
	err error
}

// run is the state of one Run.
type run struct {
	e       *Engine
	res     *Result
	targets map[callgraph.NodeID]*Target
	explain map[callgraph.NodeID]bool
	// queues hold the targets the rules still have to look at, one
	// queue per severity rank (see push).
	queues   [4][]queued
	done     map[*Target]Severity
	problems map[string]bool
	notes    map[string]bool
	// unchecked are the units of Result.NotLivepatchUnits.
	unchecked map[string]bool
	// ftraceBuild caches livepatchableBuild.
	ftraceBuild *bool
	// extCalls holds the calls of the objects the store does not cover
	// (read whole); extDone caches externalCallsTo's answers and tuPos
	// numbers the units with objects.
	extCalls map[string][]caller
	extDone  map[string][]caller
	tuPos    map[string]int
	// extAddrs caches externalAddrsTo's answers: the references to a
	// symbol an object does not define that take its address (function
	// pointers, ops tables), by name: "unit: function", or "unit"
	// (object.File.ExternAddrs).
	extAddrs map[string][]string
	// searched, noObject and uncovered are storedUnitsInit's; liveAddrs
	// the address references of the uncovered objects.
	searched, noObject, uncovered []string
	liveAddrs                     map[string][]keyedAddr
	// unbuilt are the targets decideUnbuilt decides.
	unbuilt []pendingUnbuilt
}

// Run computes the must-patch set for the changed functions.
func (e *Engine) Run(changed []callgraph.NodeID) *Result {
	if e.Policy == nil {
		e.Policy = DefaultPolicy()
	}
	r := &run{e: e, res: &Result{}, targets: map[callgraph.NodeID]*Target{}, done: map[*Target]Severity{},
		explain: map[callgraph.NodeID]bool{}, problems: map[string]bool{}, notes: map[string]bool{}, unchecked: map[string]bool{}}
	r.containment(changed)
	for t := r.pop(); t != nil; t = r.pop() {
		if r.notLinked(t) {
			continue
		}
		r.changedABI(t)
		r.notPatchable(t)
		r.icf(t)
		r.callerAssumptions(t)
	}
	r.decideUnbuilt()
	r.finish()
	return r.res
}

// notLinked explains t away when its unit is linked into neither vmlinux
// nor a module: no livepatch can replace it, and it calls nothing a
// livepatch replaces, so its callers are not followed either.
func (r *run) notLinked(t *Target) bool {
	if r.e.NotLinked == nil || r.targets[t.ID] != t {
		return false
	}
	why := r.e.NotLinked(t.ID.TU)
	if why == "" {
		return false
	}
	r.demote(t, NotPatchable, "not a livepatch target: its object is "+why+"; no livepatch replaces it, and a fix there needs a reboot")
	return true
}

// queued is a target waiting for the rules, at the severity it had when
// it was queued.
type queued struct {
	t   *Target
	sev Severity
}

// push queues t for the rules. Targets are looked at strongest severity
// first: every must target is found before any conditional or review one
// is decided on (and perhaps explained, or replaced through its callers),
// since what follows from a target is never stronger than the target.
// So a function both a certain and a conditional chain reach is decided
// as the certain one.
func (r *run) push(t *Target) {
	k := t.Severity.rank()
	r.queues[k] = append(r.queues[k], queued{t, t.Severity})
}

// pop returns the next target to look at, nil when none is left. A
// target raised to a stronger severity after it was queued was queued
// again, and is looked at once, at that severity.
func (r *run) pop() *Target {
	for k := len(r.queues) - 1; k >= 0; k-- {
		for len(r.queues[k]) > 0 {
			q := r.queues[k][0]
			r.queues[k] = r.queues[k][1:]
			if q.t.Severity != q.sev {
				continue
			}
			if s, ok := r.done[q.t]; ok && s.rank() >= q.sev.rank() {
				continue
			}
			r.done[q.t] = q.sev
			return q.t
		}
	}
	return nil
}

// containment seeds the targets: every emitted function holding the code
// of a changed one.
func (r *run) containment(changed []callgraph.NodeID) {
	g := r.e.Graph
	var starts []callgraph.NodeID
	for _, id := range changed {
		if _, ok := g.Node(id); ok {
			starts = append(starts, id)
			continue
		}
		// No dump line names it in its unit: it holds only its own code.
		r.consider(id, nil, Containment, "", "")
	}
	if r.e.Policy.severity(Containment) == Off {
		r.note("containment is off in the policy: the functions holding the changed code are not listed")
		return
	}
	imp := r.e.Closure
	if imp == nil || !slices.Equal(imp.Starts, starts) {
		imp = g.Impacted(starts...)
	}
	chains := containmentChains(imp, r.e.Policy.severity(Containment))
	for i, n := range imp.Nodes {
		r.consider(n.ID, chains[i], Containment, "", "")
	}
}

// containmentChains returns the chain of steps of every reached node,
// sharing each chain's steps with its parent's (see callgraph.Chains): a
// copied chain per function took gigabytes on a long inline chain.
func containmentChains(imp *callgraph.Impact, sev Severity) [][]Step {
	return callgraph.Chains(imp, func(ed callgraph.Edge) Step {
		at := ed.Evidence
		return Step{
			From: ed.From.Name, To: ed.To.Name, TU: ed.From.TU, Rule: Containment, Severity: sev,
			How: callgraph.KindName(ed.Kind, ed.Unknown), Evidence: ed.Evidence.String(), At: &at,
		}
	})
}

// consider makes id a target if its object has it, else explains it.
func (r *run) consider(id callgraph.NodeID, chain []Step, rule, note string, sev Severity) {
	if t, ok := r.targets[id]; ok {
		if sev == "" {
			sev = r.e.Policy.severity(rule)
		}
		if sev.rank() > t.Severity.rank() {
			// A rule that must replace it outranks one that asks for
			// review or states a condition: the stronger finding
			// becomes the reason shown, and the rules look at the
			// target again (a certain target's callers may rely on it).
			if !contains(t.Also, t.Rule) {
				t.Also = append(t.Also, t.Rule)
			}
			if t.Severity != Conditional {
				note = appendNote(note, t.Note)
			} // a condition no longer holds for a certain target
			t.Rule, t.Severity, t.Chain, t.Note = rule, sev, chain, note
			t.Also = remove(t.Also, rule)
			r.push(t)
			return
		}
		if t.Rule != rule && !contains(t.Also, rule) {
			t.Also = append(t.Also, rule)
		}
		return
	}
	// A function already explained (not emitted, or replaced through its
	// callers) stays explained: deciding it again would loop on recursion.
	if r.explain[id] {
		return
	}
	ev := r.e.Objects.Evidence(id)
	switch ev.Emission {
	case callgraph.EmissionUnknown:
		if r.e.NotLinked != nil {
			if why := r.e.NotLinked(id.TU); why != "" {
				// An object of its own image (a 32-bit vDSO, say)
				// holds no livepatch target, read or not.
				r.explained(id, NotPatchable, "not a livepatch target: its object is "+why+"; no livepatch replaces it, and a fix there needs a reboot", chain, ev.Object)
				return
			}
		}
		r.addProblem(Problem{File: ev.Object, Kind: FailClosed, Unread: true,
			Message: fmt.Sprintf("object not read (%s): which functions of %s a livepatch must replace is unknown", ev.Why, id.TU)})
		return
	case callgraph.NotEmitted:
		r.explained(id, rule, "not emitted: "+ev.Why+"; replaced through the functions holding its code", chain, ev.Object)
		return
	}
	for _, sym := range ev.Symbols {
		tid := id
		if sym.Name != id.Name {
			tid = callgraph.NodeID{Name: sym.Name, TU: id.TU}
		}
		if _, ok := r.targets[tid]; ok || r.explain[tid] {
			continue
		}
		if sev == "" {
			sev = r.e.Policy.severity(rule)
		}
		t := &Target{ID: tid, Symbol: sym, Object: ev.Object, Rule: rule, Severity: sev, Chain: chain, Note: note}
		r.targets[tid] = t
		r.push(t)
	}
}

func (r *run) explained(id callgraph.NodeID, rule, why string, chain []Step, obj string) {
	if r.explain[id] {
		return
	}
	r.explain[id] = true
	r.res.Explained = append(r.res.Explained, Explained{ID: id, Rule: rule, Why: why, Chain: chain, Object: obj})
}

// reexplain replaces the reason id was explained with.
func (r *run) reexplain(id callgraph.NodeID, why string) {
	for i := range r.res.Explained {
		if r.res.Explained[i].ID == id {
			r.res.Explained[i].Why = why
		}
	}
}

func (r *run) problem(file, msg string) {
	r.addProblem(Problem{File: file, Kind: FailClosed, Message: msg})
}

func (r *run) addProblem(p Problem) {
	if r.problems[p.Message] {
		return
	}
	r.problems[p.Message] = true
	r.res.Problems = append(r.res.Problems, p)
}

// unreadObject reports that unit tu's object could not be read for the
// search for callers: a caller in it would go unseen.
func (r *run) unreadObject(tu string, err error) {
	r.problem(tu, fmt.Sprintf("object of %s not read (%v): callers of global functions in it are unknown", tu, err))
}

func (r *run) note(msg string) {
	if !r.notes[msg] {
		r.notes[msg] = true
		r.res.Notes = append(r.res.Notes, msg)
	}
}

// demote turns target t into an explained function whose callers are
// replaced instead.
func (r *run) demote(t *Target, rule, why string) {
	delete(r.targets, t.ID)
	r.explained(t.ID, rule, why, t.Chain, t.Object)
}

// The kinds (Step.How) of the steps the rules take through the object
// call graph; report words each of them, from the side of the function
// the step leads to.
const (
	StepCalledBy    = "called by"             // To calls From
	StepCalls       = "calls"                 // From calls To
	StepSameBody    = "same body as"          // To is folded with From
	StepCallsFolded = "calls the folded body" // To calls the body From shares
)

// caller is a direct call or tail call of a target, in some unit.
type caller struct {
	tu  string
	ref object.Ref
	// fn is the function to replace: ref.From, or the function whose
	// cold piece ref.From is (foo for foo.cold: a livepatch replaces
	// foo, its cold piece goes with it).
	fn string
	// site names the call site: "caller1+0x7".
	site string
	// refIdx is ref's index in its object's Refs (externalCallsTo).
	refIdx int
}

// callerOf makes ref, a ref of object f of unit tu, a caller: it maps a
// cold piece to its function and names the call site by function and
// offset (Site is a section offset, or an address in a linked file).
func callerOf(f *object.File, tu string, ref object.Ref) caller {
	c := caller{tu: tu, ref: ref, fn: ref.From, site: fmt.Sprintf("%s (section offset %#x)", ref.From, ref.Site)}
	fns := f.Lookup(ref.From)
	for _, fn := range fns {
		if fn.Sympos != ref.FromSympos && len(fns) > 1 {
			continue
		}
		if ref.Site >= fn.Value && ref.Site-fn.Value < fn.Size {
			c.site = fmt.Sprintf("%s+%#x", ref.From, ref.Site-fn.Value)
		}
		if fn.ColdOf != "" {
			c.fn = fn.ColdOf
			c.site += " (cold piece of " + fn.ColdOf + ")"
		}
		break
	}
	return c
}

// callers returns the direct callers of t: calls and tail calls (a
// function whose address is only stored is not a caller) in its own
// object, and, when crossTU is set and t is a global or weak symbol, the
// calls to it from every other object of the build.
func (r *run) callers(t *Target, crossTU bool) []caller {
	f, err := r.e.Objects.File(t.ID.TU)
	if err != nil {
		return nil
	}
	var out []caller
	for _, ref := range f.RefsTo(r.funcIn(f, t)) {
		if ref.Kind == object.Call || ref.Kind == object.TailCall {
			c := callerOf(f, t.ID.TU, ref)
			if ref.From == t.Symbol.Name || ref.From == t.Symbol.ColdOf || c.fn == t.Symbol.Name {
				continue // recursion, or a cold piece jumping back
			}
			out = append(out, c)
		}
	}
	if crossTU && t.Symbol.Bind != elf.STB_LOCAL {
		for _, c := range r.externalCallsTo(t.Symbol.Name) {
			if c.tu != t.ID.TU {
				out = append(out, c)
			}
		}
	}
	return out
}

// pointerUse describes how t is reached when no call reaches it: where its
// address is taken or stored.
func (r *run) pointerUse(t *Target) string {
	at := append(r.addressTaken(t), r.externalAddrs(t)...)
	if len(at) == 0 {
		return " in the objects read"
	}
	return "; it is called through a pointer (address taken in " + joinSorted(at) + ")"
}

// addressTaken returns the functions and data of t's object that take
// or store t's address.
func (r *run) addressTaken(t *Target) []string {
	f, err := r.e.Objects.File(t.ID.TU)
	if err != nil {
		return nil
	}
	var at []string
	for _, ref := range f.RefsTo(r.funcIn(f, t)) {
		if (ref.Kind == object.AddrRef || ref.Kind == object.DataRef) && !contains(at, ref.From) {
			at = append(at, ref.From)
		}
	}
	return at
}

// unreached says whether nothing in the objects read reaches t's code:
// its own object neither calls it nor takes its address (nor exports
// it: the ksymtab entry takes its address), and, for a global symbol,
// no other object calls it or takes its address. The caller has found
// no direct caller.
func (r *run) unreached(t *Target) bool {
	f, err := r.e.Objects.File(t.ID.TU)
	if err != nil || r.funcIn(f, t) == nil || len(r.addressTaken(t)) > 0 {
		return false
	}
	if t.Symbol.Bind == elf.STB_LOCAL {
		return true
	}
	return len(r.externalAddrs(t)) == 0
}

// externalAddrs returns the other objects (and their functions or data)
// that take global t's address.
func (r *run) externalAddrs(t *Target) []string {
	if t.Symbol.Bind == elf.STB_LOCAL {
		return nil
	}
	var out []string
	for _, a := range r.externalAddrsTo(t.Symbol.Name) {
		if !contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// readCalls adds the calls the objects of units tus make to symbols they
// do not define to extCalls, by the called name.
func (r *run) readCalls(tus []string) {
	for _, tu := range tus {
		f, err := r.e.Objects.File(tu)
		if err != nil {
			// A caller in this object would go unseen: the search is
			// incomplete, whatever the unit's own functions are.
			r.unreadObject(tu, err)
			continue
		}
		for i, ref := range f.Refs {
			if (ref.Kind == object.Call || ref.Kind == object.TailCall) && len(f.Lookup(ref.To)) == 0 {
				c := callerOf(f, tu, ref)
				c.refIdx = i
				r.extCalls[ref.To] = append(r.extCalls[ref.To], c)
			}
		}
	}
}

// searchedUnits returns the units whose objects the search for callers
// reads, and the units with a dump but no object. Units linked into an
// image of their own (the vDSO, boot code) are left out: they cannot
// call into vmlinux or a module.
func (r *run) searchedUnits() (tus, noObject []string) {
	for _, tu := range r.e.Graph.TUs() {
		switch {
		case tu.HasObject && r.e.NotLinked != nil && r.e.NotLinked(tu.Name) != "":
		case tu.HasObject:
			tus = append(tus, tu.Name)
		default:
			noObject = append(noObject, tu.Name)
		}
	}
	return tus, noObject
}

// searchNotes says which objects the search for callers covered.
func (r *run) searchNotes(tus, noObject []string) {
	r.note(fmt.Sprintf("callers of global functions were searched in the %d objects read; objects not built or not given (other directories, modules) were not searched", len(tus)))
	if n := len(r.e.Graph.TUs()) - len(tus) - len(noObject); n > 0 {
		r.note(fmt.Sprintf("%d objects linked into neither vmlinux nor a module (vDSO, boot, real-mode or purgatory code: images of their own, by kbuild's archives and .mod files) were not searched for callers: they cannot call kernel functions", n))
	}
	if len(noObject) > 0 {
		r.note("units with a dump but no object (compiled to assembly only, or the object removed) could not be searched for callers: " + joinSorted(noObject))
	}
}

// readAddrs calls add for every reference unit tu's object makes to a
// symbol it does not define that takes its address: the name, where
// ("unit: function", or "unit" when only the symbol table tells) and an
// order within the object.
func (r *run) readAddrs(tu string, add func(name, at string, ord int)) {
	f, err := r.e.Objects.File(tu)
	if err != nil {
		r.unreadObject(tu, err)
		return
	}
	for i, ref := range f.Refs {
		if (ref.Kind == object.AddrRef || ref.Kind == object.DataRef) && len(f.Lookup(ref.To)) == 0 {
			add(ref.To, tu+": "+ref.From, i)
		}
	}
	for k, name := range f.ExternAddrs {
		add(name, tu, len(f.Refs)+k)
	}
}

// funcIn finds t's symbol in f.
func (r *run) funcIn(f *object.File, t *Target) *object.Func {
	for _, fn := range f.Lookup(t.Symbol.Name) {
		if fn.Value == t.Symbol.Value && fn.Shndx == t.Symbol.Shndx {
			return fn
		}
	}
	return nil
}

// addCallers makes the callers of t targets under rule; crossTU extends
// the search to other objects for a global t. A conditional t passes its
// condition on: its callers stand in for it.
func (r *run) addCallers(t *Target, rule, how, note string, sev Severity, crossTU bool) int {
	sev = r.inherit(t, rule, sev)
	if sev == Conditional && t.Severity == Conditional && t.cond != "" {
		via := ""
		if t.condOf != t.ID.Name {
			via = ", itself replaced for " + t.condOf
		}
		note = appendNote(note, "replaced for "+t.ID.Name+via+", which is "+t.cond)
	}
	n := 0
	for _, c := range r.callers(t, crossTU) {
		if r.addCaller(t, c, rule, how, note, sev) {
			if sev == Conditional && t.Severity == Conditional {
				r.inheritCondition(c, t)
			}
			n++
		}
	}
	return n
}

// inheritCondition passes the condition of conditional target t on to the
// target its caller c became (when c became one under that condition).
func (r *run) inheritCondition(c caller, t *Target) {
	ct := r.targets[callgraph.NodeID{Name: c.fn, TU: c.tu}]
	if ct == nil || ct.Severity != Conditional || ct.cond != "" {
		return
	}
	ct.cond, ct.condOf = t.cond, t.condOf
}

// addCaller makes caller c of t a target under rule, with the call site
// as the step's evidence; false when c names no function.
func (r *run) addCaller(t *Target, c caller, rule, how, note string, sev Severity) bool {
	if c.ref.From == "" {
		return false
	}
	obj := t.Object
	if tu, ok := r.e.Graph.TU(c.tu); ok {
		obj = tu.Object
	}
	stepSev := sev
	if stepSev == "" {
		stepSev = r.inherit(t, rule, "")
	}
	step := Step{From: t.ID.Name, To: c.fn, TU: c.tu, Rule: rule, How: how, Severity: stepSev,
		Evidence: fmt.Sprintf("%s: call site %s", obj, c.site)}
	chain := append(append([]Step(nil), t.Chain...), step)
	r.consider(callgraph.NodeID{Name: c.fn, TU: c.tu}, chain, rule, note, sev)
	return true
}

// inherit returns the severity of a target that rule adds because of t:
// the rule's (sev, or the policy's when empty), but never stronger than
// t's own: what follows from a review item is for review too, and what
// follows from a conditional one holds under the same condition.
func (r *run) inherit(t *Target, rule string, sev Severity) Severity {
	if sev == "" {
		sev = r.e.Policy.severity(rule)
	}
	if t.Severity.rank() < sev.rank() {
		return t.Severity
	}
	return sev
}

// finish sorts the answer and applies the ignore list.
func (r *run) finish() {
	for _, t := range r.targets {
		if ig := r.e.Policy.ignored(t.ID.Name, t.ID.TU, append([]string{t.Rule}, t.Also...)); ig != nil {
			t.Ignored = ig
		}
		r.res.Targets = append(r.res.Targets, t)
	}
	sort.Slice(r.res.Targets, func(i, j int) bool {
		a, b := r.res.Targets[i], r.res.Targets[j]
		if a.ID.TU != b.ID.TU {
			return a.ID.TU < b.ID.TU
		}
		if len(a.Chain) != len(b.Chain) {
			return len(a.Chain) < len(b.Chain)
		}
		return a.ID.Name < b.ID.Name
	})
	sort.Slice(r.res.Explained, func(i, j int) bool {
		a, b := r.res.Explained[i], r.res.Explained[j]
		if a.ID.TU != b.ID.TU {
			return a.ID.TU < b.ID.TU
		}
		return a.ID.Name < b.ID.Name
	})
	sort.Strings(r.res.Notes)
	for tu := range r.unchecked {
		r.res.NotLivepatchUnits = append(r.res.NotLivepatchUnits, tu)
	}
	sort.Strings(r.res.NotLivepatchUnits)
}

// flags returns the compile flags of unit tu, cached.
func (e *Engine) flags(tu string) ([]dwarfinfo.Flags, error) {
	e.flagsMu.Lock()
	defer e.flagsMu.Unlock()
	if e.flagsCache == nil {
		e.flagsCache = map[string]flagsEntry{}
	}
	if c, ok := e.flagsCache[tu]; ok {
		return c.f, c.err
	}
	var fl []dwarfinfo.Flags
	var err error
	if e.Flags != nil {
		fl, err = e.Flags(tu)
	} else if us, ok := e.storedUnits(tu); ok {
		for _, u := range us {
			fl = append(fl, u.Flags)
		}
	} else {
		t, _ := e.Graph.TU(tu)
		obj := t.Object
		if obj == "" {
			obj = tu
		}
		var units []dwarfinfo.Unit
		units, err = dwarfinfo.Producers(obj)
		for _, u := range units {
			fl = append(fl, u.Flags)
		}
		if err == nil && len(fl) == 0 {
			err = fmt.Errorf("%s: no compile unit with a producer", obj)
		}
	}
	e.flagsCache[tu] = flagsEntry{fl, err}
	return fl, err
}

// liveAnalyses returns which analyses were live in unit tu (over all its
// compile units: any live counts), and whether the unit has ftrace
// entries (compiled with -pg/-mfentry or -fpatchable-function-entry).
func (r *run) liveAnalyses(tu string) (live map[string]string, ftrace bool, ok bool) {
	fl, err := r.e.flags(tu)
	if err != nil {
		r.problem(tu, fmt.Sprintf("compile flags of %s unknown (%v): which IPA analyses callers rely on cannot be told", tu, err))
		return nil, false, false
	}
	live = map[string]string{}
	for _, f := range fl {
		for _, a := range f.Analyses() {
			if a.Live {
				live[a.Name] = a.Why
			}
		}
		if f.Ftrace() != "none" && f.Ftrace() != "" {
			ftrace = true
		}
	}
	return live, ftrace, true
}

func hex(v uint64) string { return fmt.Sprintf("%#x", v) }

// remove returns xs without s.
func remove(xs []string, s string) []string {
	var out []string
	for _, x := range xs {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func joinSorted(xs []string) string {
	sort.Strings(xs)
	return strings.Join(xs, ", ")
}
