package main

import (
	"github.com/spf13/cobra"

	"github.com/klp-audit/klp-audit/internal/driver"
	"github.com/klp-audit/klp-audit/livepatch"
)

// SkeletonOptions are the inputs of "klp-audit klp-skeleton": those of
// impacted that decide the targets.
type SkeletonOptions struct {
	Streams *Streams
	driver.Options
	Func    string
	File    string
	TU      string
	Policy  string
	Vmlinux []string
}

func newSkeletonCmd(s *Streams, runF func(*SkeletonOptions) error) *cobra.Command {
	opts := &SkeletonOptions{Streams: s}
	cmd := &cobra.Command{
		Use:   "klp-skeleton --func NAME --build DIR [--vmlinux FILE] [--policy FILE]",
		Short: "Print the klp_func and klp_object arrays a livepatch needs",
		Long: `Print, as C ready to paste into a livepatch module, the struct klp_func
array of every klp_object (vmlinux, or a module) and the struct klp_object
array, listing every function the livepatch must replace when it fixes NAME:
the targets of "klp-audit impacted" (same inputs, same rules, same policy),
laid out as samples/livepatch/livepatch-sample.c does:

  static struct klp_func funcs_vmlinux[] = {
  	{
  		/* must, containment: cgroup_bpf_release holds the inlined code of css_put [kernel/bpf/cgroup.o, kernel/bpf/cgroup.c:292] */
  		.old_name = "cgroup_bpf_release",
  		.new_func = livepatch_cgroup_bpf_release,
  		.old_sympos = 2,
  	},
  	{ }
  };

Each entry's comment gives its severity, the rule that made it a target and
the last step of its reason (klp-audit impacted --explain NAME shows the whole
chain). Targets a reviewer must decide on are marked /* REVIEW: ... */ and
kept, so the livepatch replaces them until someone decides otherwise;
targets the policy ignores are listed in comments only. new_func is
livepatch_ plus the name with every character that cannot be in a C
identifier made _ (foo.constprop.0: livepatch_foo_constprop_0), and the
translation unit appended when a name is a target in several. Define each
replacement above the arrays with the prototype of the function it replaces;
for a clone (.constprop, .isra, .part) the policy's
author-supplies-clone-abi says it must have the clone's own ABI, and its
comment says so.

old_sympos is set from --vmlinux (the linked vmlinux and the modules' .ko
files of the running kernel), as "impacted --vmlinux" computes it; without
them it is left out, and a comment says so where the function is local.

When the answer is incomplete (evidence missing, old_sympos unknown), the
output starts with an #error line listing the problems, so it cannot be
built as if it were safe, and the exit status is 1.

` + exitCodesHelp,
		Example: `  # The klp_func arrays for a fix to should_skip_region, old_sympos from vmlinux
  klp-audit klp-skeleton --build ~/linux --func should_skip_region --vmlinux ~/linux/vmlinux >klp-funcs.c

  # A module's static function, counting old_sympos in its .ko
  klp-audit klp-skeleton --build ~/linux --func nfsd_cache_lookup --vmlinux ~/linux/fs/nfsd/nfsd.ko

  # The author writes clone-ABI replacements: the policy says so
  klp-audit klp-skeleton --build ~/linux --func big --policy clone-abi.yaml --vmlinux ~/linux/vmlinux`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runSkeleton(opts)
		},
	}
	bindBuild(cmd, &opts.Options)
	bindSource(cmd, &opts.Options)
	fl := cmd.Flags()
	fl.StringVar(&opts.Func, "func", "", "function `NAME` the fix changes (assembler name, as in vmlinux)")
	fl.StringVar(&opts.File, "file", "", "keep only the copies declared in source `FILE` (e.g. mm/oom_kill.c)")
	fl.StringVar(&opts.TU, "tu", "", "keep only translation unit `OBJ` (e.g. mm/oom_kill.o)")
	fl.StringVar(&opts.Policy, "policy", "", "policy `FILE` (YAML) merged over the default one: what it leaves out keeps the default (klp-audit policy prints it)")
	fl.StringArrayVar(&opts.Vmlinux, "vmlinux", nil,
		"linked vmlinux or module `FILE` (.ko) of the running kernel: set each entry's old_sympos (repeatable)")
	_ = cmd.MarkFlagFilename("policy", "yaml", "yml")
	_ = cmd.MarkFlagRequired("func")
	return cmd
}

func runSkeleton(opts *SkeletonOptions) error {
	q := driver.ImpactQuery{Func: opts.Func, File: opts.File, TU: opts.TU, Policy: opts.Policy, Vmlinux: opts.Vmlinux}
	a, err := driver.Impacted(opts.Options, q)
	if err != nil {
		return err
	}
	s := opts.Streams
	printNotices(s, a)
	printProblems(s, a.Result.Problems)
	err = livepatch.WriteSkeleton(s.Out, a.Result, livepatch.SkeletonOptions{Linked: len(opts.Vmlinux) > 0, CloneABI: a.CloneABI()})
	if err != nil {
		return err
	}
	return incomplete(s, a.Result.Complete, len(a.Result.Problems))
}
