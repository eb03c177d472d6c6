package server

import (
	"slices"
	"sync"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/routecast/routecast/pkg/store"
)

// Field numbers of StreamRoutesResponse, for assembling responses from
// pre-encoded route bytes.
const (
	fieldScope    protowire.Number = 1
	fieldRevision protowire.Number = 2
	fieldRoutes   protowire.Number = 3
	fieldRemoved  protowire.Number = 4
	fieldNonce    protowire.Number = 5
	fieldMore     protowire.Number = 6
)

// entry is one route version as the streams send it. frame holds the
// route's encoding as field 3 of a StreamRoutesResponse (tag, length,
// bytes), made once per version and shared by every stream of the scope.
type entry struct {
	name    string
	version uint64
	frame   []byte
	buf     mem.Buffer // frame, boxed once so messages add it without allocating
}

// scopeState is what the hub holds for one scope.
type scopeState struct {
	// revision is that of the scope's latest change: what its streams
	// report, so that a change elsewhere in the store changes nothing for
	// them.
	revision uint64
	routes   map[string]*entry
	streams  map[*stream]struct{}
}

// hub holds the current version of every route, encoded once, and the
// streams subscribed to each scope. The store feeds it every commit; a
// commit marks the changed names dirty on the scope's streams, and each
// stream's sender builds its next update from the hub.
//
// Lock order: hub.mu before stream.mu. Neither is held across network I/O.
type hub struct {
	mu       sync.RWMutex
	revision uint64                 // guarded by mu: the latest commit applied
	scopes   map[string]*scopeState // guarded by mu
}

func newHub(snap store.Snapshot) *hub {
	h := &hub{revision: snap.Revision, scopes: make(map[string]*scopeState)}
	for scope, routes := range snap.Scopes {
		s := h.scopeLocked(scope)
		for _, r := range routes {
			s.routes[r.Name] = frameEntry(r.Name, r.Version, r.Bytes)
		}
	}
	for scope, rev := range snap.ScopeRevisions {
		h.scopeLocked(scope).revision = rev
	}
	return h
}

// scopeLocked returns the state of scope, creating it. Callers hold h.mu.
func (h *hub) scopeLocked(scope string) *scopeState {
	s := h.scopes[scope]
	if s == nil {
		s = &scopeState{routes: make(map[string]*entry), streams: make(map[*stream]struct{})}
		h.scopes[scope] = s
	}
	return s
}

// apply takes a commit from the store. It encodes the new versions before
// taking the lock and only marks streams dirty under it.
func (h *hub) apply(c store.Commit) {
	entries := make([]*entry, len(c.Puts))
	changed := make([]string, 0, len(c.Puts)+len(c.Deletes))
	for i, p := range c.Puts {
		entries[i] = frameEntry(p.Name, p.Version, p.Bytes)
		changed = append(changed, p.Name)
	}
	changed = append(changed, c.Deletes...)

	h.mu.Lock()
	defer h.mu.Unlock()
	h.revision = c.Revision
	s := h.scopeLocked(c.Scope)
	s.revision = c.Revision
	for _, e := range entries {
		s.routes[e.name] = e
	}
	for _, name := range c.Deletes {
		delete(s.routes, name)
	}
	for st := range s.streams {
		st.markDirty(changed)
	}
}

// register adds st to its scope; from then on commits mark it dirty.
func (h *hub) register(st *stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.scopeLocked(st.scope).streams[st] = struct{}{}
}

// unregister removes st and drops the scope's state when it is empty.
func (h *hub) unregister(st *stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.scopes[st.scope]
	if s == nil {
		return
	}
	delete(s.streams, st)
	if len(s.streams) == 0 && len(s.routes) == 0 && s.revision == 0 {
		delete(h.scopes, st.scope)
	}
}

// streams returns every registered stream, for status reports.
func (h *hub) streams() []*stream {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []*stream
	for _, s := range h.scopes {
		for st := range s.streams {
			out = append(out, st)
		}
	}
	return out
}

// update is one response ready to send.
type update struct {
	revision uint64
	routes   []*entry
	removed  []string
	nonce    string
	more     bool
}

// split keeps at most maxBytes of route frames (and at least one route) in
// u and returns the names of the routes and removals left over, for the
// next part. u.more says whether anything was left.
func (u *update) split(maxBytes int) []string {
	size := 0
	for i, e := range u.routes {
		size += len(e.frame)
		if size > maxBytes && i > 0 {
			return u.cut(i, 0)
		}
	}
	for i, n := range u.removed {
		size += len(n) + 4
		if size > maxBytes && (i > 0 || len(u.routes) > 0) {
			return u.cut(len(u.routes), i)
		}
	}
	return nil
}

// names returns the names of the update's routes and removals.
func (u *update) names() []string {
	out := make([]string, 0, len(u.routes)+len(u.removed))
	for _, e := range u.routes {
		out = append(out, e.name)
	}
	return append(out, u.removed...)
}

// cut keeps routes[:r] and removed[:m] and returns the names of the rest.
func (u *update) cut(r, m int) []string {
	var rest []string
	for _, e := range u.routes[r:] {
		rest = append(rest, e.name)
	}
	rest = append(rest, u.removed[m:]...)
	u.routes, u.removed, u.more = u.routes[:r], u.removed[:m], true
	return rest
}

// message assembles the response from the shared route frames without
// copying them: a small head (scope, revision), the frames as they are, and
// a small tail (removals, nonce, more). Field order does not matter to a
// protobuf decoder.
func (u *update) message(scope string) sharedMessage {
	head := make([]byte, 0, len(scope)+16)
	head = protowire.AppendTag(head, fieldScope, protowire.BytesType)
	head = protowire.AppendString(head, scope)
	head = protowire.AppendTag(head, fieldRevision, protowire.VarintType)
	head = protowire.AppendVarint(head, u.revision)

	tailSize := len(u.nonce) + 8
	for _, n := range u.removed {
		tailSize += len(n) + 4
	}
	tail := make([]byte, 0, tailSize)
	for _, n := range u.removed {
		tail = protowire.AppendTag(tail, fieldRemoved, protowire.BytesType)
		tail = protowire.AppendString(tail, n)
	}
	tail = protowire.AppendTag(tail, fieldNonce, protowire.BytesType)
	tail = protowire.AppendString(tail, u.nonce)
	if u.more {
		tail = protowire.AppendTag(tail, fieldMore, protowire.VarintType)
		tail = protowire.AppendVarint(tail, 1)
	}

	msg := make(sharedMessage, 0, len(u.routes)+2)
	msg = append(msg, mem.SliceBuffer(head))
	for _, e := range u.routes {
		msg = append(msg, e.buf)
	}
	return append(msg, mem.SliceBuffer(tail))
}

// initialUpdate computes the difference between what a new stream holds
// and the hub's current state. Callers hold h.mu for reading.
func (h *hub) initialUpdateLocked(st *stream, held map[string]uint64) *update {
	u := &update{}
	s := h.scopes[st.scope]
	var routes map[string]*entry
	if s != nil {
		routes, u.revision = s.routes, s.revision
	}
	if st.names != nil {
		for name := range st.names {
			e := routes[name]
			switch {
			case e == nil:
				u.removed = append(u.removed, name)
			case held[name] != e.version:
				u.routes = append(u.routes, e)
			}
		}
	} else {
		for name, e := range routes {
			if held[name] != e.version {
				u.routes = append(u.routes, e)
			}
		}
		for name := range held {
			if routes[name] == nil {
				u.removed = append(u.removed, name)
			}
		}
	}
	slices.Sort(u.removed)
	return u
}

// dirtyUpdateLocked builds an update from names changed since the last
// one, taking them out of dirty until the update holds maxBytes of routes
// (at least one name); the rest stay dirty for the next part, and the
// update says more. Callers hold h.mu for reading and st.mu.
func (h *hub) dirtyUpdateLocked(st *stream, dirty map[string]struct{}, maxBytes int) *update {
	u := &update{}
	var routes map[string]*entry
	if s := h.scopes[st.scope]; s != nil {
		routes, u.revision = s.routes, s.revision
	}
	size := 0
	for name := range dirty {
		e := routes[name]
		n := len(name) + 4
		if e != nil {
			n = len(e.frame)
		}
		if size > 0 && size+n > maxBytes {
			u.more = true
			break
		}
		size += n
		if e != nil {
			u.routes = append(u.routes, e)
		} else {
			u.removed = append(u.removed, name)
		}
		delete(dirty, name)
	}
	slices.Sort(u.removed)
	return u
}

// frameEntry makes the shared frame of a route from its encoding.
func frameEntry(name string, version uint64, data []byte) *entry {
	f := make([]byte, 0, len(data)+8)
	f = protowire.AppendTag(f, fieldRoutes, protowire.BytesType)
	f = protowire.AppendBytes(f, data)
	return &entry{name: name, version: version, frame: f, buf: mem.SliceBuffer(f)}
}
