package driver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/object"
	"github.com/klp-audit/klp-audit/report"
	"github.com/klp-audit/klp-audit/rules"
)

// Explain explains why want (NAME or NAME@TU) is a target of the answer,
// or why it is not: its chain from the changed function, each hop backed
// by its evidence (the dump line, the call instructions), and the
// symbols of every function on it.
func (a *Answer) Explain(want string) (*report.Explanation, error) {
	name, tu, _ := strings.Cut(want, "@")
	res := a.Result
	x := &report.Explanation{SchemaVersion: report.ExplainSchemaVersion, Tool: res.Tool, Query: report.ExplainQuery{Query: res.Query, Explain: want},
		Complete: res.Complete, Problems: res.Problems, Chain: []report.ExplainStep{}}
	if x.Problems == nil {
		x.Problems = []report.Problem{}
	}
	var targets []int
	for i, t := range res.Targets {
		if t.Name == name && (tu == "" || matchTU(t.TU, tu)) {
			targets = append(targets, i)
		}
	}
	var chain []report.Step
	switch {
	case len(targets) == 1:
		t := res.Targets[targets[0]]
		x.Target = &report.ExplainTarget{Name: t.Name, TU: t.TU, Object: t.Object, KLPObject: t.KLPObject,
			SourceFile: t.SourceFile, SourceLine: t.SourceLine, Binding: t.Binding, Severity: t.Severity,
			Rule: t.Rule, Also: t.Also, Note: t.Note, OldSympos: t.OldSympos, OldSymposEvidence: t.OldSymposEvidence,
			IgnoredBecause: t.IgnoredBecause}
		x.Target.Symbols, _ = a.symbols(t.Name, t.TU)
		chain = t.Chain
	case len(targets) > 1:
		var tus []string
		for _, i := range targets {
			tus = append(tus, name+"@"+res.Targets[i].TU)
		}
		return nil, Inputf("%s is a target in %d translation units: give one of %s", name, len(targets), strings.Join(tus, ", "))
	default:
		var found []rules.Explained
		if a.rules != nil {
			for _, e := range a.rules.Explained {
				if e.ID.Name == name && (tu == "" || matchTU(e.ID.TU, tu)) {
					found = append(found, e)
				}
			}
		}
		switch len(found) {
		case 0:
			return nil, Inputf("%s is not among the %d targets or the functions explained on their chains%s", want, len(res.Targets), targetList(res))
		case 1:
		default:
			var tus []string
			for _, e := range found {
				tus = append(tus, name+"@"+e.ID.TU)
			}
			return nil, Inputf("%s is on the chains in %d translation units: give one of %s", name, len(found), strings.Join(tus, ", "))
		}
		e := found[0]
		x.NotTarget = &report.ExplainNot{Name: e.ID.Name, TU: e.ID.TU, Rule: e.Rule, Why: e.Why}
		for _, st := range e.Chain {
			chain = append(chain, reportStep(st))
		}
	}
	// The chain starts at a changed function; with no step the function
	// is the changed one itself.
	start := callgraph.NodeID{Name: name, TU: tu}
	switch {
	case len(chain) > 0:
		start = callgraph.NodeID{Name: chain[0].From, TU: chain[0].TU}
	case x.Target != nil:
		start = callgraph.NodeID{Name: x.Target.Name, TU: x.Target.TU}
	case x.NotTarget != nil:
		start = callgraph.NodeID{Name: x.NotTarget.Name, TU: x.NotTarget.TU}
	}
	x.Changed = report.ExplainFunc{Name: start.Name, TU: start.TU}
	x.Changed.Symbols, x.Changed.NotEmitted = a.symbols(start.Name, start.TU)
	for _, st := range chain {
		x.Chain = append(x.Chain, a.explainStep(st))
	}
	return x, nil
}

// targetList names up to 20 targets for an error message.
func targetList(res *report.Result) string {
	var names []string
	for _, t := range res.Targets {
		names = append(names, t.Name+"@"+t.TU)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	more := ""
	if len(names) > 20 {
		more = fmt.Sprintf(" and %d more", len(names)-20)
		names = names[:20]
	}
	return "; the targets are: " + strings.Join(names, ", ") + more
}

// symbols returns the symbols of function name in unit tu, or why there
// are none.
func (a *Answer) symbols(name, tu string) ([]report.ExplainSymbol, string) {
	out := []report.ExplainSymbol{}
	if a.objs == nil {
		return out, "objects not read"
	}
	ev := a.objs.Evidence(callgraph.NodeID{Name: name, TU: tu})
	switch ev.Emission {
	case callgraph.NotEmitted:
		return out, ev.Why
	case callgraph.EmissionUnknown:
		return out, "unknown: " + ev.Why
	}
	for _, s := range ev.Symbols {
		out = append(out, report.ExplainSymbol{Object: ev.Object, Symbol: symbolOf(s)})
	}
	return out, ""
}

// report.ExplainStep backs one step with its evidence: the dump line, or the
// call sites in the object.
func (a *Answer) explainStep(st report.Step) report.ExplainStep {
	xs := report.ExplainStep{Step: st}
	if xs.Rule == "" {
		xs.Rule = rules.Containment
	}
	// The severity this hop has: the rules record it with the step (for
	// caller-assumptions, that of the live IPA passes of its side, never
	// stronger than the hop before); the rule's own otherwise.
	xs.RuleSeverity = st.Severity
	if rp, ok := a.policy.Rules[xs.Rule]; ok && xs.RuleSeverity == "" {
		xs.RuleSeverity = string(rp.Severity)
	}
	xs.Symbols, xs.NotEmitted = a.symbols(st.To, st.TU)
	switch {
	case xs.Rule == rules.Containment:
		pos := st.At
		if pos == nil {
			xs.Problem = "no dump line records this step"
			break
		}
		if pos.DWARF {
			xs.Problem = fmt.Sprintf("recorded by DWARF (an inlined subroutine at source line %d), not by a dump line", pos.Line)
			break
		}
		text, err := readLine(pos.File, pos.Line)
		if err != nil {
			xs.Problem = err.Error()
			break
		}
		xs.DumpLine = &report.DumpLine{File: pos.File, Line: pos.Line, Text: text}
	case st.How == rules.StepSameBody:
		// The evidence is the symbols: both are listed, at one address.
	default:
		xs.CallSites, xs.Problem = a.callSites(st)
	}
	return xs
}

// maxQuoted caps a quoted dump line.
const maxQuoted = 4096

// readLine returns line n (1-based) of file, without its line end.
func readLine(file string, n int) (string, error) {
	f, err := ipadump.OpenDump(file)
	if err != nil {
		return "", fmt.Errorf("dump line not quoted: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f.Reader())
	for i := 1; ; i++ {
		l, err := r.ReadString('\n')
		if i == n {
			l = strings.TrimRight(l, "\r\n")
			if len(l) > maxQuoted {
				l = l[:maxQuoted] + "..."
			}
			return report.Printable(l), nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", fmt.Errorf("%s has %d lines, not %d: it changed since it was read", file, i, n)
			}
			return "", fmt.Errorf("dump line not quoted: %w", err)
		}
	}
}

// maxSites caps the call sites listed per step.
const maxSites = 16

// callSites finds, in the object of st.TU, the calls and jumps from
// st.To's code to st.From (from st.From's to st.To for a callee-side step
// of caller-assumptions, where From calls To), and disassembles each.
func (a *Answer) callSites(st report.Step) ([]report.CallSite, string) {
	t, ok := a.ev.graph.TU(st.TU)
	if !ok || !t.HasObject {
		return nil, "no object for " + st.TU
	}
	f, err := a.ev.objectCache().File(st.TU)
	if err == nil && !f.HasCode() {
		// The objects were read without their code (no --explain
		// asked for when the query ran): read this one again.
		f, err = object.OpenCode(t.Object)
	}
	if err != nil {
		return nil, "call sites not read: " + err.Error()
	}
	caller, callee := st.To, st.From
	if st.How == rules.StepCalls {
		caller, callee = st.From, st.To
	}
	callees := map[string]bool{callee: true}
	for _, fn := range f.Lookup(callee) {
		for _, al := range fn.Aliases {
			callees[al] = true
		}
	}
	var out []report.CallSite
	more := 0
	// The caller's code is its own and that of its cold pieces
	// (coldcaller.cold), where a call on an unlikely path sits.
	var pieces []*object.Func
	for _, fn := range f.Lookup(caller) {
		pieces = append(pieces, fn)
		for _, c := range fn.Cold {
			pieces = append(pieces, f.Lookup(c)...)
		}
	}
	for _, piece := range pieces {
		for _, r := range f.RefsFrom(piece) {
			if !callees[r.To] || (r.Kind != object.Call && r.Kind != object.TailCall) {
				continue
			}
			if len(out) == maxSites {
				more++
				continue
			}
			out = append(out, callSiteOf(f.DescribeSite(piece, r)))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Sprintf("no call from %s to %s found in %s", caller, callee, t.Object)
	}
	if more > 0 {
		return out, fmt.Sprintf("%d more call sites not listed", more)
	}
	return out, ""
}

// callSiteOf is the report's form of a described call site.
func callSiteOf(s object.Site) report.CallSite {
	return report.CallSite{Object: s.Object, Caller: s.Caller, Kind: refKindName(s.Kind), Section: s.Section,
		Offset: s.Offset, FuncOffset: s.FuncOffset, Bytes: s.Bytes, Instruction: s.Instruction, Relocation: s.Relocation}
}
