// Package parallel runs independent steps of a batch on every CPU.
package parallel

import (
	"runtime"
	"sync"
)

// MinChunk is the fewest items a goroutine of Each takes: for steps of a
// few microseconds an item, such as validating, encoding or decoding a
// route, a chunk that size pays for its goroutine many times over.
const MinChunk = 128

// Each calls fn(i) for every i in [0, n) and returns the lowest i for
// which fn failed, with its error, or (0, nil). Batches of at least
// 2*MinChunk items are split into contiguous chunks of at least MinChunk
// across GOMAXPROCS goroutines; smaller ones run on the caller's
// goroutine. A chunk stops at its first failure, so the error reported is
// the one the sequential loop would report.
func Each(n int, fn func(i int) error) (int, error) {
	workers := min(runtime.GOMAXPROCS(0), n/MinChunk)
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
