package par

import (
	"sync/atomic"
	"testing"
)

// TestEach: every index is done exactly once, on no more goroutines than
// asked, whatever the number of workers.
func TestEach(t *testing.T) {
	for _, tc := range []struct{ n, workers int }{{0, 4}, {1, 0}, {5, 1}, {100, 3}, {3, 10}} {
		done := make([]int32, tc.n)
		var running, peak atomic.Int32
		Each(tc.n, tc.workers, func(i int) {
			r := running.Add(1)
			for {
				p := peak.Load()
				if r <= p || peak.CompareAndSwap(p, r) {
					break
				}
			}
			atomic.AddInt32(&done[i], 1)
			running.Add(-1)
		})
		for i, d := range done {
			if d != 1 {
				t.Errorf("n=%d workers=%d: index %d done %d times", tc.n, tc.workers, i, d)
			}
		}
		if limit := int32(max(1, tc.workers)); peak.Load() > limit {
			t.Errorf("n=%d workers=%d: %d goroutines at once", tc.n, tc.workers, peak.Load())
		}
	}
}
