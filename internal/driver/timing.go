package driver

import (
	"fmt"
	"os"
	"time"
)

// timing says KLP_AUDIT_TIMING is set: the wall time of each phase of a
// check or impacted --fix (loading the build, the prediction, each
// compile, the proof, the comparisons) goes to stderr, to see where the
// time goes.
var timing = os.Getenv("KLP_AUDIT_TIMING") != ""

// phase writes, under KLP_AUDIT_TIMING, how long what took since start,
// and returns now: the start of the next phase.
func phase(what string, start time.Time) time.Time {
	now := time.Now()
	if timing {
		fmt.Fprintf(os.Stderr, "timing: %-40s %6.2fs\n", what, now.Sub(start).Seconds())
	}
	return now
}
