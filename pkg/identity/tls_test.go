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
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/routecast/routecast/pkg/identity"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestMTLS checks which clients the server accepts, and that the server sees
// the SPIFFE ID and serial of those it does.
func TestMTLS(t *testing.T) {
	checkLeaks(t)
	dir := newCA(t, testTD)
	caPath := caFile(dir)
	ts := startServer(t, serverSource(t, dir))
	now := time.Now()

	tests := []struct {
		name       string
		client     func(t *testing.T) (cfg *tls.Config, serial string)
		wantAccept bool
	}{
		{
			name: "valid_svid",
			client: func(t *testing.T) (*tls.Config, string) {
				certPath, keyPath := issue(t, dir, identity.IssueOptions{SPIFFEID: agentID})
				return clientConfig(t, certPath, keyPath, caPath), serialOf(t, certPath)
			},
			wantAccept: true,
		},
		{
			name: "no_certificate",
			client: func(t *testing.T) (*tls.Config, string) {
				cfg := tlsconfig.TLSClientConfig(loadBundle(t, caPath), tlsconfig.AuthorizeAny())
				cfg.MinVersion = tls.VersionTLS13
				return cfg, ""
			},
		},
		{
			name: "other_ca",
			client: func(t *testing.T) (*tls.Config, string) {
				otherCA := newCA(t, testTD)
				certPath, keyPath := issue(t, otherCA, identity.IssueOptions{SPIFFEID: agentID})
				return clientConfig(t, certPath, keyPath, caPath), ""
			},
		},
		{
			name: "other_trust_domain",
			client: func(t *testing.T) (*tls.Config, string) {
				certPath, keyPath := issue(t, newCA(t, otherTD),
					identity.IssueOptions{SPIFFEID: otherID})
				return foreignClientConfig(t, certPath, keyPath, caPath), ""
			},
		},
		{
			name: "other_trust_domain_signed_by_our_ca",
			client: func(t *testing.T) (*tls.Config, string) {
				certPath, keyPath := signLeaf(t, dir, otherID)
				return foreignClientConfig(t, certPath, keyPath, caPath), ""
			},
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
		},
		{
			name: "not_yet_valid",
			client: func(t *testing.T) (*tls.Config, string) {
				certPath, keyPath := issue(t, dir, identity.IssueOptions{
					SPIFFEID: agentID, Name: "early", NotBefore: now.Add(time.Hour),
				})
				return clientConfig(t, certPath, keyPath, caPath), ""
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, serial := tt.client(t)
			err := ts.check(t, cfg)
			if !tt.wantAccept {
				if status.Code(err) != codes.Unavailable {
					t.Errorf("check: err = %v, want code Unavailable", err)
				}
				ts.noCall(t)
				return
			}
			if err != nil {
				t.Fatalf("check: %v", err)
			}
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

// TestMTLS_caOverlap checks that while a CA is rotated, with both CA
// certificates in the bundles, clients of either CA are accepted.
func TestMTLS_caOverlap(t *testing.T) {
	checkLeaks(t)
	oldCA, newCADir := newCA(t, testTD), newCA(t, testTD)
	bundlePath := concat(t, caFile(oldCA), caFile(newCADir))
	ts := startServer(t, newSource(t, filepath.Join(oldCA, identity.ServerCertFile),
		filepath.Join(oldCA, identity.ServerKeyFile), bundlePath))

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
	ts := startServer(t, serverSource(t, dir))
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
	ts := startServer(t, serverSource(t, dir))
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

// foreignClientConfig returns a client configuration that presents the SVID
// in certPath, whatever its trust domain, and trusts servers of the
// routecast.test bundle in bundlePath.
func foreignClientConfig(t *testing.T, certPath, keyPath, bundlePath string) *tls.Config {
	t.Helper()
	svid, err := x509svid.Load(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := tlsconfig.MTLSClientConfig(svid, loadBundle(t, bundlePath), tlsconfig.AuthorizeAny())
	cfg.MinVersion = tls.VersionTLS13
	return cfg
}

// signLeaf signs a client certificate for any URI with the CA key in caDir,
// which Issue would refuse to do for a foreign trust domain.
func signLeaf(t *testing.T, caDir, uri string) (certPath, keyPath string) {
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
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		URIs:         []*url.URL{u},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
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
	certPath = writeTemp(t, "foreign.pem", string(certPEM))
	keyPath = writeTemp(t, "foreign-key.pem", string(keyPEM))
	return certPath, keyPath
}
