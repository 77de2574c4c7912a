package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/report"

	"gopkg.in/yaml.v3"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// firstLine returns line 1 of file.
func firstLine(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	return sc.Text()
}

// TestExplain: --explain quotes the dump line behind a clone step, and
// the disassembled call behind a caller step, in text, json and yaml.
func TestExplain(t *testing.T) {
	dir := fixture.Build(t, "klp-sympos")
	// b.c's dump has one line: big -> big.constprop.0. The changed-abi
	// rule replaces the clone's callers, b_entry and b_other.
	dumpText := firstLine(t, filepath.Join(dir, "b.c.000i.ipa-clones"))
	if !strings.HasPrefix(dumpText, "Callgraph clone;big;") {
		t.Fatalf("b.c's dump starts %q; the fixture should make big.constprop.0", dumpText)
	}
	args := []string{"impacted", "--build", ".", "--func", "big", "--vmlinux", "prog", "--explain", "b_other"}
	code, out, errs := run(t, dir, args...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"b_other (b.o): a klp_func target, severity must, rule changed-abi",
		"Chain from the changed function big (b.o):",
		"1. big.constprop.0 is the constprop clone of big (specialised for constant arguments)  [containment, must]",
		"evidence: b.c.000i.ipa-clones:1",
		"> " + dumpText,
		"2. b_other calls the clone big.constprop.0, whose ABI differs  [changed-abi, must]",
		"callq big.constprop.0",
		"b_other  b.o .text+",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}

	for _, format := range []string{"json", "yaml"} {
		t.Run(format, func(t *testing.T) {
			code, out, errs := run(t, dir, append(args, "--format", format)...)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var x report.Explanation
			var err error
			if format == "json" {
				err = json.Unmarshal([]byte(out), &x)
			} else {
				dec := yaml.NewDecoder(strings.NewReader(out))
				dec.KnownFields(true)
				err = dec.Decode(&x)
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if x.SchemaVersion != report.ExplainSchemaVersion || x.Tool.Name != "klp-audit" || x.Query.Explain != "b_other" || x.Query.Function != "big" || !x.Complete {
				t.Errorf("header %+v", x)
			}
			if x.Target == nil || x.Target.Rule != "changed-abi" || x.Target.Severity != "must" || len(x.Target.Symbols) != 1 ||
				x.Target.Symbols[0].Binding != "global" {
				t.Fatalf("target %+v", x.Target)
			}
			if len(x.Chain) != 2 {
				t.Fatalf("chain %+v, want 2 steps", x.Chain)
			}
			st := x.Chain[0]
			if st.DumpLine == nil || st.DumpLine.Text != dumpText || st.DumpLine.Line != 1 || st.DumpLine.File != "b.c.000i.ipa-clones" {
				t.Errorf("step 1 dump line %+v, want line 1 of b.c's dump: %q", st.DumpLine, dumpText)
			}
			if len(st.Symbols) != 1 || st.Symbols[0].Name != "big.constprop.0" || st.Symbols[0].Binding != "local" {
				t.Errorf("step 1 symbols %+v", st.Symbols)
			}
			st = x.Chain[1]
			if st.Rule != "changed-abi" || st.RuleSeverity != "must" || len(st.CallSites) != 1 {
				t.Fatalf("step 2 %+v", st)
			}
			cs := st.CallSites[0]
			if cs.Caller != "b_other" || cs.Kind != "call" || !strings.HasPrefix(cs.Bytes, "e8 ") ||
				cs.Instruction != "callq big.constprop.0" || cs.Offset != x.Target.Symbols[0].Offset+cs.FuncOffset {
				t.Errorf("call site %+v", cs)
			}
			if x.Changed.Name != "big" || len(x.Changed.Symbols) != 0 || !strings.Contains(x.Changed.NotEmitted, "replaced by its clones") {
				t.Errorf("changed %+v", x.Changed)
			}
		})
	}
}

// TestExplainRelocated: with -ffunction-sections every call carries a
// relocation against a section symbol; the report.Explanation names the called
// function all the same.
func TestExplainRelocated(t *testing.T) {
	dir := fixture.Build(t, "klp-sympos")
	fs := filepath.Join(dir, "fs")
	os.Mkdir(fs, 0o755)
	for _, f := range []string{"a.c", "b.c", "main.c"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		os.WriteFile(filepath.Join(fs, f), b, 0o644)
		fixture.Run(t, fs, "gcc", "-O2", "-g", "-ffunction-sections", "-fdump-ipa-clones", "-c", "-o", strings.TrimSuffix(f, ".c")+".o", f)
	}
	code, out, errs := run(t, fs, "impacted", "--build", ".", "--func", "scale", "--explain", "a_entry", "--format", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var x report.Explanation
	if err := json.Unmarshal([]byte(out), &x); err != nil {
		t.Fatal(err)
	}
	if len(x.Chain) != 1 || len(x.Chain[0].CallSites) == 0 {
		t.Fatalf("chain %+v", x.Chain)
	}
	cs := x.Chain[0].CallSites[0]
	if cs.Instruction != "callq scale" || !strings.HasPrefix(cs.Relocation, "R_X86_64_PC32 .text.scale") || cs.Bytes != "e8 00 00 00 00" {
		t.Errorf("call site %+v, want the relocation against .text.scale named as scale", cs)
	}
}

// TestExplainErrors: a name that is no target, an ambiguous one, and
// flags --explain cannot serve are input errors (exit 2); a function on
// a chain that is not a target is explained as such.
func TestExplainErrors(t *testing.T) {
	dir := fixture.Build(t, "klp-sympos")
	tests := []struct {
		name, args string
		code       int
		want       string
	}{
		{"ambiguous", "--func scale --explain scale", ExitUsage, "scale is a target in 2 translation units: give one of scale@a.o, scale@b.o"},
		{"unknown", "--func scale --explain nosuch", ExitUsage, "nosuch is not among the 5 targets or the functions explained on their chains; the targets are: a_entry@a.o"},
		{"dot", "--func scale --explain scale@a.o --format dot", ExitUsage, "--explain writes text, json or yaml, not dot"},
		{"no rules", "--func scale --explain scale@a.o --no-rules", ExitUsage, "--explain explains a target of the safety rules"},
		{"not a target", "--func big --explain big.constprop.0", ExitOK, "big.constprop.0 (b.o): not a klp_func target (rule changed-abi)"},
		{"by unit", "--func scale --explain scale@b.c", ExitOK, "scale (b.o): a klp_func target, severity must, rule containment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, dir, append([]string{"impacted", "--build", "."}, strings.Fields(tt.args)...)...)
			text := errs
			if code == ExitOK {
				text = out
			} else if out != "" {
				t.Errorf("stdout not empty on error:\n%s", out)
			}
			if code != tt.code || !strings.Contains(text, tt.want) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s", code, tt.code, tt.want, text)
			}
		})
	}
}
