package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPercentile checks the nearest-rank percentiles.
func TestPercentile(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[len(ds)-1-i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{
		{0.50, 50 * time.Millisecond},
		{0.99, 99 * time.Millisecond},
		{1, 100 * time.Millisecond},
		{0, time.Millisecond},
	} {
		if got := percentile(ds, tt.p); got != tt.want {
			t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile of nothing = %v, want 0", got)
	}
}

// TestSubscribe_roundTrip checks the floor's subscription encoding.
func TestSubscribe_roundTrip(t *testing.T) {
	sizes := []int{1 << 20, 403017, 9}
	got, err := parseSubscribe(subscribeMessage(sizes))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sizes, got); diff != "" {
		t.Errorf("parseSubscribe (-want +got):\n%s", diff)
	}
	for _, bad := range [][]byte{nil, {kindSubscribe}, {kindEcho, 1}, {kindSubscribe, 0x80}} {
		if _, err := parseSubscribe(bad); err == nil {
			t.Errorf("parseSubscribe(%v) = nil error, want one", bad)
		}
	}
}
