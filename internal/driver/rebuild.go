package driver

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/klp-audit/klp-audit/internal/progress"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/kbuild"
	"github.com/klp-audit/klp-audit/livepatch"
	"github.com/klp-audit/klp-audit/objdiff"
	"github.com/klp-audit/klp-audit/patch"
	"github.com/klp-audit/klp-audit/report"
	"github.com/klp-audit/klp-audit/rules"
)

// RebuildOptions tune check's rebuild of the units a fix touches.
type RebuildOptions struct {
	// Off keeps the prediction-only answer (--no-rebuild).
	Off bool
	// Jobs is how many compilers run at once; 0 is the number of CPUs.
	Jobs int
	// CacheDir keeps rebuilt originals; "" is kbuild.DefaultCacheDir(),
	// "off" keeps none.
	CacheDir string
	// MaxUnits caps the units rebuilt (a header read by thousands of
	// units); 0 is DefaultMaxUnits. Above it the answer is the
	// prediction, and the report says so.
	MaxUnits int
}

// DefaultMaxUnits is the default cap on the units one check rebuilds.
const DefaultMaxUnits = 64

// substitution rules put callers in the place of a changed function that
// cannot be replaced itself.
var substitution = map[string]bool{"not-patchable": true, "changed-abi": true, "icf": true}

// tkey is a target's key: name and translation unit.
type tkey struct{ name, tu string }

// rebuildInput is what check knows when it rebuilds.
type rebuildInput struct {
	o     Options
	ro    RebuildOptions
	files []patch.File
	// sources are the build's files and the fix applied to each
	// (locateFix).
	sources *fixTexts
	// changed are the functions the hunks change; preds their impacted
	// answers (the prediction).
	changed []changedFunc
	preds   []*report.Result
	lp      []livepatch.Func
	// hunks are the fix's hunks, classified; unread says why the
	// session read neither the dump nor the DWARF of a unit's object
	// ("" when it read one): the units of a header are chosen with them
	// (selectHeaderUnits).
	hunks  []report.Hunk
	unread func(obj string) string
	// impact answers impacted for one function of one unit (for a
	// function that changed although nothing predicted it).
	impact func(name, tu string) (*report.Result, error)
}

// unitRun is one rebuilt unit.
type unitRun struct {
	u            kbuild.Unit
	obj          string // absolute path of the tree's object
	tu           string // the unit's name in the build (relative to its --build directory)
	orig, patchd *kbuild.Rebuilt
	// diff is the comparison of the original with the patched build
	// (with the line-neutral build when there is one: see
	// lineNeutralDiff); exactShift names its line shifts that the
	// line-neutral build proves.
	diff       *objdiff.ObjectDiff
	exactShift map[string]bool
	ru         report.RebuiltUnit
}

// lineNeutralDiff makes d, the comparison of the original with the
// patched build, the comparison with the line-neutral build n (the
// patched source with the original's line numbers after each changed
// region): its changed, added and removed functions and data are n's,
// and its line shifts those functions that differ in d but equal the
// original in n (exact, returned), plus those n's own reading of the
// line table still takes for line shifts.
func lineNeutralDiff(d, n *objdiff.ObjectDiff) map[string]bool {
	inN := map[string]bool{}
	for _, c := range n.Changed {
		inN[c.Name] = true
	}
	for _, c := range n.LineShiftOnly {
		inN[c.Name] = true
	}
	for _, f := range n.Removed {
		inN[f.Name] = true
	}
	exact := map[string]bool{}
	shifts := append([]objdiff.Change(nil), n.LineShiftOnly...)
	for _, c := range append(append([]objdiff.Change(nil), d.Changed...), d.LineShiftOnly...) {
		if !inN[c.Name] {
			exact[c.Name] = true
			shifts = append(shifts, c)
		}
	}
	sort.SliceStable(shifts, func(i, j int) bool { return shifts[i].Name < shifts[j].Name })
	d.Changed, d.LineShiftOnly, d.Added, d.Removed, d.DataChanges = n.Changed, shifts, n.Added, n.Removed, n.DataChanges
	return exact
}

// firstLine is s up to its first newline.
func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// pendingRebuild is the rebuild of the units a fix touches, original,
// patched and line-neutral; their comparison turns the prediction into
// the rebuild's answer: predicted targets whose code did not change are
// dropped, changed functions nothing predicted are added. Its compiles
// run while the prediction is made: startRebuild starts it with what the
// fix and the tree say (in's o, ro, files, locs and sources); finish
// waits for them and answers; stop ends it, finished or not, and
// removes its scratch directory.
type pendingRebuild struct {
	off   bool
	early *report.CheckRebuild // the answer when nothing is compiled (a fallback)
	// headers, when the fix changes a header, wait for the prediction
	// to choose their units (finish starts the compiles then); note
	// says what was chosen.
	headers *pendingHeaders
	note    string
	probs   []report.Problem
	runs    []*unitRun
	jobs    []kbuild.Job
	neutral bool
	done    chan []kbuild.Done
	ctx     context.Context
	cancel  context.CancelFunc
	scratch string
	t0      time.Time
	// noUnit are the fix's files (by the name their hunks carry) that no
	// unit of the build compiles or includes.
	noUnit map[string]bool
}

// startRebuild finds the units the fix touches and starts compiling
// them, original, patched and line-neutral, in the background.
func startRebuild(in rebuildInput) *pendingRebuild {
	p := &pendingRebuild{}
	if in.ro.Off {
		p.off = true
		return p
	}
	fallback := func(why string) *pendingRebuild {
		p.early = &report.CheckRebuild{Note: why + ": the answer is the prediction, not checked by rebuilding"}
		return p
	}
	var probs []report.Problem

	// The patched files, and their line-neutral form.
	patched, lineNeutral, directives := map[string][]byte{}, map[string][]byte{}, 0
	for i, f := range in.files {
		fixed := in.sources.fixed[i]
		if err := in.sources.errs[i]; err != nil {
			return fallback(fmt.Sprintf("the fix could not be applied to %s (%v)", f.OldName, err))
		}
		patched[f.OldName] = []byte(strings.Join(fixed.Lines, "\n") + "\n")
		ln, n := fixed.LineNeutral()
		lineNeutral[f.OldName] = []byte(strings.Join(ln, "\n") + "\n")
		directives += n
	}
	var neutral map[string][]byte
	if directives > 0 {
		neutral = lineNeutral
	}

	// The units: a .c file's are known now; a header's are chosen once
	// the prediction says which units hold the code of the functions its
	// hunks change (see selectHeaderUnits), so their compiles start then.
	var runs []*unitRun
	var headers []headerFile
	for _, f := range in.files {
		us, err := kbuild.Units(in.o.Builds, f.OldName)
		if err != nil {
			return fallback(fmt.Sprintf("the build's kbuild .cmd files could not be read (%v)", err))
		}
		if len(us) == 0 {
			if p.noUnit == nil {
				p.noUnit = map[string]bool{}
			}
			p.noUnit[f.Name()] = true
		}
		if isHeader(f.OldName) {
			headers = append(headers, headerFile{file: f.OldName, name: f.Name(), cands: us})
			continue
		}
		for _, u := range us {
			if u.Err != nil {
				probs = append(probs, report.Problem{File: u.Cmd.Path, Kind: report.KindFailClosed,
					Message: fmt.Sprintf("this unit reads %s but cannot be rebuilt (its answer is the prediction): %v", f.OldName, u.Err)})
				continue
			}
			runs = append(runs, newUnitRun(in.o.Builds, u))
		}
	}
	p.probs = probs
	if len(headers) > 0 {
		p.headers = &pendingHeaders{files: headers, runs: runs, patched: patched, neutral: neutral}
		return p
	}
	return p.launch(in, runs, patched, neutral)
}

// newUnitRun is the run of unit u, found under one of builds.
func newUnitRun(builds []string, u kbuild.Unit) *unitRun {
	obj, _ := filepath.Abs(filepath.Join(u.Root, filepath.FromSlash(u.Cmd.Target)))
	return &unitRun{u: u, obj: obj, tu: tuName(builds, obj, u.Cmd.Target)}
}

// pendingHeaders are the fix's headers, whose units are chosen once the
// prediction is made, with the units and files already known.
type pendingHeaders struct {
	files            []headerFile
	runs             []*unitRun
	patched, neutral map[string][]byte
}

// launch starts compiling runs (each unit once), original, patched and
// line-neutral (when neutral is not nil), in the background; the
// problems found so far are p.probs. A fix whose units cannot be rebuilt
// sets p.early.
func (p *pendingRebuild) launch(in rebuildInput, all []*unitRun, patched, neutral map[string][]byte) *pendingRebuild {
	fallback := func(why string) *pendingRebuild {
		p.early = &report.CheckRebuild{Note: why + ": the answer is the prediction, not checked by rebuilding"}
		return p
	}
	seen := map[string]bool{}
	var runs []*unitRun
	for _, r := range all {
		if !seen[r.obj] {
			seen[r.obj] = true
			runs = append(runs, r)
		}
	}
	if len(runs) == 0 {
		if len(p.probs) > 0 {
			p.early = &report.CheckRebuild{Note: "no unit the fix touches can be rebuilt: the answer is the prediction"}
			return p
		}
		return fallback("no kbuild .cmd file of the build compiles or reads the files the fix changes (the build has no sources or .cmd files)")
	}
	maxUnits := in.ro.MaxUnits
	if maxUnits <= 0 {
		maxUnits = DefaultMaxUnits
	}
	if len(runs) > maxUnits {
		return fallback(fmt.Sprintf("the fix touches %d units, more than the cap of %d (--rebuild-max)", len(runs), maxUnits))
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].obj < runs[j].obj })

	scratch, err := os.MkdirTemp("", "klp-audit-rebuild-")
	if err != nil {
		return fallback(fmt.Sprintf("no scratch directory (%v)", err))
	}
	p.scratch = scratch
	b := &kbuild.Builder{Scratch: scratch}
	switch in.ro.CacheDir {
	case "off":
	case "":
		if d, err := kbuild.DefaultCacheDir(); err == nil {
			b.CacheDir = d
		}
	default:
		b.CacheDir = in.ro.CacheDir
	}
	if b.CacheDir != "" && insideAny(b.CacheDir, runs) {
		os.RemoveAll(scratch)
		p.scratch = ""
		return fallback(fmt.Sprintf("the rebuild cache %s lies inside the tree, which is never written", b.CacheDir))
	}
	// Three builds of each unit, in parallel: the original, the patched
	// source, and the patched source with "#line" directives after each
	// changed region (line-neutral: what did not change keeps its line
	// numbers), when the fix moves lines at all. Only the original must
	// be the tree's object, debugging information included; the others
	// are compared by their code, which -g does not change, and compile
	// in about half the time without it. The originals, the longest,
	// start first.
	n := len(runs)
	jobs := make([]kbuild.Job, 0, 3*n)
	for _, r := range runs {
		jobs = append(jobs, kbuild.Job{Unit: r.u, Label: "orig"})
	}
	for _, r := range runs {
		jobs = append(jobs, kbuild.Job{Unit: r.u, Files: patched, Label: "patched", NoDebug: true})
	}
	if neutral != nil {
		for _, r := range runs {
			jobs = append(jobs, kbuild.Job{Unit: r.u, Files: neutral, Label: "neutral", NoDebug: true})
		}
	}
	workers := in.ro.Jobs
	if workers <= 0 {
		// One more than the CPUs, as make -j: the three compiles of a
		// one-file fix run at once.
		workers = runtime.NumCPU() + 1
	}
	p.runs, p.jobs, p.neutral = runs, jobs, neutral != nil
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.done = make(chan []kbuild.Done, 1)
	p.t0 = time.Now()
	go func() {
		bar := progress.New(len(jobs), fmt.Sprintf("rebuilding %s", plural(len(runs), "unit", "units")))
		done := b.RunAll(p.ctx, jobs, workers, bar)
		bar.Done()
		p.done <- done
	}()
	return p
}

// stop ends the rebuild: compiles still running are killed, and the
// scratch directory is removed.
func (p *pendingRebuild) stop() {
	if p.cancel != nil {
		p.cancel()
		<-p.done
		p.done <- nil // stop may be called again
	}
	if p.scratch != "" {
		os.RemoveAll(p.scratch)
		p.scratch = ""
	}
}

// finish waits for the compiles, compares the builds and turns the
// prediction (targets, in order; in's changed, preds, lp and impact) into
// the rebuild's answer. It returns the report's rebuild part (nil with
// --no-rebuild), the new target order and the problems found.
func (p *pendingRebuild) finish(in rebuildInput, targets map[tkey]report.CheckTarget, order []tkey) (*report.CheckRebuild, []tkey, []report.Problem) {
	if p.off {
		return nil, order, nil
	}
	if p.headers != nil {
		h := p.headers
		p.headers = nil
		runs, note, probs := selectHeaderUnits(in, h.files)
		p.note, p.probs = note, append(p.probs, probs...)
		switch all := append(h.runs, runs...); {
		case len(all) == 0 && len(p.probs) == 0 && note != "":
			p.early = &report.CheckRebuild{Note: note + ": nothing is rebuilt, the answer is the prediction"}
		default:
			p.launch(in, all, h.patched, h.neutral)
			if p.early != nil && note != "" {
				p.early.Note = note + "; " + p.early.Note
			}
		}
	}
	if p.early != nil {
		return p.early, order, p.probs
	}
	runs, jobs, probs, ctx, hasNeutral := p.runs, p.jobs, p.probs, p.ctx, p.neutral
	n := len(runs)
	t0 := time.Now()
	done := <-p.done
	p.done <- done
	for i, d := range done {
		phase(fmt.Sprintf("  compile %s %s", jobs[i].Label, jobs[i].Unit.Cmd.Target), time.Now().Add(-d.Took))
	}
	phase("compiles (in parallel), from their start", p.t0)
	phase("waiting for the compiles after the prediction", t0)

	out := &report.CheckRebuild{Rebuilt: true, Note: p.note, Units: []report.RebuiltUnit{}, Functions: []report.RebuiltFunc{}, Dropped: []report.DroppedTarget{}}
	rebuilt := map[string]*unitRun{} // by absolute object path
	for i, r := range runs {
		o, p := done[i], done[n+i]
		r.ru = report.RebuiltUnit{Object: r.u.Cmd.Target, Source: r.u.Cmd.Source}
		if o.Err != nil || p.Err != nil {
			err := o.Err
			what := "the original"
			if err == nil {
				err, what = p.Err, "the patched source"
			}
			probs = append(probs, report.Problem{File: r.u.Cmd.Source, Kind: report.KindFailClosed,
				Message: fmt.Sprintf("%s of %s could not be rebuilt (its answer is the prediction): %v", what, r.u.Cmd.Target, err)})
			continue
		}
		r.orig, r.patchd = o.Rebuilt, p.Rebuilt
		r.ru.Cached = o.Rebuilt.Cached
		t0 = time.Now()
		f, err := kbuild.Faithful(ctx, r.u.Cmd, r.orig, r.obj)
		t0 = phase("the proof (objtool, compare with the tree's)", t0)
		switch {
		case err != nil:
			r.ru.Note = "not compared with the tree's object: " + err.Error()
		default:
			r.ru.Identical, r.ru.Note, r.ru.Differences = f.Identical, f.Note, f.Differences
			r.ru.Faithful = len(f.Differences) == 0
		}
		if !r.ru.Faithful {
			probs = append(probs, report.Problem{File: r.u.Cmd.Target, Kind: report.KindFailClosed,
				Message: "the rebuilt original differs from the tree's object, so the rebuild may not show what the fix changes in it: " +
					orText(strings.Join(r.ru.Differences, "; "), r.ru.Note)})
		}
		rep, err := objdiff.CompareFiles(r.orig.Object, r.patchd.Object)
		if err != nil {
			probs = append(probs, report.Problem{File: r.u.Cmd.Target, Kind: report.KindFailClosed,
				Message: "the rebuilt objects could not be compared (its answer is the prediction): " + err.Error()})
			continue
		}
		r.diff = &rep.Objects[0]
		t0 = phase("comparing original and patched", t0)
		switch {
		case !hasNeutral:
			// No line moved: every difference is a real one.
			r.diff.Changed = append(r.diff.Changed, r.diff.LineShiftOnly...)
			r.diff.LineShiftOnly = nil
			r.ru.LineNeutral = true
		case done[2*n+i].Err != nil:
			r.ru.Note = joinNote(r.ru.Note, "the line-neutral build failed, so line shifts are objdiff's reading of the line table: "+
				firstLine(done[2*n+i].Err.Error()))
		default:
			nrep, err := objdiff.CompareFiles(r.orig.Object, done[2*n+i].Rebuilt.Object)
			if err != nil {
				r.ru.Note = joinNote(r.ru.Note, "the line-neutral build could not be compared, so line shifts are objdiff's reading of the line table: "+err.Error())
				break
			}
			r.exactShift = lineNeutralDiff(r.diff, &nrep.Objects[0])
			r.ru.LineNeutral = true
			phase("comparing original and line-neutral", t0)
		}
		out.Units = append(out.Units, r.ru)
		rebuilt[r.obj] = r
	}
	if len(rebuilt) == 0 {
		out.Rebuilt = false
		out.Note = "no unit could be rebuilt: the answer is the prediction"
		return out, order, probs
	}
	t0 = time.Now()
	order = answerFromRebuild(in, out, rebuilt, targets, order, &probs)
	phase("the answer from the rebuild", t0)
	return out, order, append(probs, notRebuiltHunks(in.hunks, p.noUnit)...)
}

// notRebuiltHunks returns a fail-closed problem for each hunk that only
// a rebuild places (data, a macro, or what the diff cannot tell) in a
// file no unit of the build compiles (noUnit, by the hunks' names): the
// rebuild of the fix's other files shows nothing of it.
func notRebuiltHunks(hunks []report.Hunk, noUnit map[string]bool) []report.Problem {
	var out []report.Problem
	for _, h := range hunks {
		if !noUnit[h.File] || h.Kind != patch.KindData && h.Kind != patch.KindMacro && h.Kind != patch.KindUnknown {
			continue
		}
		out = append(out, report.Problem{File: h.File, Line: h.Line, Kind: report.KindFailClosed,
			Message: fmt.Sprintf("no kbuild .cmd file of the build compiles %s, so the rebuild does not show what this %s hunk changes", h.File, h.Kind)})
	}
	return out
}

func orText(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// insideAny says dir lies inside the tree of one of the runs.
func insideAny(dir string, runs []*unitRun) bool {
	d, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for _, r := range runs {
		root, _ := filepath.Abs(r.u.Root)
		if d == root || strings.HasPrefix(d, root+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// tuName is the translation unit name the session gives the object at
// obj: its path relative to the --build directory holding it.
func tuName(builds []string, obj, target string) string {
	for _, b := range builds {
		ab, err := filepath.Abs(b)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(ab, obj); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return target
}

// absObject is a target's or entry's object as an absolute path.
func absObject(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// fkey is a function of one object: name and absolute object path.
type fkey struct{ name, obj string }

// answerFromRebuild fills out from the comparisons and adjusts targets.
func answerFromRebuild(in rebuildInput, out *report.CheckRebuild, rebuilt map[string]*unitRun,
	targets map[tkey]report.CheckTarget, order []tkey, probs *[]report.Problem) []tkey {
	// The prediction, indexed by function.
	srcChanged := map[string]bool{}
	for _, c := range in.changed {
		srcChanged[c.name] = true
	}
	type entryInfo struct {
		chain []report.Step
		depth int
	}
	entries := map[fkey]entryInfo{}
	explained := map[fkey]report.Explained{}
	for _, p := range in.preds {
		for _, e := range p.Entries {
			k := fkey{e.Name, absObject(e.Object)}
			if old, ok := entries[k]; !ok || e.Depth < old.depth {
				entries[k] = entryInfo{e.Chain, e.Depth}
			}
		}
		for _, x := range p.Explained {
			for _, r := range rebuilt {
				if r.tu == x.TU {
					explained[fkey{x.Name, r.obj}] = x
				}
			}
		}
	}
	targetAt := map[fkey]tkey{}
	for _, k := range order {
		targetAt[fkey{k.name, absObject(targets[k].Object)}] = k
	}

	// What changed, per unit.
	changedFn := map[fkey]bool{}
	lineShift := map[fkey]bool{}
	var objs []string
	for o := range rebuilt {
		objs = append(objs, o)
	}
	sort.Strings(objs)
	for _, o := range objs {
		r := rebuilt[o]
		for _, c := range r.diff.Changed {
			changedFn[fkey{c.Name, o}] = true
		}
		for _, c := range r.diff.LineShiftOnly {
			lineShift[fkey{c.Name, o}] = true
		}
		for _, f := range r.diff.Removed {
			changedFn[fkey{f.Name, o}] = true
		}
	}

	// Predicted targets the rebuild shows unchanged are dropped.
	var kept []tkey
	for _, k := range order {
		t := targets[k]
		obj := absObject(t.Object)
		if _, ok := rebuilt[obj]; !ok {
			kept = append(kept, k)
			continue
		}
		if changedFn[fkey{t.Name, obj}] {
			// Its code changed: whatever the prediction's tier, the
			// livepatch must replace it.
			targets[k] = confirmed(t)
			kept = append(kept, k)
			continue
		}
		reason := ""
		if s, ok := substituted(t); ok {
			sobj := stepObject(s, t, rebuilt)
			if _, ok := rebuilt[sobj]; !ok {
				kept = append(kept, k)
				continue
			}
			if changedFn[fkey{s.From, sobj}] {
				targets[k] = confirmed(t)
				kept = append(kept, k)
				continue
			}
			reason = fmt.Sprintf("%s predicted in place of %s, which is unchanged in the rebuild", s.Rule, s.From)
		} else {
			reason = t.Rule + " predicted, unchanged in the rebuild"
			if lineShift[fkey{t.Name, obj}] {
				reason = t.Rule + " predicted, only line numbers moved in the rebuild"
			}
		}
		out.Dropped = append(out.Dropped, report.DroppedTarget{CheckTarget: t, Reason: reason})
		delete(targets, k)
	}
	order = kept

	// Every changed function, with its cause and coverage.
	for _, o := range objs {
		r := rebuilt[o]
		shifts := dumpShifts(r)
		add := func(name string, sympos int, lineOnly bool) {
			k := fkey{name, o}
			rf := report.RebuiltFunc{Name: name, TU: r.tu, Sympos: sympos}
			tk, isTarget := targetAt[k]
			rf.Predicted = isTarget
			e, inEntries := entries[k]
			switch {
			case lineOnly && r.exactShift[name]:
				rf.Cause, rf.Detail = report.CauseLineShift, "only line numbers moved: equal to the original in the line-neutral build (#line after each changed region): not a target"
			case lineOnly:
				rf.Cause, rf.Detail = report.CauseLineShift, "only line numbers (__LINE__, WARN/BUG lines) moved, as the line table reads: not a target"
			case srcChanged[name] && inEntries && e.depth == 0:
				rf.Cause, rf.Detail = report.CauseChangedLine, "holds a line the fix changes"
			case inEntries && e.depth > 0:
				rf.Cause, rf.Detail = report.CauseInlinedCode, chainText(e.chain)
			case isTarget && hasRule(targets[tk], "caller-assumptions"):
				rf.Cause, rf.Detail = report.CauseCallerAssumptions, "caller-assumptions confirmed: "+lastStepText(targets[tk].Chain)
			case callerStep(targets, order, name, r.tu) != nil:
				// A caller the rules put its own callers in place of
				// (not patchable, another ABI).
				rf.Cause, rf.Detail = report.CauseCallerAssumptions, "caller-assumptions confirmed: "+lastStepText([]report.Step{*callerStep(targets, order, name, r.tu)})
			default:
				rf.Cause = report.CauseDecisionShift
				rf.Detail = orText(shifts[normName(name)], "its code changed although nothing predicted it; the dumps show no new or vanished clone or inlining in it")
			}
			if lineOnly {
				rf.Coverage = report.CoverageNone
				out.Functions = append(out.Functions, rf)
				return
			}
			if !isTarget {
				if x, ok := explained[k]; ok && substitution[x.Rule] {
					coverThroughCallers(in, &rf, x, targets, order)
					out.Functions = append(out.Functions, rf)
					return
				}
				// Nothing predicted it: its own targets are added.
				tk, ok := addDecisionShift(in, r, name, targets, &order, probs)
				if !ok {
					rf.Coverage = report.CoverageMissing
					rf.Why = "its targets are unknown"
					out.Functions = append(out.Functions, rf)
					return
				}
				if tk.name != name {
					x := report.Explained{Name: name, Rule: "not-patchable"}
					coverThroughCallers(in, &rf, x, targets, order)
					out.Functions = append(out.Functions, rf)
					return
				}
				targetAt[k] = tk
			}
			t := targets[targetAt[k]]
			lf := report.LivepatchFunc{Object: orText(t.KLPObject, "vmlinux"), OldName: t.Name, OldSympos: sympos}
			if findReplacement(in.lp, t.Target) >= 0 {
				rf.Coverage = report.CoverageDirect
				rf.CoveredBy = []report.LivepatchFunc{lf}
			} else {
				rf.Coverage = report.CoverageMissing
				rf.Why = "no klp_func replaces it"
			}
			out.Functions = append(out.Functions, rf)
		}
		for _, c := range r.diff.Changed {
			add(c.Name, c.Sympos, false)
		}
		for _, c := range r.diff.LineShiftOnly {
			add(c.Name, c.Sympos, true)
		}
		for _, f := range r.diff.Removed {
			if !targetAt[fkey{f.Name, o}].isZero() {
				continue
			}
			out.New = append(out.New, report.RebuiltFunc{Name: f.Name, TU: r.tu, Sympos: f.Sympos, Cause: report.CauseDecisionShift,
				Detail: "gone from the patched build: the functions that called it changed", Coverage: report.CoverageNone})
		}
		for _, f := range r.diff.Added {
			out.New = append(out.New, report.RebuiltFunc{Name: f.Name, TU: r.tu, Sympos: f.Sympos, Cause: report.CauseDecisionShift,
				Detail: "only in the patched build: new code the replacement functions carry, not a klp_func target", Coverage: report.CoverageNone})
		}
		for _, d := range r.diff.DataChanges {
			out.Data = append(out.Data, report.RebuiltData{DataChange: d, TU: r.tu})
			switch d.Status {
			case report.DataAdded:
				*probs = append(*probs, report.Problem{File: r.u.Cmd.Source, Kind: report.KindNote,
					Message: fmt.Sprintf("the fix adds data %s to %s: the livepatch module carries a copy of its own, as the patched source initialises it (state the running kernel keeps elsewhere is not in it)", d.Name, r.tu)})
			case report.DataRemoved:
				*probs = append(*probs, report.Problem{File: r.u.Cmd.Source, Kind: report.KindNote,
					Message: fmt.Sprintf("the fix removes data %s from %s: the replacement functions no longer use it, and the running kernel's copy stays", d.Name, r.tu)})
			}
		}
	}
	return order
}

func (k tkey) isZero() bool { return k == tkey{} }

// callerStep returns a caller-assumptions step of a target's chain that
// leads to name in unit tu: name is a caller the prediction reached
// through its callee, and replaced by its own callers.
func callerStep(targets map[tkey]report.CheckTarget, order []tkey, name, tu string) *report.Step {
	for _, k := range order {
		t := targets[k]
		for i, s := range t.Chain {
			if s.To == name && s.Rule == "caller-assumptions" && (s.TU == tu || i+1 < len(t.Chain) && t.Chain[i+1].TU == tu) {
				return &t.Chain[i]
			}
		}
	}
	return nil
}

func hasRule(t report.CheckTarget, rule string) bool {
	if t.Rule == rule {
		return true
	}
	for _, a := range t.Also {
		if a == rule {
			return true
		}
	}
	return false
}

// substituted returns the last step of t's chain that put callers in
// the place of a function that cannot be replaced itself.
func substituted(t report.CheckTarget) (report.Step, bool) {
	if !substitution[t.Rule] {
		return report.Step{}, false
	}
	for i := len(t.Chain) - 1; i >= 0; i-- {
		if substitution[t.Chain[i].Rule] {
			return t.Chain[i], true
		}
	}
	return report.Step{}, false
}

// stepObject is the object of a step's From function: a rebuilt unit of
// the step's translation unit, or t's own object.
func stepObject(s report.Step, t report.CheckTarget, rebuilt map[string]*unitRun) string {
	for o, r := range rebuilt {
		if r.tu == s.TU {
			return o
		}
	}
	return absObject(t.Object)
}

// coverThroughCallers says which targets carry a changed function that
// the rule x put its callers in place of: the targets whose chain steps
// from it to them, else (the prediction reached those callers by another
// path: offline_pages holds pfn_section_valid's code itself, and calls
// do_migrate_range.isra.0, which holds it too) the callers the rules put
// in its place when asked about it alone (in's impact).
func coverThroughCallers(in rebuildInput, rf *report.RebuiltFunc, x report.Explained, targets map[tkey]report.CheckTarget, order []tkey) {
	rf.Coverage = report.CoverageCallers
	rf.Why = orText(x.Why, x.Rule)
	var carriers []report.CheckTarget
	for _, k := range order {
		if t := targets[k]; substitutedFrom(t.Chain, rf.Name) {
			carriers = append(carriers, t)
		}
	}
	if len(carriers) == 0 && in.impact != nil {
		if res, err := in.impact(rf.Name, rf.TU); err == nil {
			for _, t := range res.Targets {
				if t.IgnoredBecause != "" || !substitutedFrom(t.Chain, rf.Name) {
					continue
				}
				ct, ok := targets[tkey{t.Name, t.TU}]
				if !ok {
					rf.Coverage = report.CoverageMissing
					rf.Why += fmt.Sprintf("; its caller %s is not a target", t.Name)
					continue
				}
				carriers = append(carriers, ct)
			}
			if len(carriers) == 0 && rf.Coverage != report.CoverageMissing && res.Targets != nil && !missingEvidence(res.Problems) {
				// The rules, complete, put no caller in its place: every
				// call to it is from boot code, which has run before a
				// livepatch loads (pfn_valid kept out of line in
				// mm/page_alloc.o for deferred_init_maxorder), or
				// nothing reaches it.
				var boot []string
				for _, e := range res.Explained {
					if strings.HasPrefix(e.Why, "boot code") {
						boot = append(boot, e.Name)
					}
				}
				rf.Coverage = report.CoverageNone
				rf.Why += "; no patchable caller reaches it"
				if len(boot) > 0 {
					rf.Why += ", only boot code that has run before a livepatch loads (" + examples(boot) + ")"
				}
				rf.Why += ": no klp_func needs to carry it"
				return
			}
		}
	}
	for _, t := range carriers {
		if findReplacement(in.lp, t.Target) < 0 {
			rf.Coverage = report.CoverageMissing
			continue
		}
		lf := report.LivepatchFunc{Object: orText(t.KLPObject, "vmlinux"), OldName: t.Name}
		if t.OldSympos != nil {
			lf.OldSympos = *t.OldSympos
		}
		rf.CoveredBy = append(rf.CoveredBy, lf)
	}
	if len(carriers) == 0 {
		rf.Coverage = report.CoverageMissing
		rf.Why += "; no target carries it"
	}
}

// substitutedFrom says a chain steps from name to callers put in its
// place (not patchable, another ABI, a folded body).
func substitutedFrom(chain []report.Step, name string) bool {
	for _, s := range chain {
		if s.From == name && substitution[s.Rule] {
			return true
		}
	}
	return false
}

// addDecisionShift adds the targets of a function whose code changed
// although nothing predicted it: the function itself, or, when it cannot
// be replaced, the callers the rules put in its place (never the
// prediction's containment or caller-assumptions spread). It returns the
// key of the function's own target, or of the first substitute.
func addDecisionShift(in rebuildInput, r *unitRun, name string, targets map[tkey]report.CheckTarget, order *[]tkey, probs *[]report.Problem) (tkey, bool) {
	if in.impact == nil {
		return tkey{}, false
	}
	res, err := in.impact(name, r.tu)
	if err != nil {
		*probs = append(*probs, report.Problem{File: r.u.Cmd.Source, Kind: report.KindFailClosed,
			Message: fmt.Sprintf("%s changed in the rebuild of %s although nothing predicted it, and its targets are unknown: %v", name, r.tu, err)})
		return tkey{}, false
	}
	first := tkey{}
	for _, t := range res.Targets {
		if t.IgnoredBecause != "" {
			continue
		}
		own := t.Name == name && absObject(t.Object) == r.obj
		subst := substitution[t.Rule]
		for _, s := range t.Chain {
			if !substitution[s.Rule] {
				subst = false
			}
		}
		if !own && !subst {
			continue
		}
		k := tkey{t.Name, t.TU}
		if _, ok := targets[k]; !ok {
			ct := report.CheckTarget{Target: t, Because: name, File: r.u.Cmd.Source}
			ct.Note = joinNote(ct.Note, "decision shift: its code changed in the rebuild although nothing predicted it")
			targets[k] = ct
			*order = append(*order, k)
		}
		if own || first.isZero() {
			first = k
		}
		if own {
			break
		}
	}
	return first, !first.isZero()
}

// chainText says a containment chain in words, from the side of the
// function it leads to: "holds the inlined code of css_put, which ...".
func chainText(chain []report.Step) string {
	if len(chain) == 0 {
		return "holds the code of a changed function"
	}
	return report.ChainPredicate(chain)
}

func lastStepText(chain []report.Step) string {
	if len(chain) == 0 {
		return ""
	}
	s := chain[len(chain)-1]
	return fmt.Sprintf("calls %s, whose body changed (%s)", s.From, s.Evidence)
}

var cloneNumberRE = regexp.MustCompile(`\.(constprop|isra|part|cold|lto_priv|localalias)\.[0-9]+`)

// normName strips GCC's clone numbers, which a fix renumbers.
func normName(n string) string { return cloneNumberRE.ReplaceAllString(n, ".$1.N") }

// dumpShifts compares the unit's original and patched ipa-clones dumps:
// for each function (clone numbers stripped), GCC's decisions about it
// that only one build made, in words.
func dumpShifts(r *unitRun) map[string]string {
	a, b := dumpEdges(r.orig.Dumps), dumpEdges(r.patchd.Dumps)
	if a == nil || b == nil {
		return nil
	}
	by := map[string][]string{}
	note := func(edges, other map[[3]string]bool, verb string) {
		for e := range edges {
			if other[e] {
				continue
			}
			what := fmt.Sprintf("%s %s (%s)", verb, e[0], e[2])
			if e[2] == "inlining to" {
				what = fmt.Sprintf("%s inlining of %s", verb, e[0])
			}
			by[e[1]] = append(by[e[1]], what)
		}
	}
	note(b, a, "in the patched build GCC made a new")
	note(a, b, "in the patched build GCC dropped the")
	out := map[string]string{}
	for f, ws := range by {
		sort.Strings(ws)
		out[f] = strings.Join(ws, "; ")
	}
	return out
}

// dumpEdges reads the clone lines of dumps as (orig, clone, suffix),
// clone numbers stripped; nil when there is no dump to read.
func dumpEdges(dumps []string) map[[3]string]bool {
	if len(dumps) == 0 {
		return nil
	}
	out := map[[3]string]bool{}
	for _, d := range dumps {
		f, err := os.Open(d)
		if err != nil {
			return nil
		}
		rd := ipadump.NewReader(f, d)
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if _, ok := err.(*ipadump.ParseError); ok {
					continue
				}
				break
			}
			if rec.Kind == ipadump.Clone {
				out[[3]string{normName(rec.Orig.Name), normName(rec.Clone.Name), rec.Transform.String()}] = true
			}
		}
		f.Close()
	}
	return out
}

// confirmed makes a conditional or review target whose code (or the code
// it stands in for) changed in the rebuild a must target, saying why.
func confirmed(t report.CheckTarget) report.CheckTarget {
	if t.Severity == string(rules.Must) {
		return t
	}
	t.Note = strings.TrimPrefix(t.Note+"; ", "; ") + "confirmed by the rebuild: its code changed (predicted " + t.Severity + ")"
	t.Severity = string(rules.Must)
	return t
}
