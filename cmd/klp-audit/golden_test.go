package main

import (
	"os"
	"path/filepath"
	"testing"
)

// checkGolden compares got with the golden file at path, rewriting it
// first under -update. With skipMissing, a missing golden skips the test
// (goldens of compiled fixtures exist per gcc version only).
func checkGolden(t *testing.T, path, got string, skipMissing bool) {
	t.Helper()
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if skipMissing && os.IsNotExist(err) {
		t.Skipf("no golden %s: %v (go test -update writes it)", path, err)
	}
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update, then review the diff):\n%s", path, got)
	}
}
