// Package par runs independent pieces of work on a bounded number of
// goroutines: reading the objects or dumps of a build, where the disk and
// the parser, not the order, set the pace.
package par

import "sync"

// Each calls fn(i) for every i in [0, n) on at most workers goroutines
// (at least one, at most n) and returns when every call has returned.
// fn must be safe to run concurrently for different i; results go into
// slots indexed by i, so their order does not depend on the scheduling.
func Each(n, workers int, fn func(i int)) {
	workers = max(1, min(workers, n))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
