package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/report"
)

// impactedJSON runs impacted with --format json in dir.
func impactedJSON(t *testing.T, dir string, args ...string) (int, *report.Result, string) {
	t.Helper()
	code, out, errs := run(t, dir, append(append([]string{"impacted"}, args...), "--format", "json")...)
	var res report.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("impacted %s: exit %d, output not JSON: %v\n%s\nstderr:\n%s", strings.Join(args, " "), code, err, out, errs)
	}
	return code, &res, errs
}

// TestImpactedFixFixture: impacted --fix resolves the conditional tier by
// the rebuild check does. rule-callers' callers.c is compiled as one
// unit with a kbuild .cmd file; leafy's callers caller1 and coldcaller
// are conditional (IPA-RA, pure-const, modref). Two fixes to leafy:
//   - same: only a constant changes; no caller's code changes, so both
//     conditional targets are dropped, with their reason;
//   - regs: leafy now writes sink and calls report, so callers that kept
//     values in call-clobbered registers or assumed sink unchanged are
//     recompiled differently: those become must, "confirmed by the
//     rebuild", and a function nothing predicted (outer, caller1's
//     caller) is added as a decision shift.
//
// The truth is gcc's: objdump of the unit against the patched source
// compiled by hand: the must targets are exactly the functions whose
// disassembly differs, and a dropped target's disassembly is the same.
// Without the .cmd file, or with --no-rebuild, the report says once that
// the answer is the prediction.
func TestImpactedFixFixture(t *testing.T) {
	if _, err := exec.LookPath("objdump"); err != nil {
		t.Skip("objdump not installed")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	src, err := os.ReadFile(filepath.Join(fixture.Dir("rule-callers"), "callers.c"))
	if err != nil {
		t.Fatal(err)
	}
	const leafy = "static noinline int leafy(int a, int b) { return a * 3 + b; }"
	if !strings.Contains(string(src), leafy) {
		t.Fatalf("callers.c has no line %q", leafy)
	}
	const gccCmd = "gcc -O2 -g -fno-pie -fdump-ipa-clones -c -o callers.o callers.c"
	compile := func(dir, text string) map[string]string {
		os.WriteFile(filepath.Join(dir, "callers.c"), []byte(text), 0o644)
		c := exec.Command("sh", "-c", gccCmd)
		c.Dir = dir
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
		return codeFuncs(t, filepath.Join(dir, "callers.o"))
	}
	dir := t.TempDir()
	orig := compile(dir, string(src))
	writeFix := func(name, to string) (string, []string) {
		patched := strings.Replace(string(src), leafy, to, 1)
		work := t.TempDir()
		os.MkdirAll(filepath.Join(work, "a"), 0o755)
		os.MkdirAll(filepath.Join(work, "b"), 0o755)
		os.WriteFile(filepath.Join(work, "a", "callers.c"), src, 0o644)
		c := exec.Command("diff", "-u", "a/callers.c", "b/callers.c")
		c.Dir = work
		got := compile(filepath.Join(work, "b"), patched)
		fix, _ := c.Output()
		p := filepath.Join(dir, name)
		os.WriteFile(p, fix, 0o644)
		var differ []string
		for n, body := range orig {
			if got[n] != body {
				differ = append(differ, n)
			}
		}
		sort.Strings(differ)
		return p, differ
	}
	same, sameDiffer := writeFix("same.patch", "static noinline int leafy(int a, int b) { return a * 5 + b; }")
	regs, regsDiffer := writeFix("regs.patch", "static noinline int leafy(int a, int b) { sink = a; report(b); return a * 3 + b; }")

	t.Logf("objdump differs: same %v, regs %v", sameDiffer, regsDiffer)

	// The prediction: caller1 and coldcaller conditional.
	_, pred, _ := impactedJSON(t, dir, "--build", ".", "--func", "leafy")
	cond := map[string]bool{}
	for _, tg := range pred.Targets {
		if tg.Severity == report.SeverityConditional {
			cond[tg.Name] = true
		}
	}
	if !cond["caller1"] || !cond["coldcaller"] {
		t.Fatalf("prediction: conditional %v, want caller1 and coldcaller", cond)
	}

	t.Run("no cmd file", func(t *testing.T) {
		_, res, _ := impactedJSON(t, dir, "--build", ".", "--func", "leafy", "--fix", same)
		if res.Rebuild == nil || res.Rebuild.Rebuilt || !strings.Contains(res.Rebuild.Note, "the answer is the prediction") {
			t.Fatalf("rebuild %+v: want the prediction, said so", res.Rebuild)
		}
		if n := res.Summary.Conditional; n != 2 {
			t.Errorf("%d conditional targets, want the prediction's 2", n)
		}
		_, out, _ := run(t, dir, "impacted", "--build", ".", "--func", "leafy", "--fix", same)
		if strings.Count(out, "the answer is the prediction") != 1 {
			t.Errorf("text says the answer is the prediction %d times, want once:\n%s", strings.Count(out, "the answer is the prediction"), out)
		}
	})
	writeCmd(t, dir, "callers.o", "callers.c", "gcc -Wp,-MMD,./.callers.o.d"+strings.TrimPrefix(gccCmd, "gcc"))
	t.Run("no-rebuild", func(t *testing.T) {
		_, res, _ := impactedJSON(t, dir, "--build", ".", "--func", "leafy", "--fix", same, "--no-rebuild")
		if res.Rebuild == nil || res.Rebuild.Rebuilt || !strings.Contains(res.Rebuild.Note, "--no-rebuild") || res.Summary.Conditional != 2 {
			t.Fatalf("rebuild %+v, %d conditional: want the prediction, said so", res.Rebuild, res.Summary.Conditional)
		}
	})
	for _, tc := range []struct {
		name, fix string
		differ    []string
	}{{"same", same, sameDiffer}, {"regs", regs, regsDiffer}} {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.Contains(tc.differ, "leafy") {
				t.Fatalf("objdump: %v differ; the fix does not change leafy", tc.differ)
			}
			_, res, errs := impactedJSON(t, dir, "--build", ".", "--func", "leafy", "--fix", tc.fix, "--rebuild-cache", "off")
			rb := res.Rebuild
			if rb == nil || !rb.Rebuilt || len(rb.Units) != 1 || !rb.Units[0].Faithful {
				t.Fatalf("rebuild %+v\nproblems %+v\n%s", rb, res.Problems, errs)
			}
			var must []string
			for _, tg := range res.Targets {
				if tg.Severity != report.SeverityMust {
					t.Errorf("%s: %s after the rebuild of its unit, want must or dropped", tg.Name, tg.Severity)
					continue
				}
				must = append(must, tg.Name)
				switch {
				case cond[tg.Name] && !strings.Contains(tg.Note, "confirmed by the rebuild"):
					t.Errorf("%s: predicted conditional, now must, but its note does not say the rebuild confirmed it: %q", tg.Name, tg.Note)
				case tg.Name == "outer" && !strings.Contains(tg.Note, "decision shift"):
					t.Errorf("outer: note %q, want a decision shift", tg.Note)
				}
			}
			sort.Strings(must)
			if !slices.Equal(must, tc.differ) {
				t.Errorf("must %v; objdump differs in %v", must, tc.differ)
			}
			for _, d := range rb.Dropped {
				if slices.Contains(tc.differ, d.Name) {
					t.Errorf("%s dropped (%s), but its disassembly differs", d.Name, d.Reason)
				}
				if !strings.Contains(d.Reason, "unchanged in the rebuild") {
					t.Errorf("%s dropped with reason %q", d.Name, d.Reason)
				}
			}
			for n := range cond {
				if !slices.Contains(tc.differ, n) && !slices.ContainsFunc(rb.Dropped, func(d report.DroppedTarget) bool { return d.Name == n }) {
					t.Errorf("%s: unchanged in objdump but not listed as dropped", n)
				}
			}
			if res.Summary.Must != len(must) || res.Summary.Conditional != 0 {
				t.Errorf("summary %+v, want %d must and no conditional", res.Summary, len(must))
			}
		})
	}
	if !slices.Contains(regsDiffer, "caller1") || !slices.Contains(regsDiffer, "outer") {
		t.Errorf("objdump of regs differs in %v: the fixture no longer shows a confirmed caller and a decision shift", regsDiffer)
	}
}

var (
	padRE    = regexp.MustCompile(`^(nop|xchg\s+%ax,%ax|data16|cs nopw)`)
	labelRE  = regexp.MustCompile(`<[^>]*>`)
	branchRE = regexp.MustCompile(`R_X86_64_(?:PC32|PLT32)\s+(\S+?)(?:\+0x0|-0x4)?$`)
)

// codeFuncs is objdumpFuncs of obj without what says nothing of the
// code: alignment padding, and the form of a branch target: a target a
// relocation gives (objdump then labels the unrelocated placeholder, in
// whatever function sits there) is written as the direct one, <NAME>,
// which is how a call the assembler resolved in the section reads.
// Padding is a NOP that is not a patch site: a static branch's NOP
// (__jump_table) or an alternative's original instructions
// (.altinstructions) are code, kept, and each site's line says what its
// table says of it (the key a static branch tests, where it jumps), which
// no instruction byte does (see patchSites).
func codeFuncs(t *testing.T, obj string) map[string]string {
	t.Helper()
	return codeText(objdumpFuncLines(t, obj), patchSites(t, obj))
}

// codeText is codeFuncs of disassembled functions and their patch sites;
// with no sites every NOP is taken as padding.
func codeText(fs map[string][]objdumpLine, sites map[siteAt]patchSite) map[string]string {
	out := map[string]string{}
	for n, ls := range fs {
		var keep []string
		for i := 0; i < len(ls); i++ {
			l := ls[i].text
			site, isSite := sites[siteAt{ls[i].sec, ls[i].off}]
			isSite = isSite && ls[i].hasOff
			if padRE.MatchString(strings.TrimSpace(l)) && !isSite {
				continue
			}
			if i+1 < len(ls) && strings.Contains(ls[i+1].text, "R_X86_64_") {
				if m := branchRE.FindStringSubmatch(strings.TrimSpace(ls[i+1].text)); m != nil && labelRE.MatchString(l) {
					l = labelRE.ReplaceAllString(l, "<"+m[1]+">")
					i++
				} else {
					l = labelRE.ReplaceAllString(l, "")
				}
			}
			if site.note != "" {
				l += "\t# " + site.note
			}
			keep = append(keep, l)
		}
		out[n] = strings.Join(keep, "\n")
	}
	return out
}

// changedFuncs returns the functions of a whose text differs in b, or
// that b lacks, sorted: what changed between two disassemblies.
func changedFuncs(a, b map[string]string) []string {
	var out []string
	for n, body := range a {
		if nb, ok := b[n]; !ok || nb != body {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
