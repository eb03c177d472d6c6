package agent_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/routecast/routecast/agent"
	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/store"
	"github.com/routecast/routecast/server/servertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait; generous for a busy 2-core machine.
const waitTimeout = 30 * time.Second

// env is a real server (see servertest) that agents are started against.
type env struct {
	*servertest.Env
	t *testing.T
}

func newEnv(t *testing.T) *env {
	return newEnvWith(t, servertest.Config{})
}

func newEnvWith(t *testing.T, cfg servertest.Config) *env {
	return &env{Env: servertest.Start(t, cfg), t: t}
}

// runningAgent is an agent.Run goroutine whose updates arrive on events.
type runningAgent struct {
	events chan agent.Event
	cancel context.CancelFunc
	done   chan error
}

func (e *env) startAgent(cfg agent.Config) *runningAgent {
	e.t.Helper()
	return e.startAgentAt(cfg, e.Addr)
}

// startAgentAt starts an agent that connects to addr.
func (e *env) startAgentAt(cfg agent.Config, addr string) *runningAgent {
	e.t.Helper()
	ra := &runningAgent{events: make(chan agent.Event, 100), done: make(chan error, 1)}
	cfg.Servers = []string{addr}
	cfg.OnUpdate = func(ev agent.Event) { ra.events <- ev }
	cfg.Backoff = agent.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	a, err := agent.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ra.cancel = cancel
	go func() { ra.done <- a.Run(ctx) }()
	e.t.Cleanup(func() { ra.stop(nil) })
	return ra
}

// stop cancels the agent and waits for Run to return, passing the events
// that arrive meanwhile to seen (when not nil).
func (ra *runningAgent) stop(seen func(agent.Event)) {
	ra.cancel()
	for {
		select {
		case ev := <-ra.events:
			if seen != nil {
				seen(ev)
			}
		case <-ra.done:
			ra.done <- nil // later stops return at once
			return
		}
	}
}

// next waits for the agent's next update.
func (ra *runningAgent) next(t *testing.T) agent.Event {
	t.Helper()
	select {
	case ev := <-ra.events:
		return ev
	case err := <-ra.done:
		t.Fatalf("agent stopped while waiting for an update: %v", err)
	case <-time.After(waitTimeout):
		t.Fatal("no update from the agent")
	}
	return agent.Event{}
}

func route(name, prefix, upstream string) *routecastv1.Route {
	return &routecastv1.Route{
		Name: name,
		Match: &routecastv1.RouteMatch{
			Hosts: []string{"payments.example.com"},
			Path:  &routecastv1.PathMatch{Kind: &routecastv1.PathMatch_Prefix{Prefix: prefix}},
		},
		Upstream: &routecastv1.Upstream{Url: upstream},
	}
}

// routesFile is what a test reads back from routes.json.
type routesFile struct {
	Scope    string `json:"scope"`
	Revision uint64 `json:"revision"`
	Routes   []struct {
		Name     string `json:"name"`
		Version  string `json:"version"`
		Upstream struct {
			URL string `json:"url"`
		} `json:"upstream"`
	} `json:"routes"`
}

func readRoutes(t *testing.T, out string) (routesFile, map[string]string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "routes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f routesFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("routes.json: %v\n%s", err, data)
	}
	upstreams := make(map[string]string)
	for _, r := range f.Routes {
		upstreams[r.Name] = r.Upstream.URL
	}
	return f, upstreams
}

func agentStatus(t *testing.T, adm routecastv1.RouteAdminServiceClient, node string) *routecastv1.AgentStatus {
	t.Helper()
	resp, err := adm.GetStatus(context.Background(), &routecastv1.GetStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// A stream that an agent just left may not have ended on the server
	// yet: take the newest stream of the node.
	var newest *routecastv1.AgentStatus
	for _, a := range resp.GetAgents() {
		if a.GetNode().GetId() == node && (newest == nil || !a.GetConnectedAt().AsTime().Before(newest.GetConnectedAt().AsTime())) {
			newest = a
		}
	}
	if newest == nil {
		t.Fatalf("agent %q not in status: %v", node, resp.GetAgents())
	}
	return newest
}

// TestEndToEnd_SyncChangeDeleteRestart follows routes from the admin API to
// the agent's routes.json: initial sync, an incremental change, a delete,
// and restarts that resume without a full resend.
func TestEndToEnd_SyncChangeDeleteRestart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	adm := e.Admin("/operator/alice")
	_, err := adm.ApplyRoutes(ctx, &routecastv1.ApplyRoutesRequest{Scope: "payments/staging", Puts: []*routecastv1.Route{
		route("charges", "/charges", "https://charges.internal:8443"),
		route("refunds", "/refunds", "https://refunds.internal:8443"),
		route("payouts", "/payouts", "https://payouts.internal:8443"),
	}})
	if err != nil {
		t.Fatal(err)
	}

	out, state := filepath.Join(e.Dir, "out"), filepath.Join(e.Dir, "state")
	cfg := agent.Config{
		Scope: "payments/staging", OutDir: out, StateDir: state,
		TLS: e.ClientTLS("/agent/payments/host-1"), Node: &routecastv1.Node{Id: "host-1"},
	}
	a := e.startAgent(cfg)

	// Initial sync: every route once.
	if ev := a.next(t); ev.Err != nil || ev.Upserts != 3 || ev.Removed != 0 || ev.Revision != 1 {
		t.Fatalf("initial update = %+v, want 3 upserts at revision 1", ev)
	}
	f, ups := readRoutes(t, out)
	if ups["charges"] != "https://charges.internal:8443" {
		t.Errorf("routes.json upstream of charges = %q", ups["charges"])
	}
	if f.Scope != "payments/staging" || f.Revision != 1 {
		t.Errorf("routes.json scope, revision = %q, %d; want payments/staging, 1", f.Scope, f.Revision)
	}
	var names []string
	for _, r := range f.Routes {
		names = append(names, r.Name)
	}
	if diff := cmp.Diff([]string{"charges", "payouts", "refunds"}, names); diff != "" {
		t.Errorf("routes.json names, sorted (-want +got):\n%s", diff)
	}

	// An incremental change sends the one changed route.
	if _, err := adm.PutRoute(ctx, &routecastv1.PutRouteRequest{Scope: "payments/staging",
		Route: route("refunds", "/refunds", "https://refunds-v2.internal:8443")}); err != nil {
		t.Fatal(err)
	}
	if ev := a.next(t); ev.Err != nil || ev.Upserts != 1 || ev.Removed != 0 || ev.Revision != 2 {
		t.Fatalf("update after PutRoute = %+v, want 1 upsert at revision 2", ev)
	}
	if _, ups = readRoutes(t, out); ups["refunds"] != "https://refunds-v2.internal:8443" || len(ups) != 3 {
		t.Errorf("routes.json after change = %v", ups)
	}

	// A delete sends one removal.
	if _, err := adm.DeleteRoute(ctx, &routecastv1.DeleteRouteRequest{Scope: "payments/staging", Name: "payouts"}); err != nil {
		t.Fatal(err)
	}
	if ev := a.next(t); ev.Err != nil || ev.Upserts != 0 || ev.Removed != 1 || ev.Routes != 2 {
		t.Fatalf("update after DeleteRoute = %+v, want 1 removal leaving 2 routes", ev)
	}
	if st := agentStatus(t, adm, "host-1"); st.GetRoutesSent() != 4 || st.GetRemovalsSent() != 1 {
		t.Errorf("status routes_sent, removals_sent = %d, %d; want 4, 1", st.GetRoutesSent(), st.GetRemovalsSent())
	}

	// While the agent is down, one route is added and one deleted.
	a.stop(nil)
	_, err = adm.ApplyRoutes(ctx, &routecastv1.ApplyRoutesRequest{Scope: "payments/staging",
		Puts:    []*routecastv1.Route{route("disputes", "/disputes", "https://disputes.internal:8443")},
		Deletes: []string{"charges"}})
	if err != nil {
		t.Fatal(err)
	}

	// The restarted agent resumes from its state: only the difference.
	a = e.startAgent(cfg)
	if ev := a.next(t); ev.Err != nil || ev.Upserts != 1 || ev.Removed != 1 || ev.Routes != 2 || ev.Revision != 4 {
		t.Fatalf("update after restart = %+v, want 1 upsert and 1 removal at revision 4", ev)
	}
	if st := agentStatus(t, adm, "host-1"); st.GetRoutesSent() != 1 {
		t.Errorf("routes sent to the resumed stream = %d, want 1", st.GetRoutesSent())
	}
	if _, ups = readRoutes(t, out); !cmp.Equal(ups, map[string]string{
		"disputes": "https://disputes.internal:8443", "refunds": "https://refunds-v2.internal:8443"}) {
		t.Errorf("routes.json after restart = %v", ups)
	}

	// A restart with nothing changed receives an empty update and writes
	// nothing.
	a.stop(nil)
	a = e.startAgent(cfg)
	if ev := a.next(t); ev.Err != nil || ev.Upserts != 0 || ev.Removed != 0 || ev.Revision != 4 || len(ev.Written) != 0 {
		t.Fatalf("update after a quiet restart = %+v, want an empty update at revision 4 writing nothing", ev)
	}
}

// TestEndToEnd_NackKeepsLastGoodFile checks that an update the agent cannot
// apply is rejected, the last good files stay, and the server reports the
// NACK and does not resend it.
func TestEndToEnd_NackKeepsLastGoodFile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	adm := e.Admin("/operator/alice")
	tmpl := filepath.Join(e.Dir, "upstreams.tmpl")
	const text = `{{range .Routes}}{{if eq .Owner "forbidden-team"}}{{fail "owner forbidden-team may not publish here"}}{{end}}{{.Name}} {{.GetUpstream.GetUrl}}
{{end}}`
	if err := os.WriteFile(tmpl, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutRoute(ctx, &routecastv1.PutRouteRequest{Scope: "payments/staging",
		Route: route("charges", "/charges", "https://charges.internal:8443")}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(e.Dir, "out")
	a := e.startAgent(agent.Config{
		Scope: "payments/staging", OutDir: out, StateDir: filepath.Join(e.Dir, "state"),
		TLS: e.ClientTLS("/agent/payments/host-1"), Node: &routecastv1.Node{Id: "host-1"},
		Templates: []agent.Template{{Source: tmpl, Output: "upstreams.txt"}},
	})
	if ev := a.next(t); ev.Err != nil {
		t.Fatalf("initial update rejected: %v", ev.Err)
	}
	good, err := os.ReadFile(filepath.Join(out, "routes.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "upstreams.txt")); string(got) != "charges https://charges.internal:8443\n" {
		t.Errorf("rendered template = %q", got)
	}

	bad := route("refunds", "/refunds", "https://refunds.internal:8443")
	bad.Owner = "forbidden-team"
	if _, err := adm.PutRoute(ctx, &routecastv1.PutRouteRequest{Scope: "payments/staging", Route: bad}); err != nil {
		t.Fatal(err)
	}
	ev := a.next(t)
	if ev.Err == nil || !strings.Contains(ev.Err.Error(), "forbidden-team may not publish") {
		t.Fatalf("update with a forbidden owner: err = %v, want the template's failure", ev.Err)
	}
	if now, _ := os.ReadFile(filepath.Join(out, "routes.json")); string(now) != string(good) {
		t.Errorf("routes.json changed after a rejected update:\n%s", now)
	}

	// Whether or not the NACK has reached the server yet, the stream is
	// not in sync: its update is either unanswered or rejected.
	if st := agentStatus(t, adm, "host-1"); st.GetInSync() {
		t.Errorf("status after NACK = %v, want in_sync false", st)
	}

	// A newer change is applied on top of the last good state; the NACKed
	// version is not resent.
	if _, err := adm.PutRoute(ctx, &routecastv1.PutRouteRequest{Scope: "payments/staging",
		Route: route("charges", "/charges", "https://charges-v2.internal:8443")}); err != nil {
		t.Fatal(err)
	}
	if ev := a.next(t); ev.Err != nil || ev.Upserts != 1 || ev.Routes != 1 {
		t.Fatalf("update after NACK = %+v, want one upsert, one route held", ev)
	}
	if _, ups := readRoutes(t, out); !cmp.Equal(ups, map[string]string{"charges": "https://charges-v2.internal:8443"}) {
		t.Errorf("routes.json after the next change = %v", ups)
	}
	// The server sent that update only after it had taken the NACK.
	st := agentStatus(t, adm, "host-1")
	if n := st.GetLastNack(); n.GetRevision() != 2 || !strings.Contains(n.GetErrorDetail().GetMessage(), "forbidden-team") {
		t.Errorf("last_nack = %v, want revision 2 with the template's message", n)
	}
	if st.GetRoutesSent() != 3 {
		t.Errorf("routes sent = %d, want 3 (the NACKed route was not resent)", st.GetRoutesSent())
	}
}

// TestEndToEnd_RefusedScope checks that an identity not granted a scope is
// refused with a message naming both, and the agent stops.
func TestEndToEnd_RefusedScope(t *testing.T) {
	e := newEnv(t)
	a, err := agent.New(agent.Config{
		Servers: []string{e.Addr}, Scope: "payments/production",
		OutDir: filepath.Join(e.Dir, "out"), StateDir: filepath.Join(e.Dir, "state"),
		TLS: e.ClientTLS("/agent/payments/host-1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err = a.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "spiffe://routecast.test/agent/payments/host-1 may not read scope \"payments/production\"") {
		t.Fatalf("Run for a refused scope: err = %v, want a refusal naming the identity and scope", err)
	}
	if _, err := os.Stat(filepath.Join(e.Dir, "out", "routes.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused agent wrote routes.json (stat err %v)", err)
	}
}

// TestEndToEnd_ClientWithoutCertificate checks that the TLS handshake
// requires a client certificate.
func TestEndToEnd_ClientWithoutCertificate(t *testing.T) {
	e := newEnv(t)
	conf := e.ClientTLS("/agent/payments/host-1")
	pem, err := os.ReadFile(e.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	bare := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS13}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_, err = healthpb.NewHealthClient(e.Dial(bare)).Check(ctx, &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("health check without a client certificate: %v, want Unavailable (handshake refused)", err)
	}
	// The same server answers a client with a certificate.
	if _, err := healthpb.NewHealthClient(e.Dial(conf)).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health check with a certificate: %v", err)
	}
}

// TestEndToEnd_AdminRefusedToAgent checks that an agent identity cannot
// change routes or read the status.
func TestEndToEnd_AdminRefusedToAgent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	adm := e.Admin("/agent/payments/host-1")
	_, err := adm.PutRoute(ctx, &routecastv1.PutRouteRequest{Scope: "payments/staging",
		Route: route("charges", "/charges", "https://charges.internal:8443")})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "may not change scope \"payments/staging\"") {
		t.Errorf("PutRoute by an agent: %v, want PermissionDenied naming the scope", err)
	}
	if _, err := adm.GetStatus(ctx, &routecastv1.GetStatusRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("GetStatus by an agent: %v, want PermissionDenied", err)
	}
	if rev, _ := e.Store.Revision(ctx); rev != 0 {
		t.Errorf("store revision = %d after refused writes, want 0", rev)
	}
}

// TestAdmin_InvalidArgument checks that bad input is refused with the field
// named, and that the store is unchanged.
func TestAdmin_InvalidArgument(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	adm := e.Admin("/operator/alice")
	if _, err := adm.PutRoute(ctx, &routecastv1.PutRouteRequest{Scope: "payments/staging",
		Route: route("charges", "/charges", "https://charges.internal:8443")}); err != nil {
		t.Fatal(err)
	}
	badMethod := route("a", "/a", "https://a.internal")
	badMethod.Match.Methods = []string{"GET", "FETCH"}
	tests := []struct {
		name      string
		req       *routecastv1.ApplyRoutesRequest
		wantField string
	}{
		{"MalformedScope", &routecastv1.ApplyRoutesRequest{Scope: "Payments", Puts: []*routecastv1.Route{route("a", "/a", "https://a.internal")}}, "scope"},
		{"EmptyName", &routecastv1.ApplyRoutesRequest{Scope: "payments/staging", Puts: []*routecastv1.Route{route("", "/a", "https://a.internal")}}, "puts[0].name"},
		{"DuplicateName", &routecastv1.ApplyRoutesRequest{Scope: "payments/staging", Puts: []*routecastv1.Route{
			route("a", "/a", "https://a.internal"), route("a", "/b", "https://b.internal")}}, "puts[1].name"},
		{"MalformedPath", &routecastv1.ApplyRoutesRequest{Scope: "payments/staging", Puts: []*routecastv1.Route{route("a", "no-slash", "https://a.internal")}}, "puts[0].match.path.prefix"},
		{"UnknownMethod", &routecastv1.ApplyRoutesRequest{Scope: "payments/staging", Puts: []*routecastv1.Route{badMethod}}, "puts[0].match.methods[1]"},
		{"UpstreamNotURL", &routecastv1.ApplyRoutesRequest{Scope: "payments/staging", Puts: []*routecastv1.Route{route("a", "/a", "not a url")}}, "puts[0].upstream.url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := adm.ApplyRoutes(ctx, tt.req)
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("err = %v, want InvalidArgument", err)
			}
			if got := badRequestField(err); got != tt.wantField {
				t.Errorf("field = %q, want %q (err %v)", got, tt.wantField, err)
			}
			if !strings.Contains(status.Convert(err).Message(), tt.wantField) {
				t.Errorf("message %q does not name the field %q", status.Convert(err).Message(), tt.wantField)
			}
		})
	}
	if rev, _ := e.Store.Revision(ctx); rev != 1 {
		t.Errorf("store revision = %d after refused batches, want 1", rev)
	}
}

func badRequestField(err error) string {
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return br.GetFieldViolations()[0].GetField()
		}
	}
	return ""
}

// TestEndToEnd_LargeUpdateInParts checks that an update larger than the
// server's message budget arrives in several parts and is written once,
// complete.
func TestEndToEnd_LargeUpdateInParts(t *testing.T) {
	e := newEnvWith(t, servertest.Config{MaxUpdateBytes: 4 << 10})
	ctx := context.Background()
	adm := e.Admin("/operator/alice")
	var puts []*routecastv1.Route
	for i := range 200 {
		name := fmt.Sprintf("route-%03d", i)
		puts = append(puts, route(name, "/"+name, "https://"+name+".internal:8443"))
	}
	if _, err := adm.ApplyRoutes(ctx, &routecastv1.ApplyRoutesRequest{Scope: "payments/staging", Puts: puts}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(e.Dir, "out")
	a := e.startAgent(agent.Config{
		Scope: "payments/staging", OutDir: out, StateDir: filepath.Join(e.Dir, "state"),
		TLS: e.ClientTLS("/agent/payments/host-1"), Node: &routecastv1.Node{Id: "host-1"},
	})
	if ev := a.next(t); ev.Err != nil || ev.Upserts != 200 || ev.Routes != 200 {
		t.Fatalf("initial update = %+v, want all 200 routes in one applied update", ev)
	}
	if f, _ := readRoutes(t, out); len(f.Routes) != 200 {
		t.Errorf("routes.json holds %d routes, want 200", len(f.Routes))
	}
	st := agentStatus(t, adm, "host-1")
	if st.GetUpdatesSent() < 5 || st.GetRoutesSent() != 200 {
		t.Errorf("updates, routes sent = %d, %d; want the 200 routes (about 24 KiB) in at least 5 parts of 4 KiB",
			st.GetUpdatesSent(), st.GetRoutesSent())
	}
}

// TestEndToEnd_ServerStopResumes stops the server gracefully (GOAWAY) and
// hard, changes routes while it is down, and checks that the agent
// reconnects to the new server on the same data and receives exactly the
// changes.
func TestEndToEnd_ServerStopResumes(t *testing.T) {
	for _, graceful := range []bool{true, false} {
		t.Run(fmt.Sprintf("graceful=%v", graceful), func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			adm := e.Admin("/operator/alice")
			if _, err := adm.ApplyRoutes(ctx, &routecastv1.ApplyRoutesRequest{Scope: "payments/staging", Puts: []*routecastv1.Route{
				route("charges", "/charges", "https://charges.internal:8443"),
				route("refunds", "/refunds", "https://refunds.internal:8443"),
			}}); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(e.Dir, "out")
			a := e.startAgent(agent.Config{
				Scope: "payments/staging", OutDir: out, StateDir: filepath.Join(e.Dir, "state"),
				TLS: e.ClientTLS("/agent/payments/host-1"), Node: &routecastv1.Node{Id: "host-1"},
			})
			if ev := a.next(t); ev.Err != nil || ev.Upserts != 2 {
				t.Fatalf("initial update = %+v", ev)
			}

			// While the server is down, change the store directly.
			e.Stop(graceful)
			st, err := store.OpenBolt(filepath.Join(e.Dir, "routes.db"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = st.Apply(ctx, "payments/staging", store.Batch{
				Puts:    []*routecastv1.Route{route("disputes", "/disputes", "https://disputes.internal:8443")},
				Deletes: []string{"refunds"},
			})
			st.Close()
			if err != nil {
				t.Fatal(err)
			}
			e.Reopen()

			if ev := a.next(t); ev.Err != nil || ev.Upserts != 1 || ev.Removed != 1 || ev.Revision != 2 {
				t.Fatalf("update after the restart = %+v, want 1 upsert and 1 removal at revision 2", ev)
			}
			if _, ups := readRoutes(t, out); !cmp.Equal(ups, map[string]string{
				"charges": "https://charges.internal:8443", "disputes": "https://disputes.internal:8443"}) {
				t.Errorf("routes.json after the restart = %v", ups)
			}
		})
	}
}

// TestEndToEnd_RejectedPartRejectsWholeUpdate checks that when one part of
// a split update is rejected the agent rejects the rest too, writes
// nothing, and the server reports the stream out of sync until the routes
// are sent again.
func TestEndToEnd_RejectedPartRejectsWholeUpdate(t *testing.T) {
	e := newEnvWith(t, servertest.Config{MaxUpdateBytes: 4 << 10})
	ctx := context.Background()
	adm := e.Admin("/operator/alice")
	tmpl := filepath.Join(e.Dir, "check.tmpl")
	if err := os.WriteFile(tmpl, []byte(`{{range .Routes}}{{if eq .Owner "forbidden-team"}}{{fail "forbidden"}}{{end}}{{end}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var puts []*routecastv1.Route
	for i := range 200 {
		name := fmt.Sprintf("route-%03d", i)
		puts = append(puts, route(name, "/"+name, "https://"+name+".internal:8443"))
	}
	puts[0].Owner = "forbidden-team" // in the first part
	if _, err := adm.ApplyRoutes(ctx, &routecastv1.ApplyRoutesRequest{Scope: "payments/staging", Puts: puts}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(e.Dir, "out")
	cfg := agent.Config{
		Scope: "payments/staging", OutDir: out, StateDir: filepath.Join(e.Dir, "state"),
		TLS: e.ClientTLS("/agent/payments/host-1"), Node: &routecastv1.Node{Id: "host-1"},
		Templates: []agent.Template{{Source: tmpl, Output: "check.txt"}},
	}
	a := e.startAgent(cfg)
	if ev := a.next(t); ev.Err == nil || ev.Upserts != 200 || ev.Routes != 0 {
		t.Fatalf("split update with a forbidden route = %+v, want all 200 routes rejected", ev)
	}
	if _, err := os.Stat(filepath.Join(out, "routes.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("routes.json written for a rejected update (stat: %v)", err)
	}
	// Once the route is fixed, the change alone arrives; the server has
	// taken the NACK by then (it sends the next update only after an
	// answer), and counts the other 199 routes as missing from the agent,
	// those of the ACKed parts included.
	puts[0].Owner = ""
	if _, err := adm.PutRoute(ctx, &routecastv1.PutRouteRequest{Scope: "payments/staging", Route: puts[0]}); err != nil {
		t.Fatal(err)
	}
	if ev := a.next(t); ev.Err != nil || ev.Upserts != 1 || ev.Routes != 1 {
		t.Fatalf("update with the fixed route = %+v, want it applied alone", ev)
	}
	if st := agentStatus(t, adm, "host-1"); st.GetInSync() || st.GetRejectedNames() != 199 {
		t.Errorf("after the fix: in_sync, rejected_names = %v, %d; want false, 199", st.GetInSync(), st.GetRejectedNames())
	}

	// A reconnect sends what the agent lacks.
	a.stop(nil)
	a = e.startAgent(cfg)
	if ev := a.next(t); ev.Err != nil || ev.Routes != 200 || ev.Upserts != 199 {
		t.Fatalf("update after a reconnect = %+v, want the 199 missing routes, 200 held", ev)
	}
}
