package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/kbuild"
	"github.com/klp-audit/klp-audit/report"
)

// realFixes are the reverted real fixes of testdata/kernel-fixes: each
// is the patch that undoes a stable fix Debian's 6.1 tree carries (its
// header names the upstream fix). Checking a revert needs exactly the
// functions replaced that checking the fix against an unfixed build
// needs: the changed functions are the same, only GCC's decisions in the
// other direction may differ. So they stand in, honestly, for the fixes
// themselves, which this machine cannot fetch.
var realFixes = []struct {
	name string
	// units are the objects holding the changed code; header, when the
	// fix changes a header, is its path, and fn the inline it changes
	// (the units are then those whose dump names fn).
	units      []string
	header, fn string
	// byDefault: run without KLP_AUDIT_MEASURE (a representative few).
	byDefault bool
}{
	{name: "posix-cpu-timers-exit-state", units: []string{"kernel/time/posix-cpu-timers.o"}, byDefault: true},
	{name: "perf-aux-out-of-bound", units: []string{"kernel/events/ring_buffer.o"}, byDefault: true},
	{name: "cpuset-proc-show-uaf", units: []string{"kernel/cgroup/cpuset.o"}},
	{name: "sched-rt-pick-next-entity", units: []string{"kernel/sched/build_policy.o"}, byDefault: true},
	{name: "page-alloc-zonelist-seqlock-deadlock", units: []string{"mm/page_alloc.o"}, byDefault: true},
	{name: "hrtimer-no-function-callback", units: []string{"kernel/time/hrtimer.o"}},
	{name: "swap-free-and-cache-swapoff-race", units: []string{"mm/swapfile.o"}},
	{name: "hugetlb-resv-uncharge-lock", units: []string{"mm/hugetlb.o"}, byDefault: true},
	{name: "perf-validate-size-lockdep", units: []string{"kernel/events/core.o"}},
	{name: "remap-pfn-range-partial-zap", units: []string{"mm/memory.o"}},
	{name: "memcg-idr-lock", units: []string{"mm/memcontrol.o"}},
	{name: "membarrier-serialize-ipi", units: []string{"kernel/sched/build_utility.o"}},
	{name: "mmzone-pfn-section-valid-null", header: "include/linux/mmzone.h", fn: "pfn_section_valid"},
}

// patchedBy returns the function that applies the unified diff fix to a
// file's content with GNU patch (no fuzz), and the file the diff
// changes.
func patchedBy(t *testing.T, fix string) (string, func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(fix)
	if err != nil {
		t.Fatal(err)
	}
	var file string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f, ok := strings.CutPrefix(sc.Text(), "+++ b/"); ok {
			file = strings.TrimSpace(f)
			break
		}
	}
	if file == "" {
		t.Fatalf("%s: no +++ b/ line", fix)
	}
	return file, func(src []byte) []byte {
		dir := t.TempDir()
		in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
		if err := os.WriteFile(in, src, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("patch", "--batch", "-F", "0", "-s", "-o", out, in, "-i", fix)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("patch %s: %v\n%s", fix, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// realCheck runs check with --format json and decodes the report.
func realCheck(t *testing.T, tree string, args ...string) (int, *report.CheckResult) {
	t.Helper()
	code, out, errs := run(t, tree, append([]string{"check", "--format", "json"}, args...)...)
	var r report.CheckResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("check %v: exit %d, %v\n%s", args, code, err, errs)
	}
	return code, &r
}

// funcsYAML writes a --funcs list replacing the given targets.
func funcsYAML(t *testing.T, targets []report.CheckTarget) string {
	t.Helper()
	var b strings.Builder
	for _, tg := range targets {
		obj := tg.KLPObject
		if obj == "" {
			obj = "vmlinux"
		}
		fmt.Fprintf(&b, "- object: %s\n  old_name: %s\n", obj, tg.Name)
		if tg.OldSympos != nil {
			fmt.Fprintf(&b, "  old_sympos: %d\n", *tg.OldSympos)
		}
	}
	if b.Len() == 0 {
		b.WriteString("- object: vmlinux\n  old_name: msleep\n")
	}
	p := filepath.Join(t.TempDir(), "funcs.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKernelRealFixes checks reverted real fixes (testdata/kernel-fixes)
// on the real kernel with check's rebuild, and measures it. For each:
//   - the tree is unchanged by the check (sha256 and modification time of
//     every file it reads);
//   - acceptance: a livepatch replacing exactly the answer's must-patch
//     targets passes (exit 0, verdict complete), and one lacking any one
//     of them fails (exit 1, verdict missing, naming it): each left out
//     in turn, three spread across a list longer than three;
//   - recall: every function whose code differs (objdump -dr) between two
//     independent recompilations of its unit (fixture.
//     RecompileKernelObject, the tree's source and the source with the
//     fix applied by GNU patch) is in the answer: a changed function the
//     livepatch carries (itself or through its callers), or one the
//     rebuild says only moved line numbers;
//   - every such line shift is checked as TestKernelLineNeutral checks
//     its own: the fix made without moving a line (joinedFix), applied
//     by GNU patch and recompiled, leaves the function's code (and its
//     cold piece's) as the original's;
//   - it logs the wall time of the first check (originals not yet
//     cached), the prediction's (--no-rebuild) must precision against the
//     rebuild's must set, and the median and maximum.
//
// A representative few run by default; all with KLP_AUDIT_MEASURE=1:
//
//	KLP_AUDIT_MEASURE=1 nice -n 10 go test ./cmd/klp-audit -run TestKernelRealFixes -v -count=1 | grep realfix
func TestKernelRealFixes(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	fixture.NeedTools(t, "patch", "objdump")
	tree := fixture.KernelTree(t)
	measure := os.Getenv("KLP_AUDIT_MEASURE") != ""
	var times []time.Duration
	var rows []string
	predMust, predRight, mustAll, mustRight := 0, 0, 0, 0
	for _, fx := range realFixes {
		if !measure && !fx.byDefault {
			continue
		}
		t.Run(fx.name, func(t *testing.T) {
			fix, err := filepath.Abs(filepath.Join("..", "..", "testdata", "kernel-fixes", fx.name+".patch"))
			if err != nil {
				t.Fatal(err)
			}
			file, mutate := patchedBy(t, fix)
			units := fx.units
			if fx.header != "" {
				units = unitsNaming(t, tree, fx.fn)
			}
			var deps []string
			for _, u := range units {
				cf, err := kbuild.ReadCmd(filepath.Join(tree, kbuild.CmdPath(u)))
				if err != nil {
					t.Fatal(err)
				}
				deps = append(deps, cf.Deps...)
			}
			none := funcsYAML(t, nil)
			cache := t.TempDir()
			unlock := fixture.LockKernelTree(t, tree)
			defer unlock()

			before := readFiles(t, tree, append([]string{"tools/objtool/objtool"}, deps...))
			start := time.Now()
			code, r := realCheck(t, tree, "--diff", fix, "--build", ".", "--funcs", none, "--rebuild-cache", cache, "-j", "2")
			wall := time.Since(start)
			after := readFiles(t, tree, append([]string{"tools/objtool/objtool"}, deps...))
			for p, v := range before {
				if after[p] != v {
					t.Errorf("check changed %s: %s -> %s", p, v, after[p])
				}
			}
			if len(after) != len(before) {
				t.Errorf("check added files to the tree: %d entries before, %d after", len(before), len(after))
			}
			times = append(times, wall)
			if code == ExitUsage {
				t.Fatalf("check refused the fix (exit %d): %+v", code, r.Problems)
			}
			rb := r.Rebuild
			rebuilt := rb != nil && rb.Rebuilt

			// Acceptance.
			must := r.Missing
			pass := funcsYAML(t, must)
			codePass, rPass := realCheck(t, tree, "--diff", fix, "--build", ".", "--funcs", pass, "--rebuild-cache", cache, "-j", "2")
			accepted := codePass == 0 && rPass.Verdict == "complete"
			if !accepted {
				t.Errorf("a livepatch replacing the %d must-patch targets: exit %d, verdict %s, problems %+v", len(must), codePass, rPass.Verdict, rPass.Problems)
			}
			if len(must) == 0 {
				t.Errorf("no must-patch target: the fix changes code")
			}
			if accepted {
				// One short of it fails: each must target left out in
				// turn (a sample of three spread across a longer list,
				// each check taking seconds).
				for _, i := range spread(len(must), 3) {
					short := funcsYAML(t, slices.Delete(slices.Clone(must), i, i+1))
					c, rs := realCheck(t, tree, "--diff", fix, "--build", ".", "--funcs", short, "--rebuild-cache", cache, "-j", "2")
					if c != ExitIncomplete || rs.Verdict != "missing" {
						t.Errorf("a livepatch without %s (must target %d of %d): exit %d, verdict %s, want 1 and missing", must[i].Name, i+1, len(must), c, rs.Verdict)
					} else if !slices.ContainsFunc(rs.Missing, func(m report.CheckTarget) bool { return m.TU == must[i].TU && m.Name == must[i].Name }) {
						t.Errorf("a livepatch without %s: missing %v, which does not name it", must[i].Name, names(rs.Missing))
					}
				}
			}

			// Recall against independent recompilations.
			answer := map[string]string{} // unit:name -> how the answer has it
			if rebuilt {
				for _, f := range rPass.Rebuild.Functions {
					k := f.TU + ":" + f.Name
					switch {
					case f.Cause == report.CauseLineShift:
						answer[k] = "line-shift"
					case f.Coverage == report.CoverageMissing:
						answer[k] = "changed, not covered by the must-patch targets"
					default:
						answer[k] = "changed, " + f.Coverage
					}
				}
			}
			for _, tg := range rPass.Covered {
				if k := tg.TU + ":" + tg.Name; answer[k] == "" {
					answer[k] = "target, covered"
				}
			}
			if !rebuilt {
				for _, list := range [][]report.CheckTarget{r.Missing, r.Conditional, r.Review, r.Covered} {
					for _, tg := range list {
						answer[tg.TU+":"+tg.Name] = "target, " + tg.Severity
					}
				}
			}
			// recompile compiles unit u again with the fix's file
			// changed by mut (nil: as it is).
			recompile := func(u string, mut func([]byte) []byte) string {
				if mut == nil {
					mut = func(b []byte) []byte { return b }
				}
				if fx.header != "" {
					return fixture.RecompileKernelObjectHeader(t, tree, u, fx.header, mut)
				}
				if inc := filepath.Base(file); strings.TrimSuffix(u, ".o")+".c" != file {
					// The fix's file is #included by the unit's source
					// (kernel/sched/build_policy.c includes rt.c): each
					// side gets its text in place of the #include.
					src, err := os.ReadFile(filepath.Join(tree, file))
					if err != nil {
						t.Fatal(err)
					}
					return fixture.RecompileKernelObject(t, tree, u, func(b []byte) []byte {
						return inlineInclude(t, b, strings.TrimSuffix(u, ".o")+".c", inc, file, mut(src))
					})
				}
				return fixture.RecompileKernelObject(t, tree, u, mut)
			}
			// The line shifts the answer claims, by unit: each is checked
			// against gcc below, as TestKernelLineNeutral checks its own.
			claimed := map[string][]string{}
			checkUnits := units
			if rebuilt {
				for _, f := range rPass.Rebuild.Functions {
					if f.Cause != report.CauseLineShift {
						continue
					}
					claimed[f.TU] = append(claimed[f.TU], f.Name)
					if !slices.Contains(checkUnits, f.TU) {
						checkUnits = append(slices.Clone(checkUnits), f.TU)
					}
				}
			}
			var joined func([]byte) []byte
			if len(claimed) > 0 {
				jfix, err := joinedFix(t, fix)
				if err != nil {
					t.Fatalf("the answer has line shifts %v, which cannot be checked: %v", claimed, err)
				}
				_, joined = patchedBy(t, jfix)
			}
			var differ, shifted, missed []string
			nChecked := 0
			for _, u := range checkUnits {
				origObj := recompile(u, nil)
				a, b := truthFuncs(t, origObj), truthFuncs(t, recompile(u, mutate))
				for name, body := range a {
					if nb, ok := b[name]; !ok || nb != body {
						k := u + ":" + name
						differ = append(differ, k)
						how := answer[k]
						if parent, ok := strings.CutSuffix(name, ".cold"); ok && how == "" {
							how = answer[u+":"+parent] // a cold piece is replaced with its function
						}
						switch {
						case how == "line-shift":
							shifted = append(shifted, k)
						case how == "" || strings.Contains(how, "not covered"):
							missed = append(missed, k+" ("+orNone(how)+"; "+firstDiff(body, b[name])+")")
						}
					}
				}
				if len(claimed[u]) == 0 {
					continue
				}
				// A line shift is a function whose code the fix made
				// without moving a line (joinedFix), recompiled, leaves
				// as the original's: itself and its cold piece. Boot
				// code, which truthFuncs leaves out, by plain objdump.
				joinedObj := recompile(u, joined)
				j := truthFuncs(t, joinedObj)
				var rawA, rawJ map[string]string
				for _, n := range claimed[u] {
					nChecked++
					for _, piece := range []string{n, n + ".cold"} {
						x, y := a[piece], j[piece]
						if _, ok := a[n]; !ok {
							if rawA == nil {
								rawA, rawJ = objdumpFuncs(t, origObj), objdumpFuncs(t, joinedObj)
							}
							if _, ok := rawA[n]; !ok {
								t.Errorf("%s:%s: the rebuild calls it a line shift, but the original object has no such function", u, n)
								break
							}
							x, y = rawA[piece], rawJ[piece]
						}
						switch {
						case x == y:
						case y == "":
							t.Errorf("%s:%s: the rebuild calls it a line shift, but it is gone when the fix is made without moving a line", u, piece)
						default:
							t.Errorf("%s:%s: the rebuild calls it a line shift, but its code differs when the fix is made without moving a line (%s)", u, piece, firstDiff(x, y))
						}
					}
				}
			}
			if nChecked > 0 {
				t.Logf("realfix: %s: %d line shifts checked against the joined recompilation", fx.name, nChecked)
			}
			sort.Strings(differ)
			sort.Strings(missed)
			for _, m := range missed {
				t.Errorf("%s changed in the independent recompilation, but the answer does not carry it", m)
			}
			if len(differ) == 0 {
				t.Fatalf("no function differs in the independent recompilations: the test proves nothing")
			}

			// The rebuild's must precision against the independent truth: a
			// must target whose code differs, or that carries one that does
			// (its callers replaced for it).
			truth := map[string]bool{}
			for _, k := range differ {
				truth[k] = true
			}
			if rebuilt {
				for _, f := range rPass.Rebuild.Functions {
					if truth[f.TU+":"+f.Name] {
						for _, c := range f.CoveredBy {
							truth[f.TU+":"+c.OldName] = true
						}
					}
				}
			}
			var unchanged []string
			for _, m := range must {
				if !truth[m.TU+":"+m.Name] && !truth[m.TU+":"+m.Name+".cold"] {
					unchanged = append(unchanged, m.Name)
				}
			}
			mustAll += len(must)
			mustRight += len(must) - len(unchanged)
			if len(unchanged) > 0 {
				t.Logf("realfix: %s: must targets whose code does not differ in the independent recompilation: %v", fx.name, unchanged)
			}

			// The prediction's must precision against the rebuild's answer.
			_, pred := realCheck(t, tree, "--diff", fix, "--build", ".", "--funcs", none, "--no-rebuild")
			exact := map[string]bool{}
			for _, m := range must {
				exact[m.TU+":"+m.Name] = true
			}
			right := 0
			for _, m := range pred.Missing {
				if exact[m.TU+":"+m.Name] {
					right++
				}
			}
			predMust += len(pred.Missing)
			predRight += right
			verdict := "accepted"
			if !accepted {
				verdict = "not accepted"
			}
			row := fmt.Sprintf("| %s | %s | %d | %.1f s | %d | %d | %d/%d | %d/%d | %s |", fx.name, file, len(units), wall.Seconds(),
				len(differ)-len(shifted), len(shifted), len(must)-len(unchanged), len(must), right, len(pred.Missing), verdict)
			rows = append(rows, row)
			t.Logf("realfix: %s; rebuilt %v; differ %v", row, rebuilt, differ)
		})
	}
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	t.Logf("realfix: | fix | file | units | wall (first check, -j 2) | changed | line shifts | must that changed (rebuild) | predicted must also in the rebuild's | verdict |")
	for _, r := range rows {
		t.Logf("realfix: %s", r)
	}
	t.Logf("realfix: %d fixes: wall median %.1f s, max %.1f s; must precision %d/%d = %s; prediction (--no-rebuild) must precision against the rebuild's %d/%d = %s",
		len(times), times[len(times)/2].Seconds(), times[len(times)-1].Seconds(), mustRight, mustAll, pct(mustRight, mustAll), predRight, predMust, pct(predRight, predMust))
}

// spread returns the indexes 0..n-1 when n <= k, else k of them spread
// evenly from the first to the last.
func spread(n, k int) []int {
	if n <= k {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := make([]int, k)
	for j := range out {
		out[j] = j * (n - 1) / (k - 1)
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "not listed"
	}
	return s
}

func pct(a, b int) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f %%", 100*float64(a)/float64(b))
}

// unitsNaming returns the objects under kernel/ and mm/ whose dump names
// fn: the units that can hold a header inline's code.
func unitsNaming(t *testing.T, tree, fn string) []string {
	t.Helper()
	var out []string
	for _, d := range []string{"kernel", "mm"} {
		filepath.Walk(filepath.Join(tree, d), func(p string, fi os.FileInfo, err error) error {
			if err != nil || !strings.HasSuffix(p, ".c.000i.ipa-clones") {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte(";"+fn+";")) {
				rel, _ := filepath.Rel(tree, p)
				out = append(out, strings.TrimSuffix(rel, ".c.000i.ipa-clones")+".o")
			}
			return nil
		})
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatalf("no dump under kernel/ or mm/ names %s", fn)
	}
	return out
}

// inlineInclude replaces the line #include "inc" of a unit's source by
// text, framed by line markers so that __FILE__ and __LINE__ read as
// when the file is included (path: its name in the tree; unitPath the
// unit source's).
func inlineInclude(t *testing.T, unit []byte, unitPath, inc, path string, text []byte) []byte {
	t.Helper()
	lines := strings.SplitAfter(string(unit), "\n")
	for i, l := range lines {
		if f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "#")); strings.HasPrefix(strings.TrimSpace(l), "#") &&
			len(f) == 2 && f[0] == "include" && f[1] == `"`+inc+`"` {
			var b strings.Builder
			b.WriteString(strings.Join(lines[:i], ""))
			fmt.Fprintf(&b, "# 1 \"%s\"\n%s", path, text)
			if !bytes.HasSuffix(text, []byte("\n")) {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "# %d \"%s\"\n", i+2, unitPath)
			b.WriteString(strings.Join(lines[i+1:], ""))
			return []byte(b.String())
		}
	}
	t.Fatalf("no #include \"%s\" in the unit's source", inc)
	return nil
}

// numberedStaticRE matches a symbol with a numeric suffix as a
// relocation names it (__already_done.21, __key.2).
var numberedStaticRE = regexp.MustCompile(`\b[A-Za-z_][A-Za-z0-9_.]*\.[0-9]+\b`)

// dataSecRelRE matches a relocation against a section symbol of data
// (.data.once+0x3): the assembler's form for a local object or string.
var dataSecRelRE = regexp.MustCompile(`R_X86_64_(PC32|PLT32|32S|32|64)\s+(\.[A-Za-z0-9_.]+)([+-])(0x[0-9a-f]+)`)

// branchTargetRE matches a branch target as objdump names it.
var branchTargetRE = regexp.MustCompile(`<([^<>+]+)\+0x[0-9a-f]+>`)

// truthFuncs is objdumpFuncs, each static branch and alternative site
// noted (siteNotedFuncs), made blind to where data sits, boot code
// (.init.text, .exit.text) left out: without section pseudo-entries
// (.altinstr_replacement: their code belongs to functions, which differ
// with it); a relocation against a data section
// written as the object it lands in, or for a string section the
// string; and GCC's numbering of function-local statics left out
// (removing a WARN_ONCE renumbers the __already_done.N of every later
// one and moves them in .data.once, which changes no code: the
// comparison a livepatch tool makes correlates them by their users).
func truthFuncs(t *testing.T, obj string) map[string]string {
	t.Helper()
	ef, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	syms, err := ef.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	numbered, boot, funcs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC {
			funcs[s.Name] = true
		}
		if elf.ST_TYPE(s.Info) == elf.STT_OBJECT && numberedStaticRE.MatchString(s.Name) {
			numbered[s.Name] = true
		}
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && int(s.Section) < len(ef.Sections) {
			if n := ef.Sections[s.Section].Name; strings.HasPrefix(n, ".init.text") || strings.HasPrefix(n, ".exit.text") {
				boot[s.Name] = true // runs before a livepatch loads
			}
		}
	}
	secData := map[string][]byte{}
	resolve := func(m string) string {
		sm := dataSecRelRE.FindStringSubmatch(m)
		sec := ef.Section(sm[2])
		if sec == nil || sec.Flags&elf.SHF_EXECINSTR != 0 {
			return m
		}
		add, _ := strconv.ParseInt(strings.TrimPrefix(sm[4], "0x"), 16, 64)
		if sm[3] == "-" {
			add = -add
		}
		if sm[1] == "PC32" || sm[1] == "PLT32" {
			add += 4
		}
		// An object covering the address; a zero-size one (an empty
		// struct lock_class_key __key.N without lockdep) at the same
		// address as a real one only when there is no real one.
		for _, zero := range []bool{false, true} {
			for _, s := range syms {
				if elf.ST_TYPE(s.Info) == elf.STT_OBJECT && int(s.Section) < len(ef.Sections) && ef.Sections[s.Section] == sec &&
					(s.Size == 0) == zero && uint64(add) >= s.Value && uint64(add) < s.Value+max(s.Size, 1) {
					return fmt.Sprintf("R_X86_64_%s %s+%#x", sm[1], s.Name, uint64(add)-s.Value)
				}
			}
		}
		if strings.HasPrefix(sec.Name, ".rodata.str") && add >= 0 {
			b, ok := secData[sec.Name]
			if !ok {
				b, _ = sec.Data()
				secData[sec.Name] = b
			}
			if int(add) < len(b) {
				str, _, _ := bytes.Cut(b[add:], []byte{0})
				return fmt.Sprintf("R_X86_64_%s %s:%q", sm[1], sec.Name, str)
			}
		}
		return m
	}
	out := map[string]string{}
	for name, body := range siteNotedFuncs(t, obj) {
		if strings.HasPrefix(name, ".") || boot[name] {
			continue
		}
		var kept []string
		for _, l := range strings.Split(body, "\n") {
			if !strings.HasPrefix(l, "Disassembly of section ") { // the next section's header
				kept = append(kept, l)
			}
		}
		body = strings.Join(kept, "\n")
		body = dataSecRelRE.ReplaceAllStringFunc(body, resolve)
		// A branch target objdump names after a symbol that is not a
		// function (the label before a cold piece) moves with the code
		// around it.
		body = branchTargetRE.ReplaceAllStringFunc(body, func(m string) string {
			sm := branchTargetRE.FindStringSubmatch(m)
			if funcs[sm[1]] {
				return m
			}
			return "<" + sm[1] + "+?>"
		})
		out[name] = numberedStaticRE.ReplaceAllStringFunc(body, func(m string) string {
			if numbered[m] {
				return m[:strings.LastIndex(m, ".")] + ".N"
			}
			return m
		})
	}
	return out
}

// siteNotedFuncs is objdumpFuncs with the line of each static branch
// or alternative site noted with what patchSites says of it (the key a
// static branch tests and where it jumps, an alternative's feature):
// a fix that changes only those tables (a static_branch_unlikely on
// another key: the same NOP) changes the text.
func siteNotedFuncs(t *testing.T, obj string) map[string]string {
	t.Helper()
	sites := patchSites(t, obj)
	out := map[string]string{}
	for name, ls := range objdumpFuncLines(t, obj) {
		var body strings.Builder
		for _, l := range ls {
			body.WriteString(l.text)
			if site, ok := sites[siteAt{l.sec, l.off}]; ok && l.hasOff && site.note != "" {
				body.WriteString("\t# " + site.note)
			}
			body.WriteString("\n")
		}
		out[name] = body.String()
	}
	return out
}

// firstDiff says where two function texts first differ.
func firstDiff(a, b string) string {
	if b == "" {
		return "gone from the patched object"
	}
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(x), len(y)) {
		if x[i] != y[i] {
			return fmt.Sprintf("line %d: %q -> %q", i+1, strings.TrimSpace(x[i]), strings.TrimSpace(y[i]))
		}
	}
	return fmt.Sprintf("%d lines -> %d", len(x), len(y))
}
