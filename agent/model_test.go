package agent_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"pgregory.net/rapid"

	"github.com/routecast/routecast/agent"
	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/server/servertest"
)

const modelPolicy = `
rules:
  - id: spiffe://routecast.test/operator/alice
    admin: true
  - id_prefix: spiffe://routecast.test/agent
    read: ["*"]
`

// poisonOwner marks routes that the model's agents reject: a template
// fails on them, so the agent NACKs the update that carries one.
const poisonOwner = "poison"

const poisonTemplate = `{{range .Routes}}{{if eq .Owner "poison"}}{{fail "poisoned route"}}{{end}}{{end}}`

// TestModel runs random sequences of route changes across two scopes,
// agent disconnects, agent restarts, server restarts, rejected updates and
// a client that repeats and replays its ACKs. Once quiet, every agent's
// routes.json must equal the store's snapshot of its scope; no stream may
// send a route at a version the client already holds; and the revisions a
// client sees never go backward, across server restarts too.
//
// RAPID_CHECKS (or -rapid.checks) sets the number of random sequences.
func TestModel(t *testing.T) {
	if f := flag.Lookup("rapid.checks"); f != nil && os.Getenv("RAPID_CHECKS") == "" && !isFlagSet("rapid.checks") {
		f.Value.Set("12")
	}
	e := newEnvWith(t, servertest.Config{Policy: modelPolicy})
	proxy := servertest.NewProxy(t, e.Addr)
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		run++
		m := newModel(t, rt, e, proxy, run)
		defer m.close()
		rt.Repeat(m.actions())
		m.checkQuiet()
	})
}

func isFlagSet(name string) (set bool) {
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// model is the expected state and the system under test for one sequence.
type model struct {
	t     *testing.T
	rt    *rapid.T
	e     *env
	proxy *servertest.Proxy
	adm   routecastv1.RouteAdminServiceClient

	scopes   []string
	want     map[string]map[string]string // scope -> name -> upstream URL
	poisoned bool                         // some update was rejected
	counter  int
	agents   []*modelAgent
	raw      *protocolClient
}

// modelAgent is a real agent, stopped and started by the model.
type modelAgent struct {
	cfg     agent.Config
	running *runningAgent
	lastRev uint64 // highest revision it applied, across restarts
}

var routeNames = []string{"r0", "r1", "r2", "r3", "r4"}

func newModel(t *testing.T, rt *rapid.T, e *env, proxy *servertest.Proxy, run int) *model {
	m := &model{
		t: t, rt: rt, e: e, proxy: proxy, adm: e.Admin("/operator/alice"),
		scopes: []string{fmt.Sprintf("m%d/a", run), fmt.Sprintf("m%d/b", run)},
		want:   make(map[string]map[string]string),
	}
	dir := filepath.Join(e.Dir, fmt.Sprintf("model-%d", run))
	tmpl := filepath.Join(dir, "poison.tmpl")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmpl, []byte(poisonTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, scope := range []string{m.scopes[0], m.scopes[1], m.scopes[0]} {
		m.want[scope] = make(map[string]string)
		a := &modelAgent{cfg: agent.Config{
			Scope:     scope,
			OutDir:    filepath.Join(dir, fmt.Sprintf("agent%d", i), "out"),
			StateDir:  filepath.Join(dir, fmt.Sprintf("agent%d", i), "state"),
			TLS:       e.ClientTLS(fmt.Sprintf("/agent/host-%d", i)),
			Node:      &routecastv1.Node{Id: fmt.Sprintf("model-%d-agent-%d", run, i)},
			Templates: []agent.Template{{Source: tmpl, Output: "check.txt"}},
		}}
		m.agents = append(m.agents, a)
		m.start(a)
	}
	m.raw = startProtocolClient(t, e, proxy.Addr(), m.scopes[1])
	return m
}

func (m *model) start(a *modelAgent) {
	cfg := a.cfg
	cfg.Servers = nil
	a.running = m.e.startAgentAt(cfg, m.proxy.Addr())
}

func (m *model) stop(a *modelAgent) {
	a.running.stop(func(ev agent.Event) { m.checkEvent(a, ev) })
	a.running = nil
}

func (m *model) checkEvent(a *modelAgent, ev agent.Event) {
	if ev.Err != nil {
		return
	}
	if ev.Revision < a.lastRev {
		m.rt.Fatalf("agent %s applied revision %d after %d", a.cfg.Node.GetId(), ev.Revision, a.lastRev)
	}
	a.lastRev = ev.Revision
}

func (m *model) close() {
	for _, a := range m.agents {
		if a.running != nil {
			m.stop(a)
		}
	}
	m.raw.stop()
}

func (m *model) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"put":          m.put,
		"poison":       m.poison,
		"disconnect":   func(*rapid.T) { m.proxy.Break() },
		"agentRestart": m.agentRestart,
		"agentToggle":  m.agentToggle,
		"serverRestart": func(rt *rapid.T) {
			graceful := rapid.Bool().Draw(rt, "graceful")
			m.e.Stop(graceful)
			m.e.Reopen()
		},
	}
}

// put applies a random batch of puts and deletes to one scope.
func (m *model) put(rt *rapid.T) {
	scope := rapid.SampledFrom(m.scopes).Draw(rt, "scope")
	have := slices.Sorted(maps.Keys(m.want[scope]))
	puts := rapid.SliceOfDistinct(rapid.SampledFrom(routeNames), rapid.ID[string]).Draw(rt, "puts")
	var deletes []string
	if len(have) > 0 {
		deletes = rapid.SliceOfDistinct(rapid.SampledFrom(have), rapid.ID[string]).Draw(rt, "deletes")
	}
	deletes = slices.DeleteFunc(deletes, func(n string) bool { return slices.Contains(puts, n) })
	if len(puts)+len(deletes) == 0 {
		return
	}
	req := &routecastv1.ApplyRoutesRequest{Scope: scope, Deletes: deletes}
	for _, n := range puts {
		m.counter++
		url := fmt.Sprintf("https://v%d.internal", m.counter)
		req.Puts = append(req.Puts, route(n, "/"+n, url))
		m.want[scope][n] = url
	}
	for _, n := range deletes {
		delete(m.want[scope], n)
	}
	m.apply(req)
}

// poison puts a route that the agents reject.
func (m *model) poison(rt *rapid.T) {
	scope := rapid.SampledFrom(m.scopes).Draw(rt, "scope")
	n := rapid.SampledFrom(routeNames).Draw(rt, "name")
	m.counter++
	r := route(n, "/"+n, fmt.Sprintf("https://poison%d.internal", m.counter))
	r.Owner = poisonOwner
	m.want[scope][n] = r.GetUpstream().GetUrl()
	m.poisoned = true
	m.apply(&routecastv1.ApplyRoutesRequest{Scope: scope, Puts: []*routecastv1.Route{r}})
}

// apply commits req. A call that meets a connection the server closed
// while restarting fails with Unavailable; it is retried, as an operator
// would (applying the same batch again changes nothing).
func (m *model) apply(req *routecastv1.ApplyRoutesRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for {
		_, err := m.adm.ApplyRoutes(ctx, req, grpc.WaitForReady(true))
		if status.Code(err) == codes.Unavailable && ctx.Err() == nil {
			continue
		}
		if err != nil {
			m.rt.Fatalf("ApplyRoutes: %v", err)
		}
		return
	}
}

func (m *model) agentRestart(rt *rapid.T) {
	a := m.agents[rapid.IntRange(0, len(m.agents)-1).Draw(rt, "agent")]
	if a.running != nil {
		m.stop(a)
	}
	m.start(a)
}

func (m *model) agentToggle(rt *rapid.T) {
	a := m.agents[rapid.IntRange(0, len(m.agents)-1).Draw(rt, "agent")]
	if a.running != nil {
		m.stop(a)
	} else {
		m.start(a)
	}
}

// checkQuiet heals rejected updates, starts every agent and waits until
// each holds exactly the store's snapshot of its scope.
func (m *model) checkQuiet() {
	if m.poisoned {
		// A NACKed update is not resent: replace every poisoned route
		// and make the agents resynchronize from what they hold.
		for _, scope := range m.scopes {
			req := &routecastv1.ApplyRoutesRequest{Scope: scope}
			for n, url := range m.want[scope] {
				m.counter++
				url = fmt.Sprintf("https://healed%d.internal", m.counter)
				req.Puts = append(req.Puts, route(n, "/"+n, url))
				m.want[scope][n] = url
			}
			if len(req.Puts) > 0 {
				m.apply(req)
			}
		}
		m.proxy.Break()
	}
	for _, a := range m.agents {
		if a.running == nil {
			m.start(a)
		}
	}
	for _, scope := range m.scopes {
		m.checkStore(scope)
	}
	for _, a := range m.agents {
		m.awaitAgent(a)
	}
	m.raw.await(m.rt, m.want[m.scopes[1]])
}

// checkStore compares the store's snapshot with the model.
func (m *model) checkStore(scope string) {
	resp, err := m.adm.ListRoutes(context.Background(), &routecastv1.ListRoutesRequest{Scope: scope, PageSize: 1000}, grpc.WaitForReady(true))
	if err != nil {
		m.rt.Fatal(err)
	}
	got := make(map[string]string)
	for _, r := range resp.GetRoutes() {
		got[r.GetName()] = r.GetUpstream().GetUrl()
	}
	if diff := cmp.Diff(m.want[scope], got); diff != "" {
		m.rt.Fatalf("store snapshot of %s differs from the model (-want +got):\n%s", scope, diff)
	}
}

// awaitAgent waits, update by update, until the agent's routes.json holds
// the model's routes of its scope.
func (m *model) awaitAgent(a *modelAgent) {
	want := m.want[a.cfg.Scope]
	deadline := time.After(waitTimeout)
	for {
		got, ok := readUpstreams(a.cfg.OutDir)
		if ok && cmp.Equal(want, got, cmpEmptyMaps) {
			return
		}
		select {
		case ev := <-a.running.events:
			m.checkEvent(a, ev)
		case err := <-a.running.done:
			m.rt.Fatalf("agent %s stopped: %v", a.cfg.Node.GetId(), err)
		case <-deadline:
			m.rt.Fatalf("agent %s did not converge (-want +got):\n%s", a.cfg.Node.GetId(), cmp.Diff(want, got))
		}
	}
}

var cmpEmptyMaps = cmp.FilterValues(func(x, y map[string]string) bool { return len(x) == 0 && len(y) == 0 },
	cmp.Comparer(func(_, _ map[string]string) bool { return true }))

// readUpstreams reads routes.json as name -> upstream URL; ok is false
// when the file does not exist yet.
func readUpstreams(out string) (map[string]string, bool) {
	data, err := os.ReadFile(filepath.Join(out, "routes.json"))
	if err != nil {
		return nil, false
	}
	var f routesFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, false
	}
	got := make(map[string]string)
	for _, r := range f.Routes {
		got[r.Name] = r.Upstream.URL
	}
	return got, true
}

// protocolClient speaks the discovery protocol through the generated stubs.
// It repeats every ACK and sometimes replays an older nonce, resumes after
// every error, and records protocol violations: a route sent at a version
// it already holds, or a revision lower than one it saw.
type protocolClient struct {
	t      *testing.T
	conn   routecastv1.RouteDiscoveryServiceClient
	scope  string
	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	held       map[string]*routecastv1.Route // guarded by mu
	revision   uint64                        // guarded by mu
	violations []string                      // guarded by mu
	changed    chan struct{}                 // 1-buffered: held changed
}

func startProtocolClient(t *testing.T, e *env, addr, scope string) *protocolClient {
	conn := e.DialAt(addr, e.ClientTLS("/agent/raw"))
	ctx, cancel := context.WithCancel(context.Background())
	c := &protocolClient{
		t: t, conn: routecastv1.NewRouteDiscoveryServiceClient(conn), scope: scope, cancel: cancel,
		done: make(chan struct{}), held: make(map[string]*routecastv1.Route), changed: make(chan struct{}, 1),
	}
	go c.run(ctx)
	return c
}

func (c *protocolClient) stop() {
	c.cancel()
	<-c.done
}

func (c *protocolClient) run(ctx context.Context) {
	defer close(c.done)
	for ctx.Err() == nil {
		err := c.stream(ctx)
		if code := status.Code(err); code == codes.PermissionDenied || code == codes.InvalidArgument {
			c.violate("stream ended with %v", err)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (c *protocolClient) stream(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := c.conn.StreamRoutes(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	sub := &routecastv1.StreamRoutesRequest{Node: &routecastv1.Node{Id: "raw-" + c.scope}, Scope: c.scope,
		InitialVersions: make(map[string]uint64)}
	for n, r := range c.held {
		sub.InitialVersions[n] = r.GetVersion()
	}
	c.mu.Unlock()
	if err := s.Send(sub); err != nil {
		return err
	}
	var previous string
	for i := 0; ; i++ {
		resp, err := s.Recv()
		if err != nil {
			return err
		}
		c.applyResponse(resp)
		acks := []string{resp.GetNonce(), resp.GetNonce()}
		if previous != "" && i%3 == 0 {
			acks = append(acks, previous)
		}
		for _, n := range acks {
			if err := s.Send(&routecastv1.StreamRoutesRequest{ResponseNonce: n}); err != nil {
				return err
			}
		}
		previous = resp.GetNonce()
	}
}

func (c *protocolClient) applyResponse(resp *routecastv1.StreamRoutesResponse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if resp.GetRevision() < c.revision {
		c.violateLocked("revision %d after %d", resp.GetRevision(), c.revision)
	}
	c.revision = resp.GetRevision()
	for _, r := range resp.GetRoutes() {
		if old := c.held[r.GetName()]; old != nil && old.GetVersion() == r.GetVersion() {
			c.violateLocked("route %s resent at version %d, which the client holds", r.GetName(), r.GetVersion())
		}
		c.held[r.GetName()] = r
	}
	for _, n := range resp.GetRemoved() {
		delete(c.held, n)
	}
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *protocolClient) violate(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.violateLocked(format, args...)
}

// violateLocked records a violation. Callers hold c.mu.
func (c *protocolClient) violateLocked(format string, args ...any) {
	c.violations = append(c.violations, fmt.Sprintf(format, args...))
}

// await waits until the client holds want, and fails on any violation.
func (c *protocolClient) await(rt *rapid.T, want map[string]string) {
	deadline := time.After(waitTimeout)
	for {
		c.mu.Lock()
		got := make(map[string]string, len(c.held))
		for n, r := range c.held {
			got[n] = r.GetUpstream().GetUrl()
		}
		violations := slices.Clone(c.violations)
		c.mu.Unlock()
		if len(violations) > 0 {
			rt.Fatalf("protocol violations: %v", violations)
		}
		if cmp.Equal(want, got, cmpEmptyMaps) {
			return
		}
		select {
		case <-c.changed:
		case <-deadline:
			rt.Fatalf("protocol client did not converge (-want +got):\n%s", cmp.Diff(want, got))
		}
	}
}
