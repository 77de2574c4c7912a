// Package progress shows how far long work is (units rebuilt, dumps
// indexed, objects scanned) as a bar on stderr, only when stderr is a
// terminal: a pipe, a file or a test gets nothing.
package progress

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Bar counts the finished pieces of one piece of work. It is safe for
// concurrent use; a Bar of a non-terminal does nothing.
type Bar interface {
	// Add counts n more pieces done.
	Add(n int)
	// Done ends the bar (its line is cleared); Add after Done does
	// nothing.
	Done()
}

var off atomic.Bool

// SetOff turns every bar made after it off (true) or back on: tests that
// run the CLI on a terminal keep its stderr clean.
func SetOff(v bool) { off.Store(v) }

// New returns a bar for total pieces of work described by what
// ("rebuilding 3 units"), drawn on stderr when it is a terminal, and a
// bar that does nothing otherwise or when SetOff(true) was called.
func New(total int, what string) Bar {
	if off.Load() || total <= 0 || !term.IsTerminal(int(os.Stderr.Fd())) {
		return none{}
	}
	return newTo(os.Stderr, total, what)
}

// newTo draws the bar on w.
func newTo(w io.Writer, total int, what string) Bar {
	return &bar{pb: progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionClearOnFinish(),
	)}
}

type bar struct {
	mu   sync.Mutex
	pb   *progressbar.ProgressBar
	done bool
}

func (b *bar) Add(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		_ = b.pb.Add(n)
	}
}

func (b *bar) Done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.done = true
		_ = b.pb.Finish()
	}
}

type none struct{}

func (none) Add(int) {}
func (none) Done()   {}
