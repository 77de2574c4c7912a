package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/objdiff"
)

// TestNewDiffCmd checks how arguments become options, without running.
func TestNewDiffCmd(t *testing.T) {
	tests := []struct {
		name    string
		args    string
		want    DiffOptions
		wantErr string
	}{
		{name: "defaults", args: "a.o b.o", want: DiffOptions{Orig: "a.o", Patched: "b.o", Format: "text"}},
		{name: "everything", args: "--format json --exit-code --jobs 3 orig patched",
			want: DiffOptions{Orig: "orig", Patched: "patched", Format: "json", ExitCode: true, Jobs: 3}},
		{name: "one argument", args: "a.o", wantErr: "diff needs two arguments, ORIG and PATCHED (objects or build trees), got 1"},
		{name: "three arguments", args: "a.o b.o c.o", wantErr: "got 3"},
		{name: "bad format", args: "--format dot a.o b.o", wantErr: `unknown format "dot", want one of text, yaml, json`},
		{name: "bad jobs", args: "--jobs -1 a.o b.o", wantErr: "--jobs must be 0 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := testStreams()
			var got *DiffOptions
			cmd := newDiffCmd(s, func(o *DiffOptions) error { got = o; return nil })
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
			if *got != tt.want {
				t.Errorf("args %q:\n got %+v\nwant %+v", tt.args, *got, tt.want)
			}
		})
	}
}

// TestDiffExitStatus runs klp-audit diff on compiled fixtures: 0 when
// compared, 1 with --exit-code when a function changed, was added or was
// removed (line shifts alone do not count), 2 for input errors naming
// the file.
func TestDiffExitStatus(t *testing.T) {
	inl := fixture.Build(t, "diff-inline")
	line := fixture.Build(t, "diff-line")
	tests := []struct {
		name     string
		dir      string
		args     string
		code     int
		inStderr string
	}{
		{"differences", inl, "diff orig.o patched.o", ExitOK, ""},
		{"differences, --exit-code", inl, "diff --exit-code orig.o patched.o", 1, ""},
		{"same, --exit-code", inl, "diff --exit-code orig.o orig.o", ExitOK, ""},
		{"line shifts only, --exit-code", line, "diff --exit-code orig.o patched.o", ExitOK, ""},
		{"missing file", inl, "diff orig.o nothere.o", ExitUsage, "nothere.o"},
		{"not ELF", inl, "diff orig.c patched.o", ExitUsage, "orig.c: not an ELF object"},
		{"object and tree", inl, "diff orig.o .", ExitUsage, "not an object with a tree"},
		{"usage", inl, "diff orig.o", ExitUsage, "diff needs two arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, tt.dir, strings.Fields(tt.args)...)
			if code != tt.code {
				t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tt.args, code, tt.code, out, errs)
			}
			if tt.inStderr != "" && !strings.Contains(errs, tt.inStderr) {
				t.Errorf("%s: stderr %q, want it to contain %q", tt.args, errs, tt.inStderr)
			}
			if tt.code == 1 && errs != "" {
				t.Errorf("--exit-code: stderr %q, want nothing (the report says it all)", errs)
			}
			if tt.code != ExitUsage && out == "" {
				t.Error("no report printed")
			}
		})
	}
}

// TestDiffGolden compares the output for compiled fixtures with goldens.
// The disassembly is the installed gcc's, so goldens are kept per gcc
// version (testdata/golden/gcc-VERSION/); without one for this gcc the
// test skips (go test -update writes them).
func TestDiffGolden(t *testing.T) {
	ver := fixture.GCCVersion()
	if ver == "" {
		t.Skip("gcc not installed")
	}
	tests := []struct{ fixture, orig, patched, format string }{
		{"diff-inline", "orig.o", "patched.o", "text"},
		{"diff-inline", "orig.o", "patched.o", "json"},
		{"diff-line", "orig.o", "patched.o", "text"},
		{"diff-cold", "orig.o", "patched.o", "yaml"},
	}
	for _, tt := range tests {
		name := "diff." + tt.fixture + "." + tt.format
		t.Run(name, func(t *testing.T) {
			dir := fixture.Build(t, tt.fixture)
			code, out, errs := run(t, dir, "diff", "--format", tt.format, tt.orig, tt.patched)
			if code != ExitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, errs)
			}
			checkGolden(t, filepath.Join("testdata", "golden", "gcc-"+ver, name), out, true)
		})
	}
}

// TestDiffFormats checks that json and yaml carry the same report, with
// the schema version.
func TestDiffFormats(t *testing.T) {
	dir := fixture.Build(t, "diff-addrm")
	_, js, _ := run(t, dir, "diff", "--format", "json", "orig.o", "patched.o")
	_, ym, _ := run(t, dir, "diff", "--format", "yaml", "orig.o", "patched.o")
	var a, b objdiff.Report
	if err := json.Unmarshal([]byte(js), &a); err != nil {
		t.Fatalf("json: %v\n%s", err, js)
	}
	dec := yaml.NewDecoder(strings.NewReader(ym))
	dec.KnownFields(true)
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("yaml: %v\n%s", err, ym)
	}
	if a.SchemaVersion != objdiff.SchemaVersion || b.SchemaVersion != objdiff.SchemaVersion {
		t.Errorf("schema versions %d %d, want %d", a.SchemaVersion, b.SchemaVersion, objdiff.SchemaVersion)
	}
	if a.Summary != b.Summary || a.Summary.Added != 2 || a.Summary.Removed != 1 || a.Summary.Unchanged != 1 {
		t.Errorf("summaries: json %+v, yaml %+v", a.Summary, b.Summary)
	}
	if len(b.Objects) != 1 || len(b.Objects[0].Added) != 2 || b.Objects[0].Added[0].Name != "new_api" {
		t.Errorf("yaml objects: %+v", b.Objects)
	}
}

// TestDiffTrees runs the command on two trees.
func TestDiffTrees(t *testing.T) {
	inl := fixture.Build(t, "diff-inline")
	root := t.TempDir()
	for _, f := range []struct{ from, to string }{
		{"orig.o", "a/mm/x.o"}, {"patched.o", "b/mm/x.o"}, {"orig.o", "a/mm/gone.o"},
	} {
		b, err := os.ReadFile(filepath.Join(inl, f.from))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(root, f.to)), 0o755)
		if err := os.WriteFile(filepath.Join(root, f.to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := run(t, root, "diff", "--exit-code", "a", "b")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errs)
	}
	for _, s := range []string{"mm/gone.o: only in the original tree (4 functions, all removed)",
		"mm/x.o: 3 changed, 0 line-shift only, 0 added, 0 removed, 1 unchanged",
		"1 object compared, 0 added, 1 removed: 3 functions changed, 0 line-shift only, 0 added, 4 removed, 1 unchanged"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	// An unreadable object: the rest is reported, the status is 2.
	os.WriteFile(filepath.Join(root, "b/mm/broken.o"), []byte("garbage"), 0o644)
	os.WriteFile(filepath.Join(root, "a/mm/broken.o"), []byte("garbage"), 0o644)
	code, out, errs = run(t, root, "diff", "a", "b")
	if code != ExitUsage || !strings.Contains(errs, "broken.o: not an ELF object") || !strings.Contains(out, "mm/x.o") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
}
