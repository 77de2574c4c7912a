package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// checkGolden compares got with the golden file at path, rewriting it
// first under -update. With perGCC, the golden is of a compiled fixture,
// kept per gcc version: a missing one fails loudly (fixture.NoGoldenFor).
func checkGolden(t *testing.T, path, got string, perGCC bool) {
	t.Helper()
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if perGCC && os.IsNotExist(err) {
		fixture.NoGoldenFor(t, filepath.Base(filepath.Dir(path)), path)
	}
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update, then review the diff):\n%s", path, got)
	}
}
