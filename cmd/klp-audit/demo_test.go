package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// TestDemo runs "make demo"'s script (scripts/demo.sh) with this test's
// klp-audit: the whole output stays under 40 lines, compiles each
// fixture on one line, and still says, for every demo fix, which
// functions to replace and why, and a check that passes and one that
// fails. The answers are checked against what gcc produced.
func TestDemo(t *testing.T) {
	fixture.NeedTools(t, "gcc", "bash", "objdump", "awk")
	bin, err := exec.LookPath("klp-audit") // testscript.Main put this test binary on PATH as klp-audit
	if err != nil {
		t.Skip("klp-audit is not on PATH:", err)
	}
	out := filepath.Join(t.TempDir(), "demo-build")
	cmd := exec.Command("bash", filepath.Join("..", "..", "scripts", "demo.sh"), bin, out)
	b, err := cmd.CombinedOutput()
	got := string(b)
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, got)
	}
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) > 40 {
		t.Errorf("the demo prints %d lines, want 40 at most:\n%s", len(lines), got)
	}
	for _, want := range []string{
		`(?m)^  \[clones\] built clones.o$`,
		`(?m)^  \[header\] built obj1.o obj2.o$`,
		`(?m)^  \[rule-notpatchable\] built ftrace.o plain.o ftrace2.o$`,
		`(?m)^  \[klp-check\] built check.o$`,
		`(?m)^    sp[123]  \[global\]  containment: holds the inlined code of splitme$`,
		`(?m)^    caller1  \[global\]  changed-abi: calls the clone leafy.constprop.0.isra.0, whose ABI differs$`,
		`(?m)^    caller2  \[global\]  changed-abi: calls the clone leafy.constprop.0.isra.0, whose ABI differs$`,
		`(?m)^    obj1_drop  \[global\]  containment: holds the inlined code of ref_put$`,
		`(?m)^    obj2_release_all  \[global\]  containment: holds the inlined code of ref_put$`,
		`(?m)^    p[12]  \[global\]  not-patchable: calls nt, which cannot be patched$`,
		`(?m)^verdict: complete \(PASS\)`,
		`(?m)^  rebuilt, not needed: \(klp_object unknown\) send_msg \[check.o\]: caller-assumptions predicted, unchanged in the rebuild$`,
		`(?m)# a livepatch that misses one \(exit status 1\)\nverdict: missing \(FAIL\)`,
		`write_msg holds the inlined code of clamp_len`,
	} {
		if !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("the demo does not say %s:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "built "); n != 4 {
		t.Errorf("%d compile lines, want one per fixture (4):\n%s", n, got)
	}

	// What gcc produced: caller1 and caller2 call the isra clone, which
	// is why they replace it; sp1..sp3 hold splitme's head (no call to
	// splitme itself); p1 and p2 call nt, which has no __fentry__ call.
	dis := func(obj, fn string) string {
		b, err := exec.Command("sh", "-c", "objdump -dr "+obj+" | sed -n '/<"+fn+">:/,/^$/p'").Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	clones := filepath.Join(out, "clones", "clones.o")
	for _, fn := range []string{"caller1", "caller2"} {
		if d := dis(clones, fn); !strings.Contains(d, "leafy.constprop.0.isra.0") {
			t.Errorf("%s does not call leafy.constprop.0.isra.0 in the object:\n%s", fn, d)
		}
	}
	for _, fn := range []string{"sp1", "sp2", "sp3"} {
		if d := dis(clones, fn); strings.Contains(d, "<splitme>") || strings.Contains(d, "R_X86_64_PLT32\tsplitme-") {
			t.Errorf("%s calls splitme instead of holding its code:\n%s", fn, d)
		}
	}
	np := filepath.Join(out, "rule-notpatchable", "ftrace.o")
	if d := dis(np, "nt"); strings.Contains(d, "__fentry__") {
		t.Errorf("nt has an ftrace entry:\n%s", d)
	}
	for _, fn := range []string{"p1", "p2"} {
		if d := dis(np, fn); !strings.Contains(d, "<nt>") || !strings.Contains(d, "__fentry__") {
			t.Errorf("%s does not call nt from a patchable function:\n%s", fn, d)
		}
	}
}
