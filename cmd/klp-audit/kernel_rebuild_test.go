package main

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io/fs"
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

// kernelFix writes a unified diff that inserts ins at the start of the
// body of the function defined by def (a regexp of its header up to the
// opening brace) in src, and returns the diff's path and the mutation.
func kernelFix(t *testing.T, tree, src, def, ins string) (string, func([]byte) []byte) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + def + `\s*\n\{\n`)
	mutate := func(b []byte) []byte {
		loc := re.FindIndex(b)
		if loc == nil {
			t.Fatalf("definition %q not found in %s", def, src)
		}
		return append(append(append([]byte{}, b[:loc[1]]...), ins...), b[loc[1]:]...)
	}
	return kernelDiff(t, tree, src, mutate), mutate
}

// kernelDiff writes the unified diff mutate makes to src in tree and
// returns its path.
func kernelDiff(t *testing.T, tree, src string, mutate func([]byte) []byte) string {
	t.Helper()
	orig, err := os.ReadFile(filepath.Join(tree, src))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	for _, side := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(work, side, filepath.Dir(src)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(work, "a", src), orig, 0o644)
	os.WriteFile(filepath.Join(work, "b", src), mutate(orig), 0o644)
	cmd := exec.Command("diff", "-u", "a/"+src, "b/"+src)
	cmd.Dir = work
	fix, _ := cmd.Output() // diff exits 1 when the files differ
	if !strings.Contains(string(fix), "@@") {
		t.Fatalf("diff -u gave no hunk:\n%s", fix)
	}
	p := filepath.Join(work, "fix.patch")
	if err := os.WriteFile(p, fix, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readFiles fingerprints what a check of the kernel tree reads: every
// file under kernel/ and mm/ (dumps, objects, sources, .cmd files), every
// header a unit of theirs lists, and the tree root's listing: sha256 and
// modification time of each.
func readFiles(t *testing.T, tree string, extra []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	add := func(p string) {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		v := fmt.Sprintf("%d %d", fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			v += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		out[p] = v
	}
	for _, d := range []string{"kernel", "mm"} {
		err := filepath.WalkDir(filepath.Join(tree, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			add(p)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	ents, err := os.ReadDir(tree)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		add(filepath.Join(tree, e.Name()))
	}
	for _, f := range extra {
		add(filepath.Join(tree, f))
	}
	return out
}

// TestKernelCheckRebuild is check's rebuild on the real kernel: a fix to
// oom_unkillable_task (a static function GCC inlined into its callers in
// mm/oom_kill.o) as a unified diff. check rebuilds mm/oom_kill.o,
// original and patched, outside the tree:
//   - the rebuilt original is the tree's object (byte for byte once
//     objtool's step is replayed);
//   - the functions it reports changed are exactly those whose
//     disassembly (objdump -dr, addresses left out) differs between two
//     independent recompilations of the object (fixture.
//     RecompileKernelObject, from the original and the fixed source),
//     apart from those it reports as line shifts;
//   - every changed function is covered (with a livepatch replacing
//     them) and no must-patch target is one whose code did not change;
//   - the tree is unchanged: sha256 and modification time of every file
//     the check read.
func TestKernelCheckRebuild(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	fixture.NeedTools(t, "diff", "objdump")
	tree := fixture.KernelTree(t)
	const src, obj = "mm/oom_kill.c", "mm/oom_kill.o"
	fix, mutate := kernelFix(t, tree, src, `static bool oom_unkillable_task\([^;{]*\)`,
		"\tif (READ_ONCE(p->flags) & PF_EXITING)\n\t\treturn true;\n")
	funcs := filepath.Join(t.TempDir(), "funcs.yaml")
	os.WriteFile(funcs, []byte("- object: vmlinux\n  old_name: msleep\n"), 0o644)
	cache := t.TempDir()

	cf, err := kbuild.ReadCmd(filepath.Join(tree, kbuild.CmdPath(obj)))
	if err != nil {
		t.Fatal(err)
	}
	unlock := fixture.LockKernelTree(t, tree)
	defer unlock()
	before := readFiles(t, tree, append([]string{"tools/objtool/objtool"}, cf.Deps...))
	code, out, errs := run(t, tree, "check", "--diff", fix, "--build", ".", "--funcs", funcs, "--format", "json",
		"--rebuild-cache", cache, "-j", "2")
	after := readFiles(t, tree, append([]string{"tools/objtool/objtool"}, cf.Deps...))
	var r report.CheckResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("check: exit %d, %v\n%s", code, err, errs)
	}
	for p, v := range before {
		if after[p] != v {
			t.Errorf("check changed %s: %s -> %s", p, v, after[p])
		}
	}
	if len(after) != len(before) {
		t.Errorf("check added files to the tree: %d entries before, %d after", len(before), len(after))
	}
	rb := r.Rebuild
	if rb == nil || !rb.Rebuilt {
		t.Fatalf("no rebuild: %+v\nproblems %+v", rb, r.Problems)
	}
	if len(rb.Units) != 1 || rb.Units[0].Object != obj || !rb.Units[0].Faithful || !rb.Units[0].Identical {
		t.Errorf("units: %+v, want %s rebuilt identical to the tree's object", rb.Units, obj)
	}
	if len(r.Problems) > 0 {
		t.Errorf("problems: %+v", r.Problems)
	}

	// The independent truth: two recompilations, objdump of each.
	origObj := fixture.RecompileKernelObject(t, tree, obj, nil)
	fixedObj := fixture.RecompileKernelObject(t, tree, obj, mutate)
	a, b := objdumpFuncs(t, origObj), objdumpFuncs(t, fixedObj)
	var differ []string
	for name, body := range a {
		if nb, ok := b[name]; ok && nb != body {
			differ = append(differ, name)
		}
	}
	sort.Strings(differ)
	var changed, shifted []string
	for _, f := range rb.Functions {
		if f.TU != obj {
			t.Errorf("changed function %s in unit %s", f.Name, f.TU)
		}
		if f.Cause == report.CauseLineShift {
			shifted = append(shifted, f.Name)
			continue
		}
		changed = append(changed, f.Name)
		if f.Cause != report.CauseInlinedCode && f.Cause != report.CauseChangedLine {
			t.Errorf("%s: cause %s (%s), want the inlined code of oom_unkillable_task", f.Name, f.Cause, f.Detail)
		}
		if f.Coverage != report.CoverageMissing {
			t.Errorf("%s: coverage %s with a livepatch replacing nothing", f.Name, f.Coverage)
		}
	}
	sort.Strings(changed)
	if len(changed) == 0 {
		t.Fatal("the rebuild found no changed function: the test proves nothing")
	}
	for _, n := range changed {
		if !slices.Contains(differ, n) {
			t.Errorf("%s reported changed, but its disassembly is the same in the independent recompilations", n)
		}
	}
	for _, n := range differ {
		if !slices.Contains(changed, n) && !slices.Contains(shifted, n) {
			t.Errorf("%s differs in objdump of the independent recompilations, but check reports it neither changed nor a line shift", n)
		}
	}
	// The must-patch set is the changed functions: nothing predicted and
	// unchanged stays a target.
	var missing []string
	for _, m := range r.Missing {
		missing = append(missing, m.Name)
	}
	sort.Strings(missing)
	if !slices.Equal(missing, changed) {
		t.Errorf("missing %v, want the changed functions %v", missing, changed)
	}
	if len(rb.Dropped) == 0 {
		t.Errorf("no predicted target dropped: the prediction had caller-assumptions targets in %s", obj)
	}
	t.Logf("changed %v; line shifts %v; objdump differs %v; dropped %d predicted targets", changed, shifted, differ, len(rb.Dropped))

	// With a livepatch replacing the changed functions the check passes.
	var lp strings.Builder
	for _, n := range changed {
		fmt.Fprintf(&lp, "- object: vmlinux\n  old_name: %s\n", n)
	}
	os.WriteFile(funcs, []byte(lp.String()), 0o644)
	code, out, errs = run(t, tree, "check", "--diff", fix, "--build", ".", "--funcs", funcs, "--rebuild-cache", cache)
	if code != 0 {
		t.Errorf("check with the changed functions replaced: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "(1 original cached)") {
		t.Errorf("second run did not use the cache:\n%s", out)
	}
}

var (
	objdumpFuncRE = regexp.MustCompile(`^[0-9a-f]+ <([^>]+)>:$`)
	objdumpAddrRE = regexp.MustCompile(`^\s*[0-9a-f]+:\s*`)
	objdumpHexRE  = regexp.MustCompile(`\b[0-9a-f]+ <`)
	// A relocation against a code section symbol: type, section, sign,
	// addend.
	objdumpSecRelRE = regexp.MustCompile(`R_X86_64_(PC32|PLT32|32S|64)\s+(\.(?:[a-z]+\.)?text[.a-z_]*)([+-])(0x[0-9a-f]+)`)
)

// objdumpFuncs disassembles obj with objdump -dr and returns each
// function's text with addresses left out (targets stay as <sym+off>),
// and a relocation against a code section (.text+0x31d1: the assembler's
// form for a local target) written as the function it lands in, found in
// the symbol table (debug/elf), so code moving in the section does not
// count.
func objdumpFuncs(t *testing.T, obj string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, ls := range objdumpFuncLines(t, obj) {
		var body strings.Builder
		for _, l := range ls {
			body.WriteString(l.text + "\n")
		}
		out[name] = body.String()
	}
	return out
}

// objdumpLine is one line of a function in objdumpFuncLines: its text as
// objdumpFuncs writes it, and where objdump said it is: the section and
// the offset in it (of the instruction, or for a relocation line of the
// field it relocates); hasOff is false for a line without an address (a
// blank line, a section header).
type objdumpLine struct {
	text   string
	sec    string
	off    uint64
	hasOff bool
}

// objdumpFuncLines is objdumpFuncs line by line, each line with its
// section and offset.
func objdumpFuncLines(t *testing.T, obj string) map[string][]objdumpLine {
	t.Helper()
	b, err := exec.Command("objdump", "-dr", "--no-show-raw-insn", obj).Output()
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	syms, err := ef.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(m string) string {
		sm := objdumpSecRelRE.FindStringSubmatch(m)
		add, _ := strconv.ParseInt(strings.ReplaceAll(sm[4], "0x", ""), 16, 64)
		if sm[3] == "-" {
			add = -add
		}
		if sm[1] == "PC32" || sm[1] == "PLT32" {
			add += 4
		}
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) == elf.STT_FUNC && int(s.Section) < len(ef.Sections) && ef.Sections[s.Section].Name == sm[2] &&
				uint64(add) >= s.Value && uint64(add) < s.Value+s.Size {
				return fmt.Sprintf("R_X86_64_%s %s+%#x", sm[1], s.Name, uint64(add)-s.Value)
			}
		}
		return m
	}
	out := map[string][]objdumpLine{}
	cur, sec := "", ""
	var body []objdumpLine
	flush := func() {
		if cur != "" {
			out[cur] = body
		}
		body = nil
	}
	for _, l := range strings.Split(string(b), "\n") {
		if m := objdumpFuncRE.FindStringSubmatch(l); m != nil {
			flush()
			cur = m[1]
			continue
		}
		if s, ok := strings.CutPrefix(l, "Disassembly of section "); ok {
			sec = strings.TrimSuffix(s, ":")
		}
		line := objdumpLine{sec: sec}
		if a := objdumpAddrRE.FindString(l); a != "" {
			line.off, err = strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(a), ":")), 16, 64)
			line.hasOff = err == nil
		}
		l = objdumpAddrRE.ReplaceAllString(l, "")
		l = objdumpHexRE.ReplaceAllString(l, "<")
		line.text = objdumpSecRelRE.ReplaceAllStringFunc(l, resolve)
		body = append(body, line)
	}
	flush()
	return out
}

// TestKernelRebuildWallTime measures check's wall time on one-function
// fixes to several kernel files (set KLP_AUDIT_MEASURE=1; the numbers are
// logged, never asserted):
//
//	KLP_AUDIT_MEASURE=1 go test ./cmd/klp-audit -run TestKernelRebuildWallTime -v
func TestKernelRebuildWallTime(t *testing.T) {
	if os.Getenv("KLP_AUDIT_MEASURE") == "" {
		t.Skip("set KLP_AUDIT_MEASURE=1 to measure")
	}
	tree := fixture.KernelTree(t)
	ins := "\t{ static volatile int klp_audit_sink; klp_audit_sink++; }\n"
	cases := []struct{ src, def string }{
		{"mm/oom_kill.c", `static bool oom_unkillable_task\([^;{]*\)`},
		{"mm/memblock.c", `static bool should_skip_region\([^;{]*\)`},
		{"mm/page_alloc.c", `static inline void free_the_page\([^;{]*\)`},
		{"kernel/fork.c", `static void mmdrop_async_fn\([^;{]*\)`},
		{"mm/memcontrol.c", `static enum mc_target_type get_mctgt_type\([^;{]*\)`},
		{"kernel/sched/fair.c", `static void update_curr\([^;{]*\)`},
	}
	funcs := filepath.Join(t.TempDir(), "funcs.yaml")
	os.WriteFile(funcs, []byte("- object: vmlinux\n  old_name: msleep\n"), 0o644)
	for _, cached := range []bool{false, true} {
		cache := t.TempDir()
		var times []time.Duration
		for _, c := range cases {
			fix, _ := kernelFix(t, tree, c.src, c.def, ins)
			if cached {
				run(t, tree, "check", "--diff", fix, "--build", ".", "--funcs", funcs, "--rebuild-cache", cache)
			}
			start := time.Now()
			code, out, errs := run(t, tree, "check", "--diff", fix, "--build", ".", "--funcs", funcs, "--rebuild-cache", cache)
			d := time.Since(start)
			times = append(times, d)
			first, _, _ := strings.Cut(out, "\n")
			t.Logf("%s %s: %v (exit %d: %s) %s", c.src, c.def, d.Round(10*time.Millisecond), code, first, strings.TrimSpace(errs))
		}
		slices.Sort(times)
		t.Logf("originals cached=%v: %d fixes, median %v, max %v", cached, len(times), times[len(times)/2].Round(10*time.Millisecond), times[len(times)-1].Round(10*time.Millisecond))
	}
}
