package report

import (
	"fmt"
	"sort"
	"strings"
)

// The causes of a function whose code changed in the rebuild
// (RebuiltFunc.Cause).
const (
	// CauseChangedLine: the function holds a line the fix changes.
	CauseChangedLine = "changed-line"
	// CauseInlinedCode: it holds the inlined or cloned code of a changed
	// function (the dump chain says how).
	CauseInlinedCode = "inlined-code"
	// CauseCallerAssumptions: a caller compiled knowing a changed
	// callee's body (caller-assumptions predicted it; the rebuild
	// confirms it).
	CauseCallerAssumptions = "caller-assumptions"
	// CauseDecisionShift: nothing predicted it; GCC decided otherwise in
	// the patched build (a new or vanished clone, a new inlining).
	CauseDecisionShift = "decision-shift"
	// CauseLineShift: only line numbers (__LINE__, WARN/BUG lines)
	// moved: listed, not a target.
	CauseLineShift = "line-shift"
)

// How a changed function is covered by the livepatch
// (RebuiltFunc.Coverage).
const (
	// CoverageDirect: a klp_func replaces the function itself.
	CoverageDirect = "direct"
	// CoverageCallers: the function cannot be replaced itself (not
	// patchable, another ABI, a folded body); klp_func entries for its
	// callers carry it (CoveredBy).
	CoverageCallers = "through-callers"
	// CoverageMissing: a klp_func the function needs is absent.
	CoverageMissing = "missing"
	// CoverageNone: nothing to cover (a line shift, or code only boot
	// code reaches: Why says which).
	CoverageNone = "none"
)

// CheckRebuild is what rebuilding the units the fix touches showed: the
// units, original and patched, compiled again from kbuild's .cmd
// commands and compared function by function.
type CheckRebuild struct {
	// Rebuilt says the units were rebuilt and compared. When false the
	// answer is the prediction alone and Note says why.
	Rebuilt bool   `json:"rebuilt" yaml:"rebuilt"`
	Note    string `json:"note,omitempty" yaml:"note,omitempty"`
	// Units are the units rebuilt.
	Units []RebuiltUnit `json:"units" yaml:"units"`
	// Functions are the functions of the original objects whose code
	// differs in the patched rebuild, line-shift only ones included,
	// each with its cause and its coverage by the livepatch.
	Functions []RebuiltFunc `json:"functions" yaml:"functions"`
	// Dropped are predicted targets whose code the rebuild shows
	// unchanged: no longer targets.
	Dropped []DroppedTarget `json:"dropped" yaml:"dropped"`
	// New are functions only the patched build has (a new clone, a new
	// split part): the replacement code carries them; they are not
	// klp_func targets.
	New []RebuiltFunc `json:"new,omitempty" yaml:"new,omitempty"`
	// Data are the data objects the patched build adds, removes or
	// changes. An added one (a new static, a new WARN_ONCE flag) is
	// carried by the livepatch module, a removed one is left unused; a
	// changed one (initial value, size, section) no function replacement
	// carries: verdict data-change.
	Data []RebuiltData `json:"data,omitempty" yaml:"data,omitempty"`
}

// RebuiltData is a data object of a rebuilt unit the fix adds, removes or
// changes.
type RebuiltData struct {
	DataChange `yaml:",inline"`
	TU         string `json:"translation_unit" yaml:"translation_unit"`
}

// RebuiltUnit is one unit compiled again.
type RebuiltUnit struct {
	// Object is the unit's object in the tree, Source its source file.
	Object string `json:"object" yaml:"object"`
	Source string `json:"source" yaml:"source"`
	// Cached says the original came from the rebuild cache.
	Cached bool `json:"cached,omitempty" yaml:"cached,omitempty"`
	// Faithful says the rebuilt original equals the tree's object
	// (objtool's edits replayed or allowed); Identical that it is so byte
	// for byte. Differences list what differs otherwise: a problem of the
	// answer.
	Faithful bool `json:"faithful" yaml:"faithful"`
	// LineNeutral says the line shifts were told exactly: by a third,
	// line-neutral build (the patched source with "#line" directives
	// after each changed region), or because the fix moves no line.
	LineNeutral bool     `json:"line_neutral,omitempty" yaml:"line_neutral,omitempty"`
	Identical   bool     `json:"identical,omitempty" yaml:"identical,omitempty"`
	Differences []string `json:"differences,omitempty" yaml:"differences,omitempty"`
	Note        string   `json:"note,omitempty" yaml:"note,omitempty"`
}

// RebuiltFunc is one function whose code differs between the rebuilt
// original and patched objects.
type RebuiltFunc struct {
	Name string `json:"name" yaml:"name"`
	TU   string `json:"translation_unit" yaml:"translation_unit"`
	// Sympos is the position among same-named local functions of the
	// object (0: unique), as objdiff counts it.
	Sympos int `json:"sympos,omitempty" yaml:"sympos,omitempty"`
	// Cause is one of the Cause constants; Detail says it in words (the
	// dump chain, the callee whose body changed, GCC's new decision).
	Cause  string `json:"cause" yaml:"cause"`
	Detail string `json:"detail,omitempty" yaml:"detail,omitempty"`
	// Predicted says the prediction (before building) had it as a
	// target.
	Predicted bool `json:"predicted" yaml:"predicted"`
	// Coverage is one of the Coverage constants; CoveredBy the klp_func
	// targets that carry it (itself, or its callers).
	// Empty in impacted's answer, which has no livepatch.
	Coverage  string          `json:"coverage,omitempty" yaml:"coverage,omitempty"`
	CoveredBy []LivepatchFunc `json:"covered_by,omitempty" yaml:"covered_by,omitempty"`
	// Why says how it is covered when not directly (the rule that put
	// its callers in its place).
	Why string `json:"why,omitempty" yaml:"why,omitempty"`
}

// DroppedTarget is a predicted target the rebuild shows unnecessary.
type DroppedTarget struct {
	CheckTarget `yaml:",inline"`
	// Reason says why: "caller-assumptions predicted, unchanged in the
	// rebuild".
	Reason string `json:"reason" yaml:"reason"`
}

// normalizedRebuild returns a copy of r with its lists [] rather than nil.
func normalizedRebuild(r *CheckRebuild) *CheckRebuild {
	if r == nil {
		return nil
	}
	n := *r
	n.Units = emptyIfNil(r.Units)
	n.Functions = emptyIfNil(r.Functions)
	n.Dropped = make([]DroppedTarget, len(r.Dropped))
	for i, d := range r.Dropped {
		d.Chain = emptyIfNil(d.Chain)
		d.Also = nilIfEmpty(d.Also)
		n.Dropped[i] = d
	}
	n.New = nilIfEmpty(r.New)
	return &n
}

// writeTextRebuild writes the rebuild's part of the text check report.
func writeTextRebuild(b *strings.Builder, r *CheckRebuild) {
	if r == nil {
		return
	}
	if !r.Rebuilt {
		fmt.Fprintf(b, "\nnot rebuilt: %s\n", oneLine(r.Note))
		return
	}
	cached := 0
	for _, u := range r.Units {
		if u.Cached {
			cached++
		}
	}
	fmt.Fprintf(b, "\nrebuilt %s, original and patched (%s cached)", plural(len(r.Units), "unit", "units"), plural(cached, "original", "originals"))
	if r.Note != "" {
		fmt.Fprintf(b, ": %s", oneLine(r.Note))
	}
	b.WriteString("\n")
	for _, u := range r.Units {
		if !u.Faithful {
			fmt.Fprintf(b, "  %s: the rebuilt original differs from the tree's object: %s\n", oneLine(u.Object), oneLine(strings.Join(u.Differences, "; ")))
		}
	}
	fs := append([]RebuiltFunc(nil), r.Functions...)
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].TU != fs[j].TU {
			return fs[i].TU < fs[j].TU
		}
		return fs[i].Name < fs[j].Name
	})
	if len(fs) > 0 {
		fmt.Fprintf(b, "\nchanged in the rebuild (%d):\n", len(fs))
		for _, f := range fs {
			fmt.Fprintf(b, "  %s [%s] %s", oneLine(f.Name), oneLine(f.TU), f.Cause)
			if f.Detail != "" {
				fmt.Fprintf(b, ": %s", oneLine(f.Detail))
			}
			if f.Coverage == "" {
				b.WriteString("\n")
				continue
			}
			fmt.Fprintf(b, "\n    covered: %s", f.Coverage)
			if len(f.CoveredBy) > 0 {
				var names []string
				for _, c := range f.CoveredBy {
					names = append(names, funcName(c))
				}
				fmt.Fprintf(b, " by %s", oneLine(strings.Join(names, ", ")))
			}
			if f.Why != "" {
				fmt.Fprintf(b, " (%s)", oneLine(f.Why))
			}
			b.WriteString("\n")
		}
	}
	for _, f := range r.New {
		fmt.Fprintf(b, "  new in the patched build: %s [%s]: %s\n", oneLine(f.Name), oneLine(f.TU), oneLine(f.Detail))
	}
	if len(r.Data) > 0 {
		fmt.Fprintf(b, "\ndata the fix adds, removes or changes (%d):\n", len(r.Data))
		for _, d := range r.Data {
			what := map[DataStatus]string{DataAdded: "added: the livepatch module carries it", DataRemoved: "removed: left unused",
				DataChanged: "changed (" + oneLine(d.Reason) + "): no function replacement carries it"}[d.Status]
			fmt.Fprintf(b, "  %s [%s] %s\n", oneLine(d.Name), oneLine(d.TU), what)
		}
	}
	if len(r.Dropped) > 0 {
		fmt.Fprintf(b, "\npredicted, dropped by the rebuild (%d):\n", len(r.Dropped))
		for _, d := range r.Dropped {
			fmt.Fprintf(b, "  %s %s [%s]: %s\n", klpObjectOf(d.CheckTarget), oneLine(targetName(d.CheckTarget)), oneLine(d.TU), oneLine(d.Reason))
		}
	}
}
