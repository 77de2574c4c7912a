package driver

import (
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/patch"
	"github.com/klp-audit/klp-audit/report"
)

// TestHunkFieldsClassify: classifyHunk records what a hunk declares in
// report.Hunk's typed fields: a static local declared inside a function
// body (StaticLocal, Kind "data"), a function hunk whose other lines are
// a macro's (Macro, Kind "function").
func TestHunkFieldsClassify(t *testing.T) {
	src := []string{
		"#define LIMIT 64",
		"",
		"int clamp(int x)",
		"{",
		"\tif (x > LIMIT)",
		"\t\treturn LIMIT;",
		"\treturn x;",
		"}",
	}
	tests := []struct {
		name               string
		diff               string
		kind               string
		staticLocal, macro bool
	}{
		{"static local", `--- a/m.c
+++ b/m.c
@@ -4,4 +4,5 @@ int clamp(int x)
 {
+	static int calls;
 	if (x > LIMIT)
 		return LIMIT;
 	return x;
`, patch.KindData, true, false},
		{"function and macro", `--- a/m.c
+++ b/m.c
@@ -1,5 +1,5 @@
-#define LIMIT 64
+#define LIMIT 32
 
 int clamp(int x)
 {
-	if (x > LIMIT)
+	if (x >= LIMIT)
`, "function", false, true},
		{"function only", `--- a/m.c
+++ b/m.c
@@ -4,4 +4,4 @@ int clamp(int x)
 {
-	if (x > LIMIT)
+	if (x >= LIMIT)
 		return LIMIT;
 	return x;
`, "function", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files, err := patch.Parse(strings.NewReader(tc.diff), "fix.patch")
			if err != nil || len(files) != 1 || len(files[0].Hunks) != 1 {
				t.Fatalf("parse: %v (%d files)", err, len(files))
			}
			fixed, err := patch.Apply(src, files[0])
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			rh, _ := classifyHunk("m.c", &files[0].Hunks[0], patch.CFunctions(src), patch.TextsOf(src, fixed))
			if rh.Kind != tc.kind || rh.StaticLocal != tc.staticLocal || rh.Macro != tc.macro {
				t.Errorf("got kind %q static_local %v macro %v (note %q), want kind %q static_local %v macro %v",
					rh.Kind, rh.StaticLocal, rh.Macro, rh.Note, tc.kind, tc.staticLocal, tc.macro)
			}
		})
	}
}

// TestHunkFieldsDecide: whether a fix changes data no rebuild shows, and
// whether a header's hunk makes every unit reading it a rebuild, are
// decided by the hunk's typed fields: rewording its note, or a note that
// happens to use the words, changes neither.
func TestHunkFieldsDecide(t *testing.T) {
	rebuilt := &report.CheckRebuild{Rebuilt: true}
	data := []struct {
		name string
		h    report.Hunk
		want bool
	}{
		{"static local, other note", report.Hunk{Kind: patch.KindData, StaticLocal: true, Note: "keeps a counter across calls"}, true},
		{"static local, no note", report.Hunk{Kind: patch.KindData, StaticLocal: true}, true},
		{"new variable whose note says static local", report.Hunk{Kind: patch.KindData, Note: "not a static local"}, false},
		{"layout", report.Hunk{Kind: patch.KindData, DataLayout: true, Note: "x"}, true},
	}
	for _, tc := range data {
		t.Run("data/"+tc.name, func(t *testing.T) {
			if got := fixChangesData([]report.Hunk{tc.h}, rebuilt); got != tc.want {
				t.Errorf("fixChangesData(%+v) after a rebuild = %v, want %v", tc.h, got, tc.want)
			}
		})
	}

	h := headerFile{file: "include/m.h", name: "include/m.h"}
	header := []struct {
		name string
		h    report.Hunk
		want string // "" or a word the reason must hold
	}{
		{"macro, other note", report.Hunk{File: h.name, Line: 3, Kind: "function", Macro: true, Note: "touches LIMIT's definition"}, "macro"},
		{"macro, no note", report.Hunk{File: h.name, Line: 3, Kind: "function", Macro: true}, "macro"},
		{"function whose note names a macro", report.Hunk{File: h.name, Line: 3, Kind: "function", Note: "also changes a macro"}, ""},
	}
	for _, tc := range header {
		t.Run("header/"+tc.name, func(t *testing.T) {
			got := wholeHeader(rebuildInput{hunks: []report.Hunk{tc.h}}, h)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("wholeHeader(%+v) = %q, want %q", tc.h, got, tc.want)
			}
		})
	}
}
