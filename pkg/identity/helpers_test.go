package identity_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/routecast/routecast/pkg/identity"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
)

const (
	testTD    = "routecast.test"
	otherTD   = "other.test"
	agentID   = "spiffe://routecast.test/agent/host-1"
	otherID   = "spiffe://other.test/agent/host-1"
	serverID  = "spiffe://routecast.test/routecastd"
	waitLimit = 10 * time.Second
)

// checkLeaks fails t if goroutines are left once t and all its cleanups are
// done. Call it first, so that its cleanup runs last.
func checkLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// newCA creates a development CA for td in a new temporary directory.
func newCA(t *testing.T, td string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	if err := identity.InitCA(dir, identity.CAOptions{TrustDomain: td}); err != nil {
		t.Fatalf("InitCA(%q): %v", td, err)
	}
	return dir
}

// issue mints a certificate from the CA in dir and returns its files.
func issue(t *testing.T, dir string, opts identity.IssueOptions) (certPath, keyPath string) {
	t.Helper()
	certPath, keyPath, err := identity.Issue(dir, opts)
	if err != nil {
		t.Fatalf("Issue(%+v): %v", opts, err)
	}
	return certPath, keyPath
}

// newSource opens a Source on the given files.
func newSource(t *testing.T, certPath, keyPath, bundlePath string) *identity.Source {
	t.Helper()
	src, err := identity.NewFileSource(certPath, keyPath, bundlePath)
	if err != nil {
		t.Fatalf("NewFileSource: %v", err)
	}
	return src
}

// caFile returns the path of the CA certificate in dir.
func caFile(dir string) string {
	return filepath.Join(dir, identity.CACertFile)
}

// serverSource opens a Source on the server certificate of the CA in dir.
func serverSource(t *testing.T, dir string) *identity.Source {
	t.Helper()
	return newSource(t, filepath.Join(dir, identity.ServerCertFile),
		filepath.Join(dir, identity.ServerKeyFile), caFile(dir))
}

// clientConfig returns the TLS configuration of a client that presents the
// given certificate and trusts the bundle in bundlePath.
func clientConfig(t *testing.T, certPath, keyPath, bundlePath string) *tls.Config {
	t.Helper()
	cfg, err := identity.ClientTLSConfig(newSource(t, certPath, keyPath, bundlePath), "")
	if err != nil {
		t.Fatalf("ClientTLSConfig: %v", err)
	}
	return cfg
}

// seenCall is what the test server learned about the caller of one RPC.
type seenCall struct {
	id     spiffeid.ID
	serial string
	err    error
}

// testServer is a gRPC server on loopback that serves the health service and
// reports the identity of every caller on calls.
type testServer struct {
	addr  string
	calls chan seenCall
}

// startServer starts a test server that uses ServerTLSConfig(src, opts). It
// stops when t ends.
func startServer(t *testing.T, src identity.Material, opts identity.ServerOptions) *testServer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ts := &testServer{addr: lis.Addr().String(), calls: make(chan seenCall, 16)}
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(identity.ServerTLSConfig(src, opts))),
		grpc.UnaryInterceptor(ts.record),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())

	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return ts
}

// record is a unary interceptor that reports the caller's identity.
func (ts *testServer) record(ctx context.Context, req any, _ *grpc.UnaryServerInfo,
	handler grpc.UnaryHandler) (any, error) {
	var c seenCall
	c.id, c.err = identity.PeerID(ctx)
	if cert, err := identity.PeerCertificate(ctx); err == nil {
		c.serial = cert.SerialNumber.Text(16)
	}
	select {
	case ts.calls <- c:
	default: // The test does not look at this call.
	}
	return handler(ctx, req)
}

// nextCall returns what the server saw of the latest call.
func (ts *testServer) nextCall(t *testing.T) seenCall {
	t.Helper()
	select {
	case c := <-ts.calls:
		return c
	case <-time.After(waitLimit):
		t.Fatal("no call reached the server")
		return seenCall{}
	}
}

// noCall fails t if a call reached the server. The RPCs of a test are done
// when it asks, so nothing can still be on its way.
func (ts *testServer) noCall(t *testing.T) {
	t.Helper()
	select {
	case c := <-ts.calls:
		t.Errorf("a call reached the server from %v", c.id)
	default:
	}
}

// check makes one health check on a new connection with the TLS
// configuration cfg and returns its error.
func (ts *testServer) check(t *testing.T, cfg *tls.Config) error {
	t.Helper()
	_, err := ts.call(t, cfg)
	return err
}

// oneAttempt keeps a client from connecting again after a failed attempt
// while a test still runs, so that each check makes exactly one handshake.
var oneAttempt = grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: time.Hour, Multiplier: 1, MaxDelay: time.Hour},
	MinConnectTimeout: waitLimit,
}

// call makes one health check on a new connection with the TLS
// configuration cfg, and returns the state of the connection.
func (ts *testServer) call(t *testing.T, cfg *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	conn, err := grpc.NewClient(ts.addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithConnectParams(oneAttempt))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var p peer.Peer
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{},
		grpc.Peer(&p))
	if err != nil {
		return tls.ConnectionState{}, err
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		t.Fatalf("auth info of the connection is %T, want TLS", p.AuthInfo)
	}
	return info.State, nil
}

// rejections collects the refusals that a server reports to OnReject.
type rejections chan identity.Rejection

func newRejections() rejections {
	return make(rejections, 16)
}

// record is an OnReject function. It never blocks a handshake; a test that
// lets more than 16 refusals pile up misses some and fails.
func (r rejections) record(rej identity.Rejection) {
	select {
	case r <- rej:
	default:
	}
}

// next returns the next refusal the server reported.
func (r rejections) next(t *testing.T) identity.Rejection {
	t.Helper()
	select {
	case rej := <-r:
		return rej
	case <-time.After(waitLimit):
		t.Fatal("the server reported no refusal")
		return identity.Rejection{}
	}
}

// none fails t if the server reported a refusal. A server reports before
// it fails the handshake, so a refusal of a finished check is already here.
func (r rejections) none(t *testing.T) {
	t.Helper()
	select {
	case rej := <-r:
		t.Errorf("unexpected refusal: %s: %v", rej.Reason, rej.Err)
	default:
	}
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(start time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(start.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// touch sets the modification time of paths to a moment that differs for
// each step, so that a Source sees a change whatever the resolution of the
// file system's clock.
func touch(t *testing.T, step int, paths ...string) {
	t.Helper()
	mtime := time.Date(2030, 1, 1, 0, step, 0, 0, time.UTC)
	for _, p := range paths {
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// readCert parses the first certificate in path.
func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cert
}

// serialOf returns the serial number of the certificate in path, in
// lower-case hexadecimal like every serial in these tests, as
// identitytest.WorkloadAPI.Serial reports it.
func serialOf(t *testing.T, path string) string {
	t.Helper()
	return readCert(t, path).SerialNumber.Text(16)
}

// concat writes the contents of paths, one after another, to a new file and
// returns its path.
func concat(t *testing.T, paths ...string) string {
	t.Helper()
	var all []byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, data...)
	}
	out := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(out, all, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}
