// Package servertest starts a real routecastd for tests: a bbolt file in a
// temporary directory, a development CA, mTLS on a loopback port and a
// policy given by the test.
package servertest

import (
	"context"
	"crypto/tls"
	"net"
	"path/filepath"
	"testing"

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
	t *testing.T
	// Dir is the test's temporary directory; CertDir holds the CA.
	Dir, CertDir string
	// Addr is the server's loopback address.
	Addr string
	// Store is the server's bbolt store.
	Store *store.Bolt
	// Server is the running server.
	Server *server.Server
}

// Config adjusts the test server; the zero value is the default.
type Config struct {
	// Policy is the policy YAML; empty means DefaultPolicy.
	Policy string
	// MaxUpdateBytes is passed to server.Config.
	MaxUpdateBytes int
}

// Start starts a server.
func Start(t *testing.T, cfg Config) *Env {
	t.Helper()
	policyYAML := cfg.Policy
	if policyYAML == "" {
		policyYAML = DefaultPolicy
	}
	e := &Env{t: t, Dir: t.TempDir()}
	e.CertDir = filepath.Join(e.Dir, "certs")
	if err := identity.InitCA(e.CertDir, identity.CAOptions{TrustDomain: TrustDomain}); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse([]byte(policyYAML))
	if err != nil {
		t.Fatal(err)
	}
	e.Store, err = store.OpenBolt(filepath.Join(e.Dir, "routes.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Store.Close() })

	src, err := identity.NewFileSource(e.cert("server.pem"), e.cert("server-key.pem"), e.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	e.Server, err = server.New(context.Background(), server.Config{
		Store: e.Store, TLS: identity.ServerTLSConfig(src), Policy: policy.NewHolder(pol),
		MaxUpdateBytes: cfg.MaxUpdateBytes,
	})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.Addr = lis.Addr().String()
	served := make(chan error, 1)
	go func() { served <- e.Server.Serve(lis) }()
	t.Cleanup(func() {
		e.Server.Stop()
		<-served
	})
	return e
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
	conn, err := grpc.NewClient(e.Addr, grpc.WithTransportCredentials(credentials.NewTLS(conf)))
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
