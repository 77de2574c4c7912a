package driver

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// timing says KLP_AUDIT_TIMING is set: the wall time of each phase of a
// check or impacted --fix (loading the build, the prediction, each
// compile, the proof, the comparisons) goes to stderr, to see where the
// time goes.
var timing = os.Getenv("KLP_AUDIT_TIMING") != ""

// began is about when the process started: each phase also says when it
// ended, counted from it.
var began = time.Now()

// phase writes, under KLP_AUDIT_TIMING, how long what took since start
// and when it ended, and returns now: the start of the next phase.
func phase(what string, start time.Time) time.Time {
	now := time.Now()
	if timing {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		fmt.Fprintf(os.Stderr, "timing: %-44s %8.1f ms, done at %7.1f ms (%d page faults so far)\n", what, ms(now.Sub(start)), ms(now.Sub(began)), ru.Minflt)
	}
	return now
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
