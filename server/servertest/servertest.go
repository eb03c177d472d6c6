// Package servertest starts a real routecastd for tests: a bbolt file in a
// temporary directory, a development CA, mTLS on a loopback port and a
// policy given by the test.
package servertest

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/identity"
	"github.com/routecast/routecast/pkg/policy"
	"github.com/routecast/routecast/pkg/store"
	"github.com/routecast/routecast/server"
)

// TrustDomain is the trust domain of the test CA.
const TrustDomain = "routecast.test"

// DefaultPolicy makes spiffe://routecast.test/operator/alice an admin and
// lets every agent under spiffe://routecast.test/agent/payments read
// payments/staging.
const DefaultPolicy = `
rules:
  - id: spiffe://routecast.test/operator/alice
    admin: true
  - id_prefix: spiffe://routecast.test/agent/payments
    read: [payments/staging]
`

// Env is a running server. Everything it starts is stopped by the test's
// cleanup.
type Env struct {
	t   testing.TB
	cfg Config
	src *identity.Source
	// served receives Serve's result; nil while no server runs.
	served chan error

	// Dir is the test's temporary directory; CertDir holds the CA.
	Dir, CertDir string
	// Addr is the server's loopback address; it stays the same across
	// restarts.
	Addr string
	// Store is the server's bbolt store; reopened by Restart.
	Store *store.Bolt
	// Server is the running server.
	Server *server.Server
	// Policy holds the server's policy; store a new one to change it.
	Policy *policy.Holder
}

// Config adjusts the test server; the zero value is the default.
type Config struct {
	// Policy is the policy YAML; empty means DefaultPolicy.
	Policy string
	// MaxUpdateBytes is passed to server.Config.
	MaxUpdateBytes int
	// Keepalive is passed to server.Config.
	Keepalive server.Keepalive
	// MaxCertLifetime is passed to server.Config.
	MaxCertLifetime time.Duration
	// Logger is passed to server.Config.
	Logger *slog.Logger
}

// Start starts a server.
func Start(t testing.TB, cfg Config) *Env {
	t.Helper()
	policyYAML := cfg.Policy
	if policyYAML == "" {
		policyYAML = DefaultPolicy
	}
	e := &Env{t: t, cfg: cfg, Dir: t.TempDir(), Addr: "127.0.0.1:0"}
	e.CertDir = filepath.Join(e.Dir, "certs")
	if err := identity.InitCA(e.CertDir, identity.CAOptions{TrustDomain: TrustDomain}); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse([]byte(policyYAML))
	if err != nil {
		t.Fatal(err)
	}
	e.Policy = policy.NewHolder(pol)
	e.src, err = identity.NewFileSource(e.cert("server.pem"), e.cert("server-key.pem"), e.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	e.Reopen()
	t.Cleanup(func() { e.Stop(false) })
	return e
}

// Reopen opens the store and serves on e.Addr, after Stop.
func (e *Env) Reopen() {
	e.t.Helper()
	var err error
	e.Store, err = store.OpenBolt(filepath.Join(e.Dir, "routes.db"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.Server, err = server.New(context.Background(), server.Config{
		Store: e.Store, Identity: e.src, Policy: e.Policy,
		MaxUpdateBytes: e.cfg.MaxUpdateBytes, Keepalive: e.cfg.Keepalive,
		MaxCertLifetime: e.cfg.MaxCertLifetime, Logger: e.cfg.Logger,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	lis, err := net.Listen("tcp", e.Addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.Addr = lis.Addr().String()
	e.served = make(chan error, 1)
	go func(srv *server.Server, served chan error) { served <- srv.Serve(lis) }(e.Server, e.served)
}

// Stop stops the server (gracefully, with GOAWAY, or by closing every
// connection) and closes the store. It does nothing when stopped already.
func (e *Env) Stop(graceful bool) {
	if e.served == nil {
		return
	}
	if graceful {
		e.Server.GracefulStop()
	} else {
		e.Server.Stop()
	}
	<-e.served
	e.served = nil
	if err := e.Store.Close(); err != nil {
		e.t.Error(err)
	}
}

// Restart stops the server gracefully and starts a new one on the same
// data directory and address.
func (e *Env) Restart() {
	e.t.Helper()
	e.Stop(true)
	e.Reopen()
}

func (e *Env) cert(name string) string { return filepath.Join(e.CertDir, name) }

// CAFile is the trust bundle of the test CA.
func (e *Env) CAFile() string { return e.cert("ca.pem") }

// Issue mints a certificate for spiffe://routecast.test<path> and returns
// the certificate and key files.
func (e *Env) Issue(path string) (certFile, keyFile string) {
	e.t.Helper()
	cert, key, err := identity.Issue(e.CertDir, identity.IssueOptions{SPIFFEID: "spiffe://" + TrustDomain + path})
	if err != nil {
		e.t.Fatal(err)
	}
	return cert, key
}

// ClientTLS issues a certificate for path and returns a client TLS
// configuration that presents it.
func (e *Env) ClientTLS(path string) *tls.Config {
	e.t.Helper()
	cert, key := e.Issue(path)
	src, err := identity.NewFileSource(cert, key, e.CAFile())
	if err != nil {
		e.t.Fatal(err)
	}
	conf, err := identity.ClientTLSConfig(src, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return conf
}

// Dial connects to the server with conf; the test's cleanup closes it.
func (e *Env) Dial(conf *tls.Config) *grpc.ClientConn {
	e.t.Helper()
	return e.DialAt(e.Addr, conf)
}

// DialAt connects to addr (a proxy in front of the server, say) with conf;
// the test's cleanup closes it.
func (e *Env) DialAt(addr string, conf *tls.Config, opts ...grpc.DialOption) *grpc.ClientConn {
	e.t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(conf))}, opts...)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	return conn
}

// Admin returns an admin API client with the identity of path.
func (e *Env) Admin(path string) routecastv1.RouteAdminServiceClient {
	return routecastv1.NewRouteAdminServiceClient(e.Dial(e.ClientTLS(path)))
}
