package agent_test

import (
	"context"
	"crypto/tls"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/routecast/routecast/agent"
	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/identity"
	"github.com/routecast/routecast/pkg/identity/identitytest"
	"github.com/routecast/routecast/pkg/policy"
	"github.com/routecast/routecast/pkg/store"
	"github.com/routecast/routecast/server"
	"github.com/routecast/routecast/server/servertest"
)

// workloadWait bounds every wait of the Workload API tests.
const workloadWait = 60 * time.Second

// The identities of the Workload API tests, all of one development CA.
const (
	workloadServerID   = "spiffe://routecast.test/routecastd"
	workloadAgentID    = "spiffe://routecast.test/agent/payments/host-1"
	workloadOperatorID = "spiffe://routecast.test/operator/alice"
	workloadNode       = "host-1"
	workloadScope      = "payments/staging"
)

// workloadPolicy lets the agent read its scope and makes the operator an
// admin.
const workloadPolicy = `
rules:
  - id: ` + workloadOperatorID + `
    admin: true
  - id: ` + workloadAgentID + `
    read: [` + workloadScope + `]
`

// workloadEnv is a server and an agent that take their SVIDs from two fake
// Workload APIs, and an operator with a certificate file; all three
// identities come from one development CA. The agent reaches the server
// through a proxy, so that the test can cut its connection.
type workloadEnv struct {
	t       *testing.T
	dir     string
	certDir string

	serverAPI, agentAPI *identitytest.WorkloadAPI

	addr        string // the server's own address
	proxy       *servertest.Proxy
	operatorTLS *tls.Config
	admin       routecastv1.RouteAdminServiceClient
	agent       *runningAgent
}

// newWorkloadEnv creates the CA and both fakes, starts the server and the
// proxy, and connects the operator. The agent is started by startAgent.
func newWorkloadEnv(t *testing.T) *workloadEnv {
	t.Helper()
	w := &workloadEnv{t: t, dir: t.TempDir()}
	w.certDir = filepath.Join(w.dir, "ca")
	err := identity.InitCA(w.certDir, identity.CAOptions{TrustDomain: "routecast.test"})
	if err != nil {
		t.Fatal(err)
	}
	w.serverAPI = identitytest.StartWorkloadAPI(t, w.certDir, workloadServerID)
	w.agentAPI = identitytest.StartWorkloadAPI(t, w.certDir, workloadAgentID)

	w.startServer()
	w.proxy = servertest.NewProxy(t, w.addr)
	w.connectOperator()
	return w
}

// openWorkload opens the identity served by api and releases it when the
// test ends.
func (w *workloadEnv) openWorkload(api *identitytest.WorkloadAPI) identity.Material {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), workloadWait)
	defer cancel()
	m, closeMaterial, err := identity.Open(ctx, identity.Config{Socket: api.Addr()})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() {
		if err := closeMaterial(); err != nil {
			w.t.Error(err)
		}
	})
	return m
}

// startServer serves on a loopback port with a bbolt store in the test's
// directory and the identity of the server's Workload API.
func (w *workloadEnv) startServer() {
	w.t.Helper()
	pol, err := policy.Parse([]byte(workloadPolicy))
	if err != nil {
		w.t.Fatal(err)
	}
	material := w.openWorkload(w.serverAPI)
	st, err := store.OpenBolt(filepath.Join(w.dir, "routes.db"))
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() {
		if err := st.Close(); err != nil {
			w.t.Error(err)
		}
	})
	srv, err := server.New(context.Background(), server.Config{
		Store: st, Identity: material, Policy: policy.NewHolder(pol),
	})
	if err != nil {
		w.t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	w.addr = lis.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	w.t.Cleanup(func() {
		srv.Stop()
		<-served
	})
}

// connectOperator issues the operator's certificate files and opens an
// admin client that accepts only the server's SPIFFE ID.
func (w *workloadEnv) connectOperator() {
	w.t.Helper()
	certFile, keyFile, err := identity.Issue(w.certDir,
		identity.IssueOptions{SPIFFEID: workloadOperatorID})
	if err != nil {
		w.t.Fatal(err)
	}
	caFile := filepath.Join(w.certDir, identity.CACertFile)
	src, err := identity.NewFileSource(certFile, keyFile, caFile)
	if err != nil {
		w.t.Fatal(err)
	}
	if w.operatorTLS, err = identity.ClientTLSConfig(src, workloadServerID); err != nil {
		w.t.Fatal(err)
	}
	conn, err := grpc.NewClient(w.addr,
		grpc.WithTransportCredentials(credentials.NewTLS(w.operatorTLS)))
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { conn.Close() })
	w.admin = routecastv1.NewRouteAdminServiceClient(conn)
}

// startAgent runs an agent with the identity of the agent's Workload API,
// connected through the proxy; the test's cleanup stops it.
func (w *workloadEnv) startAgent() {
	w.t.Helper()
	tlsConf, err := identity.ClientTLSConfig(w.openWorkload(w.agentAPI), workloadServerID)
	if err != nil {
		w.t.Fatal(err)
	}
	ra := &runningAgent{events: make(chan agent.Event, 100), done: make(chan error, 1)}
	a, err := agent.New(agent.Config{
		Servers: []string{w.proxy.Addr()}, Scope: workloadScope,
		OutDir: w.outDir(), StateDir: filepath.Join(w.dir, "state"),
		TLS: tlsConf, Node: &routecastv1.Node{Id: workloadNode},
		Backoff:  agent.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		OnUpdate: func(ev agent.Event) { ra.events <- ev },
	})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ra.cancel = cancel
	go func() { ra.done <- a.Run(ctx) }()
	w.t.Cleanup(func() { ra.stop(nil) })
	w.agent = ra
}

func (w *workloadEnv) outDir() string { return filepath.Join(w.dir, "out") }

// put stores r in the agent's scope through the admin API.
func (w *workloadEnv) put(r *routecastv1.Route) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), workloadWait)
	defer cancel()
	req := &routecastv1.PutRouteRequest{Scope: workloadScope, Route: r}
	if _, err := w.admin.PutRoute(ctx, req); err != nil {
		w.t.Fatalf("PutRoute %s: %v", r.GetName(), err)
	}
}

// nextEvent waits for the agent's next applied update and fails the test
// if the update was rejected.
func (w *workloadEnv) nextEvent() agent.Event {
	w.t.Helper()
	select {
	case ev := <-w.agent.events:
		if ev.Err != nil {
			w.t.Fatalf("agent rejected the update at revision %d: %v", ev.Revision, ev.Err)
		}
		return ev
	case err := <-w.agent.done:
		w.agent.done <- err // for the cleanup's stop
		w.t.Fatalf("agent stopped while waiting for an update: %v", err)
	case <-time.After(workloadWait):
		w.t.Fatalf("no update from the agent within %s", workloadWait)
	}
	return agent.Event{}
}

// checkUpstreams compares the routes.json of the agent with want, the
// upstream of each route by name.
func (w *workloadEnv) checkUpstreams(want map[string]string) {
	w.t.Helper()
	if _, got := readRoutes(w.t, w.outDir()); !cmp.Equal(want, got) {
		w.t.Errorf("routes.json upstreams (-want +got):\n%s", cmp.Diff(want, got))
	}
}

// agentSerials returns the certificate serials that GetStatus shows for the
// agent's streams: one, or two while the server has yet to notice that a
// broken stream is gone.
func (w *workloadEnv) agentSerials() []string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), workloadWait)
	defer cancel()
	resp, err := w.admin.GetStatus(ctx, &routecastv1.GetStatusRequest{})
	if err != nil {
		w.t.Fatalf("GetStatus: %v", err)
	}
	var serials []string
	for _, a := range resp.GetAgents() {
		if a.GetNode().GetId() == workloadNode {
			serials = append(serials, a.GetCertSerial())
		}
	}
	return serials
}

// reconnectPresenting cuts the agent's connection until the server shows it
// presenting the certificate with serial want. The agent's source takes a
// pushed SVID a moment after the Workload API sends it, so a reconnect may
// still present the previous one; each attempt waits for the agent to
// subscribe again (its empty update), and the attempts end at a deadline.
func (w *workloadEnv) reconnectPresenting(want string) {
	w.t.Helper()
	deadline := time.Now().Add(workloadWait)
	for attempt := 1; ; attempt++ {
		w.proxy.Break()
		if ev := w.nextEvent(); ev.Upserts != 0 || ev.Removed != 0 {
			w.t.Fatalf("update after a reconnect = %+v, want an empty one", ev)
		}
		serials := w.agentSerials()
		if slices.Contains(serials, want) {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("after %d reconnects the server shows the agent's serials %v, want %s",
				attempt, serials, want)
		}
	}
}

// serverSerial makes a fresh TLS handshake with the server, as the
// operator, and returns the serial of the certificate it presented.
func (w *workloadEnv) serverSerial() string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), workloadWait)
	defer cancel()
	d := tls.Dialer{Config: w.operatorTLS}
	conn, err := d.DialContext(ctx, "tcp", w.addr)
	if err != nil {
		w.t.Fatalf("TLS handshake with the server: %v", err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
}

// waitServerSerial makes fresh handshakes until the server presents the
// certificate with serial want: its source takes a pushed SVID a moment
// after the Workload API sends it.
func (w *workloadEnv) waitServerSerial(want string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), workloadWait)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for got := w.serverSerial(); got != want; got = w.serverSerial() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			w.t.Fatalf("server still presents serial %s, want %s", got, want)
		}
	}
}

// TestWorkloadIdentity_AgentRotation checks an agent whose SVID comes from
// the Workload API: routes reach its routes.json, a rotated SVID leaves the
// open stream flowing, and the reconnect after a cut presents the new
// certificate.
func TestWorkloadIdentity_AgentRotation(t *testing.T) {
	w := newWorkloadEnv(t)
	w.put(route("charges", "/charges", "https://charges.internal:8443"))
	w.startAgent()
	if ev := w.nextEvent(); ev.Upserts != 1 || ev.Routes != 1 {
		t.Fatalf("initial update = %+v, want the one route", ev)
	}
	w.checkUpstreams(map[string]string{"charges": "https://charges.internal:8443"})
	first := w.agentAPI.Serial()
	if diff := cmp.Diff([]string{first}, w.agentSerials()); diff != "" {
		t.Errorf("agent's cert_serial before the rotation (-want +got):\n%s", diff)
	}

	// The connection keeps the certificate of its handshake, and the
	// stream goes on.
	w.agentAPI.Rotate(t)
	second := w.agentAPI.Serial()
	if second == first {
		t.Fatalf("rotation kept serial %s", first)
	}
	w.put(route("refunds", "/refunds", "https://refunds.internal:8443"))
	if ev := w.nextEvent(); ev.Upserts != 1 || ev.Routes != 2 {
		t.Fatalf("update after the rotation = %+v, want one new route, two held", ev)
	}
	w.checkUpstreams(map[string]string{
		"charges": "https://charges.internal:8443",
		"refunds": "https://refunds.internal:8443",
	})
	if diff := cmp.Diff([]string{first}, w.agentSerials()); diff != "" {
		t.Errorf("agent's cert_serial on the open stream (-want +got):\n%s", diff)
	}

	w.reconnectPresenting(second)
}

// TestWorkloadIdentity_ServerRotation checks a server whose SVID comes from
// the Workload API: once rotated, a fresh handshake presents the new
// certificate, and the agent reconnects to it and keeps receiving routes.
func TestWorkloadIdentity_ServerRotation(t *testing.T) {
	w := newWorkloadEnv(t)
	w.put(route("charges", "/charges", "https://charges.internal:8443"))
	w.startAgent()
	if ev := w.nextEvent(); ev.Upserts != 1 {
		t.Fatalf("initial update = %+v, want the one route", ev)
	}
	first := w.serverAPI.Serial()
	if got := w.serverSerial(); got != first {
		t.Fatalf("server presents serial %s, want %s from its Workload API", got, first)
	}

	w.serverAPI.Rotate(t)
	second := w.serverAPI.Serial()
	if second == first {
		t.Fatalf("rotation kept serial %s", first)
	}
	w.waitServerSerial(second)

	// The agent verifies the new certificate against the same bundle.
	w.proxy.Break()
	if ev := w.nextEvent(); ev.Upserts != 0 || ev.Removed != 0 || ev.Revision != 1 {
		t.Fatalf("update after a reconnect = %+v, want an empty one at revision 1", ev)
	}
	w.put(route("refunds", "/refunds", "https://refunds.internal:8443"))
	if ev := w.nextEvent(); ev.Upserts != 1 || ev.Routes != 2 {
		t.Fatalf("update after the server's rotation = %+v, want one new route, two held", ev)
	}
	w.checkUpstreams(map[string]string{
		"charges": "https://charges.internal:8443",
		"refunds": "https://refunds.internal:8443",
	})
}
