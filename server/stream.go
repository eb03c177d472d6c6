package server

import (
	"context"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
)

// stream is the server's state for one StreamRoutes call. While the client
// is in sync it holds no copy of the scope: only its acknowledged revision.
// Changes mark names dirty; at most one update is unacknowledged at a time,
// so a burst of changes coalesces into one update with the latest version
// of each name.
type stream struct {
	// Set at construction, then read only.
	scope       string
	names       map[string]bool // nil: the whole scope
	node        *routecastv1.Node
	spiffeID    string
	peerAddr    string
	connectedAt time.Time
	wake        chan struct{} // 1-buffered: "there may be something to send"
	maxBytes    int           // route bytes per response before it is split
	certSerial  string        // the client certificate's serial, for revocations
	certExpiry  time.Time     // the client certificate's NotAfter
	cancel      context.CancelCauseFunc

	mu       sync.Mutex
	initial  map[string]uint64   // guarded by mu: held versions until the first update is built
	pending  bool                // guarded by mu: the first update is not built yet
	dirty    map[string]struct{} // guarded by mu
	inflight *update             // guarded by mu: the unacknowledged update
	lastSent uint64              // guarded by mu: nonce counter
	acked    uint64              // guarded by mu: revision of the last ACK
	nacked   bool                // guarded by mu: the latest answer was a NACK
	rejected map[string]struct{} // guarded by mu: names whose sent version was NACKed and not superseded
	parts    []string            // guarded by mu: names in the ACKed parts of an unfinished split update
	lastNack *routecastv1.Nack   // guarded by mu
	stats    streamStats         // guarded by mu
	ended    bool                // guarded by mu: end was called
}

// end stops the stream with err as its status. It reports whether this
// call ended it; later calls do nothing.
func (st *stream) end(err error) bool {
	st.mu.Lock()
	first := !st.ended
	st.ended = true
	st.mu.Unlock()
	st.cancel(err)
	return first
}

type streamStats struct {
	updates, routes, removals uint64
}

func newStream(req *routecastv1.StreamRoutesRequest, spiffeID, peerAddr string, now time.Time, maxBytes int) *stream {
	st := &stream{
		maxBytes:    maxBytes,
		scope:       req.GetScope(),
		node:        req.GetNode(),
		spiffeID:    spiffeID,
		peerAddr:    peerAddr,
		connectedAt: now,
		wake:        make(chan struct{}, 1),
		initial:     req.GetInitialVersions(),
		pending:     true,
	}
	if len(req.GetNames()) > 0 {
		st.names = make(map[string]bool, len(req.GetNames()))
		for _, n := range req.GetNames() {
			st.names[n] = true
		}
	}
	st.signal()
	return st
}

// signal wakes the sender without blocking.
func (st *stream) signal() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// markDirty records changed names. Called by the hub under hub.mu.
func (st *stream) markDirty(names []string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, n := range names {
		if st.names != nil && !st.names[n] {
			continue
		}
		if st.dirty == nil {
			st.dirty = make(map[string]struct{}, len(names))
		}
		st.dirty[n] = struct{}{}
	}
	if len(st.dirty) > 0 {
		st.signal()
	}
}

// next builds the next update, or returns nil when one is in flight or
// nothing changed. The update becomes the in-flight one.
func (st *stream) next(h *hub) *update {
	h.mu.RLock()
	defer h.mu.RUnlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.inflight != nil {
		return nil
	}
	var u *update
	switch {
	case st.pending:
		u = h.initialUpdateLocked(st, st.initial)
		st.pending, st.initial = false, nil
		// The initial difference covers every change marked so far; what
		// does not fit in this part waits as dirty names, so that each
		// later part costs only its own size.
		st.dirty = nil
		if rest := u.split(st.maxBytes); len(rest) > 0 {
			st.dirty = make(map[string]struct{}, len(rest))
			for _, n := range rest {
				st.dirty[n] = struct{}{}
			}
		}
	case len(st.dirty) > 0:
		u = h.dirtyUpdateLocked(st, st.dirty, st.maxBytes)
		if len(st.dirty) == 0 {
			st.dirty = nil
		}
	default:
		return nil
	}
	for _, e := range u.routes {
		delete(st.rejected, e.name)
	}
	for _, n := range u.removed {
		delete(st.rejected, n)
	}
	st.lastSent++
	u.nonce = strconv.FormatUint(st.lastSent, 10)
	st.inflight = u
	st.stats.updates++
	st.stats.routes += uint64(len(u.routes))
	st.stats.removals += uint64(len(u.removed))
	return u
}

// ackResult says what an ACK or NACK did.
type ackResult int

const (
	ackApplied ackResult = iota // answered the in-flight update
	ackStale                    // answered an older update; ignored
	ackUnknown                  // names a nonce that was never issued
)

// answer records an ACK (nack nil) or NACK for nonce.
func (st *stream) answer(nonce string, nack *routecastv1.ErrorDetail, now time.Time) (ackResult, *update) {
	st.mu.Lock()
	defer st.mu.Unlock()
	n, err := strconv.ParseUint(nonce, 10, 64)
	if err != nil || n == 0 || n > st.lastSent {
		return ackUnknown, nil
	}
	u := st.inflight
	if u == nil || u.nonce != nonce {
		return ackStale, nil
	}
	st.inflight = nil
	switch {
	case nack != nil:
		// The client applies a split update whole or not at all, so a
		// NACK of any part rejects the parts it ACKed before, too.
		st.nacked = true
		st.lastNack = &routecastv1.Nack{
			Nonce: nonce, Revision: u.revision, ErrorDetail: nack, Time: timestamppb.New(now),
		}
		st.reject(append(st.parts, u.names()...))
		st.parts = nil
	case u.more:
		st.parts = append(st.parts, u.names()...)
	default:
		st.nacked = false
		st.acked = u.revision
		st.parts = nil
	}
	if len(st.dirty) > 0 {
		st.signal()
	}
	return ackApplied, u
}

// reject records names whose sent versions the client does not hold.
// Callers hold st.mu.
func (st *stream) reject(names []string) {
	if st.rejected == nil {
		st.rejected = make(map[string]struct{})
	}
	for _, n := range names {
		st.rejected[n] = struct{}{}
	}
}

// status reports the stream for GetStatus.
func (st *stream) status() *routecastv1.AgentStatus {
	st.mu.Lock()
	defer st.mu.Unlock()
	return &routecastv1.AgentStatus{
		Node:          st.node,
		SpiffeId:      st.spiffeID,
		Scope:         st.scope,
		PeerAddress:   st.peerAddr,
		ConnectedAt:   timestamppb.New(st.connectedAt),
		AckedRevision: st.acked,
		InSync: !st.pending && st.inflight == nil && len(st.dirty) == 0 && !st.nacked &&
			len(st.rejected) == 0 && st.lastSent > 0,
		UpdatesSent:   st.stats.updates,
		RoutesSent:    st.stats.routes,
		RemovalsSent:  st.stats.removals,
		LastNack:      st.lastNack,
		PendingNames:  uint32(len(st.dirty)),
		RejectedNames: uint32(len(st.rejected)),
		CertSerial:    st.certSerial,
		CertExpiry:    timestamppb.New(st.certExpiry),
	}
}
