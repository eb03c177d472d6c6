package parallel

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
)

func TestEachVisitsEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, MinChunk - 1, MinChunk, 2 * MinChunk, 1000, 1001} {
		seen := make([]atomic.Int32, n)
		if i, err := Each(n, func(i int) error { seen[i].Add(1); return nil }); err != nil {
			t.Fatalf("n=%d: Each = %d, %v", n, i, err)
		}
		for i := range seen {
			if c := seen[i].Load(); c != 1 {
				t.Fatalf("n=%d: index %d visited %d times", n, i, c)
			}
		}
	}
}

func TestEachReportsLowestFailure(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Log("one CPU: the sequential path is tested")
	}
	fail := map[int]bool{700: true, 300: true, 999: true}
	i, err := Each(1000, func(i int) error {
		if fail[i] {
			return fmt.Errorf("item %d", i)
		}
		return nil
	})
	if i != 300 || err == nil || err.Error() != "item 300" {
		t.Fatalf("Each = %d, %v; want 300, item 300", i, err)
	}
}

func TestEachStopsSequentialBatchAtFirstFailure(t *testing.T) {
	var calls int
	boom := errors.New("boom")
	i, err := Each(10, func(i int) error {
		calls++
		if i == 3 {
			return boom
		}
		return nil
	})
	if i != 3 || !errors.Is(err, boom) || calls != 4 {
		t.Fatalf("Each = %d, %v after %d calls; want 3, boom after 4", i, err, calls)
	}
}
