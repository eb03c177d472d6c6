package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/server/servertest"
)

// This file holds a discovery client written from docs/protocol.md alone,
// and tests that check a real server against what the document promises.

// docClientConfig says what a docClient subscribes to and how it behaves.
type docClientConfig struct {
	// Node is announced in the subscription.
	Node *routecastv1.Node
	// Scope is the scope to subscribe to; empty means the package's scope.
	Scope string
	// Names restricts the subscription; empty means the whole scope.
	Names []string
	// Held is what the client loaded from disk: name -> route with version.
	Held map[string]*routecastv1.Route
	// Validate rejects a route the client cannot apply; nil accepts all.
	Validate func(*routecastv1.Route) error
	// BeforeAnswer, if set, runs after a response is applied and before
	// it is answered, on the client's goroutine.
	BeforeAnswer func(context.Context, *routecastv1.StreamRoutesResponse)
	// MinBackoff and MaxBackoff bound the reconnect delay; zero means 20 ms
	// and 500 ms.
	MinBackoff, MaxBackoff time.Duration
}

// docRecord is one response as the client received it.
type docRecord struct {
	stream int // index into docState.streams
	resp   *routecastv1.StreamRoutesResponse
	nacked bool
	// resent names routes that arrived at the version already held.
	resent []string
	// unheld names removals of routes the client did not hold.
	unheld []string
}

// docPublish is one complete update the client made visible.
type docPublish struct {
	revision uint64
	versions map[string]uint64
}

// docPending is an update being collected from its parts.
type docPending struct {
	routes   map[string]*routecastv1.Route
	rejected error
}

// docClient follows docs/protocol.md: one stream per scope, ACK or NACK of
// every response, parts applied together, held routes kept across stream
// failures and sent back as initial_versions, reconnects with backoff.
type docClient struct {
	// Set at construction.
	cfg    docClientConfig
	disc   routecastv1.RouteDiscoveryServiceClient
	cancel context.CancelFunc
	done   chan struct{}

	// Guarded by mu.
	mu        sync.Mutex
	held      map[string]*routecastv1.Route // published routes
	revision  uint64                        // revision of held
	pending   *docPending                   // nil between updates
	streams   []map[string]uint64           // initial_versions per stream
	records   []docRecord
	publishes []docPublish
	failures  []error // every stream error, in order
	final     error   // the error that stopped the client
	finished  bool
	wake      chan struct{} // closed and replaced on every change
}

// docState is a copy of a docClient's state.
type docState struct {
	held       map[string]*routecastv1.Route
	revision   uint64
	collecting bool
	streams    []map[string]uint64
	records    []docRecord
	publishes  []docPublish
	failures   []error
	final      error
	finished   bool
}

func startDocClient(t *testing.T, conn *grpc.ClientConn, cfg docClientConfig) *docClient {
	t.Helper()
	if cfg.Scope == "" {
		cfg.Scope = scope
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 20 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 500 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &docClient{
		cfg:    cfg,
		disc:   routecastv1.NewRouteDiscoveryServiceClient(conn),
		cancel: cancel,
		done:   make(chan struct{}),
		held:   maps.Clone(cfg.Held),
		wake:   make(chan struct{}),
	}
	if c.held == nil {
		c.held = make(map[string]*routecastv1.Route)
	}
	go c.run(ctx)
	t.Cleanup(c.stop)
	return c
}

// stop ends the client and waits for its goroutine. It may be called twice.
func (c *docClient) stop() {
	c.cancel()
	<-c.done
}

// run is the retry loop: it owns the backoff and decides when to give up.
func (c *docClient) run(ctx context.Context) {
	defer close(c.done)
	defer c.finish()
	bo := docBackoff{min: c.cfg.MinBackoff, max: c.cfg.MaxBackoff}
	for {
		gotData, err := c.runStream(ctx)
		if ctx.Err() != nil {
			return
		}
		if gotData {
			bo.reset()
		}
		final := isFinalStreamError(err)
		c.noteFailure(err, final)
		if final || !sleepCtx(ctx, bo.next()) {
			return
		}
	}
}

// isFinalStreamError reports the errors after which reconnecting will not
// help: the document says to stop on PermissionDenied and InvalidArgument.
func isFinalStreamError(err error) bool {
	switch status.Code(err) {
	case codes.PermissionDenied, codes.InvalidArgument:
		return true
	}
	return false
}

// runStream runs one stream until it fails. gotData reports whether any
// response arrived, which resets the backoff.
func (c *docClient) runStream(ctx context.Context) (gotData bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := c.disc.StreamRoutes(ctx)
	if err != nil {
		return false, err
	}
	// A failed Send reports io.EOF; the stream's status comes from Recv.
	if err := s.Send(c.subscription()); err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	for {
		resp, err := s.Recv()
		if err != nil {
			return gotData, err
		}
		gotData = true
		answer := c.apply(resp)
		if c.cfg.BeforeAnswer != nil {
			c.cfg.BeforeAnswer(ctx, resp)
		}
		if err := s.Send(answer); err != nil && !errors.Is(err, io.EOF) {
			return gotData, err
		}
	}
}

// subscription builds the first request of a stream from what is held. An
// update that was being collected when the last stream ended is dropped.
func (c *docClient) subscription() *routecastv1.StreamRoutesRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = nil
	initial := docVersions(c.held)
	c.streams = append(c.streams, initial)
	c.changedLocked()
	return &routecastv1.StreamRoutesRequest{
		Node:            c.cfg.Node,
		Scope:           c.cfg.Scope,
		InitialVersions: maps.Clone(initial),
		Names:           c.cfg.Names,
	}
}

// apply applies one response (or part) on a copy of what is held, publishes
// the copy after the last part unless a part was rejected, and returns the
// ACK or NACK.
func (c *docClient) apply(resp *routecastv1.StreamRoutesResponse) *routecastv1.StreamRoutesRequest {
	invalid := c.validate(resp)
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.changedLocked()
	p := c.pending
	if p == nil {
		p = &docPending{routes: maps.Clone(c.held)}
		c.pending = p
	}
	rec := docRecord{stream: len(c.streams) - 1, resp: resp}
	for _, r := range resp.GetRoutes() {
		if old, ok := p.routes[r.GetName()]; ok && old.GetVersion() == r.GetVersion() {
			rec.resent = append(rec.resent, r.GetName())
		}
		p.routes[r.GetName()] = r
	}
	for _, name := range resp.GetRemoved() {
		if _, ok := p.routes[name]; !ok {
			rec.unheld = append(rec.unheld, name)
		}
		delete(p.routes, name)
	}
	if p.rejected == nil {
		p.rejected = invalid
	}
	rec.nacked = p.rejected != nil
	c.records = append(c.records, rec)
	if !resp.GetMore() {
		c.pending = nil
		if p.rejected == nil {
			c.held, c.revision = p.routes, resp.GetRevision()
			c.publishes = append(c.publishes, docPublish{resp.GetRevision(), docVersions(p.routes)})
		}
	}
	answer := &routecastv1.StreamRoutesRequest{ResponseNonce: resp.GetNonce()}
	if p.rejected != nil {
		answer.ErrorDetail = &routecastv1.ErrorDetail{
			Code: int32(codes.InvalidArgument), Message: p.rejected.Error(),
		}
	}
	return answer
}

func (c *docClient) validate(resp *routecastv1.StreamRoutesResponse) error {
	if c.cfg.Validate == nil {
		return nil
	}
	for _, r := range resp.GetRoutes() {
		if err := c.cfg.Validate(r); err != nil {
			return fmt.Errorf("route %q: %w", r.GetName(), err)
		}
	}
	return nil
}

func (c *docClient) noteFailure(err error, final bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures = append(c.failures, err)
	if final {
		c.final = err
	}
	c.changedLocked()
}

func (c *docClient) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finished = true
	c.changedLocked()
}

// changedLocked wakes every waiter; c.mu must be held.
func (c *docClient) changedLocked() {
	close(c.wake)
	c.wake = make(chan struct{})
}

// state returns a copy of the client's state and a channel closed on the
// next change.
func (c *docClient) state() (*docState, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &docState{
		held:       maps.Clone(c.held),
		revision:   c.revision,
		collecting: c.pending != nil,
		streams:    slices.Clone(c.streams),
		records:    slices.Clone(c.records),
		publishes:  slices.Clone(c.publishes),
		failures:   slices.Clone(c.failures),
		final:      c.final,
		finished:   c.finished,
	}, c.wake
}

// waitFor waits until cond holds for the client's state.
func (c *docClient) waitFor(t *testing.T, what string, cond func(*docState) bool) *docState {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		st, wake := c.state()
		if cond(st) {
			return st
		}
		if st.finished {
			t.Fatalf("client stopped (%v) before %s", st.final, what)
		}
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s: client at revision %d after %d responses, "+
				"%d streams, errors %v",
				what, st.revision, len(st.records), len(st.streams), st.failures)
		}
	}
}

// streamFailed reports whether a stream of the client has ended.
func streamFailed(st *docState) bool { return len(st.failures) > 0 }

// docBackoff is exponential backoff with full jitter: the bound starts at
// min and doubles up to max; each delay is random up to the bound.
type docBackoff struct {
	min, max, bound time.Duration
}

func (b *docBackoff) next() time.Duration {
	if b.bound == 0 {
		b.bound = b.min
	} else {
		b.bound = min(2*b.bound, b.max)
	}
	return rand.N(b.bound + 1)
}

func (b *docBackoff) reset() { b.bound = 0 }

func sleepCtx(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

func docVersions(routes map[string]*routecastv1.Route) map[string]uint64 {
	v := make(map[string]uint64, len(routes))
	for name, r := range routes {
		v[name] = r.GetVersion()
	}
	return v
}

// docNetwork is a dialer a test can switch off, so that a client stays
// disconnected while the test changes routes.
type docNetwork struct {
	mu   sync.Mutex
	down bool
}

func (n *docNetwork) set(down bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.down = down
}

func (n *docNetwork) dial(ctx context.Context, addr string) (net.Conn, error) {
	n.mu.Lock()
	down := n.down
	n.mu.Unlock()
	if down {
		return nil, errors.New("docnet: network is down")
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// docDial connects a payments agent to addr with short reconnect delays.
func docDial(t *testing.T, e *servertest.Env, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append(opts, grpc.WithConnectParams(grpc.ConnectParams{
		Backoff: backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 2,
			Jitter: 0.2, MaxDelay: 300 * time.Millisecond},
		MinConnectTimeout: 10 * time.Second,
	}))
	return e.DialAt(addr, e.ClientTLS("/agent/payments/host-1"), opts...)
}

func docNode(id string) *routecastv1.Node {
	return &routecastv1.Node{Id: id, Hostname: "host-1", Version: "docclient/0.1",
		Labels: map[string]string{"team": "mesh"}}
}

func docRoutes(prefix string, n int, upstream string) []*routecastv1.Route {
	routes := make([]*routecastv1.Route, n)
	for i := range routes {
		name := fmt.Sprintf("%s-%03d", prefix, i)
		routes[i] = route(name, fmt.Sprintf("https://%s.internal/%s", name, upstream))
	}
	return routes
}

// putsOf is a batch that puts routes.
func putsOf(routes ...*routecastv1.Route) *routecastv1.ApplyRoutesRequest {
	return &routecastv1.ApplyRoutesRequest{Puts: routes}
}

// docApply applies req to the scope and returns the new revision.
func docApply(t *testing.T, adm routecastv1.RouteAdminServiceClient,
	req *routecastv1.ApplyRoutesRequest) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req.Scope = scope
	resp, err := adm.ApplyRoutes(ctx, req)
	if err != nil {
		t.Fatalf("ApplyRoutes: %v", err)
	}
	return resp.GetRevision()
}

// listStore reads every route of the scope, keeping those in names if any.
func listStore(t *testing.T, adm routecastv1.RouteAdminServiceClient,
	names []string) (map[string]*routecastv1.Route, uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	routes := make(map[string]*routecastv1.Route)
	req := &routecastv1.ListRoutesRequest{Scope: scope, PageSize: 1000}
	var revision uint64
	for range 100 {
		resp, err := adm.ListRoutes(ctx, req, grpc.WaitForReady(true))
		if err != nil {
			t.Fatalf("ListRoutes: %v", err)
		}
		revision = max(revision, resp.GetRevision())
		for _, r := range resp.GetRoutes() {
			if len(names) == 0 || slices.Contains(names, r.GetName()) {
				routes[r.GetName()] = r
			}
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			return routes, revision
		}
	}
	t.Fatal("ListRoutes: more than 100 pages")
	return nil, 0
}

// waitSynced waits until the client holds the store's revision, then checks
// that it holds exactly the store's routes.
func waitSynced(t *testing.T, c *docClient, adm routecastv1.RouteAdminServiceClient) *docState {
	t.Helper()
	want, rev := listStore(t, adm, c.cfg.Names)
	st := c.waitFor(t, fmt.Sprintf("revision %d", rev), func(st *docState) bool {
		return st.revision >= rev && !st.collecting
	})
	if diff := cmp.Diff(want, st.held, protocmp.Transform()); diff != "" {
		t.Fatalf("client at revision %d differs from the store at %d (-store +client):\n%s",
			st.revision, rev, diff)
	}
	checkInvariants(t, c, st)
	return st
}

// checkInvariants checks what the document promises of every response:
// the subscribed scope, a nonce, a revision that never decreases (across
// streams too), versions no newer than the revision, nothing resent at the
// version held, and, for a whole-scope subscription, removals only of
// routes the client holds.
func checkInvariants(t *testing.T, c *docClient, st *docState) {
	t.Helper()
	var last uint64
	for i, rec := range st.records {
		resp := rec.resp
		if resp.GetScope() != c.cfg.Scope || resp.GetNonce() == "" {
			t.Errorf("response %d: scope %q nonce %q", i, resp.GetScope(), resp.GetNonce())
		}
		if resp.GetRevision() < last {
			t.Errorf("response %d (stream %d): revision %d after %d",
				i, rec.stream, resp.GetRevision(), last)
		}
		last = max(last, resp.GetRevision())
		for _, r := range resp.GetRoutes() {
			if r.GetVersion() == 0 || r.GetVersion() > resp.GetRevision() {
				t.Errorf("response %d: route %q version %d, revision %d",
					i, r.GetName(), r.GetVersion(), resp.GetRevision())
			}
		}
		if len(rec.resent) > 0 {
			t.Errorf("response %d (stream %d) resent routes at the version held: %v",
				i, rec.stream, rec.resent)
		}
		if len(c.cfg.Names) == 0 && len(rec.unheld) > 0 {
			t.Errorf("response %d removed routes the client does not hold: %v", i, rec.unheld)
		}
	}
}

// routeNames returns the sorted names of routes.
func routeNames(routes []*routecastv1.Route) []string {
	names := make([]string, 0, len(routes))
	for _, r := range routes {
		names = append(names, r.GetName())
	}
	slices.Sort(names)
	return names
}

// checkUpdate checks that resp carries exactly the named routes and removals.
func checkUpdate(t *testing.T, what string, resp *routecastv1.StreamRoutesResponse,
	routes, removed []string) {
	t.Helper()
	gotRemoved := slices.Sorted(slices.Values(resp.GetRemoved()))
	got := [2][]string{routeNames(resp.GetRoutes()), gotRemoved}
	want := [2][]string{routes, removed}
	if diff := cmp.Diff(want, got, cmp.Transformer("nil", func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	})); diff != "" {
		t.Errorf("%s: [routes, removed] differ (-want +got):\n%s", what, diff)
	}
}

func docNames(prefix string, from, to int) []string {
	var names []string
	for i := from; i < to; i++ {
		names = append(names, fmt.Sprintf("%s-%03d", prefix, i))
	}
	return names
}
