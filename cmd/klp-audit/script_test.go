package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run klp-audit's real entry point from the test
// binary itself: "exec klp-audit ..." in a script calls Main.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"klp-audit": func() { os.Exit(Main(os.Args[1:], defaultStreams())) },
	})
}

// TestScripts runs the CLI scenarios in testdata/script/*.txtar: each
// bundles its input dumps with the expected output and exit status.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
	})
}
