package server_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	channelzpb "google.golang.org/grpc/channelz/grpc_channelz_v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/server"
	"github.com/routecast/routecast/server/servertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait; generous for a busy 2-core machine.
const waitTimeout = 60 * time.Second

const scope = "payments/staging"

// rawStream is a discovery stream driven by the test through the generated
// stubs, so that it can misbehave in ways the agent never would.
type rawStream struct {
	t      *testing.T
	s      routecastv1.RouteDiscoveryService_StreamRoutesClient
	cancel context.CancelFunc
}

func openRaw(t *testing.T, disc routecastv1.RouteDiscoveryServiceClient, req *routecastv1.StreamRoutesRequest, opts ...grpc.CallOption) *rawStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	s, err := disc.StreamRoutes(ctx, opts...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	if err := s.Send(req); err != nil {
		cancel()
		t.Fatal(err)
	}
	return &rawStream{t: t, s: s, cancel: cancel}
}

func subscribe(node string) *routecastv1.StreamRoutesRequest {
	return &routecastv1.StreamRoutesRequest{Node: &routecastv1.Node{Id: node}, Scope: scope}
}

func (r *rawStream) recv() *routecastv1.StreamRoutesResponse {
	r.t.Helper()
	resp, err := r.s.Recv()
	if err != nil {
		r.t.Fatalf("Recv: %v", err)
	}
	return resp
}

func (r *rawStream) ack(resp *routecastv1.StreamRoutesResponse) {
	r.t.Helper()
	if err := r.s.Send(&routecastv1.StreamRoutesRequest{ResponseNonce: resp.GetNonce()}); err != nil {
		r.t.Fatalf("Send ACK: %v", err)
	}
}

func discovery(e *servertest.Env, path string) routecastv1.RouteDiscoveryServiceClient {
	return routecastv1.NewRouteDiscoveryServiceClient(e.Dial(e.ClientTLS(path)))
}

func route(name, upstream string) *routecastv1.Route {
	return &routecastv1.Route{
		Name:     name,
		Match:    &routecastv1.RouteMatch{Path: &routecastv1.PathMatch{Kind: &routecastv1.PathMatch_Prefix{Prefix: "/" + name}}},
		Upstream: &routecastv1.Upstream{Url: upstream},
	}
}

func put(t *testing.T, adm routecastv1.RouteAdminServiceClient, routes ...*routecastv1.Route) uint64 {
	t.Helper()
	resp, err := adm.ApplyRoutes(context.Background(), &routecastv1.ApplyRoutesRequest{Scope: scope, Puts: routes})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetRevision()
}

func statusOf(t *testing.T, adm routecastv1.RouteAdminServiceClient, node string) *routecastv1.AgentStatus {
	t.Helper()
	resp, err := adm.GetStatus(context.Background(), &routecastv1.GetStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range resp.GetAgents() {
		if a.GetNode().GetId() == node {
			return a
		}
	}
	t.Fatalf("agent %q is not connected", node)
	return nil
}

// TestStream_BadRequests checks that requests the protocol does not allow
// end the stream with InvalidArgument naming the problem.
func TestStream_BadRequests(t *testing.T) {
	e := servertest.Start(t, servertest.Config{})
	disc := discovery(e, "/agent/payments/host-1")
	tests := []struct {
		name   string
		first  *routecastv1.StreamRoutesRequest
		answer string // nonce sent after the first response, if any
		want   string
	}{
		{"NoScope", &routecastv1.StreamRoutesRequest{Node: &routecastv1.Node{Id: "n"}}, "", "scope"},
		{"MalformedScope", &routecastv1.StreamRoutesRequest{Scope: "payments"}, "", "scope"},
		{"BadName", &routecastv1.StreamRoutesRequest{Scope: scope, Names: []string{"ok", "not ok"}}, "", "names[1]"},
		{"FirstIsAnAck", &routecastv1.StreamRoutesRequest{Scope: scope, ResponseNonce: "1"}, "", "response_nonce"},
		{"NonceNeverSent", subscribe("n"), "999", `response_nonce "999" was never sent`},
		{"NonceNotANonce", subscribe("n"), "abc", `response_nonce "abc" was never sent`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := openRaw(t, disc, tt.first)
			if tt.answer != "" {
				r.recv()
				if err := r.s.Send(&routecastv1.StreamRoutesRequest{ResponseNonce: tt.answer}); err != nil {
					t.Fatal(err)
				}
			}
			_, err := r.s.Recv()
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tt.want) {
				t.Fatalf("stream ended with %v, want InvalidArgument mentioning %q", err, tt.want)
			}
		})
	}
}

// TestStream_DuplicateAndStaleAcks checks that repeated ACKs are ignored
// and the stream goes on.
func TestStream_DuplicateAndStaleAcks(t *testing.T) {
	e := servertest.Start(t, servertest.Config{})
	adm := e.Admin("/operator/alice")
	put(t, adm, route("a", "https://a.internal"))
	r := openRaw(t, discovery(e, "/agent/payments/host-1"), subscribe("n"))
	first := r.recv()
	r.ack(first)
	r.ack(first) // duplicate
	put(t, adm, route("b", "https://b.internal"))
	second := r.recv()
	r.ack(first) // stale
	r.ack(second)
	r.ack(second) // duplicate
	put(t, adm, route("c", "https://c.internal"))
	third := r.recv()
	if len(third.GetRoutes()) != 1 || third.GetRoutes()[0].GetName() != "c" || third.GetRevision() != 3 {
		t.Fatalf("third update = %v, want route c at revision 3", third)
	}
}

// TestStream_StuckAgentStaysBounded writes 10,000 changes while one stream
// never acknowledges: its pending state stays within the number of distinct
// routes, it is never reported in sync, the other stream converges, and
// when it finally answers it gets one update with the latest of each name.
func TestStream_StuckAgentStaysBounded(t *testing.T) {
	e := servertest.Start(t, servertest.Config{})
	adm := e.Admin("/operator/alice")
	disc := discovery(e, "/agent/payments/host-1")
	const distinct, batches, perBatch = 100, 1000, 10 // 10,000 changes

	stuck := openRaw(t, disc, subscribe("stuck"))
	stuckFirst := stuck.recv() // and then never ACKed, for a while

	healthy := openRaw(t, disc, subscribe("healthy"))
	held := map[string]uint64{}
	healthy.ack(healthy.recv())

	var last uint64
	for b := range batches {
		var puts []*routecastv1.Route
		for i := range perBatch {
			n := (b*perBatch + i) % distinct
			puts = append(puts, route(fmt.Sprintf("r%03d", n), fmt.Sprintf("https://v%d.internal", b)))
		}
		last = put(t, adm, puts...)
		if p := statusOf(t, adm, "stuck").GetPendingNames(); p > distinct {
			t.Fatalf("after batch %d the stuck stream has %d pending names, more than the %d routes", b, p, distinct)
		}
	}

	// The healthy stream converges on the last revision.
	for rev := uint64(0); rev < last; {
		resp := healthy.recv()
		for _, r := range resp.GetRoutes() {
			held[r.GetName()] = r.GetVersion()
		}
		rev = resp.GetRevision()
		healthy.ack(resp)
	}
	if len(held) != distinct {
		t.Errorf("healthy stream holds %d routes, want %d", len(held), distinct)
	}

	st := statusOf(t, adm, "stuck")
	if st.GetInSync() || st.GetPendingNames() != distinct || st.GetUpdatesSent() != 1 {
		t.Errorf("stuck stream status = in_sync %v, pending %d, updates %d; want false, %d, 1",
			st.GetInSync(), st.GetPendingNames(), st.GetUpdatesSent(), distinct)
	}

	// Answering at last brings one update with the latest of every name.
	stuck.ack(stuckFirst)
	resp := stuck.recv()
	if len(resp.GetRoutes()) != distinct || resp.GetRevision() != last {
		t.Fatalf("update after the stuck stream answered: %d routes at revision %d, want %d at %d",
			len(resp.GetRoutes()), resp.GetRevision(), distinct, last)
	}
	for _, r := range resp.GetRoutes() {
		if r.GetVersion() != held[r.GetName()] {
			t.Errorf("route %s at version %d, want the latest %d", r.GetName(), r.GetVersion(), held[r.GetName()])
		}
	}
}

// TestStream_GoroutinesReleased opens and closes 1,000 streams, by client
// cancellation and by protocol errors, and checks that the server's
// goroutines return to where they were.
func TestStream_GoroutinesReleased(t *testing.T) {
	e := servertest.Start(t, servertest.Config{})
	adm := e.Admin("/operator/alice")
	put(t, adm, route("a", "https://a.internal"))
	disc := discovery(e, "/agent/payments/host-1")

	open := func() *rawStream {
		r := openRaw(t, disc, subscribe("cycle"))
		r.ack(r.recv())
		return r
	}
	connected := func() int {
		resp, err := adm.GetStatus(context.Background(), &routecastv1.GetStatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.GetAgents())
	}
	// settle waits until no stream is registered and the goroutine count
	// is at most limit: streams end asynchronously on the server, so wait
	// for the condition rather than for a fixed time.
	settle := func(limit int) int {
		deadline := time.Now().Add(waitTimeout)
		for (connected() > 0 || runtime.NumGoroutine() > limit) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		return runtime.NumGoroutine()
	}

	open().cancel() // warm up the connection and its goroutines
	before := settle(1 << 30)

	for i := range 1000 {
		r := open()
		if i%10 == 0 {
			// A protocol error ends the stream from the server's side.
			if err := r.s.Send(&routecastv1.StreamRoutesRequest{ResponseNonce: "bogus"}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.s.Recv(); status.Code(err) != codes.InvalidArgument {
				t.Fatalf("cycle %d: %v, want InvalidArgument", i, err)
			}
		}
		r.cancel()
	}

	if n := settle(before + 2); n > before+2 {
		t.Errorf("goroutines: %d before, %d after 1,000 streams", before, n)
	}
	if n := connected(); n != 0 {
		t.Errorf("%d streams still registered after all closed", n)
	}
}

// TestStream_IdleSurvivesKeepalive checks that a quiet stream survives
// several rounds of server keepalive pings (with intervals shortened to
// one second) and still receives the next change.
func TestStream_IdleSurvivesKeepalive(t *testing.T) {
	e := servertest.Start(t, servertest.Config{Keepalive: server.Keepalive{Time: time.Second, Timeout: time.Second}})
	adm := e.Admin("/operator/alice")
	// Record the client side of the stream's connection, to find it in
	// the server's channelz data.
	local := make(chan net.Addr, 1)
	dialer := grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err == nil {
			local <- c.LocalAddr()
		}
		return c, err
	})
	conn := e.DialAt(e.Addr, e.ClientTLS("/agent/payments/host-1"), dialer)
	r := openRaw(t, routecastv1.NewRouteDiscoveryServiceClient(conn), subscribe("idle"))
	r.ack(r.recv())
	client := <-local

	cz := channelzpb.NewChannelzClient(e.Dial(e.ClientTLS("/operator/alice")))
	deadline := time.Now().Add(waitTimeout)
	for pingsTo(t, cz, client) < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the server did not send 3 keepalive pings on the idle stream's connection")
		}
		time.Sleep(50 * time.Millisecond) // polling channelz, the only observer of pings
	}
	put(t, adm, route("after-quiet", "https://a.internal"))
	if resp := r.recv(); len(resp.GetRoutes()) != 1 || resp.GetRoutes()[0].GetName() != "after-quiet" {
		t.Fatalf("update after the quiet period = %v", resp)
	}
}

// pingsTo returns the keepalive pings the server has sent on the
// connection from client, read through channelz.
func pingsTo(t *testing.T, cz channelzpb.ChannelzClient, client net.Addr) int64 {
	t.Helper()
	ctx := context.Background()
	servers, err := cz.GetServers(ctx, &channelzpb.GetServersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, srv := range servers.GetServer() {
		socks, err := cz.GetServerSockets(ctx, &channelzpb.GetServerSocketsRequest{ServerId: srv.GetRef().GetServerId()})
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range socks.GetSocketRef() {
			sock, err := cz.GetSocket(ctx, &channelzpb.GetSocketRequest{SocketId: ref.GetSocketId()})
			if err != nil {
				t.Fatal(err)
			}
			remote := sock.GetSocket().GetRemote().GetTcpipAddress()
			if remote != nil && int(remote.GetPort()) == client.(*net.TCPAddr).Port {
				return sock.GetSocket().GetData().GetKeepAlivesSent()
			}
		}
	}
	t.Fatalf("no server connection from %v", client)
	return 0
}
