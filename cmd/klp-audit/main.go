// Command klp-audit tells a Linux kernel livepatch author which functions
// must be replaced for a source-based livepatch to be safe. See README.md.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

func main() {
	// KLP_AUDIT_CPUPROFILE=FILE writes a CPU profile of the run (for
	// "go tool pprof"), to see where the time of a slow query goes.
	if p := os.Getenv("KLP_AUDIT_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "klp-audit: KLP_AUDIT_CPUPROFILE:", err)
			os.Exit(ExitUsage)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "klp-audit: KLP_AUDIT_CPUPROFILE:", err)
			os.Exit(ExitUsage)
		}
		code := Main(os.Args[1:], defaultStreams())
		pprof.StopCPUProfile()
		f.Close()
		os.Exit(code)
	}
	os.Exit(Main(os.Args[1:], defaultStreams()))
}
