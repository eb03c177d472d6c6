package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// round is the result of one change: how long the streams took to
// receive it, and what they received.
type round struct {
	p50, p99  time.Duration
	meanBytes float64 // bytes one stream received for the change
	meanItems float64 // routes (floor: messages) one stream received
}

// measureRound runs change, which returns the key of the update it
// causes, and waits for every live stream of f to receive that update.
// Each stream's latency runs from just before change to the moment its
// Recv returned the update.
func measureRound(ctx context.Context, f *fleet, step string,
	change func(context.Context) (uint64, error)) (round, error) {
	from := f.counts()
	start := time.Now()
	key, err := change(ctx)
	if err != nil {
		return round{}, err
	}
	events := f.await(ctx, step, nil, from, func(e event) bool { return e.key >= key })
	live := f.live()
	if len(live) == 0 {
		return round{}, fmt.Errorf("%s: no stream left", step)
	}
	lat := make([]time.Duration, 0, len(live))
	var bytes, items int
	for _, i := range live {
		e := events[i]
		lat = append(lat, e.recvAt.Sub(start))
		bytes += e.bytes
		items += e.items
	}
	n := float64(len(live))
	return round{
		p50: percentile(lat, 0.50), p99: percentile(lat, 0.99),
		meanBytes: float64(bytes) / n, meanItems: float64(items) / n,
	}, nil
}

// medianRound returns the round whose p99 is the median (the lower one
// of the middle two for an even count), and the mean bytes and items of
// all rounds.
func medianRound(rs []round) round {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b round) int { return cmp.Compare(a.p99, b.p99) })
	m := sorted[(len(sorted)-1)/2]
	var bytes, items float64
	for _, r := range rs {
		bytes += r.meanBytes
		items += r.meanItems
	}
	m.meanBytes, m.meanItems = bytes/float64(len(rs)), items/float64(len(rs))
	return m
}

// percentile returns the nearest-rank percentile p (0 to 1) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// ms converts d to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ratio returns a / b, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
