package main

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/report"
)

// chromiumBinary finds a headless-capable Chromium (Debian's package
// "chromium"), or skips the test saying how to get one.
func chromiumBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium binary found (apt-get install chromium): the HTML report is not checked in a browser")
	return ""
}

// domElement is one element of the DOM Chromium dumped.
type domElement struct {
	name     string
	attrs    map[string]string
	children []*domElement
	text     strings.Builder
}

func (e *domElement) has(class string) bool {
	return slices.Contains(strings.Fields(e.attrs["class"]), class)
}

// walk calls f on e and every element below it, in document order.
func (e *domElement) walk(f func(*domElement)) {
	f(e)
	for _, c := range e.children {
		c.walk(f)
	}
}

func (e *domElement) byID(id string) *domElement {
	var found *domElement
	e.walk(func(x *domElement) {
		if found == nil && x.attrs["id"] == id {
			found = x
		}
	})
	return found
}

func (e *domElement) all(name, class string) []*domElement {
	var out []*domElement
	e.walk(func(x *domElement) {
		if x.name == name && (class == "" || x.has(class)) {
			out = append(out, x)
		}
	})
	return out
}

// textOf is the text of e and its descendants.
func (e *domElement) textOf() string {
	s := e.text.String()
	for _, c := range e.children {
		s += c.textOf()
	}
	return s
}

// browserDOM loads file (with an optional #fragment) in headless Chromium
// and parses the DOM it holds once the page's script has run.
func browserDOM(t *testing.T, bin, file, fragment string) *domElement {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+filepath.Join(home, "profile"), "--dump-dom", "file://"+file+fragment)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || len(out) == 0 {
		t.Fatalf("%s --dump-dom %s: %v, %d bytes\n%s", bin, file, err, len(out), stderr.String())
	}
	return parseDOM(t, string(out))
}

// parseDOM reads Chromium's serialisation of the DOM. The script and
// style elements are dropped first: their text is not markup.
func parseDOM(t *testing.T, s string) *domElement {
	t.Helper()
	for _, tag := range []string{"script", "style"} {
		for {
			i := strings.Index(s, "<"+tag)
			if i < 0 {
				break
			}
			j := strings.Index(s[i:], "</"+tag+">")
			if j < 0 {
				t.Fatalf("unclosed <%s> in the DOM", tag)
			}
			s = s[:i] + s[i+j+len(tag)+3:]
		}
	}
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	root := &domElement{name: "#document"}
	stack := []*domElement{root}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the DOM does not parse: %v", err)
		}
		top := stack[len(stack)-1]
		switch tok := tok.(type) {
		case xml.StartElement:
			e := &domElement{name: strings.ToLower(tok.Name.Local), attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.attrs[strings.ToLower(a.Name.Local)] = a.Value
			}
			top.children = append(top.children, e)
			stack = append(stack, e)
		case xml.EndElement:
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			top.text.Write(tok)
		}
	}
	return root
}

// pageFile writes an HTML page to a file of the test's own.
func pageFile(t *testing.T, page string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(f, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

type nodeKey struct{ tu, name string }

// graphNodes are the nodes of the page's impact graph by unit and name;
// a node drawn twice fails the test.
func graphNodes(t *testing.T, dom *domElement) map[nodeKey]*domElement {
	t.Helper()
	svg := dom.byID("impact-graph")
	if svg == nil || svg.name != "svg" {
		t.Fatal("the DOM has no svg#impact-graph")
	}
	nodes := map[nodeKey]*domElement{}
	for _, g := range svg.all("g", "node") {
		k := nodeKey{g.attrs["data-tu"], g.attrs["data-name"]}
		if _, dup := nodes[k]; dup {
			t.Errorf("node %v drawn twice", k)
		}
		if len(g.all("rect", "")) != 1 {
			t.Errorf("node %v: no box", k)
		}
		nodes[k] = g
	}
	return nodes
}

// targetRows are the rows of the targets table, in the DOM's order, as
// the text of their cells by column name.
func targetRows(t *testing.T, dom *domElement) []map[string]string {
	t.Helper()
	table := dom.byID("targets-table")
	if table == nil {
		t.Fatal("the DOM has no table#targets-table")
	}
	var cols []string
	for _, th := range table.all("th", "") {
		cols = append(cols, th.attrs["data-col"])
	}
	var rows []map[string]string
	for _, tr := range table.all("tr", "target") {
		row := map[string]string{}
		for i, td := range tr.all("td", "") {
			if i < len(cols) {
				row[cols[i]] = strings.TrimSpace(td.textOf())
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// TestHTMLInBrowser opens the HTML report of real answers (fixtures
// compiled now by gcc) in headless Chromium, and checks the DOM the
// browser built against the same answer as JSON: the verdict, one table
// row per target, and one graph node per entry and per target, each
// entry exactly once; the table sorts in the browser.
func TestHTMLInBrowser(t *testing.T) {
	bin := chromiumBinary(t)
	tests := []struct {
		fixture string
		args    []string
		// notPatchable and notEmitted name nodes that must have that style.
		notPatchable, notEmitted []string
	}{
		{fixture: "rule-callers", args: []string{"--func", "leafy"}},
		{fixture: "clones", args: []string{"--func", "splitme"}, notEmitted: []string{"splitme"}},
		{fixture: "rule-notpatchable", args: []string{"--func", "nt_inner", "--tu", "ftrace.o"},
			notPatchable: []string{"nt_inner", "nt_outer"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			dir := fixture.Build(t, tt.fixture)
			args := append([]string{"impacted", "--build", "."}, tt.args...)
			_, js, _ := run(t, dir, append(args, "--format", "json")...)
			var r report.Result
			if err := json.Unmarshal([]byte(js), &r); err != nil {
				t.Fatalf("JSON answer: %v\n%s", err, js)
			}
			code, page, errs := run(t, dir, append(args, "--format", "html")...)
			if code != ExitOK && code != ExitIncomplete {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if len(r.Entries) == 0 || len(r.Targets) == 0 {
				t.Fatalf("the fixture's answer has %d entries and %d targets: nothing to check", len(r.Entries), len(r.Targets))
			}
			file := pageFile(t, page)
			dom := browserDOM(t, bin, file, "")

			verdict := "complete"
			if !r.Complete {
				verdict = "incomplete"
			}
			if v := dom.byID("verdict"); v == nil || v.attrs["data-verdict"] != verdict {
				t.Errorf("verdict element %v, want data-verdict %q", v, verdict)
			}

			rows := targetRows(t, dom)
			var gotRows, wantRows []string
			for _, row := range rows {
				gotRows = append(gotRows, row["name"]+"@"+row["unit"])
			}
			for _, tg := range r.Targets {
				wantRows = append(wantRows, tg.Name+"@"+tg.TU)
			}
			slices.Sort(gotRows)
			slices.Sort(wantRows)
			if !slices.Equal(gotRows, wantRows) {
				t.Errorf("table rows %v, want the targets %v", gotRows, wantRows)
			}
			if tab := dom.byID("targets-table"); tab.attrs["data-sortable"] != "ready" {
				t.Error("the table sorter did not run in the browser")
			}

			nodes := graphNodes(t, dom)
			entries := map[nodeKey]bool{}
			for _, e := range r.Entries {
				entries[nodeKey{e.TU, e.Name}] = true
				n := nodes[nodeKey{e.TU, e.Name}]
				if n == nil {
					t.Errorf("entry %s (%s): no node", e.Name, e.TU)
					continue
				}
				if n.attrs["data-entry"] != "yes" {
					t.Errorf("entry %s (%s): node not marked as an entry", e.Name, e.TU)
				}
				if e.Depth == 0 && !n.has("changed") {
					t.Errorf("queried %s (%s): node %q not styled as changed code", e.Name, e.TU, n.attrs["class"])
				}
				if (e.Emitted == "no") != n.has("not-emitted") {
					t.Errorf("entry %s (%s) emitted %q: node classes %q", e.Name, e.TU, e.Emitted, n.attrs["class"])
				}
			}
			marked := 0
			for _, n := range nodes {
				if n.attrs["data-entry"] == "yes" {
					marked++
				}
			}
			if marked != len(entries) {
				t.Errorf("%d nodes marked as entries, want one per entry: %d", marked, len(entries))
			}
			for _, tg := range r.Targets {
				n := nodes[nodeKey{tg.TU, tg.Name}]
				if n == nil || !n.has("target") || !n.has("sev-"+tg.Severity) {
					t.Errorf("target %s (%s, %s): node %v", tg.Name, tg.TU, tg.Severity, n)
				}
			}
			// Beyond entries and targets, only functions on the reason
			// chains are drawn.
			onChains := map[nodeKey]bool{}
			for _, tg := range r.Targets {
				onChains[nodeKey{tg.TU, tg.Name}] = true
				for _, s := range tg.Chain {
					onChains[nodeKey{s.TU, s.To}] = true
				}
			}
			for k := range nodes {
				if !entries[k] && !onChains[k] && !nodeNamedOnChain(r, k.name) {
					t.Errorf("node %v is neither an entry, a target nor on a chain", k)
				}
			}
			for _, name := range tt.notPatchable {
				if n := nodeNamed(nodes, name); n == nil || !n.has("not-patchable") {
					t.Errorf("%s: node %v, want it styled not patchable", name, n)
				}
			}
			for _, name := range tt.notEmitted {
				if n := nodeNamed(nodes, name); n == nil || !n.has("not-emitted") {
					t.Errorf("%s: node %v, want it styled not emitted", name, n)
				}
			}
			// Every target's reason chain is on the page.
			for i := range r.Targets {
				if dom.byID("t"+strconv.Itoa(i+1)) == nil {
					t.Errorf("no reason chain t%d", i+1)
				}
			}
		})
	}

	// The page sorts its table when it opens with #sort=rule, in the
	// browser: the rows come out ordered by rule (the default order, by
	// severity and name, is not, for this answer).
	t.Run("sort by rule", func(t *testing.T) {
		dir := fixture.Build(t, "rule-callers")
		_, page, _ := run(t, dir, "impacted", "--build", ".", "--func", "leafy", "--format", "html")
		file := pageFile(t, page)
		rules := func(fragment string) []string {
			var out []string
			for _, row := range targetRows(t, browserDOM(t, bin, file, fragment)) {
				out = append(out, row["rule"])
			}
			return out
		}
		def, sorted := rules(""), rules("#sort=rule")
		if slices.IsSorted(def) {
			t.Fatalf("default order %v is already by rule: the fixture cannot show sorting", def)
		}
		if !slices.IsSorted(sorted) || len(sorted) != len(def) {
			t.Errorf("rows after #sort=rule: %v, want %d rows ordered by rule", sorted, len(def))
		}
		desc := rules("#sort=-rule")
		if !slices.IsSortedFunc(desc, func(a, b string) int { return strings.Compare(b, a) }) {
			t.Errorf("rows after #sort=-rule: %v, want them in reverse rule order", desc)
		}
	})

	// check: the livepatch misses write_msg, which clamp_len was inlined
	// into; read_msg is replaced.
	t.Run("check", func(t *testing.T) {
		dir := fixture.Build(t, "klp-check")
		args := []string{"check", "--diff", "fix.patch", "--build", ".", "--livepatch", "incomplete.c"}
		code, res, errs := checkJSON(t, dir, args[1:]...)
		if code != ExitIncomplete || res == nil {
			t.Fatalf("check: exit %d: %s", code, errs)
		}
		_, page, _ := run(t, dir, append(args, "--format", "html")...)
		dom := browserDOM(t, bin, pageFile(t, page), "")
		if v := dom.byID("verdict"); v == nil || v.attrs["data-verdict"] != res.Verdict {
			t.Errorf("verdict element %v, want data-verdict %q", v, res.Verdict)
		}
		status := map[string]string{}
		for _, row := range targetRows(t, dom) {
			status[row["name"]] = row["livepatch"]
		}
		if len(status) != len(res.Missing)+len(res.Review)+len(res.Covered) {
			t.Errorf("rows %v, want one per missing, review and covered target", status)
		}
		for _, m := range res.Missing {
			if status[m.Name] != "missing" {
				t.Errorf("missing %s: row says %q", m.Name, status[m.Name])
			}
		}
		for _, c := range res.Covered {
			if status[c.Name] != "replaced" {
				t.Errorf("covered %s: row says %q", c.Name, status[c.Name])
			}
		}
		nodes := graphNodes(t, dom)
		want := map[nodeKey]bool{}
		for _, c := range res.Changed {
			for _, tu := range c.TUs {
				want[nodeKey{tu, c.Name}] = true
				if n := nodes[nodeKey{tu, c.Name}]; n == nil || !n.has("changed") {
					t.Errorf("changed %s (%s): node %v", c.Name, tu, n)
				}
			}
		}
		for _, l := range [][]report.CheckTarget{res.Missing, res.Review, res.Covered} {
			for _, tg := range l {
				want[nodeKey{tg.TU, tg.Name}] = true
			}
		}
		for _, m := range res.Missing {
			if n := nodes[nodeKey{m.TU, m.Name}]; n == nil || !n.has("missing") {
				t.Errorf("missing %s: node %v", m.Name, n)
			}
		}
		if len(nodes) != len(want) {
			t.Errorf("%d nodes, want %d (changed functions and targets): %v", len(nodes), len(want), keys(nodes))
		}
	})
}

func nodeNamed(nodes map[nodeKey]*domElement, name string) *domElement {
	for k, n := range nodes {
		if k.name == name {
			return n
		}
	}
	return nil
}

func nodeNamedOnChain(r report.Result, name string) bool {
	for _, tg := range r.Targets {
		for _, s := range tg.Chain {
			if s.From == name || s.To == name {
				return true
			}
		}
	}
	return false
}

func keys(m map[nodeKey]*domElement) []nodeKey {
	var out []nodeKey
	for k := range m {
		out = append(out, k)
	}
	return out
}
