package main

import (
	"bufio"
	"fmt"

	"github.com/klp-audit/klp-audit/internal/driver"
)

// runAllFunctions is "impacted --all-functions": every function's answer
// from the dumps, one JSON document a line (JSON Lines).
func runAllFunctions(opts *ImpactedOptions) error {
	if opts.File != "" || opts.TU != "" || opts.Explain != "" || len(opts.Vmlinux) > 0 || opts.Policy != "" || opts.NoRules ||
		(opts.Format != "text" && opts.Format != "json") {
		return fmt.Errorf("--all-functions answers every function from the dumps alone, as JSON Lines: it takes no --func, --file, --tu, --explain, --vmlinux, --policy or --format other than json")
	}
	if opts.Func != "" {
		return fmt.Errorf("--all-functions answers every function: drop --func")
	}
	w := bufio.NewWriterSize(opts.Streams.Out, 1<<20)
	n, err := driver.AllFunctions(opts.Options, w)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.Streams.Err, "%d functions answered\n", n)
	return nil
}

// errFuncRequired is cobra's own error for a missing required flag:
// --func is required unless --all-functions is given.
var errFuncRequired = fmt.Errorf(`required flag(s) "func" not set`)
