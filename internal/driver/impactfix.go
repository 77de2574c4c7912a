package driver

import (
	"fmt"
	"strings"

	"github.com/klp-audit/klp-audit/livepatch"
	"github.com/klp-audit/klp-audit/report"
	"github.com/klp-audit/klp-audit/rules"
)

// resolveByRebuild resolves impacted's answer a with the fix fx, by the
// rebuild check does (rebuild): the units the fix touches are compiled,
// original and patched, and a conditional or review target whose code
// changed becomes must ("confirmed by the rebuild"), one whose code did
// not change is dropped with its reason, and a function that changed
// although nothing predicted it is added as a decision shift. The
// targets of the other functions the fix changes join the answer, which
// is then the fix's. With --no-rebuild, or without the tree's sources
// or .cmd files, the report says once that the answer is the prediction.
func (sess *Session) resolveByRebuild(o Options, q ImpactQuery, fx *fixInput, pending *pendingRebuild, a *Answer, policy *rules.Policy, linked *livepatch.LinkedFiles) {
	res := a.Result
	var probs []report.Problem
	hunks, changed, macro, hprobs, err := sess.fixFunctions(fx, q.Fix)
	if err != nil {
		probs = append(probs, report.Problem{File: q.Fix, Kind: report.KindFailClosed, Message: err.Error()})
	}
	probs = append(probs, hprobs...)

	// The prediction: the queried function's answer, and those of the
	// other functions the fix changes.
	preds := []*report.Result{res}
	var others []string
	asked := false
	sess.graph.Want(changedNames(changed)...) // one search of the dumps for all
	for _, c := range changed {
		if c.name == q.Func {
			asked = true
			continue
		}
		others = append(others, c.name)
		b, err := sess.Impacted(ImpactQuery{Func: c.name, File: c.file}, policy, linked)
		if err != nil {
			probs = append(probs, report.Problem{File: c.file, Line: c.line, Kind: report.KindFailClosed,
				Message: fmt.Sprintf("the fix changes %s, whose must-patch set is unknown: %v", c.name, err)})
			continue
		}
		preds = append(preds, b.Result)
		probs = append(probs, b.Result.Problems...)
	}
	if !asked {
		res.Notes = append(res.Notes, fmt.Sprintf("the fix changes no line of %s's body: the answer is what the rebuild shows of the fix", q.Func))
	}
	if len(others) > 0 {
		res.Notes = append(res.Notes, "the fix also changes "+strings.Join(others, ", ")+": their targets are in the answer")
	}
	targets := map[tkey]report.CheckTarget{}
	var order []tkey
	var ignored []report.Target
	for i, p := range preds {
		for _, t := range p.Targets {
			if t.IgnoredBecause != "" {
				if i == 0 {
					ignored = append(ignored, t)
				}
				continue
			}
			k := tkey{t.Name, t.TU}
			if _, ok := targets[k]; !ok {
				order = append(order, k)
				targets[k] = report.CheckTarget{Target: t, Because: p.Query.Function}
			}
		}
	}

	impact := func(name, tu string) (*report.Result, error) {
		b, err := sess.Impacted(ImpactQuery{Func: name, TU: tu}, policy, linked)
		if err != nil {
			return nil, err
		}
		return b.Result, nil
	}
	var rb *report.CheckRebuild
	if q.Rebuild.Off {
		rb = &report.CheckRebuild{Note: "--no-rebuild: the answer is the prediction, not checked by rebuilding"}
	} else {
		var rprobs []report.Problem
		rb, order, rprobs = pending.finish(rebuildInput{o: o, ro: q.Rebuild, files: fx.asGiven, sources: fx.sources,
			changed: changed, preds: preds, impact: impact, hunks: hunks, unread: sess.unreadUnit}, targets, order)
		probs = append(probs, rprobs...)
	}
	// No livepatch here: a changed function is covered by nothing yet.
	for i := range rb.Functions {
		f := &rb.Functions[i]
		f.Coverage, f.CoveredBy, f.Why = "", nil, ""
	}

	probs = append(probs, unknownHunks(hunks, rb.Rebuilt)...)
	if macro && !rb.Rebuilt {
		probs = append(probs, macroProblem(q.Fix))
	}
	if fixChangesData(hunks, rb) {
		// check's verdict data-change: replacing functions does not
		// apply the fix.
		probs = append(probs, report.Problem{File: q.Fix, Kind: report.KindFailClosed,
			Message: "the fix changes data (an initial value, a type's layout or a static local) that no klp_func replacement carries: replacing these functions does not apply it (check says data-change)"})
	}
	res.Rebuild = rb
	res.Targets = append([]report.Target{}, ignored...)
	res.Summary.Must, res.Summary.Conditional, res.Summary.Review = 0, 0, 0
	for _, k := range order {
		t := targets[k].Target
		switch t.Severity {
		case string(rules.Must):
			res.Summary.Must++
		case string(rules.Conditional):
			res.Summary.Conditional++
		default:
			res.Summary.Review++
		}
		res.Targets = append(res.Targets, t)
	}
	res.Problems = uniqueProblems(append(res.Problems, probs...))
	if missingEvidence(probs) {
		res.Complete = false
	}
}
