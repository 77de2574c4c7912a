package report

import (
	"html"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// targetsResult: an answer with every style the HTML report draws. leafy
// is replaced by its clone leafy.isra.0 (not emitted) and inlined into
// nt_inline, which has no ftrace entry (not patchable, so its caller
// nt_user is a target); caller1 calls the clone (changed-abi); api_user
// in another unit calls the global helper (a review item), cond_fn is a
// conditional target and quiet_fn one the policy ignores.
func htmlTargetsResult() *Result {
	b := newBuilder("leafy", true)
	const tu, src = "callers.o", "callers.c"
	emitted := func(fentry bool) mod {
		return func(e *Entry) {
			e.Emitted, e.Object = "yes", tu
			e.Symbols = []Symbol{{Name: e.Name, Binding: "local", Section: ".text", Size: 16, Fentry: fentry}}
		}
	}
	q := b.root(tu, "leafy", src, 3, func(e *Entry) {
		e.Emitted, e.WhyNotEmitted, e.Object = "no", "replaced by its clones: leafy.isra.0", tu
	})
	isra := b.add(q, "isra", "leafy.isra.0", src, 3, emitted(true))
	nt := b.add(q, "inlined", "nt_inline", src, 20, emitted(false))
	helper := b.root("helpers.o", "helper", "helpers.c", 7, emitted(true))
	r := b.done()
	r.Summary.Emitted = 3
	r.Policy = "default"

	callStep := func(from Entry, to, toTU, rule, site string) Step {
		return Step{From: from.Name, To: to, TU: toTU, How: "called by", Rule: rule,
			Evidence: strings.TrimSuffix(toTU, ".o") + ".o: call site " + site}
	}
	containment := func(e Entry) []Step {
		var c []Step
		for _, s := range e.Chain {
			s.Rule = "containment"
			c = append(c, s)
		}
		return c
	}
	target := func(name, tu, sev, rule string, sympos *int, chain []Step) Target {
		return Target{Name: name, TU: tu, Object: tu, KLPObject: "vmlinux", Binding: "local", Section: ".text",
			Severity: sev, Rule: rule, OldSympos: sympos, Chain: chain}
	}
	one, two := 1, 2
	caller1 := target("caller1", tu, "must", "changed-abi", &two,
		append(containment(isra), callStep(isra, "caller1", tu, "changed-abi", "caller1+0x7")))
	caller1.SourceFile, caller1.SourceLine = src, 30
	caller1.Note = "calls a clone whose ABI differs"
	ntUser := target("nt_user", tu, "must", "not-patchable", nil,
		append(containment(nt), callStep(nt, "nt_user", tu, "not-patchable", "nt_user+0x12")))
	apiUser := target("api_user", "user.o", "review", "caller-assumptions", &one,
		[]Step{callStep(helper, "api_user", "user.o", "caller-assumptions", "api_user+0x30")})
	apiUser.Binding, apiUser.Note = "global", "pure-const: the call may be CSE'd"
	cond := target("cond_fn", "user.o", "conditional", "caller-assumptions", nil,
		[]Step{callStep(helper, "cond_fn", "user.o", "caller-assumptions", "cond_fn+0x4")})
	cond.Note = "only if the fix changes helper's return range"
	quiet := target("quiet_fn", tu, "must", "changed-abi", nil,
		append(containment(isra), callStep(isra, "quiet_fn", tu, "changed-abi", "quiet_fn+0x9")))
	quiet.IgnoredBecause = "tested: uses no call-clobbered register"
	helperT := target("helper", "helpers.o", "must", "containment", nil, []Step{})
	helperT.Binding = "global"
	israT := target("leafy.isra.0", tu, "must", "containment", nil, containment(isra))
	r.Targets = []Target{israT, helperT, caller1, ntUser, apiUser, cond, quiet}
	r.Summary.Must, r.Summary.Review, r.Summary.Ignored = 4, 1, 1
	r.Explained = []Explained{
		{Name: "nt_inline", TU: tu, Rule: "not-patchable", Why: "not directly patchable: no ftrace entry; its callers are replaced instead"},
		{Name: "leafy", TU: tu, Rule: "containment", Why: "not emitted: replaced by its clones"},
	}
	r.Notes = []string{"a note"}
	return r
}

func TestHTMLGoldenTargets(t *testing.T) {
	r := htmlTargetsResult()
	got := render(t, r, HTML)
	path := filepath.Join("testdata", "golden", "targets-styles.html")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("differs from %s\ninput:\n%s\ngot:\n%s", path, dump(r), got)
	}
}

var (
	svgNodeRE  = regexp.MustCompile(`<g id="n\d+" class="node( [^"]*)?" data-tu="([^"]*)" data-name="([^"]*)"( data-entry="yes")?>`)
	svgEdgeRE  = regexp.MustCompile(`<path class="edge (inline|clone|rule)" d="[^"]*"><title>`)
	rowNameRE  = regexp.MustCompile(`<tr class="target" data-order="\d+" data-name="([^"]*)">`)
	sevCellRE  = regexp.MustCompile(`<td class="(sev-[a-z]+) nowrap" data-key="\d">`)
	externalRE = regexp.MustCompile(`(?i)https?:|<link|@import|src=|url\((?:[^#]|$)`)
)

// svgNodes returns the class list of each node of the drawing, keyed by
// unit and name.
func svgNodes(t *testing.T, page string) map[[2]string]string {
	t.Helper()
	nodes := map[[2]string]string{}
	for _, m := range svgNodeRE.FindAllStringSubmatch(page, -1) {
		k := [2]string{m[2], m[3]}
		if _, dup := nodes[k]; dup {
			t.Errorf("node %v drawn twice", k)
		}
		nodes[k] = strings.TrimSpace(m[1])
	}
	return nodes
}

// TestHTMLContent checks the page of targetsResult against the model:
// one node per entry and per target, each in the style of what it is;
// one table row per target, must before conditional before review
// before ignored; an edge per distinct step; every reason chain.
func TestHTMLContent(t *testing.T) {
	r := htmlTargetsResult()
	page := render(t, r, HTML)

	nodes := svgNodes(t, page)
	want := map[[2]string]bool{}
	for _, e := range r.Entries {
		want[[2]string{e.TU, e.Name}] = true
	}
	for _, tg := range r.Targets {
		want[[2]string{tg.TU, tg.Name}] = true
	}
	if len(nodes) != len(want) {
		t.Errorf("%d nodes drawn, want %d (entries and targets): %v", len(nodes), len(want), nodes)
	}
	for k := range want {
		if _, ok := nodes[k]; !ok {
			t.Errorf("no node for %v", k)
		}
	}
	for k, want := range map[[2]string]string{
		{"callers.o", "leafy"}:        "changed not-emitted",
		{"callers.o", "nt_inline"}:    "not-patchable",
		{"callers.o", "caller1"}:      "target sev-must off-entries",
		{"user.o", "api_user"}:        "target sev-review off-entries",
		{"user.o", "cond_fn"}:         "target sev-conditional off-entries",
		{"callers.o", "quiet_fn"}:     "target sev-must ignored off-entries",
		{"helpers.o", "helper"}:       "changed target sev-must",
		{"callers.o", "leafy.isra.0"}: "target sev-must",
	} {
		if got := nodes[k]; got != want {
			t.Errorf("node %v: classes %q, want %q", k, got, want)
		}
	}

	var rows []string
	for _, m := range rowNameRE.FindAllStringSubmatch(page, -1) {
		rows = append(rows, m[1])
	}
	if got, want := strings.Join(rows, " "), "caller1 helper leafy.isra.0 nt_user cond_fn api_user quiet_fn"; got != want {
		t.Errorf("table rows %q, want %q", got, want)
	}
	var sevs []string
	for _, m := range sevCellRE.FindAllStringSubmatch(page, -1) {
		sevs = append(sevs, m[1])
	}
	if !sort.SliceIsSorted(sevs, func(i, j int) bool { return sevRankOf(sevs[i]) < sevRankOf(sevs[j]) }) || len(sevs) != len(r.Targets) {
		t.Errorf("severity cells %v: want one per target, must first and ignored last", sevs)
	}

	// Distinct steps of the impact graph and the chains: isra and inlined
	// from leafy, and five calls (changed-abi twice, not-patchable,
	// caller-assumptions twice).
	edges := svgEdgeRE.FindAllStringSubmatch(page, -1)
	count := map[string]int{}
	for _, e := range edges {
		count[e[1]]++
	}
	if count["clone"] != 1 || count["inline"] != 1 || count["rule"] != 5 {
		t.Errorf("edges %v, want 1 clone, 1 inline, 5 rule", count)
	}
	text := html.UnescapeString(page)
	for _, tg := range r.Targets {
		for _, s := range tg.Chain {
			if !strings.Contains(text, ">"+s.Evidence+"<") {
				t.Errorf("target %s: evidence %q not shown", tg.Name, s.Evidence)
			}
		}
	}
	if n := strings.Count(page, `<article class="chain"`); n != len(r.Targets) {
		t.Errorf("%d reason chains, want %d", n, len(r.Targets))
	}
	for _, s := range []string{`data-verdict="complete"`, "tested: uses no call-clobbered register", "a note", "<th data-col=\"old_sympos\">"} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
}

func sevRankOf(class string) int {
	return map[string]int{"sev-must": 0, "sev-conditional": 1, "sev-review": 2, "sev-other": 3, "sev-ignored": 4}[class]
}

// TestHTMLSelfContained: the page loads nothing: no URL, no linked style
// sheet, no external script or image, no url() but to its own markers.
func TestHTMLSelfContained(t *testing.T) {
	pages := map[string]string{"targets": render(t, htmlTargetsResult(), HTML)}
	for _, c := range cases {
		pages[c.name] = render(t, c.make(), HTML)
	}
	for _, c := range checkCases {
		pages["check."+c.name] = renderCheck(t, c.make(), HTML)
	}
	for name, page := range pages {
		if m := externalRE.FindString(page); m != "" {
			t.Errorf("%s: page refers outside itself: %q", name, m)
		}
		if n := strings.Count(page, "<script"); n != 1 {
			t.Errorf("%s: %d scripts, want the one inline sorter", name, n)
		}
	}
}

// TestHTMLEscapes: names, paths and messages that hold markup stay text.
func TestHTMLEscapes(t *testing.T) {
	const evil = `</script><script>alert(1)</script><svg onload=alert(2)>"'&`
	r := &Result{
		Query:    Query{Function: evil},
		Complete: false,
		Problems: []Problem{{File: evil, Line: 1, Message: evil}},
		Entries: []Entry{
			{Name: evil, TU: evil, SourceFile: evil, Reached: "queried", Emitted: "no", WhyNotEmitted: evil},
			{Name: "b\x00\x1b[2J", TU: evil, Depth: 1, Chain: []Step{{From: evil, To: "b\x00\x1b[2J", TU: evil, How: evil}}},
		},
		Edges:     []Step{{From: evil, To: "b\x00\x1b[2J", TU: evil, How: evil, Evidence: evil}},
		Targets:   []Target{{Name: evil, TU: evil, Severity: evil, Rule: evil, Note: evil, Chain: []Step{{From: evil, To: evil, Evidence: evil}}}},
		Explained: []Explained{{Name: evil, TU: evil, Rule: evil, Why: evil}},
		Notes:     []string{evil},
	}
	c := &CheckResult{Verdict: evil, Inputs: CheckInputs{Diff: evil}, Problems: []Problem{{Message: evil}},
		Hunks:   []Hunk{{File: evil, Kind: evil, Note: evil, Functions: []string{evil}}},
		Changed: []ChangedFunc{{Name: evil, TUs: []string{evil}}},
		Missing: []CheckTarget{{Target: Target{Name: evil, TU: evil, Severity: evil}, Because: evil}},
		Extra:   []LivepatchFunc{{OldName: evil, Object: evil}}}
	for name, page := range map[string]string{"impacted": render(t, r, HTML), "check": renderCheck(t, c, HTML)} {
		for _, bad := range []string{"<script>alert", "<svg onload", "\x00", "\x1b"} {
			if strings.Contains(page, bad) {
				t.Errorf("%s: page holds %q unescaped", name, bad)
			}
		}
		if !strings.Contains(page, "&lt;/script&gt;&lt;script&gt;alert(1)") {
			t.Errorf("%s: the name is not shown escaped", name)
		}
	}
}

// TestHTMLLayout: nodes of one unit never overlap, and a node lies in
// the column of its depth, to the right of shallower ones.
func TestHTMLLayout(t *testing.T) {
	for name, r := range map[string]*Result{"targets": htmlTargetsResult(), "chain": chainResult(), "odd": oddResult(), "cycle": cycleResult()} {
		g := newImpactGraph()
		g.addEntries(r.Entries, r.Edges)
		for i := range r.Targets {
			tg := r.Targets[i]
			g.addTarget(&gTarget{name: tg.Name, tu: tg.TU, severity: tg.Severity, chain: tg.Chain})
		}
		g.layout()
		for i, a := range g.nodes {
			for _, b := range g.nodes[i+1:] {
				if a.x < b.x+b.w && b.x < a.x+a.w && a.y < b.y+svgNodeH && b.y < a.y+svgNodeH {
					t.Errorf("%s: %v and %v overlap", name, a.key, b.key)
				}
				if a.depth < b.depth && a.x >= b.x || a.depth > b.depth && a.x <= b.x {
					t.Errorf("%s: %v (depth %d, x %d) and %v (depth %d, x %d) out of column order",
						name, a.key, a.depth, a.x, b.key, b.depth, b.x)
				}
			}
			if a.x < 0 || a.y < 0 || a.x+a.w > g.w || a.y+svgNodeH > g.h {
				t.Errorf("%s: %v outside the %dx%d drawing", name, a.key, g.w, g.h)
			}
		}
	}
}
