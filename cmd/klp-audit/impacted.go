package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/klp-audit/klp-audit/internal/driver"
	"github.com/klp-audit/klp-audit/report"
)

// ImpactedOptions are the inputs of "klp-audit impacted".
type ImpactedOptions struct {
	Streams *Streams
	driver.Options
	Func   string
	File   string
	TU     string
	Format string
	// DumpsOnly answers from the dumps, reading the objects only for
	// their symbol names (copies of the function no dump line names).
	DumpsOnly bool
	// AllFunctions answers for every function of the build (JSON Lines).
	AllFunctions bool
	// NoRules skips the safety rules: only the functions holding the code.
	NoRules bool
	// Policy is a policy file merged over the default one.
	Policy string
	// Vmlinux are the linked vmlinux and modules (.ko) old_sympos is
	// counted in.
	Vmlinux []string
	// Explain names the target whose reason chain to explain, as NAME or
	// NAME@TU.
	Explain string
	// Fix resolves the answer by rebuilding (--fix, --fuzz and the
	// rebuild flags).
	Fix     string
	Fuzz    int
	Rebuild driver.RebuildOptions
}

func newImpactedCmd(s *Streams, runF func(*ImpactedOptions) error) *cobra.Command {
	opts := &ImpactedOptions{Streams: s}
	cmd := &cobra.Command{
		Use:   "impacted --func NAME --build DIR",
		Short: "List the functions that carry the code of a function",
		Long: `List every function that contains the code of NAME after GCC's
inter-procedural optimisations: the functions NAME was inlined into, its
.constprop, .isra, .part and simd clones, and transitively everything those
were inlined into. A livepatch that fixes NAME must replace each of them that
exists in the running kernel (vmlinux or the module), or the old code keeps
running.

Each entry carries its reason chain, said from its own side, for example
  cgroup_bpf_release holds the inlined code of css_put, which holds the
  inlined code of percpu_ref_put_many.constprop.0, which is the constprop
  clone of percpu_ref_put_many
and entries are grouped by translation unit (object file): a static or
header inline function is a different function in every unit that has it,
so one name can need several klp_func entries (told apart by old_sympos).
Use --file or --tu to keep one of them.

A function that no dump line mentions, but that an object defines, is listed
as carrying only its own code there. When any dump line or file cannot be
read, the answer is marked incomplete and the exit status is 1.

--format html writes one self-contained page for a review: the verdict,
the targets as a table sortable by rule and severity, each reason chain
with its evidence, and the impact graph drawn as SVG.

--vmlinux gives the linked vmlinux and the modules' .ko files of the running
kernel: each target then gets its klp_func.old_sympos, its position among
the same-named symbols in kallsyms order (0 when the name is unique), the
symbol found by its code (and DWARF compile unit where copies are
identical). A position that cannot be told makes the answer incomplete.

--explain NAME (or NAME@TU) prints, instead of the report, why NAME is a
target: every hop from the changed function with its evidence (the dump
line, quoted; the call instruction, disassembled), each symbol's section,
offset, size and binding, and the rules with their severity and note.
--format json or yaml writes the same as data.

--fix FIX.patch resolves the answer with the fix, as check does: the
units it touches are rebuilt from kbuild's .cmd commands, original and
patched (in a scratch directory; the tree is never written), and a
conditional or review target whose code changed becomes must ("confirmed
by the rebuild"), one whose code did not change is dropped and listed
with its reason, and a function that changed although nothing predicted
it is added (a decision shift). The targets of the other functions the
fix changes join the answer. With --no-rebuild, or without the tree's
sources and .cmd files, the report says the answer is the prediction.

On a terminal, a text answer ends with the next steps as commands to paste:
--explain for its first target, klp-skeleton, and check once the fix is
written.

` + exitCodesHelp,
		Example: `  # Every function that holds percpu_ref_put_many's code, as a tree
  klp-audit impacted --build ~/linux --func percpu_ref_put_many

  # The static helper of one file only, as a YAML report for review
  klp-audit impacted --build ~/linux --func oom_badness --file mm/oom_kill.c --format yaml

  # A page for the review: verdict, sortable targets, reason chains, the graph as SVG
  klp-audit impacted --build ~/linux --func oom_badness --format html >oom_badness.html

  # One translation unit, as a Graphviz graph
  klp-audit impacted --build ~/linux --func css_put --tu kernel/cgroup/cgroup.o --format dot | dot -Tsvg >css_put.svg

  # With old_sympos counted in the running kernel's vmlinux and a module
  klp-audit impacted --build ~/linux --func oom_badness --vmlinux /usr/lib/debug/boot/vmlinux-6.1 --vmlinux nfsd.ko

  # Why must cgroup_bpf_release be replaced? The chain, with its evidence
  klp-audit impacted --build ~/linux --func percpu_ref_put_many --explain cgroup_bpf_release@kernel/bpf/cgroup.o

  # Resolve the conditional targets with the fix, by rebuilding what it touches
  klp-audit impacted --build ~/linux --func should_skip_region --fix fix.patch

  # Dumps listed in a file, as kgraft-analysis-tool takes them
  find ~/linux -name '*.ipa-clones' >dumps.txt
  klp-audit impacted --dumps-from dumps.txt --func css_put --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := report.ParseFormatOf(report.VerbImpacted, opts.Format); err != nil {
				return err
			}
			if opts.Func == "" && !opts.AllFunctions {
				return errFuncRequired
			}
			if opts.Fix == "" {
				for _, f := range []string{"fuzz", "no-rebuild", "jobs", "rebuild-cache", "rebuild-max"} {
					if cmd.Flags().Changed(f) {
						return fmt.Errorf("--%s is for the rebuild of a fix: give --fix FILE", f)
					}
				}
			}
			if runF != nil {
				return runF(opts)
			}
			if opts.AllFunctions {
				return runAllFunctions(opts)
			}
			return runImpacted(opts)
		},
	}
	bindBuild(cmd, &opts.Options)
	bindSource(cmd, &opts.Options)
	fl := cmd.Flags()
	fl.StringVar(&opts.Func, "func", "", "function `NAME` the fix changes (assembler name, as in vmlinux)")
	fl.StringVar(&opts.File, "file", "", "keep only the copies declared in source `FILE` (e.g. mm/oom_kill.c or include/linux/percpu-refcount.h)")
	fl.StringVar(&opts.TU, "tu", "", "keep only translation unit `OBJ` (e.g. mm/oom_kill.o)")
	fl.StringVar(&opts.Format, "format", "text", "output `FORMAT`: text, table, yaml, json, dot or html")
	fl.BoolVar(&opts.DumpsOnly, "dumps-only", false,
		"answer from the dumps: the objects are read only for their symbol names, to find copies of the function no dump line names (whether each function exists as a symbol stays unchecked; no safety rules)")
	fl.BoolVar(&opts.NoRules, "no-rules", false, "list the functions holding the code only, without the safety rules' must-patch set")
	fl.StringVar(&opts.Policy, "policy", "", "policy `FILE` (YAML) merged over the default one: what it leaves out keeps the default (klp-audit policy prints it)")
	_ = cmd.MarkFlagFilename("policy", "yaml", "yml")
	fl.StringArrayVar(&opts.Vmlinux, "vmlinux", nil,
		"linked vmlinux or module `FILE` (.ko) of the running kernel: set each target's old_sympos (repeatable)")
	fl.StringVar(&opts.Explain, "explain", "",
		"explain one target `NAME` (or NAME@TU): its chain from the changed function with the evidence of every hop")
	fl.BoolVar(&opts.AllFunctions, "all-functions", false,
		"answer for every function of every unit with a dump, from the dumps alone, one JSON answer a line (as kgraft-analysis-tool does for every symbol)")
	fl.StringVar(&opts.Fix, "fix", "", "resolve the answer with the fix `FILE` (a unified diff against the build's sources) by rebuilding the units it touches")
	fl.IntVar(&opts.Fuzz, "fuzz", 0, "with --fix: let up to `N` context lines at each end of a hunk differ from the build's source, as patch -F N")
	bindRebuild(cmd, &opts.Rebuild)
	_ = cmd.RegisterFlagCompletionFunc("format", formatCompletion(report.VerbImpacted))
	return cmd
}

func runImpacted(opts *ImpactedOptions) error {
	format, err := report.ParseFormatOf(report.VerbImpacted, opts.Format)
	if err != nil {
		return err
	}
	if opts.Explain != "" {
		if err := checkExplainFlags(opts, format); err != nil {
			return err
		}
	}
	if opts.Fix == "" {
		// The answer is written under the query's sparse collection:
		// a collection between the two would find most of the heap
		// live, to no use in a process about to end.
		defer driver.SparseGC()()
	}
	a, err := driver.Impacted(opts.Options, opts.query())
	if err != nil {
		return err
	}
	s := opts.Streams
	printNotices(s, a)
	if opts.Explain != "" {
		return runExplain(opts, a, format)
	}
	res := a.Result
	printProblems(s, res.Problems)
	if err := report.Render(s.Out, res, format); err != nil {
		return err
	}
	if s.OutTTY && format == report.Text {
		if err := writeNext(s.Out, opts, res); err != nil {
			return err
		}
	}
	return incomplete(s, res.Complete, len(res.Problems))
}

// query is the driver's form of the options' question.
func (opts *ImpactedOptions) query() driver.ImpactQuery {
	return driver.ImpactQuery{Func: opts.Func, File: opts.File, TU: opts.TU, DumpsOnly: opts.DumpsOnly,
		NoRules: opts.NoRules, Policy: opts.Policy, Vmlinux: opts.Vmlinux, Explain: opts.Explain != "",
		Fix: opts.Fix, Fuzz: opts.Fuzz, Rebuild: opts.Rebuild}
}
