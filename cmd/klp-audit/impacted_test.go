package main

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/driver"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/report"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestNewImpactedCmd checks how arguments become options, without running.
func TestNewImpactedCmd(t *testing.T) {
	tests := []struct {
		name    string
		args    string
		want    ImpactedOptions
		wantErr string
	}{
		{name: "defaults", args: "--func foo --build b",
			want: ImpactedOptions{Func: "foo", Format: "text", Options: driver.Options{Builds: []string{"b"}}}},
		{name: "everything", args: "--func foo --build a --build b --dumps-from l --strip-prefix /src --file mm/x.c --tu mm/x.o --format json",
			want: ImpactedOptions{Func: "foo", File: "mm/x.c", TU: "mm/x.o", Format: "json",
				Options: driver.Options{Builds: []string{"a", "b"}, DumpLists: []string{"l"}, StripPrefixes: []string{"/src"}}}},
		{name: "func required", args: "--build b", wantErr: `required flag(s) "func" not set`},
		{name: "bad format", args: "--func f --build b --format xml", wantErr: `unknown format "xml", want one of text, table, yaml, json, dot, html`},
		{name: "no positional args", args: "--func f extra", wantErr: `unknown command "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := testStreams()
			var got *ImpactedOptions
			cmd := newImpactedCmd(s, func(o *ImpactedOptions) error { got = o; return nil })
			cmd.SetArgs(strings.Fields(tt.args))
			cmd.SetOut(s.Out)
			cmd.SetErr(s.Err)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("args %q: error %v, want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("args %q: %v", tt.args, err)
			}
			got.Streams = nil
			if !equalOpts(*got, tt.want) {
				t.Errorf("args %q:\n got %+v\nwant %+v", tt.args, *got, tt.want)
			}
		})
	}
}

func equalOpts(a, b ImpactedOptions) bool {
	return a.Func == b.Func && a.File == b.File && a.TU == b.TU && a.Format == b.Format &&
		slices.Equal(a.Builds, b.Builds) && slices.Equal(a.DumpLists, b.DumpLists) &&
		slices.Equal(a.StripPrefixes, b.StripPrefixes)
}

// run runs klp-audit in dir and returns exit status, stdout and stderr.
func run(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	s, out, errb := testStreams()
	code := Main(args, s)
	return code, out.String(), errb.String()
}

// TestImpactedGolden runs queries over the dumps stored in testdata (made
// by gcc 12.2), so the output is the same whatever compiler is installed.
func TestImpactedGolden(t *testing.T) {
	dumps := filepath.Join(fixture.Root(), "testdata", "dumps", "gcc-12.2")
	tests := []struct {
		name, args string
	}{
		{"splitme.text", "--func splitme"},
		{"leafy.text", "--func leafy"},
		{"leafy.json", "--func leafy --format json"},
		{"ref_put.table", "--func ref_put --format table"},
		{"ref_put.obj2.yaml", "--func ref_put --tu header/obj2.o --format yaml"},
		{"pong.dot", "--func pong --format dot"},
		{"helper.lto.text", "--func helper --tu prog"},
		{"scale.a.text", "--func scale --file statics/a.c"},
		{"sq.text", "--func sq"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, dumps, append([]string{"impacted", "--dumps-only", "--build", "."}, strings.Fields(tt.args)...)...)
			if code != ExitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, errs)
			}
			// Tool version and revision differ per build.
			out = scrubVersion(out)
			checkGolden(t, filepath.Join("testdata", "golden", "impacted."+tt.name), out, false)
		})
	}
}

func scrubVersion(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		tl := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(tl, "version:"), strings.HasPrefix(tl, `"version":`):
			l = strings.Replace(l, tl, "version: X", 1)
		case strings.HasPrefix(tl, "revision:"), strings.HasPrefix(tl, `"revision":`):
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}

// TestImpactedErrors checks the exit status and message of each failure.
func TestImpactedErrors(t *testing.T) {
	dumps := filepath.Join(fixture.Root(), "testdata", "dumps", "gcc-12.2")
	empty := t.TempDir()
	tests := []struct {
		name     string
		dir      string
		args     string
		code     int
		stderr   []string
		noStdout bool
	}{
		{"unknown function suggests", dumps, "impacted --build . --func splitm", ExitUsage,
			[]string{`function "splitm" is in none of the`, "closest known names: splitme"}, true},
		{"no dumps", empty, "impacted --build . --func f", ExitUsage,
			[]string{"no *.ipa-clones dumps found in .", "KCFLAGS=-fdump-ipa-clones"}, true},
		{"missing build dir", empty, "impacted --build nowhere --func f", ExitUsage,
			[]string{"build directory nowhere"}, true},
		{"no build", empty, "impacted --func f", ExitUsage, []string{"no build given"}, true},
		{"rebuild flag without --fix", dumps, "impacted --build . --func scale --no-rebuild", ExitUsage, []string{"--no-rebuild is for the rebuild of a fix: give --fix FILE"}, true},
		{"filter excludes all", dumps, "impacted --build . --func scale --file nowhere.c", ExitUsage,
			[]string{`function "scale" is not in the selected`, "statics/a.o (declared in a.c)", "statics/b.o (declared in b.c)"}, true},
		{"bad flag", dumps, "impacted --bogus", ExitUsage, []string{"unknown flag: --bogus"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, tt.dir, strings.Fields(tt.args)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, errs)
			}
			for _, w := range tt.stderr {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
			if tt.noStdout && out != "" {
				t.Errorf("stdout not empty on error:\n%s", out)
			}
		})
	}
}

// TestImpactedIncomplete: a bad line in one dump is reported with its
// position, the rest is answered, and the answer is marked incomplete with
// exit status 1, in every format.
func TestImpactedIncomplete(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.c.000i.ipa-clones"), []byte(
		"Callgraph clone;foo;1;x.c;1;1;bar;2;x.c;5;1;inlining to\n"+
			"Callgraph clone;foo;1;x.c\n"+
			"Callgraph clone;foo;1;x.c;1;1;baz;3;x.c;9;1;inlining to\n"), 0o644)
	for _, f := range report.FormatsOf(report.VerbImpacted) {
		t.Run(string(f), func(t *testing.T) {
			code, out, errs := run(t, dir, "impacted", "--dumps-only", "--build", ".", "--func", "foo", "--format", string(f))
			if code != ExitIncomplete {
				t.Errorf("exit %d, want %d", code, ExitIncomplete)
			}
			if !strings.Contains(errs, "x.c.000i.ipa-clones:2: wrong number of fields") || !strings.Contains(errs, "INCOMPLETE") {
				t.Errorf("stderr lacks the positioned problem or the verdict:\n%s", errs)
			}
			for _, fn := range []string{"bar", "baz"} {
				if !strings.Contains(out, fn) {
					t.Errorf("answer lost %s, read after or before the bad line:\n%s", fn, out)
				}
			}
			if f == report.JSON {
				var r report.Result
				if err := json.Unmarshal([]byte(out), &r); err != nil {
					t.Fatal(err)
				}
				if r.Complete || len(r.Problems) != 1 || r.Problems[0].Line != 2 {
					t.Errorf("json complete=%v problems=%+v", r.Complete, r.Problems)
				}
			}
		})
	}
}

// TestImpactedMissingObject: a dump whose object is missing cannot tell
// which functions a livepatch can replace: incomplete, exit status 1.
func TestImpactedMissingObject(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.c.000i.ipa-clones"), []byte(
		"Callgraph clone;foo;1;x.c;1;1;bar;2;x.c;5;1;inlining to\n"), 0o644)
	code, out, errs := run(t, dir, "impacted", "--build", ".", "--func", "foo", "--format", "json")
	if code != ExitIncomplete {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, ExitIncomplete, errs)
	}
	var r report.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Complete || len(r.Problems) != 1 || !strings.Contains(r.Problems[0].Message, "object not found") {
		t.Errorf("complete=%v problems=%+v, want the missing object reported", r.Complete, r.Problems)
	}
	for _, e := range r.Entries {
		if e.Emitted != "unknown" {
			t.Errorf("%s: emitted %q without an object", e.Name, e.Emitted)
		}
	}
}

// TestImpactedFixtures runs the command on code compiled now by the
// machine's gcc, including a function that no dump line mentions.
func TestImpactedFixtures(t *testing.T) {
	dir := fixture.Build(t, "clones")
	code, out, errs := run(t, dir, "impacted", "--build", ".", "--func", "splitme", "--format", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r report.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range r.Entries {
		got = append(got, e.Name)
	}
	for _, w := range []string{"splitme", "splitme.part.0", "sp1", "sp2", "sp3"} {
		if !slices.Contains(got, w) {
			t.Errorf("entries %v lack %s", got, w)
		}
	}
	// slow() is only declared; caller1 is compiled but GCC neither inlined
	// nor cloned it: no dump line names it, the object defines it.
	code, out, errs = run(t, dir, "impacted", "--build", ".", "--func", "caller1", "--format", "json")
	if code != ExitOK {
		t.Fatalf("caller1: exit %d: %s", code, errs)
	}
	r = report.Result{}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Entries) != 1 || r.Entries[0].Name != "caller1" || !r.Entries[0].NotInDump || r.Entries[0].TU != "clones.o" {
		t.Errorf("caller1 entries = %+v, want caller1 alone, in clones.o, not in dump", r.Entries)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, ".", "--version")
	if code != ExitOK || !strings.HasPrefix(out, "klp-audit ") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
}

func TestCompletion(t *testing.T) {
	code, out, _ := run(t, ".", "completion", "bash")
	if code != ExitOK || !strings.Contains(out, "klp-audit") {
		t.Errorf("completion bash: exit %d", code)
	}
	// Every verb's --format completes to exactly the formats it writes.
	for _, verb := range []string{report.VerbImpacted, report.VerbCheck, report.VerbFlags, report.VerbMap, report.VerbDiff} {
		code, out, _ = run(t, ".", "__complete", verb, "--format", "")
		got := strings.Fields(out)
		want := report.FormatNames(verb)
		if code != ExitOK || len(got) != len(want)+1 || strings.Join(got[:len(want)], " ") != strings.Join(want, " ") {
			t.Errorf("%s --format completion: exit %d, %q; want %v", verb, code, out, want)
		}
	}
}

// TestHelpExitCodes: a verb's help gives its own exit codes; check's
// failure verdicts are in check's help and the root's, not in others'.
func TestHelpExitCodes(t *testing.T) {
	for verb, wantCheck := range map[string]bool{"": true, "impacted": false, "klp-skeleton": false, "flags": false, "check": true} {
		args := []string{"--help"}
		if verb != "" {
			args = []string{verb, "--help"}
		}
		code, out, _ := run(t, ".", args...)
		if code != ExitOK || !strings.Contains(out, "Exit status:") {
			t.Fatalf("%s --help: exit %d, no exit status", verb, code)
		}
		if got := regexp.MustCompile(`misses a|missing \(a must-patch`).MatchString(out); got != wantCheck {
			t.Errorf("%s --help: speaks of a livepatch missing a target: %v, want %v", verb, got, wantCheck)
		}
	}
}

// failWriter fails every write, as a closed pipe or a full disk does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestWriteFailure: an answer that cannot be written exits 3, naming the
// write error, never 2 (usage) or 0.
func TestWriteFailure(t *testing.T) {
	s, _, errb := testStreams()
	s.Out = failWriter{}
	code := Main([]string{"policy"}, s)
	if code != ExitOutput || !strings.Contains(errb.String(), "writing the answer: no space left on device") {
		t.Errorf("exit %d, stderr %q; want %d and the write error", code, errb.String(), ExitOutput)
	}
}
