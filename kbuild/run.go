package kbuild

import (
	"context"
	"time"

	"github.com/klp-audit/klp-audit/internal/par"
	"github.com/klp-audit/klp-audit/internal/progress"
)

// Job is one rebuild: a unit, the files replaced in it, and a label for
// its scratch directory.
type Job struct {
	Unit  Unit
	Files map[string][]byte
	Label string
	// NoDebug compiles without debugging information (-g0), about
	// twice as fast for a kernel unit: for a build compared only by its
	// code (GCC's code does not depend on -g).
	NoDebug bool
}

// Done is a finished Job.
type Done struct {
	Rebuilt *Rebuilt
	Err     error
	// Took is the job's wall time.
	Took time.Duration
}

// RunAll runs jobs, workers at a time (at least one), and returns their
// results in the jobs' order. bar (nil: none) counts each finished job.
func (b *Builder) RunAll(ctx context.Context, jobs []Job, workers int, bar progress.Bar) []Done {
	out := make([]Done, len(jobs))
	par.Each(len(jobs), workers, func(i int) {
		start := time.Now()
		r, err := b.RebuildJob(ctx, jobs[i])
		out[i] = Done{r, err, time.Since(start)}
		if bar != nil {
			bar.Add(1)
		}
	})
	return out
}
