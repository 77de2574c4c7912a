package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/klp-audit/klp-audit/objdiff"
	"github.com/klp-audit/klp-audit/patch"
	"github.com/klp-audit/klp-audit/report"
	"github.com/klp-audit/klp-audit/rules"
)

// CheckOptions are the inputs of "klp-audit check".
type CheckOptions struct {
	Streams *Streams
	EvidenceOptions
	Diff      string
	Livepatch string
	Funcs     string
	Policy    string
	Vmlinux   []string
	Orig      string
	Patched   string
	Format    string
}

// Verdicts of a check.
const (
	verdictComplete   = "complete"
	verdictMissing    = "missing"
	verdictDataChange = "data-change"
	verdictIncomplete = "incomplete"
)

// errCheckFailed is returned when the check printed a verdict other than
// complete; it shares errIncomplete's exit status, 1.
var errCheckFailed = fmt.Errorf("livepatch check failed: %w", errIncomplete)

const checkExitHelp = `Exit status:
  0  complete: the livepatch replaces every must-patch target
  1  missing (a must-patch target, or with --orig/--patched a function whose
     code changed, is not replaced), data-change (the fix changes data
     layout or initialisers: shadow variables or callbacks, not function
     replacement), or incomplete (evidence missing: never safe)
  2  usage or input error: bad flags, an unreadable diff or livepatch, a
     livepatch with no klp_func array, no dumps in the build, or a diff
     that does not apply to the build's sources`

func newCheckCmd(s *Streams, runF func(*CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{Streams: s}
	cmd := &cobra.Command{
		Use:   "check --diff FIX.patch --build DIR (--livepatch MODULE.c | --funcs LIST.yaml)",
		Short: "Check that a livepatch replaces every function a fix makes it replace",
		Long: `Check a livepatch against the fix it carries. Each hunk of the fix (a
unified diff, git-style or plain, against the build's sources) is mapped to
the functions whose bodies it changes, using the build's DWARF (the
subprograms' declaration lines and the line tables), or, for a file no
DWARF covers, the C function definitions found in the source. For every
changed function the must-patch set is computed as "klp-audit impacted"
computes it (same rules, same policy; a function of a header in every
translation unit), and compared with the livepatch's klp_func entries
(matched by klp_object, old_name and, when both are known, old_sympos).

Hunks that change no function body are classified: comment (only comments
or blank lines), macro (preprocessor lines: the functions expanding the
macro are not found, so without --orig/--patched the answer is
incomplete), data (a struct, union or enum body, a global initialiser, a
static local: the fix needs shadow variables or callbacks, so the verdict
is data-change) or unknown (incomplete).

The livepatch is its module source (--livepatch: its struct klp_func
arrays and the struct klp_object array naming their objects, .name NULL
being vmlinux) or a YAML list (--funcs) of entries
  - object: vmlinux
    old_name: read_msg
    old_sympos: 0        # optional

With --orig and --patched (two objects or two build trees, before and
after the fix), functions whose code changed but that the livepatch does
not replace fail the check, and replaced functions whose code did not
change are reported as a warning.

The text output gives the verdict first, then the missing functions with
the rule and last step of their reason, the review targets, the data
changes, the covered count and the extra (replaced but not asked for)
functions. --format yaml or json writes the check report (schema 1),
sarif annotations on the diff, markdown a review comment.

` + checkExitHelp,
		Example: `  # Does the livepatch replace everything the fix needs?
  klp-audit check --diff fix.patch --build ~/linux --livepatch livepatch-fix.c

  # With the running kernel's vmlinux for old_sympos, as JSON for CI
  klp-audit check --diff fix.patch --build ~/linux --livepatch livepatch-fix.c --vmlinux ~/linux/vmlinux --format json

  # Also compare the original and patched builds
  klp-audit check --diff fix.patch --build ~/linux --funcs funcs.yaml --orig ~/linux --patched ~/linux-fixed`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := report.ParseCheckFormat(opts.Format); err != nil {
				return err
			}
			if (opts.Livepatch == "") == (opts.Funcs == "") {
				return fmt.Errorf("give exactly one of --livepatch MODULE.c and --funcs LIST.yaml")
			}
			if (opts.Orig == "") != (opts.Patched == "") {
				return fmt.Errorf("--orig and --patched go together")
			}
			if runF != nil {
				return runF(opts)
			}
			return runCheck(opts)
		},
	}
	opts.EvidenceOptions.bind(cmd)
	fl := cmd.Flags()
	fl.StringVar(&opts.Diff, "diff", "", "the fix: a unified diff `FILE` against the build's sources")
	fl.StringVar(&opts.Livepatch, "livepatch", "", "livepatch module source `FILE` (its struct klp_func and klp_object arrays)")
	fl.StringVar(&opts.Funcs, "funcs", "", "YAML `FILE` listing the replaced functions: object, old_name, old_sympos")
	fl.StringVar(&opts.Policy, "policy", "", "policy `FILE` (YAML) replacing the default one (klp-audit policy prints it)")
	fl.StringArrayVar(&opts.Vmlinux, "vmlinux", nil,
		"linked vmlinux or module `FILE` (.ko) of the running kernel: match old_sympos (repeatable)")
	fl.StringVar(&opts.Orig, "orig", "", "original build `DIR` or object, compared with --patched")
	fl.StringVar(&opts.Patched, "patched", "", "patched build `DIR` or object, compared with --orig")
	fl.StringVar(&opts.Format, "format", "text", "output `FORMAT`: text, yaml, json, sarif or markdown")
	_ = cmd.MarkFlagRequired("diff")
	_ = cmd.MarkFlagFilename("policy", "yaml", "yml")
	return cmd
}

// changedFunc is a function the fix changes, with the hunk that does.
type changedFunc struct {
	name, file string
	line       int // the hunk's line in the patched file
}

func runCheck(opts *CheckOptions) error {
	res := &report.CheckResult{
		SchemaVersion: report.CheckSchemaVersion,
		Tool:          report.Tool{Name: "klp-audit", Version: version(), Revision: toolRevision()},
		Inputs: report.CheckInputs{Diff: opts.Diff, Builds: opts.Builds, Livepatch: opts.Livepatch, Funcs: opts.Funcs,
			Orig: opts.Orig, Patched: opts.Patched, Policy: opts.Policy},
		Problems: []report.Problem{}, Hunks: []report.Hunk{}, Changed: []report.ChangedFunc{},
		Missing: []report.CheckTarget{}, Review: []report.CheckTarget{}, Covered: []report.CheckTarget{},
		Extra: []report.LivepatchFunc{},
	}
	// Inputs first: every input error exits 2 before anything is judged.
	df, err := os.Open(opts.Diff)
	if err != nil {
		return inputErrorf("diff: %v", err)
	}
	files, err := patch.Parse(df, opts.Diff)
	df.Close()
	if err != nil {
		return inputErrorf("bad diff: %v", err)
	}
	var lp []livepatchFunc
	if opts.Livepatch != "" {
		var probs []report.Problem
		if lp, probs, err = parseLivepatchSource(opts.Livepatch); err != nil {
			return err
		}
		res.Problems = append(res.Problems, probs...)
	} else if lp, err = parseFuncsList(opts.Funcs); err != nil {
		return err
	}
	if opts.Policy != "" {
		if _, err := rules.LoadPolicy(opts.Policy); err != nil {
			return inputErrorf("%v", err)
		}
	}
	ev, err := loadEvidence(&opts.EvidenceOptions)
	if err != nil {
		return err
	}
	sources := map[string][]string{}
	var names []string
	for _, f := range files {
		src, err := buildSource(opts.Builds, f)
		if err != nil {
			return err
		}
		for i := range f.Hunks {
			if m := f.Hunks[i].Verify(src); m != nil {
				return inputErrorf("the diff does not apply to the build's sources: %s:%d: the hunk expects %q, the build's source has %q",
					f.OldName, m.Line, m.Want, m.Got)
			}
		}
		sources[f.OldName] = src
		names = append(names, f.OldName)
	}

	// Hunks to functions, in the original file's lines (the build's).
	objs := append([]string(nil), ev.objects...)
	objs = append(objs, ev.objectsOf()...)
	extents := dwarfExtents(dedupe(objs), names)
	var changed []changedFunc
	seen := map[[2]string]bool{}
	macro := false
	for _, f := range files {
		ext, fromSource := extents[f.OldName], false
		cext := patch.CFunctions(sources[f.OldName])
		if len(ext) == 0 {
			ext, fromSource = cext, true
		} else {
			ext = widenToBraces(ext, cext)
		}
		for i := range f.Hunks {
			h := &f.Hunks[i]
			rh := classifyHunk(f.Name(), h, ext)
			if fromSource && len(rh.Functions) > 0 {
				rh.Note = joinNote(rh.Note, "function extents from the source: no DWARF of the build covers "+f.OldName)
			}
			switch rh.Kind {
			case patch.KindUnknown:
				res.Problems = append(res.Problems, report.Problem{File: f.Name(), Line: rh.Line,
					Message: "hunk changes no function body and is neither a comment, data nor a macro: what it changes is unknown"})
			case patch.KindMacro:
				macro = true
			}
			for _, fn := range rh.Functions {
				k := [2]string{fn, f.OldName}
				if !seen[k] {
					seen[k] = true
					changed = append(changed, changedFunc{name: fn, file: f.OldName, line: rh.Line})
				}
			}
			res.Hunks = append(res.Hunks, rh)
		}
	}
	if macro && opts.Orig == "" {
		res.Problems = append(res.Problems, report.Problem{File: opts.Diff,
			Message: "the fix changes a macro: the functions that expand it are not found from the diff (give --orig and --patched to compare the builds)"})
	}

	// Changed functions to targets.
	type tkey struct{ name, tu string }
	targets := map[tkey]report.CheckTarget{}
	var order []tkey
	ignoredAsked := map[string]bool{}
	for _, c := range changed {
		iopts := &ImpactedOptions{Streams: quietStreams(opts.Streams), EvidenceOptions: opts.EvidenceOptions, Func: c.name,
			File: c.file, Format: string(report.Text), Policy: opts.Policy, Vmlinux: opts.Vmlinux, evidence: ev}
		a, err := computeImpacted(iopts)
		if err != nil {
			res.Problems = append(res.Problems, report.Problem{File: c.file, Line: c.line,
				Message: fmt.Sprintf("the must-patch set of %s is unknown: %v", c.name, err)})
			continue
		}
		cf := report.ChangedFunc{Name: c.name, File: c.file, Line: c.line}
		for _, e := range a.res.Entries {
			if e.Depth == 0 {
				cf.TUs = append(cf.TUs, e.TU)
			}
		}
		sort.Strings(cf.TUs)
		res.Changed = append(res.Changed, cf)
		res.Problems = append(res.Problems, a.res.Problems...)
		if a.res.Targets == nil {
			res.Problems = append(res.Problems, report.Problem{File: c.file, Line: c.line,
				Message: "the safety rules did not run for " + c.name})
		}
		for _, t := range a.res.Targets {
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

	// Targets against the livepatch.
	used := make([]bool, len(lp))
	for _, k := range order {
		t := targets[k]
		if i := findReplacement(lp, t.Target); i >= 0 {
			used[i] = true
			res.Covered = append(res.Covered, t)
			continue
		}
		if t.Severity == string(rules.Review) {
			res.Review = append(res.Review, t)
		} else {
			res.Missing = append(res.Missing, t)
		}
	}
	for i, f := range lp {
		if !used[i] && !ignoredAsked[f.OldName] {
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
			return err
		}
		res.BuildTruth = bt
		res.Problems = append(res.Problems, probs...)
	}

	res.Verdict = verdictComplete
	data := false
	for _, h := range res.Hunks {
		if h.Kind == patch.KindData {
			data = true
		}
	}
	switch {
	case len(res.Missing) > 0 || res.BuildTruth != nil && len(res.BuildTruth.Unreplaced) > 0:
		res.Verdict = verdictMissing
	case data:
		res.Verdict = verdictDataChange
	case len(res.Problems) > 0 || len(changed) == 0 && len(res.Hunks) > 0 && !allComments(res.Hunks):
		res.Verdict = verdictIncomplete
	}
	format, _ := report.ParseCheckFormat(opts.Format)
	if err := renderCheck(opts.Streams, res, format); err != nil {
		return err
	}
	if res.Verdict != verdictComplete {
		return errCheckFailed
	}
	return nil
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

// quietStreams keeps computeImpacted's notes off the check's output.
func quietStreams(s *Streams) *Streams {
	return &Streams{In: s.In, Out: io.Discard, Err: io.Discard}
}

// buildSource reads the original of f from the first build directory
// that has it. A file in none is an input error: the diff does not apply.
func buildSource(builds []string, f patch.File) ([]string, error) {
	if f.OldName == "" {
		return nil, inputErrorf("the diff does not apply to the build's sources: it creates %s, which no build compiled", f.NewName)
	}
	for _, b := range builds {
		data, err := os.ReadFile(filepath.Join(b, filepath.FromSlash(f.OldName)))
		if err == nil {
			return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"), nil
		}
	}
	return nil, inputErrorf("the diff does not apply to the build's sources: %s is not in %s", f.OldName, strings.Join(builds, ", "))
}

// classifyHunk maps a hunk's changed lines to the functions whose extent
// holds them: a deleted line by its own line, an added line by the
// original lines around it. Lines in no function are classified; a
// static local declared inside a function makes the hunk data too.
func classifyHunk(file string, h *patch.Hunk, ext []patch.Extent) report.Hunk {
	rh := report.Hunk{File: file, Line: h.FirstChangedNew(), Lines: h.NewLines}
	fset := map[string]bool{}
	var outside, inside []patch.Line
	for _, l := range h.Changed() {
		var hit []string
		for _, e := range ext {
			if l.Op == patch.Delete && e.Contains(l.OldLine) ||
				l.Op == patch.Add && l.OldLine >= e.First && l.OldLine < e.Last {
				hit = append(hit, e.Name)
			}
		}
		if len(hit) == 0 {
			outside = append(outside, l)
			continue
		}
		inside = append(inside, l)
		for _, n := range hit {
			fset[n] = true
		}
	}
	for n := range fset {
		rh.Functions = append(rh.Functions, n)
	}
	sort.Strings(rh.Functions)
	kind := patch.KindComment
	if len(outside) > 0 {
		kind = patch.Classify(outside)
	}
	staticLocal := false
	for _, l := range inside {
		if patch.IsStaticLocal(l.Text) {
			staticLocal = true
		}
	}
	switch {
	case staticLocal:
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
	return rh
}

// findReplacement returns the index of the klp_func replacing t, or -1.
func findReplacement(lp []livepatchFunc, t report.Target) int {
	obj := t.KLPObject
	if obj == "" {
		obj = "vmlinux"
	}
	for i, f := range lp {
		if f.OldName != t.Name || f.Object != obj {
			continue
		}
		if f.symposKnown && t.OldSympos != nil && f.OldSympos != *t.OldSympos {
			continue
		}
		return i
	}
	return -1
}

func coveredName(cov []report.CheckTarget, f livepatchFunc) bool {
	for _, c := range cov {
		obj := c.KLPObject
		if obj == "" {
			obj = "vmlinux"
		}
		if c.Name == f.OldName && obj == f.Object && (!f.symposKnown || c.OldSympos == nil || *c.OldSympos == f.OldSympos) {
			return true
		}
	}
	return false
}

// buildTruth compares the original and patched builds and the livepatch:
// changed or added functions it does not replace, and replaced functions
// whose code did not change.
func buildTruth(orig, patched string, lp []livepatchFunc) (*report.BuildTruth, []report.Problem, error) {
	var rep *objdiff.Report
	var err error
	if st, serr := os.Stat(orig); serr == nil && st.IsDir() {
		rep, err = objdiff.CompareTrees(orig, patched, objdiff.TreeOptions{})
	} else {
		rep, err = objdiff.CompareFiles(orig, patched)
	}
	if err != nil {
		return nil, nil, inputErrorf("comparing --orig and --patched: %v", err)
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

func replaces(lp []livepatchFunc, name string, sympos int) bool {
	for _, f := range lp {
		if f.OldName == name && (!f.symposKnown || f.OldSympos == sympos) {
			return true
		}
	}
	return false
}

// renderCheck writes the check report; on a terminal (and unless NO_COLOR
// is set) the text verdict is coloured: PASS green, FAIL red, INCOMPLETE
// yellow. Pipes and files get plain text.
func renderCheck(s *Streams, res *report.CheckResult, format report.Format) error {
	if format != report.Text || !s.OutTTY || os.Getenv("NO_COLOR") != "" {
		return report.RenderCheck(s.Out, res, format)
	}
	var b bytes.Buffer
	if err := report.RenderCheck(&b, res, format); err != nil {
		return err
	}
	_, err := io.WriteString(s.Out, colourVerdict(b.String()))
	return err
}

// colourVerdict colours the verdict words of a text check report.
func colourVerdict(text string) string {
	return strings.NewReplacer(
		"(PASS)", "(\x1b[32mPASS\x1b[0m)",
		"(FAIL)", "(\x1b[31mFAIL\x1b[0m)",
		"(INCOMPLETE)", "(\x1b[33mINCOMPLETE\x1b[0m)",
	).Replace(text)
}
