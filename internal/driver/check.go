package driver

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/internal/safeio"
	"github.com/klp-audit/klp-audit/livepatch"
	"github.com/klp-audit/klp-audit/patch"
	"github.com/klp-audit/klp-audit/report"
	"github.com/klp-audit/klp-audit/rules"
)

// changedFunc is a function the fix changes, with the hunk that does.
type changedFunc struct {
	name, file string
	line       int // the hunk's line in the patched file
}

// checkFullLoad makes Check read every dump first, as before the lean
// load: tests compare the two.
var checkFullLoad = false

// CheckQuery is one question of "klp-audit check": does the livepatch
// (its module source, or a funcs list) replace every function the fix
// makes it replace?
type CheckQuery struct {
	// Diff is the fix, a unified diff against the build's sources.
	Diff      string
	Livepatch string
	Funcs     string
	Policy    string
	Vmlinux   []string
	// Orig and Patched are the original and patched builds (or objects),
	// compared to check the answer against what really changed.
	Orig, Patched string
	// Fuzz is patch(1)'s -F: how many context lines at each end of a hunk
	// may differ from the build's source (0: none).
	Fuzz int
	// Rebuild tunes the rebuild of the units the fix touches.
	Rebuild RebuildOptions
}

// The verdicts of a check.
const (
	VerdictComplete   = "complete"
	VerdictUnresolved = "unresolved"
	VerdictMissing    = "missing"
	VerdictDataChange = "data-change"
	VerdictIncomplete = "incomplete"
)

// Check reads the fix, the livepatch and the build o names, maps each
// hunk to the functions it changes, computes each changed function's
// must-patch set as Impacted does (one session: the build is read once)
// and compares it with the livepatch's klp_func entries. Input errors
// (an unreadable diff or livepatch, a diff that does not apply) are
// returned as *InputError; everything else is in the result's verdict.
func Check(o Options, q CheckQuery) (*report.CheckResult, error) {
	opts := q
	res := &report.CheckResult{
		SchemaVersion: report.CheckSchemaVersion,
		Tool:          Tool(),
		Inputs: report.CheckInputs{Diff: opts.Diff, Builds: o.Builds, Livepatch: opts.Livepatch, Funcs: opts.Funcs,
			Orig: opts.Orig, Patched: opts.Patched, Policy: opts.Policy},
		Problems: []report.Problem{}, Hunks: []report.Hunk{}, Changed: []report.ChangedFunc{},
		Missing: []report.CheckTarget{}, Conditional: []report.CheckTarget{}, Review: []report.CheckTarget{}, Covered: []report.CheckTarget{},
		Extra: []report.LivepatchFunc{},
	}
	// Inputs first: every input error exits 2 before anything is judged.
	t0 := time.Now()
	files, err := readDiff(opts.Diff)
	if err != nil {
		return nil, err
	}
	var lp []livepatch.Func
	if opts.Funcs != "" {
		if lp, err = livepatch.ParseFuncsList(opts.Funcs); err != nil {
			return nil, inputErr(err)
		}
	}
	policy, err := LoadPolicy(opts.Policy)
	if err != nil {
		return nil, err
	}
	// The units the fix touches compile while the build is read and the
	// prediction made; a fix that does not apply is said once the build
	// is known to be readable.
	fx, fxErr := locateFix(o, files, opts.Fuzz)
	pending := &pendingRebuild{off: true}
	if fxErr == nil {
		pending = startRebuild(rebuildInput{o: o, ro: opts.Rebuild, files: fx.asGiven, sources: fx.sources})
	}
	defer pending.stop()
	t0 = phase("inputs, locating the fix", t0)
	// The lean load: each changed function's units are read when its
	// must-patch set is asked for (see lean.go), not the whole build.
	ev, err := load(o, !checkFullLoad, nil)
	if err != nil {
		return nil, err
	}
	if fxErr != nil {
		return nil, fxErr
	}
	t0 = phase("loading the build", t0)
	asGiven, sources, names := fx.asGiven, fx.sources, fx.names
	// lpUncertain says which klp_funcs the livepatch has is not known
	// for sure: what it lacks, or what the kernel would refuse, is then
	// unknown too.
	lpUncertain := false
	if opts.Livepatch != "" {
		// A source that is not plain C is preprocessed with the flags
		// of the build's objects: read it once the build is known.
		var probs []report.Problem
		if lp, probs, err = livepatch.ParseSource(opts.Livepatch, ev.livepatchSourceOptions(names)); err != nil {
			return nil, inputErr(err)
		}
		res.Problems = append(res.Problems, probs...)
		lpUncertain = missingEvidence(probs)
	}
	// The linked files, opened once: the klp_funcs are resolved in them
	// and every changed function's must-patch set takes old_sympos from
	// them. An error leaves both unknown, as problems.
	linked, linkedErr := OpenVmlinux(opts.Vmlinux)
	if linkedErr == nil {
		defer linked.Close()
	} else {
		res.Problems = append(res.Problems, report.Problem{File: strings.Join(opts.Vmlinux, ", "), Kind: report.KindFailClosed,
			Message: "the klp_funcs are not resolved in the linked files: " + linkedErr.Error()})
	}
	var unresolved map[report.LivepatchFunc]bool
	un, unProbs := ev.resolveKLPFuncs(lp, linked)
	res.Unresolved = un
	res.Problems = append(res.Problems, unProbs...)
	for _, u := range res.Unresolved {
		if unresolved == nil {
			unresolved = map[report.LivepatchFunc]bool{}
		}
		unresolved[u.LivepatchFunc] = true
	}

	// Hunks to functions, in the original file's lines (the build's).
	hunks, changed, macro, hprobs, err := ev.fixFunctions(fx, opts.Diff)
	if err != nil {
		return nil, err
	}
	res.Hunks = append(res.Hunks, hunks...)
	res.Problems = append(res.Problems, hprobs...)
	t0 = phase("hunks to functions", t0)

	// Changed functions to targets.
	targets := map[tkey]report.CheckTarget{}
	var order []tkey
	ignoredAsked := map[string]bool{}
	var preds []*report.Result
	ev.graph.Want(changedNames(changed)...) // one search of the dumps for all
	for _, c := range changed {
		var a *Answer
		err := linkedErr
		if err == nil {
			a, err = ev.Impacted(ImpactQuery{Func: c.name, File: c.file}, policy, linked)
		}
		if err != nil {
			res.Problems = append(res.Problems, report.Problem{File: c.file, Line: c.line,
				Message: fmt.Sprintf("the must-patch set of %s is unknown: %v", c.name, err)})
			continue
		}
		preds = append(preds, a.Result)
		cf := report.ChangedFunc{Name: c.name, File: c.file, Line: c.line}
		for _, e := range a.Result.Entries {
			if e.Depth == 0 {
				cf.TUs = append(cf.TUs, e.TU)
			}
		}
		sort.Strings(cf.TUs)
		res.Changed = append(res.Changed, cf)
		res.Problems = append(res.Problems, a.Result.Problems...)
		if a.Result.Targets == nil {
			res.Problems = append(res.Problems, report.Problem{File: c.file, Line: c.line,
				Message: "the safety rules did not run for " + c.name})
		}
		for _, t := range a.Result.Targets {
			if t.IgnoredBecause != "" {
				ignoredAsked[t.Name] = true
				continue
			}
			k := tkey{t.Name, t.TU}
			if _, ok := targets[k]; ok {
				continue
			}
			order = append(order, k)
			targets[k] = report.CheckTarget{Target: t, Because: c.name, File: c.file, Line: c.line}
		}
	}

	t0 = phase("the prediction (impacted per function)", t0)
	// The rebuild of the units the fix touches turns the prediction into
	// what the compiler did.
	lateLinked := false
	impact := func(name, tu string) (*report.Result, error) {
		if linked == nil && linkedErr == nil {
			linked, linkedErr = OpenVmlinux(opts.Vmlinux)
			lateLinked = linkedErr == nil
		}
		if linkedErr != nil {
			return nil, linkedErr
		}
		a, err := ev.Impacted(ImpactQuery{Func: name, TU: tu}, policy, linked)
		if err != nil {
			return nil, err
		}
		return a.Result, nil
	}
	var rprobs []report.Problem
	res.Rebuild, order, rprobs = pending.finish(rebuildInput{o: o, ro: opts.Rebuild, files: asGiven, sources: sources,
		changed: changed, preds: preds, lp: lp, impact: impact, hunks: hunks, unread: ev.unreadUnit}, targets, order)
	res.Problems = append(res.Problems, rprobs...)
	phase("the rebuild, all of it", t0)
	if lateLinked {
		linked.Close()
	}
	rebuilt := res.Rebuild != nil && res.Rebuild.Rebuilt
	res.Problems = append(res.Problems, unknownHunks(hunks, rebuilt)...)
	if macro && opts.Orig == "" && !rebuilt {
		res.Problems = append(res.Problems, macroProblem(opts.Diff))
	}

	// Targets against the livepatch.
	used := make([]bool, len(lp))
	for _, k := range order {
		t := targets[k]
		if i := findReplacement(lp, t.Target); i >= 0 {
			used[i] = true
			res.Covered = append(res.Covered, t)
			continue
		}
		switch t.Severity {
		case string(rules.Must):
			res.Missing = append(res.Missing, t)
		case string(rules.Conditional):
			res.Conditional = append(res.Conditional, t)
		default:
			res.Review = append(res.Review, t)
		}
	}
	for i, f := range lp {
		if !used[i] && !ignoredAsked[f.OldName] && !unresolved[f.LivepatchFunc] {
			// A second copy of an already covered name (another TU) is
			// matched too, when the first match consumed another entry.
			if coveredName(res.Covered, f) {
				continue
			}
			res.Extra = append(res.Extra, f.LivepatchFunc)
		}
	}

	if opts.Orig != "" {
		bt, probs, err := buildTruth(opts.Orig, opts.Patched, lp)
		if err != nil {
			return nil, err
		}
		res.BuildTruth = bt
		res.Problems = append(res.Problems, probs...)
	}

	// A conditional target is needed only if the fix changes what its
	// caller assumed of the callee. Without a rebuild or the two builds
	// nothing decided that, so leaving it out cannot be called complete.
	if len(res.Conditional) > 0 && !rebuilt && res.BuildTruth == nil {
		names := make([]string, 0, len(res.Conditional))
		for _, t := range res.Conditional {
			names = append(names, t.Target.Name)
		}
		shown := names
		if len(shown) > 8 {
			shown = append(shown[:8:8], fmt.Sprintf("and %d more", len(names)-8))
		}
		res.Problems = append(res.Problems, report.Problem{File: opts.Diff, Kind: report.KindFailClosed,
			Message: fmt.Sprintf("the livepatch does not replace %s (%s), needed only if the fix changes what %s assumed of %s callees; nothing decided that without a rebuild: give the tree's sources and .cmd files, or --orig and --patched, or replace %s",
				plural(len(names), "conditional target", "conditional targets"), strings.Join(shown, ", "),
				pick(len(names), "it", "they"), pick(len(names), "its", "their"), pick(len(names), "it", "them"))})
	}

	// Each changed function's answer repeats the build's problems: one
	// of each is enough.
	res.Problems = uniqueProblems(res.Problems)
	res.Verdict = VerdictComplete
	// A data hunk is a data change unless a rebuild shows what it does
	// to the unit's data (a new static is carried by the livepatch
	// module, a changed initial value is not); a type's layout no
	// rebuild shows.
	data := fixChangesData(res.Hunks, res.Rebuild)
	switch {
	case len(res.Unresolved) > 0 && !lpUncertain:
		res.Verdict = VerdictUnresolved
	case (len(res.Missing) > 0 || res.BuildTruth != nil && len(res.BuildTruth.Unreplaced) > 0) && !lpUncertain:
		res.Verdict = VerdictMissing
	case data:
		res.Verdict = VerdictDataChange
	case missingEvidence(res.Problems) || len(changed) == 0 && !rebuilt && len(res.Hunks) > 0 && !allComments(res.Hunks):
		res.Verdict = VerdictIncomplete
	}
	return res, nil
}

// missingEvidence reports whether a problem other than a note is in ps.
func missingEvidence(ps []report.Problem) bool {
	for _, p := range ps {
		if p.Kind != report.KindNote {
			return true
		}
	}
	return false
}

// widenToBraces extends each DWARF extent to the closing brace of the
// same function's definition in the source: the line table need not
// attribute code to the last lines of a body (an inlined function's
// closing brace), yet a change there is in the function.
func widenToBraces(ext, src []patch.Extent) []patch.Extent {
	out := make([]patch.Extent, len(ext))
	for i, e := range ext {
		for _, c := range src {
			if c.Name == e.Name && c.Contains(e.First) && c.Last > e.Last {
				e.Last = c.Last
			}
		}
		out[i] = e
	}
	return out
}

func allComments(hs []report.Hunk) bool {
	for _, h := range hs {
		if h.Kind != patch.KindComment && h.Kind != patch.KindMacro {
			return false
		}
	}
	return true
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		x = filepath.Clean(x)
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// maxSource caps a source file read to map hunks: the largest kernel .c
// file is about 1 MiB.
const maxSource = 64 << 20

// confinedPath refuses a diff path that is absolute or has a ".."
// component: the diff's paths are the build directory's, relative.
func confinedPath(name string) error {
	if name == "" {
		return nil
	}
	if filepath.IsAbs(name) || strings.HasPrefix(name, "/") {
		return Inputf("the diff names the absolute path %q: want paths relative to the build directory (a/mm/oom_kill.c, b/mm/oom_kill.c); a file outside the source tree is never read", name)
	}
	for _, c := range strings.Split(filepath.ToSlash(name), "/") {
		if c == ".." {
			return Inputf("the diff names %q, which leaves the build directory through \"..\": want paths relative to it; a file outside the source tree is never read", name)
		}
	}
	return nil
}

// classifyHunk maps a hunk's changed lines to the functions whose extent
// holds them: a deleted line by its own line, an added line by the
// original lines around it, and a line that is a whole one-line
// definition by the function it defines. Lines in no function are
// classified in their file's context (tx); a static local declared
// inside a function makes the hunk data too. first gives each function
// the patched file's line of the hunk's first change to it.
func classifyHunk(file string, h *patch.Hunk, ext []patch.Extent, tx *patch.Texts) (rh report.Hunk, first map[string]int) {
	rh = report.Hunk{File: file, Line: h.FirstChangedNew(), Lines: h.NewLines}
	first = map[string]int{}
	var outside, inside []patch.Line
	for _, l := range h.Changed() {
		var hit []string
		if n := tx.OneLineFunction(l); n != "" && hasExtent(ext, n) {
			hit = append(hit, n)
		} else {
			for _, e := range ext {
				if l.Op == patch.Delete && e.Contains(l.OldLine) ||
					l.Op == patch.Add && l.OldLine >= e.First && l.OldLine < e.Last {
					hit = append(hit, e.Name)
				}
			}
		}
		if len(hit) == 0 {
			outside = append(outside, l)
			continue
		}
		inside = append(inside, l)
		line := l.NewLine
		if l.Op == patch.Delete {
			line = max(l.NewLine+1, 1)
		}
		for _, n := range hit {
			if first[n] == 0 {
				first[n] = line
			}
		}
	}
	for n := range first {
		rh.Functions = append(rh.Functions, n)
	}
	sort.Strings(rh.Functions)
	kind := patch.KindComment
	if len(outside) > 0 {
		kind = tx.Classify(outside)
		rh.DataLayout = kind == patch.KindData && tx.ChangesLayout(outside)
		rh.Macro = kind == patch.KindMacro
	}
	for _, l := range inside {
		if tx.IsStaticLocal(l) {
			rh.StaticLocal = true
		}
	}
	switch {
	case rh.StaticLocal:
		rh.Kind = patch.KindData
		rh.Note = "declares or changes a static local variable: its state is not carried by a replaced function"
	case len(rh.Functions) > 0 && (kind == patch.KindComment || kind == patch.KindMacro):
		rh.Kind = "function"
		if kind == patch.KindMacro {
			rh.Note = "also changes a macro"
		}
	case len(rh.Functions) > 0:
		rh.Kind = kind
		rh.Note = "also changes lines outside any function body"
	default:
		rh.Kind = kind
	}
	if rh.Kind != "function" && len(rh.Functions) > 0 {
		rh.Note = joinNote(rh.Note, "and changes "+strings.Join(rh.Functions, ", ")+": their targets are checked too")
	}
	return rh, first
}

func hasExtent(ext []patch.Extent, name string) bool {
	for _, e := range ext {
		if e.Name == name {
			return true
		}
	}
	return false
}

// findReplacement returns the index of the klp_func replacing t, or -1.
func findReplacement(lp []livepatch.Func, t report.Target) int {
	obj := t.KLPObject
	if obj == "" {
		obj = "vmlinux"
	}
	for i, f := range lp {
		if f.OldName != t.Name || f.Object != obj {
			continue
		}
		if f.SymposKnown && t.OldSympos != nil && f.OldSympos != *t.OldSympos {
			continue
		}
		return i
	}
	return -1
}

func coveredName(cov []report.CheckTarget, f livepatch.Func) bool {
	for _, c := range cov {
		obj := c.KLPObject
		if obj == "" {
			obj = "vmlinux"
		}
		if c.Name == f.OldName && obj == f.Object && (!f.SymposKnown || c.OldSympos == nil || *c.OldSympos == f.OldSympos) {
			return true
		}
	}
	return false
}

// buildTruth compares the original and patched builds and the livepatch:
// changed or added functions it does not replace, and replaced functions
// whose code did not change.
func buildTruth(orig, patched string, lp []livepatch.Func) (*report.BuildTruth, []report.Problem, error) {
	rep, err := Diff(orig, patched, 0)
	if err != nil {
		return nil, nil, Inputf("comparing --orig and --patched: %v", err)
	}
	bt := &report.BuildTruth{Unreplaced: []report.LivepatchFunc{}, Unchanged: []report.LivepatchFunc{}}
	var probs []report.Problem
	for _, p := range rep.Problems {
		probs = append(probs, report.Problem{File: p.Path, Message: "not compared: " + p.Message})
	}
	changedNames := map[string]bool{}
	for _, od := range rep.Objects {
		for _, c := range od.Changed {
			changedNames[c.Name] = true
			if !replaces(lp, c.Name, c.Sympos) {
				bt.Unreplaced = append(bt.Unreplaced, report.LivepatchFunc{Object: od.Path, OldName: c.Name, OldSympos: c.Sympos})
			}
		}
	}
	for _, f := range lp {
		if !changedNames[f.OldName] {
			bt.Unchanged = append(bt.Unchanged, f.LivepatchFunc)
		}
	}
	return bt, probs, nil
}

func replaces(lp []livepatch.Func, name string, sympos int) bool {
	for _, f := range lp {
		if f.OldName == name && (!f.SymposKnown || f.OldSympos == sympos) {
			return true
		}
	}
	return false
}

// fileExtents returns the function extents of files from the build's
// DWARF. A .c file's functions are read from the objects compiled from it
// (mm/oom_kill.o for mm/oom_kill.c), which is all of them unless it is
// #included elsewhere: when those objects' DWARF does not name it, every
// object is read for it, as for a header.
func fileExtents(objs, files []string) (map[string][]patch.Extent, []error) {
	out := map[string][]patch.Extent{}
	var errs []error
	var rest []string
	for _, f := range files {
		own := objectsOf(f, objs)
		if len(own) == 0 {
			rest = append(rest, f)
			continue
		}
		ext, es := dwarfExtents(own, []string{f})
		errs = append(errs, es...)
		if len(ext[f]) == 0 {
			rest = append(rest, f)
			continue
		}
		out[f] = ext[f]
	}
	if len(rest) > 0 {
		ext, es := dwarfExtents(objs, rest)
		errs = append(errs, es...)
		for f, e := range ext {
			out[f] = e
		}
	}
	return out, errs
}

// objectsOf returns the objects among objs compiled from the .c file f,
// by name: none for any other file.
func objectsOf(f string, objs []string) []string {
	stem, ok := strings.CutSuffix(filepath.ToSlash(filepath.Clean(f)), ".c")
	if !ok {
		return nil
	}
	var out []string
	for _, o := range objs {
		os, ok := strings.CutSuffix(filepath.ToSlash(filepath.Clean(o)), ".o")
		if ok && (os == stem || strings.HasSuffix(os, "/"+stem)) {
			out = append(out, o)
		}
	}
	return out
}

// dwarfExtents maps the build's DWARF extents of files' functions to the
// patch package's form; errs name the objects whose DWARF is corrupt.
func dwarfExtents(objs, files []string) (map[string][]patch.Extent, []error) {
	ext, errs := dwarfinfo.FunctionExtents(objs, files)
	out := map[string][]patch.Extent{}
	for f, es := range ext {
		for _, e := range es {
			out[f] = append(out[f], patch.Extent{Name: e.Name, First: e.First, Last: e.Last})
		}
	}
	return out, errs
}

// uniqueProblems keeps the first of equal problems, in order.
func uniqueProblems(ps []report.Problem) []report.Problem {
	seen := map[report.Problem]bool{}
	out := ps[:0:0]
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// fixChangesData reports whether the fix changes data no function
// replacement carries: a data hunk, unless a rebuild shows what it does
// to the unit's data (a new static is carried by the livepatch module, a
// changed initial value is not); a type's layout or a static local,
// which no rebuild shows; data the rebuild shows changed.
func fixChangesData(hunks []report.Hunk, rb *report.CheckRebuild) bool {
	rebuilt := rb != nil && rb.Rebuilt
	for _, h := range hunks {
		if h.Kind == patch.KindData && (!rebuilt || h.DataLayout || h.StaticLocal) {
			return true
		}
	}
	if rb != nil {
		for _, d := range rb.Data {
			if d.Status == report.DataChanged {
				return true
			}
		}
	}
	return false
}

// macroProblem is the problem of a fix changing a macro that no rebuild
// compiled.
func macroProblem(diffPath string) report.Problem {
	return report.Problem{File: diffPath,
		Message: "the fix changes a macro: the functions that expand it are not found from the diff (give --orig and --patched to compare the builds)"}
}

// changedNames returns the names of the changed functions.
func changedNames(changed []changedFunc) []string {
	out := make([]string, len(changed))
	for i, c := range changed {
		out[i] = c.name
	}
	return out
}

// unknownHunks returns what the answer says of the hunks the diff alone
// cannot place (a DEFINE_SPINLOCK, a function added or removed whole):
// when rebuilt, a note each, as what they change is what the rebuild
// shows; otherwise a fail-closed problem each.
func unknownHunks(hunks []report.Hunk, rebuilt bool) []report.Problem {
	var out []report.Problem
	for _, h := range hunks {
		if h.Kind != patch.KindUnknown {
			continue
		}
		p := report.Problem{File: h.File, Line: h.Line, Kind: report.KindFailClosed,
			Message: "hunk changes no function body and is neither a comment, data nor a macro: what it changes is unknown"}
		if rebuilt {
			p.Kind = report.KindNote
			p.Message = "hunk changes no function body and is neither a comment, data nor a macro: what it changes is taken from the rebuild"
		}
		out = append(out, p)
	}
	return out
}

// pick says one or many by n.
func pick(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// fixInput is a fix located in the build's sources.
type fixInput struct {
	// files are the diff's files with each hunk moved to where it
	// applies; asGiven as the diff gives them (for applying at locs).
	files, asGiven []patch.File
	locs           [][]patch.Location
	// sources are the build's files the fix changes and the fix applied
	// to each, once (read by both the rebuild and the hunks' mapping);
	// names the diff's old names in the diff's order.
	sources *fixTexts
	names   []string
}

// fixTexts are the build's original files, by the diff's old name, and
// each of the diff's files applied at its locations (as patch(1) writes
// it), in the diff's order: fixed[i] is nil when it could not be applied,
// and errs[i] says why.
type fixTexts struct {
	orig  map[string][]string
	fixed []*patch.Fixed
	errs  []error
}

// readDiff reads and parses the fix at path; its paths must be relative
// and stay inside the tree.
func readDiff(path string) ([]patch.File, error) {
	diff, err := safeio.ReadFile(path, patch.MaxDiffSize)
	if err != nil {
		return nil, Inputf("diff: %v", err)
	}
	files, err := patch.Parse(bytes.NewReader(diff), path)
	if err != nil {
		return nil, Inputf("bad diff: %v", err)
	}
	for _, f := range files {
		for _, name := range []string{f.OldName, f.NewName} {
			if err := confinedPath(name); err != nil {
				return nil, err
			}
		}
	}
	return files, nil
}

// locateFix locates each hunk of files in the build's source as
// patch(1) locates it (fuzz: its -F); from there on a hunk is read at
// that place: its lines are the build's.
func locateFix(o Options, files []patch.File, fuzz int) (*fixInput, error) {
	fx := &fixInput{asGiven: append([]patch.File(nil), files...), files: files,
		locs:    make([][]patch.Location, len(files)),
		sources: &fixTexts{orig: map[string][]string{}, fixed: make([]*patch.Fixed, len(files)), errs: make([]error, len(files))}}
	for i, f := range files {
		src, err := buildSource(o, f)
		if err != nil {
			return nil, err
		}
		if fx.locs[i], err = patch.Locate(src, f, fuzz); err != nil {
			return nil, Inputf("the diff does not apply to the build's sources: %v", err)
		}
		fx.files[i] = f.At(fx.locs[i])
		fx.sources.orig[f.OldName] = src
		fx.sources.fixed[i], fx.sources.errs[i] = patch.ApplyFixed(src, f, fx.locs[i])
		fx.names = append(fx.names, f.OldName)
	}
	return fx, nil
}

// fixFunctions maps the fix's hunks to the functions whose bodies they
// change (the build's DWARF, else the C definitions of the source) and
// classifies the others; macro says a hunk changes a macro. Problems
// name diffPath or the file.
func (ev *Session) fixFunctions(fx *fixInput, diffPath string) (hunks []report.Hunk, changed []changedFunc, macro bool, probs []report.Problem, err error) {
	files, locs, sources, names := fx.files, fx.locs, fx.sources, fx.names
	objs := append([]string(nil), ev.objects...)
	objs = append(objs, ev.objectsOf()...)
	extents, extErrs := fileExtents(dedupe(objs), names)
	for _, err := range extErrs {
		probs = append(probs, report.Problem{File: diffPath, Kind: report.KindFailClosed,
			Message: "hunks mapped without this object's DWARF: " + err.Error()})
	}
	seen := map[[2]string]bool{}
	for fi, f := range files {
		ext, fromSource := extents[f.OldName], false
		cext := patch.CFunctions(sources.orig[f.OldName])
		if len(ext) == 0 {
			ext, fromSource = cext, true
		} else {
			ext = widenToBraces(ext, cext)
		}
		if err := sources.errs[fi]; err != nil {
			return nil, nil, false, nil, Inputf("the diff does not apply to the build's sources: %v", err)
		}
		tx := patch.TextsOf(sources.orig[f.OldName], sources.fixed[fi].Lines)
		for i := range f.Hunks {
			h := &f.Hunks[i]
			rh, first := classifyHunk(f.Name(), h, ext, tx)
			rh.Offset, rh.Fuzz = locs[fi][i].Offset, locs[fi][i].Fuzz
			if fromSource && len(rh.Functions) > 0 {
				rh.Note = joinNote(rh.Note, "function extents from the source: no DWARF of the build covers "+f.OldName)
			}
			if rh.Kind == patch.KindMacro {
				macro = true
			}
			for _, fn := range rh.Functions {
				k := [2]string{fn, f.OldName}
				if !seen[k] {
					seen[k] = true
					changed = append(changed, changedFunc{name: fn, file: f.OldName, line: first[fn]})
				}
			}
			hunks = append(hunks, rh)
		}
	}

	return hunks, changed, macro, probs, nil
}
