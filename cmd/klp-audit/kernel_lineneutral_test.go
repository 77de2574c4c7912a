package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/report"
)

// TestKernelLineNeutral is the line-neutral build on a real kernel unit:
// a fix adding two lines at the start of oom_unkillable_task moves the
// WARN_ON lines of the functions below it in mm/oom_kill.c. The truth is
// gcc's: the same change made without moving a line (joinedFix: the two
// lines joined onto the first line of the body), recompiled, and objdump of it
// against the original's recompilation differs in exactly the functions
// whose code really changed. check must report exactly those as changed,
// and as line shifts (proven by its line-neutral build) functions whose
// objdump differs only when the lines move.
func TestKernelLineNeutral(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	fixture.NeedTools(t, "diff", "objdump", "patch")
	tree := fixture.KernelTree(t)
	const src, obj = "mm/oom_kill.c", "mm/oom_kill.o"
	def := `static bool oom_unkillable_task\([^;{]*\)`
	ins := "\tif (READ_ONCE(p->flags) & PF_EXITING)\n\t\treturn true;\n"
	fix, mutate := kernelFix(t, tree, src, def, ins)
	jfix, err := joinedFix(t, fix)
	if err != nil {
		t.Fatal(err)
	}
	_, joined := patchedBy(t, jfix)
	funcs := filepath.Join(t.TempDir(), "funcs.yaml")
	os.WriteFile(funcs, []byte("- object: vmlinux\n  old_name: msleep\n"), 0o644)

	unlock := fixture.LockKernelTree(t, tree)
	defer unlock()
	code, out, errs := run(t, tree, "check", "--diff", fix, "--build", ".", "--funcs", funcs, "--format", "json",
		"--rebuild-cache", t.TempDir())
	var r report.CheckResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("check: exit %d, %v\n%s", code, err, errs)
	}
	rb := r.Rebuild
	if rb == nil || !rb.Rebuilt || len(rb.Units) != 1 || !rb.Units[0].LineNeutral {
		t.Fatalf("no line-neutral rebuild: %+v\nproblems %+v", rb, r.Problems)
	}
	var changed, shifted []string
	for _, f := range rb.Functions {
		if f.Cause != report.CauseLineShift {
			changed = append(changed, f.Name)
			continue
		}
		shifted = append(shifted, f.Name)
		if !strings.Contains(f.Detail, "line-neutral build") {
			t.Errorf("%s: line shift %q, not proven by the line-neutral build", f.Name, f.Detail)
		}
	}
	sort.Strings(changed)
	sort.Strings(shifted)

	origObj := fixture.RecompileKernelObject(t, tree, obj, nil)
	orig := objdumpFuncs(t, origObj)
	differ := func(mut func([]byte) []byte) []string {
		o := objdumpFuncs(t, fixture.RecompileKernelObject(t, tree, obj, mut))
		var d []string
		for n, body := range orig {
			if nb, ok := o[n]; ok && nb != body {
				d = append(d, n)
			}
		}
		sort.Strings(d)
		return d
	}
	real, moved := differ(joined), differ(mutate)
	if len(real) == 0 {
		t.Fatal("the joined change changes no function: the test proves nothing")
	}
	if !slices.Equal(changed, real) {
		t.Errorf("check reports changed %v; objdump of the change made without moving a line differs in %v", changed, real)
	}
	nShift := 0
	for _, n := range moved {
		if slices.Contains(real, n) {
			continue
		}
		nShift++
		if !slices.Contains(shifted, n) {
			t.Errorf("%s: objdump differs only when lines move, but check does not report it a line shift (line shifts %v)", n, shifted)
		}
	}
	for _, n := range shifted {
		if slices.Contains(real, n) {
			t.Errorf("%s: reported a line shift, but its code changes with no line moved", n)
		}
	}
	if nShift == 0 && len(shifted) == 0 {
		t.Error("no line-shift-only function in objdump or in the report: the test proves nothing about line shifts")
	}
	t.Logf("changed %v; line shifts %v; objdump differs with lines moved %v", changed, shifted, moved)
}

// hunkHeaderRE matches a unified diff's hunk header.
var hunkHeaderRE = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+\d+(?:,(\d+))? @@`)

// joinedFix writes the diff fix made without moving a line, for GNU
// patch to apply (patchedBy): in each run of changed lines, added lines
// beyond the number deleted are joined onto one line (onto the next
// context line when the run deletes none), and a run adding fewer lines
// than it deletes is padded with empty lines. Compiled, it differs from
// the original only where the fix changes code, never where lines only
// move: the truth a line shift is checked against. An error says why a
// fix cannot be rewritten so (a directive, a // comment or a line
// continuation where lines would be joined or padded).
func joinedFix(t *testing.T, fix string) (string, error) {
	t.Helper()
	b, err := os.ReadFile(fix)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	var out []string
	for i := 0; i < len(lines); {
		m := hunkHeaderRE.FindStringSubmatch(lines[i])
		if m == nil {
			out = append(out, lines[i])
			i++
			continue
		}
		count := func(s string) int {
			if s == "" {
				return 1
			}
			n, _ := strconv.Atoi(s)
			return n
		}
		oldLeft, newLeft := count(m[2]), count(m[3])
		out = append(out, fmt.Sprintf("@@ -%s,%d +%s,%d @@", m[1], oldLeft, m[1], oldLeft))
		// The hunk's lines: an empty line is a context line whose
		// space was stripped.
		var body []string
		for i++; i < len(lines) && (oldLeft > 0 || newLeft > 0); i++ {
			l := lines[i]
			if l == "" {
				l = " "
			}
			switch l[0] {
			case ' ':
				oldLeft--
				newLeft--
			case '-':
				oldLeft--
			case '+':
				newLeft--
			default:
				return "", fmt.Errorf("%s:%d: %q in a hunk", fix, i+1, l)
			}
			body = append(body, l)
		}
		if i < len(lines) && strings.HasPrefix(lines[i], `\`) {
			return "", fmt.Errorf("%s:%d: %q: a file without a final newline is not rewritten", fix, i+1, lines[i])
		}
		h, err := rewriteHunk(body)
		if err != nil {
			return "", fmt.Errorf("%s: %w", fix, err)
		}
		out = append(out, h...)
	}
	p := filepath.Join(t.TempDir(), "joined.patch")
	if err := os.WriteFile(p, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, nil
}

// rewriteHunk rewrites one hunk's lines (each with its ' ', '-' or '+')
// for joinedFix. Joining onto the line after the last run takes it from
// the trailing context; as many leading context lines are then written
// as a deletion and an identical addition, since GNU patch reads a hunk
// with less context after than before as one at the end of the file.
func rewriteHunk(body []string) ([]string, error) {
	directive := func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "#") }
	// joinable says l may have text joined after it (last: nothing is).
	joinable := func(l string, last bool) bool {
		return !directive(l) && (last || !strings.Contains(l, "//") && !strings.HasSuffix(l, `\`))
	}
	trailing := func(ls []string) int {
		n := 0
		for n < len(ls) && ls[len(ls)-1-n][0] == ' ' {
			n++
		}
		return n
	}
	var out []string
	prevNew := "" // the last line of the new side written
	for k := 0; k < len(body); {
		if body[k][0] == ' ' {
			out = append(out, body[k])
			prevNew = body[k][1:]
			k++
			continue
		}
		var del, add []string
		for ; k < len(body) && body[k][0] != ' '; k++ {
			if body[k][0] == '-' {
				del = append(del, body[k][1:])
			} else {
				add = append(add, body[k][1:])
			}
		}
		for _, l := range del {
			out = append(out, "-"+l)
		}
		if len(add) <= len(del) {
			last := prevNew
			if len(add) > 0 {
				last = add[len(add)-1]
			}
			if len(add) < len(del) && strings.HasSuffix(last, `\`) {
				return nil, fmt.Errorf("empty lines would end the line continuation of %q", last)
			}
			for _, l := range add {
				out = append(out, "+"+l)
			}
			for range len(del) - len(add) {
				out = append(out, "+")
			}
			prevNew = last
			continue
		}
		keep, group := add[:max(len(del)-1, 0)], add[max(len(del)-1, 0):]
		if len(del) == 0 {
			// Onto the next context line.
			if k >= len(body) || directive(body[k][1:]) {
				return nil, fmt.Errorf("no context line after the added lines %q to join them onto", add)
			}
			group = append(group, body[k][1:])
			out = append(out, "-"+body[k][1:])
			k++
		}
		for j, l := range group {
			if !joinable(l, j == len(group)-1) {
				return nil, fmt.Errorf("%q cannot be joined with the next line", l)
			}
		}
		for _, l := range keep {
			out = append(out, "+"+l)
		}
		out = append(out, "+"+strings.Join(group, " "))
		prevNew = group[len(group)-1]
	}
	if lost := trailing(body) - trailing(out); lost > 0 {
		lead := 0
		for lead < len(out) && out[lead][0] == ' ' {
			lead++
		}
		if lead < lost {
			return nil, fmt.Errorf("%d lines of leading context, too few to match the %d of trailing context joined", lead, lost)
		}
		var fixed []string
		for _, l := range out[:lost] {
			fixed = append(fixed, "-"+l[1:], "+"+l[1:])
		}
		out = append(fixed, out[lost:]...)
	}
	return out, nil
}
