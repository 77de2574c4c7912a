package driver

import (
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/report"
)

// TestNotLivepatchNote: the note that patchability was not checked
// outside a kernel tree is said only for the units where a target's
// klp_object is unknown, naming those units alone.
func TestNotLivepatchNote(t *testing.T) {
	tests := []struct {
		name    string
		units   []string
		targets []report.Target
		want    string // "" for no note; else the units it must name
	}{
		{"no unit unchecked", nil, []report.Target{{Name: "f", TU: "a.o"}}, ""},
		{"no target", []string{"a.o"}, nil, ""},
		{"targets elsewhere", []string{"a.o"}, []report.Target{{Name: "f", TU: "b.o"}}, ""},
		{"klp_object known", []string{"a.o"}, []report.Target{{Name: "f", TU: "a.o", KLPObject: "vmlinux"}}, ""},
		{"klp_object unknown", []string{"a.o", "b.o"}, []report.Target{{Name: "f", TU: "b.o"}, {Name: "g", TU: "b.o"}}, "b.o"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := notLivepatchNote(tc.units, tc.targets)
			switch {
			case tc.want == "" && got != "":
				t.Errorf("note %q, want none", got)
			case tc.want != "" && !strings.HasSuffix(got, "was not checked in "+tc.want):
				t.Errorf("note %q, want it to name %s alone", got, tc.want)
			}
		})
	}
	if got := onceEach([]string{"b", "a", "b", "a", "c"}); strings.Join(got, ",") != "b,a,c" {
		t.Errorf("onceEach = %v, want b, a, c", got)
	}
}

// TestNotesOnce: the clones fixture is built without -pg outside a kernel
// tree. Asking about leafy (whose targets caller1 and caller2 have no
// klp_object there) says the note once; the notes of an answer never
// repeat.
func TestNotesOnce(t *testing.T) {
	dir := fixture.Build(t, "clones")
	a, err := Impacted(Options{Builds: []string{dir}}, ImpactQuery{Func: "leafy"})
	if err != nil {
		t.Fatal(err)
	}
	res := a.Result
	n := 0
	for _, note := range res.Notes {
		if strings.HasPrefix(note, "klp_object unknown: not a kernel livepatch build") {
			n++
			if !strings.HasSuffix(note, "was not checked in clones.o") {
				t.Errorf("note %q does not name clones.o", note)
			}
		}
	}
	if n != 1 {
		t.Errorf("the kernel-tree note is said %d times, want once: %q", n, res.Notes)
	}
	for _, tg := range res.Targets {
		if tg.KLPObject != "" {
			t.Errorf("target %s has klp_object %q outside a kernel tree", tg.Name, tg.KLPObject)
		}
	}
	seen := map[string]bool{}
	for _, note := range res.Notes {
		if seen[note] {
			t.Errorf("note said twice: %q", note)
		}
		seen[note] = true
	}
}
