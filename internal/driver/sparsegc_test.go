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

// memoryLimit returns the memory limit in force.
func memoryLimit() int64 { return debug.SetMemoryLimit(-1) }

// TestSparseGC: while queries run the collector is off under a memory
// limit of offGCLimit; after the first collection it runs at
// leanGCPercent under the limit found before; the settings before come
// back once the last query is done, or as soon as a collection finds
// more than sparseHeapMax bytes live; GOGC in the environment is left
// alone.
func TestSparseGC(t *testing.T) {
	t.Setenv("GOGC", "")
	before, beforeLim := gcPercent(), memoryLimit()
	r1 := sparseGC()
	r2 := sparseGC()
	if p, l := gcPercent(), memoryLimit(); p != -1 || l != min(beforeLim, offGCLimit) {
		t.Fatalf("during two queries: GC percent %d, limit %d, want off under %d", p, l, offGCLimit)
	}
	for i := 0; i < 100 && gcPercent() == -1; i++ {
		runtime.GC() // the sentinel's finalizer runs after it
		runtime.Gosched()
	}
	if p, l := gcPercent(), memoryLimit(); p != leanGCPercent || l != beforeLim {
		t.Fatalf("after a collection: GC percent %d, limit %d, want %d, %d", p, l, leanGCPercent, beforeLim)
	}
	r1()
	if p := gcPercent(); p != leanGCPercent {
		t.Errorf("during the second query: GC percent %d, want %d", p, leanGCPercent)
	}
	r2()
	if p, l := gcPercent(), memoryLimit(); p != before || l != beforeLim {
		t.Errorf("after the queries: GC percent %d, limit %d, want %d, %d", p, l, before, beforeLim)
	}

	// A large live heap sets it back before the load ends.
	restore := sparseGC()
	big := make([][]byte, 0, 64)
	for range 64 {
		big = append(big, make([]byte, sparseHeapMax/32))
	}
	for i := 0; i < 100 && gcPercent() != before; i++ {
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
