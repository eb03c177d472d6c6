package agent_test

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/routecast/routecast/agent"
	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/identity"
	"github.com/routecast/routecast/server/servertest"
)

const agentID = "spiffe://routecast.test/agent/payments/host-1"

// certFiles is a workload's certificate and key, at fixed paths that
// rotation overwrites.
type certFiles struct{ cert, key string }

// issueTo mints a certificate for id from the CA in caDir and writes it to
// the paths of f, replacing what was there.
func issueTo(t *testing.T, caDir string, f certFiles, opts identity.IssueOptions) string {
	t.Helper()
	opts.Name = "minted"
	cert, key, err := identity.Issue(caDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for src, dst := range map[string]string{cert: f.cert, key: f.key} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+".new", data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(dst+".new", dst); err != nil {
			t.Fatal(err)
		}
	}
	return serialOfFile(t, f.cert)
}

func serialOfFile(t *testing.T, path string) string {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(path, strings.TrimSuffix(path, ".pem")+"-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	return pair.Leaf.SerialNumber.Text(16)
}

// agentFiles issues an agent certificate into dir and returns a client TLS
// configuration that reads those files on every handshake.
func agentFiles(t *testing.T, e *env, dir string, opts identity.IssueOptions) (certFiles, string, *tls.Config) {
	t.Helper()
	f := certFiles{cert: filepath.Join(dir, "agent.pem"), key: filepath.Join(dir, "agent-key.pem")}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if opts.SPIFFEID == "" {
		opts.SPIFFEID = agentID
	}
	serial := issueTo(t, e.CertDir, f, opts)
	src, err := identity.NewFileSource(f.cert, f.key, e.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	conf, err := identity.ClientTLSConfig(src, "")
	if err != nil {
		t.Fatal(err)
	}
	return f, serial, conf
}

// subscribed opens a stream to payments/staging with conf, receives the
// first update and acknowledges it.
func subscribed(ctx context.Context, t *testing.T, e *env, conf *tls.Config) routecastv1.RouteDiscoveryService_StreamRoutesClient {
	t.Helper()
	s, err := routecastv1.NewRouteDiscoveryServiceClient(e.Dial(conf)).StreamRoutes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&routecastv1.StreamRoutesRequest{Scope: "payments/staging"}); err != nil {
		t.Fatal(err)
	}
	first, err := s.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&routecastv1.StreamRoutesRequest{ResponseNonce: first.GetNonce()}); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestIdentity_RotationMidStream rotates every certificate while an agent
// streams, including a CA rotation in which old and new CA are trusted
// side by side: routes keep flowing, and the next connection presents the
// new certificates.
func TestIdentity_RotationMidStream(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	adm := e.Admin("/operator/alice")
	proxy := servertest.NewProxy(t, e.Addr)
	files, serial1, conf := agentFiles(t, e, filepath.Join(e.Dir, "agent-certs"), identity.IssueOptions{})
	a := e.startAgentAt(agent.Config{
		Scope: "payments/staging", OutDir: filepath.Join(e.Dir, "out"), StateDir: filepath.Join(e.Dir, "state"),
		TLS: conf, Node: &routecastv1.Node{Id: "host-1"},
	}, proxy.Addr())
	a.next(t)
	if got := agentStatus(t, adm, "host-1").GetCertSerial(); got != serial1 {
		t.Fatalf("serial on the server = %s, want %s", got, serial1)
	}

	// A second CA; the bundle trusts both during the overlap.
	ca2 := filepath.Join(e.Dir, "ca2")
	if err := identity.InitCA(ca2, identity.CAOptions{TrustDomain: servertest.TrustDomain}); err != nil {
		t.Fatal(err)
	}
	bundle := readAll(t, e.CAFile(), filepath.Join(ca2, "ca.pem"))
	writeFile(t, e.CAFile(), bundle)
	for _, name := range []string{"server.pem", "server-key.pem"} {
		writeFile(t, filepath.Join(e.CertDir, name), readAll(t, filepath.Join(ca2, name)))
	}
	serial2 := issueTo(t, ca2, files, identity.IssueOptions{SPIFFEID: agentID})

	// The open stream goes on.
	if _, err := adm.PutRoute(ctx, &routecastv1.PutRouteRequest{Scope: "payments/staging",
		Route: route("after-rotation", "/r", "https://r.internal")}); err != nil {
		t.Fatal(err)
	}
	if ev := a.next(t); ev.Err != nil || ev.Upserts != 1 {
		t.Fatalf("update after rotation = %+v", ev)
	}

	// A new connection uses the new certificates on both sides.
	proxy.Break()
	if ev := a.next(t); ev.Err != nil || ev.Upserts != 0 {
		t.Fatalf("update after reconnect = %+v, want an empty resume", ev)
	}
	if got := agentStatus(t, adm, "host-1").GetCertSerial(); got != serial2 {
		t.Errorf("serial after reconnect = %s, want the rotated %s", got, serial2)
	}
	// The operator's old certificate still works while the old CA is
	// trusted, and the server now presents a certificate of the new CA.
	state := tlsState(t, e, filepath.Join(e.CertDir, "operator-alice.pem"), filepath.Join(e.CertDir, "operator-alice-key.pem"))
	if issuer := state.PeerCertificates[0].Issuer.String(); issuer != readIssuer(t, filepath.Join(ca2, "ca.pem")) {
		t.Errorf("server certificate issued by %s, want the new CA", issuer)
	}
}

// tlsState makes a TLS connection to the server with the given client
// certificate and returns its state.
func tlsState(t *testing.T, e *env, cert, key string) tls.ConnectionState {
	t.Helper()
	src, err := identity.NewFileSource(cert, key, e.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	conf, err := identity.ClientTLSConfig(src, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", e.Addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState()
}

func readIssuer(t *testing.T, caFile string) string {
	t.Helper()
	pair, err := tls.X509KeyPair(readAll(t, caFile), readAll(t, strings.TrimSuffix(caFile, ".pem")+"-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return pair.Leaf.Subject.String()
}

func readAll(t *testing.T, paths ...string) []byte {
	t.Helper()
	var out []byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data...)
	}
	return out
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path+".new", data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// TestIdentity_ExpiryEndsStream checks that a stream ends when its client
// certificate expires, with a status that says so, and that an agent whose
// certificate was renewed on disk reconnects with the new one.
func TestIdentity_ExpiryEndsStream(t *testing.T) {
	e := newEnv(t)
	adm := e.Admin("/operator/alice")

	// A raw stream sees the status.
	_, _, short := agentFiles(t, e, filepath.Join(e.Dir, "raw"), identity.IssueOptions{TTL: 3 * time.Second})
	disc := routecastv1.NewRouteDiscoveryServiceClient(e.Dial(short))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	s, err := disc.StreamRoutes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&routecastv1.StreamRoutesRequest{Scope: "payments/staging"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	_, err = s.Recv()
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("stream of an expiring certificate ended with %v, want Unauthenticated saying it expired", err)
	}

	// An agent renewed on disk reconnects with the renewed certificate.
	files, _, conf := agentFiles(t, e, filepath.Join(e.Dir, "agent"), identity.IssueOptions{TTL: 3 * time.Second})
	a := e.startAgent(agent.Config{
		Scope: "payments/staging", OutDir: filepath.Join(e.Dir, "out"), StateDir: filepath.Join(e.Dir, "state"),
		TLS: conf, Node: &routecastv1.Node{Id: "host-1"},
	})
	a.next(t)
	renewed := issueTo(t, e.CertDir, files, identity.IssueOptions{SPIFFEID: agentID, TTL: time.Hour})
	if ev := a.next(t); ev.Err != nil || ev.Upserts != 0 {
		t.Fatalf("update after expiry = %+v, want an empty resume", ev)
	}
	if got := agentStatus(t, adm, "host-1").GetCertSerial(); got != renewed {
		t.Errorf("serial after expiry = %s, want the renewed %s", got, renewed)
	}
}

// TestIdentity_Revocation revokes an identity and then one certificate:
// open streams end at once with PermissionDenied saying so, new handshakes
// and calls are refused, routes are untouched, and lifting the revocation
// lets the identity in again.
func TestIdentity_Revocation(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	adm := e.Admin("/operator/alice")
	if _, err := adm.PutRoute(ctx, &routecastv1.PutRouteRequest{Scope: "payments/staging",
		Route: route("charges", "/charges", "https://charges.internal")}); err != nil {
		t.Fatal(err)
	}
	_, serialA, confA := agentFiles(t, e, filepath.Join(e.Dir, "a"), identity.IssueOptions{})
	_, _, confB := agentFiles(t, e, filepath.Join(e.Dir, "b"), identity.IssueOptions{})
	openStream := func(conf *tls.Config) routecastv1.RouteDiscoveryService_StreamRoutesClient {
		return subscribed(ctx, t, e, conf)
	}

	// By serial: only the stream of that certificate ends.
	streamA, streamB := openStream(confA), openStream(confB)
	resp, err := adm.RevokeIdentity(ctx, &routecastv1.RevokeIdentityRequest{Serial: strings.ToUpper(serialA), Reason: "key copied to a laptop"})
	if err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	if resp.GetStreamsEnded() != 1 || resp.GetRevocation().GetSerial() != serialA {
		t.Errorf("RevokeIdentity = %v, want serial %s and one stream ended", resp, serialA)
	}
	_, err = streamA.Recv()
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "was revoked") ||
		!strings.Contains(err.Error(), "key copied to a laptop") {
		t.Fatalf("stream of the revoked certificate ended with %v", err)
	}
	if d := time.Since(revoked); d > time.Second {
		t.Errorf("stream ended %v after the revocation, want within a second", d)
	}
	if _, err := adm.PutRoute(ctx, &routecastv1.PutRouteRequest{Scope: "payments/staging",
		Route: route("refunds", "/refunds", "https://refunds.internal")}); err != nil {
		t.Fatal(err)
	}
	if u, err := streamB.Recv(); err != nil || len(u.GetRoutes()) != 1 {
		t.Fatalf("the other certificate's stream: %v, %v; want it to go on", u, err)
	}

	// By SPIFFE ID: every certificate of the identity, open streams and new
	// handshakes alike.
	if _, err := adm.RevokeIdentity(ctx, &routecastv1.RevokeIdentityRequest{SpiffeId: agentID, Reason: "host decommissioned"}); err != nil {
		t.Fatal(err)
	}
	if _, err := streamB.Recv(); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "identity "+agentID+" was revoked") {
		t.Fatalf("stream of the revoked identity ended with %v", err)
	}
	_, _, confC := agentFiles(t, e, filepath.Join(e.Dir, "c"), identity.IssueOptions{})
	if _, err := healthpb.NewHealthClient(e.Dial(confC)).Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("new handshake of a revoked identity: %v, want refused (Unavailable)", err)
	}

	st, err := adm.GetStatus(ctx, &routecastv1.GetStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.GetRevision() != 2 || st.GetHandshakeRejections()[string(identity.RejectPeerCheck)] == 0 {
		t.Errorf("status revision %d, rejections %v; want 2 and a peer_check refusal", st.GetRevision(), st.GetHandshakeRejections())
	}
	list, err := adm.ListRevocations(ctx, &routecastv1.ListRevocationsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetRevocations()) != 2 || list.GetRevocations()[0].GetActor() != "spiffe://routecast.test/operator/alice" ||
		list.GetRevocations()[0].GetTime() == nil || list.GetRevocations()[0].GetReason() != "host decommissioned" {
		t.Errorf("ListRevocations = %v", list.GetRevocations())
	}

	// Lifting both lets the identity in again.
	for _, req := range []*routecastv1.UnrevokeIdentityRequest{{SpiffeId: agentID}, {Serial: serialA}} {
		if _, err := adm.UnrevokeIdentity(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	openStream(confA)
}

// TestIdentity_RevokedAdminCallsRefused checks that a revoked identity's
// calls are refused even on a connection it opened before the revocation.
func TestIdentity_RevokedAdminCallsRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	adm := e.Admin("/operator/alice")
	other := e.Admin("/operator/bob")
	if _, err := other.ListRoutes(ctx, &routecastv1.ListRoutesRequest{Scope: "payments/staging"}); status.Code(err) != codes.PermissionDenied ||
		strings.Contains(err.Error(), "revoked") {
		t.Fatalf("bob before revocation: %v, want PermissionDenied by policy", err)
	}
	if _, err := adm.RevokeIdentity(ctx, &routecastv1.RevokeIdentityRequest{SpiffeId: "spiffe://routecast.test/operator/bob", Reason: "left"}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.ListRoutes(ctx, &routecastv1.ListRoutesRequest{Scope: "payments/staging"}); status.Code(err) != codes.PermissionDenied ||
		!strings.Contains(err.Error(), "was revoked") {
		t.Errorf("bob after revocation, same connection: %v, want PermissionDenied saying revoked", err)
	}
	if _, err := adm.RevokeIdentity(ctx, &routecastv1.RevokeIdentityRequest{SpiffeId: "spiffe://routecast.test/x"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("revocation without a reason: %v, want InvalidArgument", err)
	}
	if _, err := adm.RevokeIdentity(ctx, &routecastv1.RevokeIdentityRequest{Serial: "xyz", Reason: "r"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("revocation of a non-hex serial: %v, want InvalidArgument", err)
	}
}

// TestIdentity_PolicyReloadEndsStreams rewrites the policy file: a policy
// that no longer grants the scope ends the agent's stream, and a file that
// does not parse leaves the policy in force.
func TestIdentity_PolicyReloadEndsStreams(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(e.Dir, "policy.yaml")
	writeFile(t, path, []byte(servertest.DefaultPolicy))
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		e.Server.WatchPolicyFile(ctx, path, 10*time.Millisecond)
	}()
	defer func() { cancel(); <-watched }()

	_, _, conf := agentFiles(t, e, filepath.Join(e.Dir, "a"), identity.IssueOptions{})
	s := subscribed(ctx, t, e, conf)

	// A broken file changes nothing; the stream stays.
	writeFile(t, path, []byte("rules:\n  - id: not-a-spiffe-id\n"))
	adm := e.Admin("/operator/alice")
	if _, err := adm.PutRoute(context.Background(), &routecastv1.PutRouteRequest{Scope: "payments/staging",
		Route: route("charges", "/charges", "https://charges.internal")}); err != nil {
		t.Fatal(err)
	}
	if u, err := s.Recv(); err != nil || len(u.GetRoutes()) != 1 {
		t.Fatalf("stream after a broken policy file: %v, %v; want it to go on", u, err)
	}

	// A policy without the agent's rule ends the stream.
	writeFile(t, path, []byte("rules:\n  - id: spiffe://routecast.test/operator/alice\n    admin: true\n"))
	_, err := s.Recv()
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "policy no longer lets identity "+agentID+` read scope "payments/staging"`) {
		t.Fatalf("stream after the policy dropped the agent: %v", err)
	}
}

// TestIdentity_RefusedHandshakeCounted checks that the server counts a
// refused client by reason in its status.
func TestIdentity_RefusedHandshakeCounted(t *testing.T) {
	e := newEnv(t)
	other := filepath.Join(e.Dir, "other-ca")
	if err := identity.InitCA(other, identity.CAOptions{TrustDomain: servertest.TrustDomain}); err != nil {
		t.Fatal(err)
	}
	cert, key, err := identity.Issue(other, identity.IssueOptions{SPIFFEID: agentID})
	if err != nil {
		t.Fatal(err)
	}
	// The stranger trusts our server (bundle of both CAs) but its own
	// certificate is from a CA the server does not trust.
	bundle := filepath.Join(e.Dir, "both.pem")
	writeFile(t, bundle, readAll(t, e.CAFile(), filepath.Join(other, "ca.pem")))
	src, err := identity.NewFileSource(cert, key, bundle)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := identity.ClientTLSConfig(src, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := healthpb.NewHealthClient(e.Dial(conf)).Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("client of another CA: %v, want refused", err)
	}
	st, err := e.Admin("/operator/alice").GetStatus(ctx, &routecastv1.GetStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := st.GetHandshakeRejections()[string(identity.RejectUnknownCA)]; n == 0 {
		t.Errorf("handshake_rejections = %v, want an unknown_ca count", st.GetHandshakeRejections())
	}
}
