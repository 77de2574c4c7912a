package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/klp-audit/klp-audit/internal/driver"
	"github.com/klp-audit/klp-audit/report"
)

// writeNext writes, after impacted's text answer on a terminal, the
// exact commands of the next steps: explain the first target listed,
// write the klp_func arrays, and check the livepatch once the fix is
// written. The flags that chose the build, the function and the policy
// are repeated, so each line can be pasted as it is.
func writeNext(w io.Writer, opts *ImpactedOptions, res *report.Result) error {
	if res.Targets == nil && res.Policy == "" {
		return nil // no rules ran (--no-rules, --dumps-only): nothing to replace yet
	}
	build := buildArgs(opts.Options)
	q := []string{"--func", opts.Func}
	if opts.File != "" {
		q = append(q, "--file", opts.File)
	}
	if opts.TU != "" {
		q = append(q, "--tu", opts.TU)
	}
	var pol []string
	if opts.Policy != "" {
		pol = []string{"--policy", opts.Policy}
	}
	var linked []string
	for _, v := range opts.Vmlinux {
		linked = append(linked, "--vmlinux", v)
	}
	type step struct{ cmd, why string }
	var steps []step
	if t := firstTarget(res.Targets); t != nil {
		args := append(append(append(append([]string{"impacted"}, build...), q...), pol...), linked...)
		args = append(args, "--explain", t.Name+"@"+t.TU)
		steps = append(steps, step{command(args), "why " + t.Name + " is a target: every hop with its evidence"})
		args = append(append(append(append([]string{"klp-skeleton"}, build...), q...), pol...), linked...)
		steps = append(steps, step{command(args), "the klp_func arrays to paste into the livepatch"})
	}
	args := append(append(append(append([]string{"check", "--diff", "FIX.patch"}, build...), pol...), linked...), "--livepatch", "LIVEPATCH.c")
	steps = append(steps, step{command(args), "once the fix is written: does the livepatch replace what it must?"})

	var b strings.Builder
	b.WriteString("\nnext:\n")
	for _, s := range steps {
		fmt.Fprintf(&b, "  %s\n      %s\n", s.cmd, s.why)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// buildArgs are the flags that name the build's evidence.
func buildArgs(o driver.Options) []string {
	var args []string
	for _, b := range o.Builds {
		args = append(args, "--build", b)
	}
	for _, d := range o.DumpLists {
		args = append(args, "--dumps-from", d)
	}
	for _, p := range o.StripPrefixes {
		args = append(args, "--strip-prefix", p)
	}
	if o.Source != "" {
		args = append(args, "--source", o.Source)
	}
	return args
}

// firstTarget is the target the text answer lists first: must before
// conditional before review, each by klp_object, unit and name; targets
// the policy ignores are not offered.
func firstTarget(ts []report.Target) *report.Target {
	rank := map[string]int{report.SeverityMust: 0, report.SeverityConditional: 1, report.SeverityReview: 2}
	var list []*report.Target
	for i := range ts {
		if ts[i].IgnoredBecause == "" {
			list = append(list, &ts[i])
		}
	}
	if len(list) == 0 {
		return nil
	}
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		ra, oka := rank[a.Severity]
		rb, okb := rank[b.Severity]
		if !oka {
			ra = 2
		}
		if !okb {
			rb = 2
		}
		switch {
		case ra != rb:
			return ra < rb
		case a.KLPObject != b.KLPObject:
			return a.KLPObject < b.KLPObject
		case a.TU != b.TU:
			return a.TU < b.TU
		}
		return a.Name < b.Name
	})
	return list[0]
}

// command is the shell command line running klp-audit with args, each
// quoted where the shell would split or expand it.
func command(args []string) string {
	out := []string{"klp-audit"}
	for _, a := range args {
		out = append(out, shellQuote(a))
	}
	return strings.Join(out, " ")
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// letters, digits and -_./@:,+=%.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./@:,+=%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
