package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// HTML is one self-contained page for a reviewer: the verdict, the
// targets as a sortable table, each target's reason chain with its
// evidence, and the impact graph drawn as inline SVG. It loads nothing
// (no network, no external script, font or style sheet); a small inline
// script sorts the table.
const HTML Format = "html"

//go:embed html.tmpl
var htmlSource string

// htmlTemplate escapes everything it is given: names, paths and messages
// come from the input and may hold anything.
// It is parsed the first time a page is written: every run of the
// command would otherwise pay for it (a third of a millisecond).
var htmlTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Parse(htmlSource))
})

// htmlPage is what the template shows; every string is plain text, made
// printable, and escaped by the template.
type htmlPage struct {
	Title        string
	Verb         string
	Verdict      string // complete, incomplete, missing, data-change, ...
	VerdictClass string // v-pass, v-fail, v-incomplete, v-unknown
	VerdictText  string
	Problems     []string
	ProblemsNote string // why the problems are listed
	Facts        []string
	Inputs       []htmlKV
	// RulesRan says the safety rules ran, so Targets is the must-patch
	// set (possibly empty); Check adds the livepatch column.
	RulesRan  bool
	Check     bool
	HasSympos bool
	Targets   []htmlTarget
	Graph     htmlGraph
	Legend    htmlLegend
	Hunks     []htmlHunk
	Changed   []htmlChanged
	Extra     []string
	// Unreplaced and Unchanged are check's build truth, when given.
	BuildTruth bool
	Unreplaced []string
	Unchanged  []string
	Explained  []htmlExplained
	Notes      []string
	Footer     string
}

type htmlKV struct{ Key, Value string }

type htmlTarget struct {
	Anchor    string // id of its reason chain
	Node      string // id of its node in the graph
	Order     int    // row in the default order
	KLPObject string
	Name      string
	TU        string
	Binding   string
	Rule      string
	Also      string
	Severity  string
	SevClass  string
	SevKey    string // sorts must, conditional, review, other, ignored
	OldSympos string
	SymposKey string
	Note      string
	Ignored   string
	Status    string // check: missing, not replaced, replaced
	StatusCls string
	StatusKey string
	Source    string
	Because   string
	SymposEv  string
	Chain     []htmlStep
}

type htmlStep struct {
	N        int
	To       string
	From     string
	TU       string
	How      string
	Rule     string
	Evidence string
}

type htmlHunk struct{ At, Lines, Kind, Functions, Note string }

type htmlChanged struct{ Name, At, TUs string }

type htmlExplained struct{ Name, TU, Rule, Why string }

type htmlGraph struct {
	W, H  int
	Lanes []htmlLane
	Edges []htmlEdge
	Nodes []htmlNode
	Empty string
}

type htmlLane struct {
	Y, H, W, TitleY int
	Title           string
}

type htmlEdge struct{ Class, D, Title string }

type htmlNode struct {
	ID, Class        string
	X, Y, W, H       int
	TextX, L1Y, L2Y  int
	TU, Name         string
	Line1, Line2     string
	Title, Href      string
	Entry            bool
	TargetName, Rank string
}

type htmlLegend struct {
	W, H  int
	Keys  []htmlKey
	Edges []htmlLegendEdge
}

// htmlKey is one sample node of the legend, its description beside it.
type htmlKey struct {
	Class        string
	X, Y, W, H   int
	TextX, TextY int
	Label, Desc  string
	DescX        int
}

type htmlLegendEdge struct {
	Class, D, Label string
	TextX, TextY    int
}

// renderHTML writes the impacted answer r as one HTML page.
func renderHTML(w io.Writer, r *Result) error {
	if r == nil {
		return errNilResult
	}
	p := &htmlPage{Verb: VerbImpacted, RulesRan: r.Targets != nil || r.Policy != ""}
	fn := Printable(r.Query.Function)
	if fn == "" {
		fn = "(no function given)"
	}
	p.Title = "klp-audit impacted: " + fn
	if r.Complete {
		p.Verdict, p.VerdictClass = "complete", "v-pass"
		p.VerdictText = "all evidence was read: the targets below are what the livepatch must replace (and a reviewer decide on)"
		if len(r.Problems) > 0 {
			p.ProblemsNote = "The answer is marked complete, but problems were recorded:"
		}
	} else {
		p.Verdict, p.VerdictClass = "incomplete", "v-incomplete"
		p.VerdictText = "evidence was missing or unreadable: what follows is a lower bound, not a safe answer"
		p.ProblemsNote = "What was missing or unreadable:"
		if len(r.Problems) == 0 {
			p.Problems = []string{"(no problem was recorded)"}
		}
	}
	for _, pr := range sortedProblems(r.Problems) {
		p.Problems = append(p.Problems, pr.String())
	}
	var hb strings.Builder
	writeHeadline(&hb, r)
	p.Facts = strings.Split(strings.TrimSuffix(hb.String(), "\n"), "\n")
	if p.RulesRan {
		p.Facts = append(p.Facts, targetCounts(r.Targets))
	}

	for _, b := range r.Inputs.Builds {
		p.Inputs = append(p.Inputs, htmlKV{"build", Printable(b)})
	}
	for _, d := range r.Inputs.DumpLists {
		p.Inputs = append(p.Inputs, htmlKV{"dump list", Printable(d)})
	}
	p.Inputs = append(p.Inputs, htmlKV{"read", fmt.Sprintf("%s, %s, %s",
		plural(r.Inputs.Dumps, "dump", "dumps"), plural(r.Inputs.TUs, "translation unit", "translation units"),
		plural(r.Inputs.Records, "dump record", "dump records"))})
	for _, q := range []htmlKV{{"file", r.Query.File}, {"translation unit", r.Query.TU}, {"policy", r.Policy}} {
		if q.Value != "" {
			p.Inputs = append(p.Inputs, htmlKV{q.Key, Printable(q.Value)})
		}
	}

	g := newImpactGraph()
	g.addEntries(r.Entries, r.Edges)
	ts := sortedTargets(r.Targets)
	gts := make([]*gTarget, len(ts))
	for i, t := range ts {
		gts[i] = &gTarget{name: t.Name, tu: t.TU, severity: t.Severity, ignored: t.IgnoredBecause != "",
			anchor: "t" + strconv.Itoa(i+1), chain: t.Chain}
		g.addTarget(gts[i])
	}
	for _, e := range r.Explained {
		if e.Rule == "not-patchable" {
			g.node(e.TU, e.Name).notPatchable = true
		}
	}
	g.layout()
	for i, t := range ts {
		ht := htmlTargetOf(t, gts[i])
		ht.Order = i
		if t.IgnoredBecause != "" {
			ht.Ignored = Printable(t.IgnoredBecause)
		}
		if t.OldSymposEvidence != "" {
			ht.SymposEv = Printable(t.OldSymposEvidence)
		}
		p.HasSympos = p.HasSympos || t.OldSympos != nil
		p.Targets = append(p.Targets, ht)
	}
	p.Graph = graphView(g, "no function carries the queried code")
	p.Legend = legendView(g, false)

	ex := append([]Explained(nil), r.Explained...)
	sort.SliceStable(ex, func(i, j int) bool {
		if ex[i].TU != ex[j].TU {
			return ex[i].TU < ex[j].TU
		}
		return ex[i].Name < ex[j].Name
	})
	for _, e := range ex {
		p.Explained = append(p.Explained, htmlExplained{displayName(e.Name), Printable(tuName(e.TU)), Printable(e.Rule), Printable(e.Why)})
	}
	for _, n := range r.Notes {
		p.Notes = append(p.Notes, Printable(n))
	}
	p.Footer = footer(r.Tool, "report schema", r.SchemaVersion)
	return executeHTML(w, p)
}

// renderCheckHTML writes the check answer r as one HTML page.
func renderCheckHTML(w io.Writer, r *CheckResult) error {
	p := &htmlPage{Verb: VerbCheck, RulesRan: true, Check: true}
	p.Title = "klp-audit check: " + Printable(orNone(r.Inputs.Diff))
	p.Verdict = Printable(orNone(r.Verdict))
	p.VerdictText = verdictText(r.Verdict)
	switch checkStatus(r.Verdict) {
	case "PASS":
		p.VerdictClass = "v-pass"
	case "FAIL":
		p.VerdictClass = "v-fail"
	case "INCOMPLETE":
		p.VerdictClass = "v-incomplete"
	default:
		p.VerdictClass = "v-unknown"
	}
	if len(r.Problems) > 0 {
		p.ProblemsNote = "Problems (the answer may be incomplete):"
	}
	for _, pr := range sortedProblems(r.Problems) {
		p.Problems = append(p.Problems, pr.String())
	}
	p.Facts = []string{fmt.Sprintf("covered: %d, missing: %d, review: %d, extra: %d",
		len(r.Covered), len(r.Missing), len(r.Review), len(r.Extra))}
	in := r.Inputs
	for _, q := range []htmlKV{{"diff", in.Diff}, {"livepatch", in.Livepatch}, {"functions", in.Funcs},
		{"original build", in.Orig}, {"patched build", in.Patched}, {"policy", in.Policy}} {
		if q.Value != "" {
			p.Inputs = append(p.Inputs, htmlKV{q.Key, Printable(q.Value)})
		}
	}
	for _, b := range in.Builds {
		p.Inputs = append(p.Inputs, htmlKV{"build", Printable(b)})
	}

	g := newImpactGraph()
	changed := append([]ChangedFunc(nil), r.Changed...)
	sort.SliceStable(changed, func(i, j int) bool {
		a, b := changed[i], changed[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	for _, c := range changed {
		tus := append([]string(nil), c.TUs...)
		sort.Strings(tus)
		if len(tus) == 0 {
			tus = []string{""}
		}
		for _, tu := range tus {
			g.addChanged(tu, c.Name)
		}
		p.Changed = append(p.Changed, htmlChanged{displayName(c.Name), Printable(position(c.File, c.Line)),
			Printable(strings.Join(c.TUs, ", "))})
	}
	type listed struct {
		t      CheckTarget
		status string
	}
	var all []listed
	for _, l := range []struct {
		ts     []CheckTarget
		status string
	}{{r.Missing, "missing"}, {r.Review, "not-replaced"}, {r.Covered, "covered"}} {
		for _, t := range sortedCheckTargets(l.ts) {
			all = append(all, listed{t, l.status})
		}
	}
	gts := make([]*gTarget, len(all))
	for i, l := range all {
		gts[i] = &gTarget{name: l.t.Name, tu: l.t.TU, severity: l.t.Severity, ignored: l.t.IgnoredBecause != "",
			status: l.status, anchor: "t" + strconv.Itoa(i+1), chain: l.t.Chain}
		g.addTarget(gts[i])
	}
	g.layout()
	for i, l := range all {
		ht := htmlTargetOf(l.t.Target, gts[i])
		ht.Order = i
		ht.Status = strings.ReplaceAll(l.status, "-", " ")
		if l.status == "covered" {
			ht.Status = "replaced"
		}
		ht.StatusCls = strings.ReplaceAll(ht.Status, " ", "-")
		ht.StatusKey = strconv.Itoa(map[string]int{"missing": 0, "not-replaced": 1, "covered": 2}[l.status])
		if l.t.Because != "" {
			ht.Because = "changed " + displayName(l.t.Because)
			if at := position(l.t.File, l.t.Line); at != "" {
				ht.Because += " at " + Printable(at)
			}
		}
		p.HasSympos = p.HasSympos || l.t.OldSympos != nil
		p.Targets = append(p.Targets, ht)
	}
	p.Graph = graphView(g, "no changed function and no target")
	p.Legend = legendView(g, true)

	for _, h := range sortedHunks(r.Hunks) {
		hh := htmlHunk{At: Printable(orUnknownFile(position(h.File, h.Line))), Kind: Printable(orNone(h.Kind)),
			Functions: Printable(strings.Join(h.Functions, ", ")), Note: Printable(h.Note)}
		if h.Lines > 0 {
			hh.Lines = strconv.Itoa(h.Lines)
		}
		p.Hunks = append(p.Hunks, hh)
	}
	for _, f := range sortedLivepatchFuncs(r.Extra) {
		p.Extra = append(p.Extra, htmlFunc(f))
	}
	if bt := r.BuildTruth; bt != nil {
		p.BuildTruth = true
		for _, f := range sortedLivepatchFuncs(bt.Unreplaced) {
			p.Unreplaced = append(p.Unreplaced, htmlFunc(f))
		}
		for _, f := range sortedLivepatchFuncs(bt.Unchanged) {
			p.Unchanged = append(p.Unchanged, htmlFunc(f))
		}
	}
	p.Footer = footer(r.Tool, "check schema", r.SchemaVersion)
	return executeHTML(w, p)
}

// executeHTML renders the page into memory first, so a write error is
// returned as it is and nothing half-rendered is written on a template
// error.
func executeHTML(w io.Writer, p *htmlPage) error {
	var b bytes.Buffer
	if err := htmlTemplate().Execute(&b, p); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// sortedTargets orders the impacted targets as the table first shows
// them: by severity (must, conditional, review, others, then those the
// policy ignores), klp_object, name and translation unit.
func sortedTargets(ts []Target) []Target {
	s := append([]Target(nil), ts...)
	sort.SliceStable(s, func(i, j int) bool {
		a, b := &s[i], &s[j]
		switch ra, rb := sevRank(*a), sevRank(*b); {
		case ra != rb:
			return ra < rb
		case a.KLPObject != b.KLPObject:
			return a.KLPObject < b.KLPObject
		case a.Name != b.Name:
			return a.Name < b.Name
		case a.TU != b.TU:
			return a.TU < b.TU
		case sympos(a.OldSympos) != sympos(b.OldSympos):
			return sympos(a.OldSympos) < sympos(b.OldSympos)
		case a.Rule != b.Rule:
			return a.Rule < b.Rule
		}
		return lastStep(a.Chain) < lastStep(b.Chain)
	})
	return s
}

func sevRank(t Target) int {
	if t.IgnoredBecause != "" {
		return 4
	}
	switch t.Severity {
	case "must":
		return 0
	case "conditional":
		return 1
	case "review":
		return 2
	}
	return 3
}

// targetCounts says how many targets there are of each severity.
func targetCounts(ts []Target) string {
	counts := map[string]int{}
	var other []string
	for _, t := range ts {
		sev := t.Severity
		if t.IgnoredBecause != "" {
			sev = "ignored by the policy"
		}
		if counts[sev] == 0 && sev != "must" && sev != "conditional" && sev != "review" && sev != "ignored by the policy" {
			other = append(other, sev)
		}
		counts[sev]++
	}
	s := "The livepatch must replace " + plural(counts["must"], "function", "functions")
	if n := counts["conditional"]; n > 0 {
		s += fmt.Sprintf("; %d more under a condition", n)
	}
	if n := counts["review"]; n > 0 {
		s += fmt.Sprintf("; a reviewer decides on %d more", n)
	}
	sort.Strings(other)
	for _, o := range other {
		s += fmt.Sprintf("; %d of severity %q", counts[o], Printable(o))
	}
	if n := counts["ignored by the policy"]; n > 0 {
		s += fmt.Sprintf("; %d ignored by the policy", n)
	}
	return s + "."
}

// htmlTargetOf fills the table row and reason chain of target t, drawn
// as gt.
func htmlTargetOf(t Target, gt *gTarget) htmlTarget {
	ht := htmlTarget{
		Anchor: gt.anchor, KLPObject: Printable(orNone(t.KLPObject)), Name: displayName(t.Name),
		TU: Printable(tuName(t.TU)), Binding: Printable(t.Binding), Rule: Printable(t.Rule),
		Also: Printable(strings.Join(t.Also, ", ")), Severity: Printable(orNone(t.Severity)),
		SevClass: sevClass(t.Severity), SevKey: strconv.Itoa(sevRank(t)), Note: Printable(t.Note),
		Source: Printable(position(t.SourceFile, t.SourceLine)),
	}
	if t.IgnoredBecause != "" {
		ht.Severity = "ignored (" + ht.Severity + ")"
		ht.SevClass = "sev-ignored"
	}
	ht.SymposKey = "0000000000"
	if t.OldSympos != nil {
		ht.OldSympos = strconv.Itoa(*t.OldSympos)
		ht.SymposKey = fmt.Sprintf("%010d", *t.OldSympos+1)
	}
	for i, s := range t.Chain {
		ht.Chain = append(ht.Chain, htmlStep{N: i + 1, To: displayName(s.To), From: displayName(s.From),
			TU: Printable(tuName(s.TU)), How: Printable(s.How), Rule: Printable(s.Rule), Evidence: Printable(s.Evidence)})
	}
	return ht
}

func htmlFunc(f LivepatchFunc) string {
	s := Printable(funcName(f))
	if f.Object != "" {
		s += " in " + Printable(f.Object)
	}
	if at := position(f.File, f.Line); at != "" {
		s += " (" + Printable(at) + ")"
	}
	return s
}

func footer(t Tool, schema string, version int) string {
	s := Printable(orUnnamed(t.Name))
	if t.Version != "" {
		s += " " + Printable(t.Version)
	}
	if t.Revision != "" {
		s += " (" + Printable(t.Revision) + ")"
	}
	return s + ", " + schema + " " + strconv.Itoa(version)
}

// graphView turns the laid-out graph into what the template draws.
func graphView(g *impactGraph, empty string) htmlGraph {
	v := htmlGraph{W: g.w, H: g.h}
	if len(g.nodes) == 0 {
		v.Empty = empty
		return v
	}
	for _, l := range g.lanes {
		v.Lanes = append(v.Lanes, htmlLane{Y: l.y - svgPad/2, H: l.h + svgPad, W: g.w, TitleY: l.y + 14,
			Title: Printable(tuName(l.tu))})
	}
	for _, e := range g.edges {
		v.Edges = append(v.Edges, htmlEdge{Class: edgeClass(e), D: edgePath(e), Title: edgeTitle(e)})
	}
	for _, l := range g.lanes {
		for _, n := range l.nodes {
			l1, l2 := nodeLabel(n)
			hn := htmlNode{ID: n.id, Class: nodeClasses(n), X: n.x, Y: n.y, W: n.w, H: svgNodeH,
				TextX: n.x + svgCharW, L1Y: n.y + 15, L2Y: n.y + 30,
				TU: Printable(n.key.tu), Name: Printable(n.key.name), Line1: l1, Line2: l2,
				Title: nodeTitle(n), Entry: n.inEntries}
			if n.target != nil {
				hn.Href = "#" + n.target.anchor
			}
			v.Nodes = append(v.Nodes, hn)
		}
	}
	return v
}

// legendView is the key to the drawing: one sample node per style and
// one sample line per kind of edge. The conditional and ignored tiers
// appear only when the graph has them.
func legendView(g *impactGraph, check bool) htmlLegend {
	has := map[string]bool{}
	for _, n := range g.nodes {
		for _, c := range strings.Fields(nodeClasses(n)) {
			has[c] = true
		}
	}
	type item struct{ class, label, text string }
	items := []item{{"changed", "changed", "changed code"}}
	if check {
		items = append(items,
			item{"target sev-must missing", "MISSING must", "must target the livepatch misses"},
			item{"target sev-review not-replaced", "review", "review target, not replaced"},
			item{"target sev-must covered", "replaced", "target the livepatch replaces"})
	} else {
		items = append(items,
			item{"target sev-must", "must", "must-patch target"},
			item{"target sev-review", "review", "target for a reviewer"})
	}
	if has["sev-conditional"] {
		items = append(items, item{"target sev-conditional", "conditional", "target under a condition"})
	}
	if has["ignored"] {
		items = append(items, item{"target ignored", "ignored", "target the policy ignores"})
	}
	items = append(items,
		item{"not-emitted", "not emitted", "no symbol: inlined or cloned away"},
		item{"not-patchable", "not patchable", "no ftrace entry: callers replaced"},
		item{"", "inlined", "carries the code, not a target"})
	var v htmlLegend
	const cols, colW, rowH, keyW = 2, 480, 30, 124
	for i, it := range items {
		x, y := svgPad+(i%cols)*colW, svgPad+(i/cols)*rowH
		v.Keys = append(v.Keys, htmlKey{Class: strings.TrimSpace("key " + it.class), X: x, Y: y, W: keyW, H: rowH - 8,
			TextX: x + svgCharW, TextY: y + 15, Label: it.label, DescX: x + keyW + svgCharW, Desc: it.text})
	}
	for i, e := range []struct{ class, label string }{
		{"edge inline", "inlined (a dump's line)"},
		{"edge clone", "cloned: constprop, isra, part… (a dump's line)"},
		{"edge rule", "a rule's step (a call site in the object)"},
	} {
		j := len(items) + i
		x, y := svgPad+(j%cols)*colW, svgPad+(j/cols)*rowH+(rowH-8)/2
		v.Edges = append(v.Edges, htmlLegendEdge{Class: e.class, D: pathf("M", x+8, y, "L", x+keyW-12, y), Label: e.label,
			TextX: x + keyW + svgCharW, TextY: y + 4})
	}
	rows := (len(items) + 3 + cols - 1) / cols
	v.W, v.H = 2*svgPad+cols*colW, 2*svgPad+rows*rowH-8
	return v
}
