package main

import (
	"github.com/spf13/cobra"

	"github.com/klp-audit/klp-audit/internal/driver"
)

// bindRebuild binds the flags of the rebuild of the units a fix touches
// (check, impacted --fix).
func bindRebuild(cmd *cobra.Command, ro *driver.RebuildOptions) {
	fl := cmd.Flags()
	fl.BoolVar(&ro.Off, "no-rebuild", false, "do not rebuild the units the fix touches: the prediction alone")
	fl.IntVarP(&ro.Jobs, "jobs", "j", 0, "compilers run at once when rebuilding (`N`; default: the number of CPUs plus one)")
	fl.StringVar(&ro.CacheDir, "rebuild-cache", "",
		"`DIR` keeping rebuilt originals (default $XDG_CACHE_HOME/klp-audit/rebuild; \"off\" keeps none)")
	fl.IntVar(&ro.MaxUnits, "rebuild-max", driver.DefaultMaxUnits, "rebuild at most `N` units (a header read by more: the prediction alone)")
}
