package identity_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/routecast/routecast/pkg/identity"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// revokedID is the client that CheckPeer refuses in TestMTLS.
const revokedID = "spiffe://routecast.test/agent/revoked"

var errRevoked = errors.New("revoked")

// TestMTLS checks which clients the server accepts, that the server sees the
// SPIFFE ID and serial of those it does, and that it reports why it refuses
// the others, once each.
func TestMTLS(t *testing.T) {
	checkLeaks(t)
	dir := newCA(t, testTD)
	caPath := caFile(dir)
	rejected := newRejections()
	ts := startServer(t, serverSource(t, dir), identity.ServerOptions{
		MaxCertLifetime: 48 * time.Hour,
		CheckPeer: func(_ *x509.Certificate, id spiffeid.ID) error {
			if id.String() == revokedID {
				return errRevoked
			}
			return nil
		},
		OnReject: rejected.record,
	})
	now := time.Now()

	tests := []struct {
		name       string
		client     func(t *testing.T) (cfg *tls.Config, serial string)
		wantReason identity.RejectReason // empty: accepted
		wantIs     error
	}{
		{
			name: "valid_svid",
			client: func(t *testing.T) (*tls.Config, string) {
				certPath, keyPath := issue(t, dir, identity.IssueOptions{SPIFFEID: agentID})
				return clientConfig(t, certPath, keyPath, caPath), serialOf(t, certPath)
			},
		},
		{
			name: "no_certificate",
			client: func(t *testing.T) (*tls.Config, string) {
				return rawClientConfig(t, "", "", caPath), ""
			},
			wantReason: identity.RejectNoCertificate,
			wantIs:     identity.ErrNoClientCert,
		},
		{
			name: "other_ca",
			client: func(t *testing.T) (*tls.Config, string) {
				otherCA := newCA(t, testTD)
				certPath, keyPath := issue(t, otherCA, identity.IssueOptions{SPIFFEID: agentID})
				return clientConfig(t, certPath, keyPath, caPath), ""
			},
			wantReason: identity.RejectUnknownCA,
		},
		{
			name: "other_trust_domain",
			client: func(t *testing.T) (*tls.Config, string) {
				certPath, keyPath := issue(t, newCA(t, otherTD),
					identity.IssueOptions{SPIFFEID: otherID})
				return rawClientConfig(t, certPath, keyPath, caPath), ""
			},
			wantReason: identity.RejectTrustDomain,
			wantIs:     identity.ErrForeignTrustDomain,
		},
		{
			name: "other_trust_domain_signed_by_our_ca",
			client: func(t *testing.T) (*tls.Config, string) {
				certPath, keyPath := signLeaf(t, dir, withURIs(otherID))
				return rawClientConfig(t, certPath, keyPath, caPath), ""
			},
			wantReason: identity.RejectTrustDomain,
			wantIs:     identity.ErrForeignTrustDomain,
		},
		{
			name: "expired",
			client: func(t *testing.T) (*tls.Config, string) {
				certPath, keyPath := issue(t, dir, identity.IssueOptions{
					SPIFFEID:  agentID,
					Name:      "expired",
					NotBefore: now.Add(-2 * time.Hour),
					TTL:       time.Hour,
				})
				return clientConfig(t, certPath, keyPath, caPath), ""
			},
			wantReason: identity.RejectExpired,
		},
		{
			name: "not_yet_valid",
			client: func(t *testing.T) (*tls.Config, string) {
				certPath, keyPath := issue(t, dir, identity.IssueOptions{
					SPIFFEID: agentID, Name: "early", NotBefore: now.Add(time.Hour),
				})
				return clientConfig(t, certPath, keyPath, caPath), ""
			},
			wantReason: identity.RejectNotYetValid,
		},
		{
			name: "no_uri_san",
			client: func(t *testing.T) (*tls.Config, string) {
				certPath, keyPath := signLeaf(t, dir, withURIs())
				return rawClientConfig(t, certPath, keyPath, caPath), ""
			},
			wantReason: identity.RejectNoURISAN,
		},
		{
			name: "many_uri_sans",
			client: func(t *testing.T) (*tls.Config, string) {
				certPath, keyPath := signLeaf(t, dir,
					withURIs(agentID, "spiffe://routecast.test/agent/host-2"))
				return rawClientConfig(t, certPath, keyPath, caPath), ""
			},
			wantReason: identity.RejectManyURISANs,
		},
		{
			name: "uri_san_not_spiffe",
			client: func(t *testing.T) (*tls.Config, string) {
				certPath, keyPath := signLeaf(t, dir, withURIs("https://routecast.test/agent"))
				return rawClientConfig(t, certPath, keyPath, caPath), ""
			},
			wantReason: identity.RejectOther,
		},
		{
			name: "leaf_is_ca",
			client: func(t *testing.T) (*tls.Config, string) {
				certPath, keyPath := signLeaf(t, dir, func(c *x509.Certificate) {
					withURIs(agentID)(c)
					c.IsCA, c.BasicConstraintsValid = true, true
				})
				return rawClientConfig(t, certPath, keyPath, caPath), ""
			},
			wantReason: identity.RejectOther,
		},
		{
			name: "lifetime",
			client: func(t *testing.T) (*tls.Config, string) {
				certPath, keyPath := issue(t, dir, identity.IssueOptions{
					SPIFFEID: agentID, Name: "long", TTL: 72 * time.Hour,
				})
				return clientConfig(t, certPath, keyPath, caPath), ""
			},
			wantReason: identity.RejectLifetime,
			wantIs:     identity.ErrCertLifetime,
		},
		{
			name: "peer_check",
			client: func(t *testing.T) (*tls.Config, string) {
				certPath, keyPath := issue(t, dir, identity.IssueOptions{SPIFFEID: revokedID})
				return clientConfig(t, certPath, keyPath, caPath), ""
			},
			wantReason: identity.RejectPeerCheck,
			wantIs:     errRevoked,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, serial := tt.client(t)
			err := ts.check(t, cfg)
			if tt.wantReason != "" {
				if status.Code(err) != codes.Unavailable {
					t.Errorf("check: err = %v, want code Unavailable", err)
				}
				ts.noCall(t)
				checkRejection(t, rejected.next(t), tt.wantReason, tt.wantIs)
				rejected.none(t)
				return
			}
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			rejected.none(t)
			got := ts.nextCall(t)
			if got.err != nil {
				t.Fatalf("PeerID on the server: %v", got.err)
			}
			want := []string{agentID, serial}
			if diff := cmp.Diff(want, []string{got.id.String(), got.serial}); diff != "" {
				t.Errorf("caller seen by the server (-want +got):\n%s", diff)
			}
		})
	}
}

// checkRejection checks a refusal the server reported: its reason, its
// error, and that it names the client's loopback address.
func checkRejection(t *testing.T, rej identity.Rejection, wantReason identity.RejectReason,
	wantIs error) {
	t.Helper()
	if rej.Reason != wantReason {
		t.Errorf("Reason = %q, want %q (err: %v)", rej.Reason, wantReason, rej.Err)
	}
	if rej.Err == nil || (wantIs != nil && !errors.Is(rej.Err, wantIs)) {
		t.Errorf("Err = %v, want an error wrapping %v", rej.Err, wantIs)
	}
	if host, _, err := net.SplitHostPort(rej.Remote); err != nil || host != "127.0.0.1" {
		t.Errorf("Remote = %q, want 127.0.0.1:<port>", rej.Remote)
	}
}

// TestServerTLSConfig_checkPeer checks that CheckPeer is given the verified
// leaf of the client and its SPIFFE ID.
func TestServerTLSConfig_checkPeer(t *testing.T) {
	checkLeaks(t)
	dir := newCA(t, testTD)
	type seen struct{ id, serial string }
	checked := make(chan seen, 4)
	ts := startServer(t, serverSource(t, dir), identity.ServerOptions{
		CheckPeer: func(cert *x509.Certificate, id spiffeid.ID) error {
			checked <- seen{id: id.String(), serial: cert.SerialNumber.Text(16)}
			return nil
		},
	})
	certPath, keyPath := issue(t, dir, identity.IssueOptions{SPIFFEID: agentID})
	if err := ts.check(t, clientConfig(t, certPath, keyPath, caFile(dir))); err != nil {
		t.Fatalf("check: %v", err)
	}
	ts.nextCall(t)

	select {
	case got := <-checked:
		want := seen{id: agentID, serial: serialOf(t, certPath)}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(seen{})); diff != "" {
			t.Errorf("CheckPeer arguments (-want +got):\n%s", diff)
		}
	default:
		t.Fatal("CheckPeer was not called")
	}
}

// TestServerTLSConfig_resumption checks that a client that resumes an
// earlier TLS session is checked again, so that a revocation also ends
// resumed sessions.
func TestServerTLSConfig_resumption(t *testing.T) {
	checkLeaks(t)
	dir := newCA(t, testTD)
	var revoked atomic.Bool
	rejected := newRejections()
	ts := startServer(t, serverSource(t, dir), identity.ServerOptions{
		CheckPeer: func(*x509.Certificate, spiffeid.ID) error {
			if revoked.Load() {
				return errRevoked
			}
			return nil
		},
		OnReject: rejected.record,
	})
	certPath, keyPath := issue(t, dir, identity.IssueOptions{SPIFFEID: agentID})
	cfg := clientConfig(t, certPath, keyPath, caFile(dir))
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)

	for i, wantResumed := range []bool{false, true} {
		state, err := ts.call(t, cfg)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		ts.nextCall(t)
		if state.DidResume != wantResumed {
			t.Fatalf("call %d: DidResume = %v, want %v", i, state.DidResume, wantResumed)
		}
	}

	revoked.Store(true)
	if err := ts.check(t, cfg); status.Code(err) != codes.Unavailable {
		t.Errorf("check after revocation: err = %v, want code Unavailable", err)
	}
	ts.noCall(t)
	checkRejection(t, rejected.next(t), identity.RejectPeerCheck, errRevoked)
}

// TestMTLS_caOverlap checks that while a CA is rotated, with both CA
// certificates in the bundles, clients of either CA are accepted.
func TestMTLS_caOverlap(t *testing.T) {
	checkLeaks(t)
	oldCA, newCADir := newCA(t, testTD), newCA(t, testTD)
	bundlePath := concat(t, caFile(oldCA), caFile(newCADir))
	ts := startServer(t, newSource(t, filepath.Join(oldCA, identity.ServerCertFile),
		filepath.Join(oldCA, identity.ServerKeyFile), bundlePath), identity.ServerOptions{})

	for _, caDir := range []string{oldCA, newCADir} {
		certPath, keyPath := issue(t, caDir, identity.IssueOptions{SPIFFEID: agentID})
		if err := ts.check(t, clientConfig(t, certPath, keyPath, bundlePath)); err != nil {
			t.Errorf("client of %s: %v", caDir, err)
			continue
		}
		if got, want := ts.nextCall(t).serial, serialOf(t, certPath); got != want {
			t.Errorf("server saw serial %s, want %s", got, want)
		}
	}
}

// TestClientTLSConfig_serverID checks how the client authorizes the server.
func TestClientTLSConfig_serverID(t *testing.T) {
	checkLeaks(t)
	dir := newCA(t, testTD)
	ts := startServer(t, serverSource(t, dir), identity.ServerOptions{})
	certPath, keyPath := issue(t, dir, identity.IssueOptions{SPIFFEID: agentID})
	src := newSource(t, certPath, keyPath, caFile(dir))

	tests := []struct {
		name       string
		serverID   string
		wantAccept bool
	}{
		{name: "any_member", serverID: "", wantAccept: true},
		{name: "exact", serverID: serverID, wantAccept: true},
		{name: "other_id", serverID: "spiffe://routecast.test/impostor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := identity.ClientTLSConfig(src, tt.serverID)
			if err != nil {
				t.Fatal(err)
			}
			err = ts.check(t, cfg)
			switch {
			case tt.wantAccept && err != nil:
				t.Errorf("check: %v", err)
			case tt.wantAccept:
				ts.nextCall(t)
			case status.Code(err) != codes.Unavailable:
				t.Errorf("check: err = %v, want code Unavailable", err)
			default:
				ts.noCall(t)
			}
		})
	}
}

// TestClientTLSConfig_errors checks that a bad server ID is refused up front.
func TestClientTLSConfig_errors(t *testing.T) {
	dir := newCA(t, testTD)
	certPath, keyPath := issue(t, dir, identity.IssueOptions{SPIFFEID: agentID})
	src := newSource(t, certPath, keyPath, caFile(dir))

	if _, err := identity.ClientTLSConfig(src, "routecastd"); err == nil {
		t.Error("ClientTLSConfig accepted a server ID that is no SPIFFE ID")
	}
	_, err := identity.ClientTLSConfig(src, "spiffe://other.test/routecastd")
	if !errors.Is(err, identity.ErrForeignTrustDomain) {
		t.Errorf("server ID in another trust domain: err = %v, want ErrForeignTrustDomain", err)
	}
}

// TestMTLS_reload checks that each new connection of a client presents the
// certificate currently on disk.
func TestMTLS_reload(t *testing.T) {
	checkLeaks(t)
	dir := newCA(t, testTD)
	ts := startServer(t, serverSource(t, dir), identity.ServerOptions{})
	opts := identity.IssueOptions{SPIFFEID: agentID}
	certPath, keyPath := issue(t, dir, opts)
	src := newSource(t, certPath, keyPath, caFile(dir))
	clock := newFakeClock(time.Now())
	identity.SetClock(src, clock.Now)
	cfg, err := identity.ClientTLSConfig(src, serverID)
	if err != nil {
		t.Fatal(err)
	}

	want := serialOf(t, certPath)
	checkServerSaw(t, ts, cfg, want)

	issue(t, dir, opts)
	touch(t, 1, certPath, keyPath)
	checkServerSaw(t, ts, cfg, want) // Within the second: not looked at yet.

	clock.Advance(time.Second)
	checkServerSaw(t, ts, cfg, serialOf(t, certPath))
}

// checkServerSaw connects with cfg and checks the serial the server saw.
func checkServerSaw(t *testing.T, ts *testServer, cfg *tls.Config, wantSerial string) {
	t.Helper()
	if err := ts.check(t, cfg); err != nil {
		t.Fatalf("check: %v", err)
	}
	if got := ts.nextCall(t).serial; got != wantSerial {
		t.Errorf("server saw serial %s, want %s", got, wantSerial)
	}
}

func loadBundle(t *testing.T, path string) *x509bundle.Bundle {
	t.Helper()
	b, err := x509bundle.Load(spiffeid.RequireTrustDomainFromString(testTD), path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawClientConfig returns a client configuration that presents the
// certificate in certPath as it is, with no check that it is an X.509-SVID,
// or no certificate when certPath is empty; it trusts servers of the
// routecast.test bundle in bundlePath.
func rawClientConfig(t *testing.T, certPath, keyPath, bundlePath string) *tls.Config {
	t.Helper()
	cfg := tlsconfig.TLSClientConfig(loadBundle(t, bundlePath), tlsconfig.AuthorizeAny())
	cfg.MinVersion = tls.VersionTLS13
	if certPath == "" {
		return cfg
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Certificates = []tls.Certificate{pair}
	return cfg
}

// withURIs returns an edit for signLeaf that sets the URI SANs.
func withURIs(uris ...string) func(*x509.Certificate) {
	return func(c *x509.Certificate) {
		c.URIs = nil
		for _, s := range uris {
			u, err := url.Parse(s)
			if err != nil {
				panic(err) // The tests pass constant, valid URLs.
			}
			c.URIs = append(c.URIs, u)
		}
	}
}

// signLeaf signs a client certificate, shaped by edit, with the CA key in
// caDir; Issue would refuse to mint most of these.
func signLeaf(t *testing.T, caDir string, edit func(*x509.Certificate)) (certPath, keyPath string) {
	t.Helper()
	caCert := readCert(t, filepath.Join(caDir, identity.CACertFile))
	keyPEM, err := os.ReadFile(filepath.Join(caDir, identity.CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	caKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	edit(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	certPath = writeTemp(t, "leaf.pem", string(certPEM))
	keyPath = writeTemp(t, "leaf-key.pem", string(keyPEM))
	return certPath, keyPath
}
