package driver

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// gcPercent returns the GC percent in force.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestSparseGC: a lean load's GC percent is leanGCPercent while loads
// run, the one before once the last is done, and the one before as soon
// as a collection finds more than sparseHeapMax bytes live; GOGC in the
// environment is left alone.
func TestSparseGC(t *testing.T) {
	t.Setenv("GOGC", "")
	before := gcPercent()
	r1 := sparseGC()
	r2 := sparseGC()
	if p := gcPercent(); p != leanGCPercent {
		t.Fatalf("during two loads: GC percent %d, want %d", p, leanGCPercent)
	}
	r1()
	if p := gcPercent(); p != leanGCPercent {
		t.Errorf("during the second load: GC percent %d, want %d", p, leanGCPercent)
	}
	r2()
	if p := gcPercent(); p != before {
		t.Errorf("after the loads: GC percent %d, want %d", p, before)
	}

	// A large live heap sets it back before the load ends.
	restore := sparseGC()
	big := make([][]byte, 0, 64)
	for range 64 {
		big = append(big, make([]byte, sparseHeapMax/32))
	}
	for i := 0; i < 100 && gcPercent() == leanGCPercent; i++ {
		runtime.GC() // the sentinel's finalizer runs after it
		runtime.Gosched()
	}
	if p := gcPercent(); p != before {
		t.Errorf("with %d MiB live: GC percent %d, want %d", len(big)*sparseHeapMax/32>>20, p, before)
	}
	runtime.KeepAlive(big)
	restore()
	if p := gcPercent(); p != before {
		t.Errorf("after the load: GC percent %d, want %d", p, before)
	}

	t.Setenv("GOGC", "100")
	restore = sparseGC()
	if p := gcPercent(); p != before {
		t.Errorf("with GOGC set: GC percent %d, want %d", p, before)
	}
	restore()
}
