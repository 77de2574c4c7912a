package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// The formats only the check report has.
const (
	// SARIF is SARIF 2.1.0, for code scanning annotations on the diff.
	SARIF Format = "sarif"
	// Markdown is a summary fit for a review comment.
	Markdown Format = "markdown"
)

// RenderCheck writes r to w in format f, one of FormatsOf(VerbCheck). r is not
// changed.
func RenderCheck(w io.Writer, r *CheckResult, f Format) error {
	if r == nil {
		return errNilResult
	}
	switch f {
	case Text:
		return renderCheckText(w, r)
	case YAML:
		return renderCheckYAML(w, r)
	case JSON:
		return renderCheckJSON(w, r)
	case SARIF:
		return renderCheckSARIF(w, r)
	case Markdown:
		return renderCheckMarkdown(w, r)
	case HTML:
		return renderCheckHTML(w, r)
	}
	return fmt.Errorf("unknown check format %q", f)
}

// renderCheckJSON writes r following the check schema, indented by two
// spaces and ending in a newline; the lists the schema always carries are
// [] when empty, never null.
func renderCheckJSON(w io.Writer, r *CheckResult) error {
	return Encode(w, normalizedCheck(r), JSON)
}

// renderCheckYAML writes r following the check schema, indented by two
// spaces; the lists the schema always carries are [] when empty.
func renderCheckYAML(w io.Writer, r *CheckResult) error {
	return Encode(w, normalizedCheck(r), YAML)
}

// normalizedCheck returns a copy of r shaped for YAML and JSON: the lists
// without omitempty are empty rather than nil (encoded as []), and the
// omitempty lists are nil when empty, so a decoded report compares equal
// to it. r itself is not changed.
func normalizedCheck(r *CheckResult) *CheckResult {
	n := *r
	n.Inputs.Builds = nilIfEmpty(r.Inputs.Builds)
	n.Problems = emptyIfNil(r.Problems)
	n.Hunks = make([]Hunk, len(r.Hunks))
	for i, h := range r.Hunks {
		h.Functions = nilIfEmpty(h.Functions)
		n.Hunks[i] = h
	}
	n.Changed = make([]ChangedFunc, len(r.Changed))
	for i, c := range r.Changed {
		c.TUs = nilIfEmpty(c.TUs)
		n.Changed[i] = c
	}
	n.Missing = normalizedTargets(r.Missing)
	n.Conditional = normalizedTargets(r.Conditional)
	n.Review = normalizedTargets(r.Review)
	n.Covered = normalizedTargets(r.Covered)
	n.Extra = emptyIfNil(r.Extra)
	n.Unresolved = nilIfEmpty(r.Unresolved)
	if r.BuildTruth != nil {
		bt := *r.BuildTruth
		bt.Unreplaced = emptyIfNil(bt.Unreplaced)
		bt.Unchanged = emptyIfNil(bt.Unchanged)
		n.BuildTruth = &bt
	}
	n.Rebuild = normalizedRebuild(r.Rebuild)
	return &n
}

func normalizedTargets(ts []CheckTarget) []CheckTarget {
	out := make([]CheckTarget, len(ts))
	for i, t := range ts {
		t.Chain = emptyIfNil(t.Chain)
		t.Also = nilIfEmpty(t.Also)
		out[i] = t
	}
	return out
}

// sortedCheckTargets returns a copy of ts ordered by klp_object, name,
// old_sympos, translation unit and then the remaining fields, so the
// human-facing renderers and SARIF do not depend on the given order.
func sortedCheckTargets(ts []CheckTarget) []CheckTarget {
	s := append([]CheckTarget(nil), ts...)
	sort.SliceStable(s, func(i, j int) bool {
		a, b := &s[i], &s[j]
		switch {
		case a.KLPObject != b.KLPObject:
			return a.KLPObject < b.KLPObject
		case a.Name != b.Name:
			return a.Name < b.Name
		case sympos(a.OldSympos) != sympos(b.OldSympos):
			return sympos(a.OldSympos) < sympos(b.OldSympos)
		case a.TU != b.TU:
			return a.TU < b.TU
		case a.File != b.File:
			return a.File < b.File
		case a.Line != b.Line:
			return a.Line < b.Line
		case a.Rule != b.Rule:
			return a.Rule < b.Rule
		case a.Because != b.Because:
			return a.Because < b.Because
		}
		return lastStep(a.Chain) < lastStep(b.Chain)
	})
	return s
}

// sortedLivepatchFuncs returns a copy of fs ordered by klp_object, name,
// old_sympos and location.
func sortedLivepatchFuncs(fs []LivepatchFunc) []LivepatchFunc {
	s := append([]LivepatchFunc(nil), fs...)
	sort.SliceStable(s, func(i, j int) bool { return lessLivepatchFunc(&s[i], &s[j]) })
	return s
}

// lessLivepatchFunc orders klp_funcs by object, name, old_sympos, file
// and line.
func lessLivepatchFunc(a, b *LivepatchFunc) bool {
	switch {
	case a.Object != b.Object:
		return a.Object < b.Object
	case a.OldName != b.OldName:
		return a.OldName < b.OldName
	case a.OldSympos != b.OldSympos:
		return a.OldSympos < b.OldSympos
	case a.File != b.File:
		return a.File < b.File
	}
	return a.Line < b.Line
}

// sortedHunks returns a copy of hs ordered by file, line and kind.
func sortedHunks(hs []Hunk) []Hunk {
	s := append([]Hunk(nil), hs...)
	sort.SliceStable(s, func(i, j int) bool {
		a, b := &s[i], &s[j]
		switch {
		case a.File != b.File:
			return a.File < b.File
		case a.Line != b.Line:
			return a.Line < b.Line
		case a.Kind != b.Kind:
			return a.Kind < b.Kind
		}
		return a.Note < b.Note
	})
	return s
}

// sortedProblems returns a copy of ps ordered by file, line and message.
func sortedProblems(ps []Problem) []Problem {
	s := append([]Problem(nil), ps...)
	sort.SliceStable(s, func(i, j int) bool {
		a, b := &s[i], &s[j]
		switch {
		case a.File != b.File:
			return a.File < b.File
		case a.Line != b.Line:
			return a.Line < b.Line
		}
		return a.Message < b.Message
	})
	return s
}

func sympos(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// dataHunks are the hunks of kind "data": changes a function replacement
// cannot carry.
func dataHunks(r *CheckResult) []Hunk {
	var out []Hunk
	for _, h := range sortedHunks(r.Hunks) {
		if h.Kind == "data" {
			out = append(out, h)
		}
	}
	return out
}

// lastStep says in words the last step of a reason chain, from the side
// of the function it leads to, with its evidence: "util_submit calls
// nt_global, which cannot be patched [obj.o: call site util_submit+0x5]".
// Empty for an empty chain.
func lastStep(chain []Step) string {
	if len(chain) == 0 {
		return ""
	}
	s := chain[len(chain)-1]
	if s.Evidence == "" {
		return Relation(s)
	}
	return Relation(s) + " [" + Printable(s.Evidence) + "]"
}

// targetName is a target's name with its old_sympos, when known and not 0.
func targetName(t CheckTarget) string {
	n := orUnnamed(t.Name)
	if p := sympos(t.OldSympos); p != 0 {
		n += "," + strconv.Itoa(p)
	}
	return n
}

// funcName is a klp_func's old_name with its old_sympos, when not 0.
func funcName(f LivepatchFunc) string {
	n := orUnnamed(f.OldName)
	if f.OldSympos != 0 {
		n += "," + strconv.Itoa(f.OldSympos)
	}
	return n
}

func orUnnamed(s string) string {
	if s == "" {
		return "(unnamed)"
	}
	return s
}

// position is file:line, file alone when the line is unknown, or "" when
// the file is.
func position(file string, line int) string {
	switch {
	case file == "":
		return ""
	case line < 1:
		return file
	}
	return file + ":" + strconv.Itoa(line)
}

// targetWhy explains a target: the rule that made it one, the changed
// function and hunk the chain starts from, and the chain's last step.
func targetWhy(t CheckTarget) string {
	return whyText(t, true)
}

// whyText is targetWhy, naming the rule or not (when a table column
// already does).
func whyText(t CheckTarget, rule bool) string {
	var parts []string
	if rule && t.Rule != "" {
		parts = append(parts, "rule "+t.Rule)
	}
	if t.Because != "" {
		c := "changed " + t.Because
		if p := position(t.File, t.Line); p != "" {
			c += " at " + p
		}
		parts = append(parts, c)
	}
	if s := lastStep(t.Chain); s != "" {
		parts = append(parts, s)
	}
	if t.Note != "" {
		parts = append(parts, t.Note)
	}
	if len(parts) == 0 {
		return "no reason recorded"
	}
	return strings.Join(parts, "; ")
}

// sortedUnresolved returns a copy of us ordered as sortedLivepatchFuncs
// orders klp_funcs.
func sortedUnresolved(us []UnresolvedFunc) []UnresolvedFunc {
	s := append([]UnresolvedFunc(nil), us...)
	sort.SliceStable(s, func(i, j int) bool { return lessLivepatchFunc(&s[i].LivepatchFunc, &s[j].LivepatchFunc) })
	return s
}
