package kbuild

import (
	"context"

	"github.com/klp-audit/klp-audit/internal/par"
	"github.com/klp-audit/klp-audit/internal/progress"
)

// Job is one rebuild: a unit, the files replaced in it, and a label for
// its scratch directory.
type Job struct {
	Unit  Unit
	Files map[string][]byte
	Label string
}

// Done is a finished Job.
type Done struct {
	Rebuilt *Rebuilt
	Err     error
}

// RunAll runs jobs, workers at a time (at least one), and returns their
// results in the jobs' order. bar (nil: none) counts each finished job.
func (b *Builder) RunAll(ctx context.Context, jobs []Job, workers int, bar progress.Bar) []Done {
	out := make([]Done, len(jobs))
	par.Each(len(jobs), workers, func(i int) {
		r, err := b.Rebuild(ctx, jobs[i].Unit, jobs[i].Files, jobs[i].Label)
		out[i] = Done{r, err}
		if bar != nil {
			bar.Add(1)
		}
	})
	return out
}
