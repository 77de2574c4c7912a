package main

import (
	"fmt"

	"github.com/klp-audit/klp-audit/internal/driver"
	"github.com/klp-audit/klp-audit/report"
)

// checkExplainFlags rejects the flags --explain cannot answer with.
func checkExplainFlags(opts *ImpactedOptions, f report.Format) error {
	if _, err := report.ParseFormatOf(report.VerbExplain, string(f)); err != nil {
		return fmt.Errorf("--explain writes text, json or yaml, not %s", f)
	}
	if opts.DumpsOnly || opts.NoRules {
		return fmt.Errorf("--explain explains a target of the safety rules: drop --dumps-only and --no-rules")
	}
	return nil
}

// runExplain prints the explanation of opts.Explain from answer a.
func runExplain(opts *ImpactedOptions, a *driver.Answer, f report.Format) error {
	x, err := a.Explain(opts.Explain)
	if err != nil {
		return err
	}
	s := opts.Streams
	printProblems(s, a.Result.Problems)
	if err := report.RenderExplain(s.Out, x, f); err != nil {
		return err
	}
	return incomplete(s, a.Result.Complete, len(a.Result.Problems))
}
