package dwarfinfo_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/internal/fixture"
)

// FuzzParseProducer: any string parses, and Analyses always answers for
// every analysis with a reason.
func FuzzParseProducer(f *testing.F) {
	for _, s := range []string{kernelProducer, gimpleProducer, clangProducer, clangCmdProducer, redHatProducer,
		"GNU AS 2.40", "", "GNU", "GNU C17", "-O", "-O-1", "-O99999999999999999999", "-fno-", "-f",
		"GNU C17 12.2.0 -flive-patching=bogus -fpatchable-function-entry=x,y -O2 -fno-ipa-cp"} {
		f.Add(s)
	}
	n := len(dwarfinfo.AnalysisNames())
	f.Fuzz(func(t *testing.T, s string) {
		fl := dwarfinfo.ParseProducer(s)
		as := fl.Analyses()
		if len(as) != n {
			t.Fatalf("%q: %d analyses, want %d", s, len(as), n)
		}
		for _, a := range as {
			if a.Why == "" {
				t.Fatalf("%q: %s has no reason", s, a.Name)
			}
		}
		_ = fl.Ftrace()
		_ = fl.PatchableEntrySize()
		for _, o := range dwarfinfo.ModelledOptions {
			fl.Option(o)
		}
	})
}

// FuzzObject feeds mutated fixture objects to Producers and Inlines: no
// panic, and every error names the file.
func FuzzObject(f *testing.F) {
	seedObjects(f, "livepatch-flags", "lto")
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := dwarfinfo.ProducersFromBytes("fuzz.o", b); err != nil && !strings.Contains(err.Error(), "fuzz.o") {
			t.Fatalf("Producers error %q does not name the file", err)
		}
		if _, err := dwarfinfo.InlinesFromBytes("fuzz.o", b); err != nil && !strings.Contains(err.Error(), "fuzz.o") {
			t.Fatalf("Inlines error %q does not name the file", err)
		}
	})
}

// seedObjects adds the objects the named fixtures build to f's corpus.
func seedObjects(f *testing.F, fixtures ...string) {
	for _, name := range fixtures {
		objs, _ := filepath.Glob(filepath.Join(fixture.Build(f, name), "*.o"))
		for _, o := range objs {
			b, err := os.ReadFile(o)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}
