package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// event is one complete update a stream received: every part of it,
// each answered.
type event struct {
	// key identifies the update: its revision for routecast, the
	// broadcast's sequence number for the floor (0 for the initial push).
	key uint64
	// recvAt is when Recv returned the update's last part.
	recvAt time.Time
	// ackAt is when the answer to the last part was sent.
	ackAt time.Time
	// bytes is the encoded size of all parts.
	bytes int
	// items is the number of routes in the update (floor: messages).
	items int
	// held is the number of routes the stream holds after it.
	held int
}

// progress records the updates of one stream and lets others wait for
// them. The stream's goroutine adds; any goroutine waits.
type progress struct {
	mu      sync.Mutex
	events  []event       // guarded by mu
	err     error         // guarded by mu: why the stream failed, once it did
	changed chan struct{} // guarded by mu: closed and replaced on every change
}

func newProgress() *progress {
	return &progress{changed: make(chan struct{})}
}

// add records a complete update.
func (p *progress) add(e event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
	p.notifyLocked()
}

// fail records that the stream ended with err. Waiters that find no
// matching event return it.
func (p *progress) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
	p.notifyLocked()
}

// reset forgets a failure, for a stream that is opened again.
func (p *progress) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = nil
}

// notifyLocked wakes every waiter. Callers hold p.mu.
func (p *progress) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// count returns the number of updates recorded.
func (p *progress) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.events)
}

// errNotYet is the error of a wait whose context ended first.
var errNotYet = errors.New("no such update yet")

// wait returns the first event at index from or later that satisfies ok.
// It returns the stream's failure, or errNotYet when ctx ends first.
func (p *progress) wait(ctx context.Context, from int, ok func(event) bool) (event, error) {
	for {
		p.mu.Lock()
		for i := from; i < len(p.events); i++ {
			if ok(p.events[i]) {
				e := p.events[i]
				p.mu.Unlock()
				return e, nil
			}
		}
		from = max(from, len(p.events))
		err, changed := p.err, p.changed
		p.mu.Unlock()
		if err != nil {
			return event{}, err
		}
		select {
		case <-ctx.Done():
			return event{}, errNotYet
		case <-changed:
		}
	}
}

// failure is a stream that did not converge in a step.
type failure struct {
	Stream int    `json:"stream"`
	Step   string `json:"step"`
	Error  string `json:"error"`
}

// fleet is the streams of one server. A stream that misses one step is
// left out of the later ones, so that it is reported once and does not
// cost a timeout per step.
type fleet struct {
	streams []*progress
	timeout time.Duration

	failed   []bool // indexed like streams
	failures []failure
}

func newFleet(n int, timeout time.Duration) *fleet {
	f := &fleet{streams: make([]*progress, n), failed: make([]bool, n), timeout: timeout}
	for i := range f.streams {
		f.streams[i] = newProgress()
	}
	return f
}

// counts returns the number of updates each stream has recorded, to wait
// for the ones after them.
func (f *fleet) counts() []int {
	out := make([]int, len(f.streams))
	for i, p := range f.streams {
		out[i] = p.count()
	}
	return out
}

// await waits, for at most the fleet's timeout, until every live stream
// in only (nil: all) has an event after from[i] (from nil: any) that
// satisfies ok. It returns the events by stream index, the zero event for
// a stream that failed; the failures are recorded under step.
func (f *fleet) await(ctx context.Context, step string, only, from []int,
	ok func(event) bool) []event {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	if only == nil {
		only = make([]int, len(f.streams))
		for i := range only {
			only[i] = i
		}
	}
	got := make([]event, len(f.streams))
	for _, i := range only {
		if f.failed[i] {
			continue
		}
		start := 0
		if from != nil {
			start = from[i]
		}
		e, err := f.streams[i].wait(ctx, start, ok)
		if err != nil {
			if errors.Is(err, errNotYet) {
				err = fmt.Errorf("not converged within %s", f.timeout)
			}
			f.failed[i] = true
			f.failures = append(f.failures, failure{Stream: i, Step: step, Error: err.Error()})
			continue
		}
		got[i] = e
	}
	return got
}

// live returns the indexes of the streams that have not failed.
func (f *fleet) live() []int {
	var out []int
	for i, bad := range f.failed {
		if !bad {
			out = append(out, i)
		}
	}
	return out
}
