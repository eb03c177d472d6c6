// Package parallel runs independent steps of a batch on every CPU.
package parallel

import (
	"runtime"
	"sync"
)

// Each calls fn(i) for every i in [0, n) and returns the lowest i for
// which fn failed, with its error, or (0, nil). Batches of at least
// 2*minChunk items are split into contiguous chunks of at least minChunk
// across GOMAXPROCS goroutines; smaller ones run on the caller's
// goroutine. A chunk stops at its first failure, so the error reported is
// the one the sequential loop would report.
func Each(n, minChunk int, fn func(i int) error) (int, error) {
	workers := min(runtime.GOMAXPROCS(0), n/max(minChunk, 1))
	if workers <= 1 {
		for i := range n {
			if err := fn(i); err != nil {
				return i, err
			}
		}
		return 0, nil
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for start := 0; start < n; start += chunk {
		wg.Go(func() {
			for i := start; i < min(start+chunk, n); i++ {
				if errs[i] = fn(i); errs[i] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return i, err
		}
	}
	return 0, nil
}
