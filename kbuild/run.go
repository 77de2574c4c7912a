package kbuild

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/klp-audit/klp-audit/internal/par"
)

// Job is one rebuild: a unit, the files replaced in it, and a label for
// its scratch directory and the progress line.
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
// results in the jobs' order. With progress non-nil (a terminal), a
// progress line is rewritten there after each job and ended when all are
// done.
func (b *Builder) RunAll(ctx context.Context, jobs []Job, workers int, progress io.Writer) []Done {
	out := make([]Done, len(jobs))
	var (
		mu   sync.Mutex
		done int
	)
	par.Each(len(jobs), workers, func(i int) {
		r, err := b.Rebuild(ctx, jobs[i].Unit, jobs[i].Files, jobs[i].Label)
		out[i] = Done{r, err}
		mu.Lock()
		done++
		if progress != nil {
			fmt.Fprintf(progress, "\rrebuilding: %d/%d units compiled (%s)\x1b[K", done, len(jobs), jobs[i].Unit.Cmd.Target)
		}
		mu.Unlock()
	})
	if progress != nil && len(jobs) > 0 {
		fmt.Fprintln(progress)
	}
	return out
}
