package identity_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/routecast/routecast/pkg/identity"
)

// certFacts are the properties of a certificate that the tests check.
type certFacts struct {
	URIs        []string
	DNSNames    []string
	IPs         []string
	IsCA        bool
	KeyUsage    x509.KeyUsage
	ExtKeyUsage []x509.ExtKeyUsage
	P256        bool
	SerialBits  bool // positive and at most 128 bits
}

func factsOf(cert *x509.Certificate) certFacts {
	f := certFacts{
		IsCA:        cert.IsCA,
		KeyUsage:    cert.KeyUsage,
		ExtKeyUsage: cert.ExtKeyUsage,
		SerialBits:  cert.SerialNumber.Sign() > 0 && cert.SerialNumber.BitLen() <= 128,
		DNSNames:    cert.DNSNames,
	}
	for _, u := range cert.URIs {
		f.URIs = append(f.URIs, u.String())
	}
	for _, ip := range cert.IPAddresses {
		f.IPs = append(f.IPs, ip.String())
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); ok {
		f.P256 = pub.Curve == elliptic.P256()
	}
	return f
}

var leafUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}

// TestInitCA_files checks the files InitCA writes and their modes.
func TestInitCA_files(t *testing.T) {
	dir := newCA(t, testTD)

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode = %v, want 0700", got)
	}

	got := map[string]os.FileMode{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		got[e.Name()] = info.Mode().Perm()
	}
	want := map[string]os.FileMode{
		identity.CACertFile:     0o644,
		identity.CAKeyFile:      0o600,
		identity.ServerCertFile: 0o644,
		identity.ServerKeyFile:  0o600,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

// TestInitCA_certificates checks the CA and server certificates.
func TestInitCA_certificates(t *testing.T) {
	dir := newCA(t, testTD)
	ca := readCert(t, caFile(dir))
	server := readCert(t, filepath.Join(dir, identity.ServerCertFile))

	wantCA := certFacts{
		URIs:       []string{"spiffe://routecast.test"},
		IsCA:       true,
		KeyUsage:   x509.KeyUsageCertSign,
		P256:       true,
		SerialBits: true,
	}
	if diff := cmp.Diff(wantCA, factsOf(ca)); diff != "" {
		t.Errorf("CA certificate (-want +got):\n%s", diff)
	}
	wantServer := certFacts{
		URIs:        []string{serverID},
		DNSNames:    []string{"localhost"},
		IPs:         []string{"127.0.0.1", "::1"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: leafUsage,
		P256:        true,
		SerialBits:  true,
	}
	if diff := cmp.Diff(wantServer, factsOf(server)); diff != "" {
		t.Errorf("server certificate (-want +got):\n%s", diff)
	}

	checkLifetime(t, "CA", ca, identity.DefaultCATTL)
	checkLifetime(t, "server", server, identity.DefaultServerTTL)
}

// checkLifetime checks that cert is valid for ttl plus the minute it is
// backdated, give or take the second that certificate times are rounded to.
func checkLifetime(t *testing.T, what string, cert *x509.Certificate, ttl time.Duration) {
	t.Helper()
	got := cert.NotAfter.Sub(cert.NotBefore)
	if want := ttl + time.Minute; got < want-time.Second || got > want+time.Second {
		t.Errorf("%s certificate is valid for %v, want %v", what, got, want)
	}
}

// TestInitCA_hostNames checks that the server certificate verifies by host
// name against the CA certificate, as grpcurl -cacert does.
func TestInitCA_hostNames(t *testing.T) {
	dir := newCA(t, testTD)
	roots := x509.NewCertPool()
	roots.AddCert(readCert(t, caFile(dir)))
	server := readCert(t, filepath.Join(dir, identity.ServerCertFile))

	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		_, err := server.Verify(x509.VerifyOptions{
			DNSName:   host,
			Roots:     roots,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
}

// TestInitCA_serverHosts checks that ServerHosts replaces the default names.
func TestInitCA_serverHosts(t *testing.T) {
	dir := t.TempDir()
	opts := identity.CAOptions{
		TrustDomain: testTD,
		ServerHosts: []string{"routecast.internal", "10.1.2.3"},
	}
	if err := identity.InitCA(dir, opts); err != nil {
		t.Fatal(err)
	}
	f := factsOf(readCert(t, filepath.Join(dir, identity.ServerCertFile)))
	if diff := cmp.Diff([]string{"routecast.internal"}, f.DNSNames); diff != "" {
		t.Errorf("DNS names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"10.1.2.3"}, f.IPs); diff != "" {
		t.Errorf("IP addresses (-want +got):\n%s", diff)
	}
}

// TestInitCA_existing checks that InitCA keeps an existing CA unless forced.
func TestInitCA_existing(t *testing.T) {
	dir := newCA(t, testTD)
	caPath := caFile(dir)
	before, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}

	err = identity.InitCA(dir, identity.CAOptions{TrustDomain: testTD})
	if !errors.Is(err, identity.ErrCAExists) {
		t.Fatalf("InitCA again: err = %v, want ErrCAExists", err)
	}
	if after, _ := os.ReadFile(caPath); !bytes.Equal(before, after) {
		t.Fatal("InitCA without Force changed the CA certificate")
	}

	err = identity.InitCA(dir, identity.CAOptions{TrustDomain: testTD, Force: true})
	if err != nil {
		t.Fatalf("InitCA with Force: %v", err)
	}
	if after, _ := os.ReadFile(caPath); bytes.Equal(before, after) {
		t.Fatal("InitCA with Force kept the old CA certificate")
	}
}

// TestInitCA_errors checks that bad options are refused.
func TestInitCA_errors(t *testing.T) {
	tests := []struct {
		name    string
		opts    identity.CAOptions
		wantIs  error
		wantMsg string
	}{
		{
			name:    "no_trust_domain",
			opts:    identity.CAOptions{},
			wantMsg: "trust domain is required",
		},
		{
			name:    "bad_trust_domain",
			opts:    identity.CAOptions{TrustDomain: "Bad_Domain"},
			wantMsg: "Bad_Domain",
		},
		{
			name:    "negative_ttl",
			opts:    identity.CAOptions{TrustDomain: testTD, CATTL: -time.Hour},
			wantMsg: "negative",
		},
		{
			name: "server_outlives_ca",
			opts: identity.CAOptions{
				TrustDomain: testTD,
				CATTL:       time.Hour,
				ServerTTL:   2 * time.Hour,
			},
			wantIs: identity.ErrOutlivesCA,
		},
		{
			name:    "empty_host",
			opts:    identity.CAOptions{TrustDomain: testTD, ServerHosts: []string{""}},
			wantMsg: "empty server host",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := identity.InitCA(t.TempDir(), tt.opts)
			checkErr(t, err, tt.wantIs, tt.wantMsg)
		})
	}
}

// checkErr fails t unless err is non-nil, wraps wantIs if that is set, and
// contains wantMsg.
func checkErr(t *testing.T, err, wantIs error, wantMsg string) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatal("err = nil, want an error")
	case wantIs != nil && !errors.Is(err, wantIs):
		t.Errorf("err = %v, want one wrapping %v", err, wantIs)
	case !strings.Contains(err.Error(), wantMsg):
		t.Errorf("err = %v, want it to contain %q", err, wantMsg)
	}
}

// TestIssue checks the files and certificates that Issue writes.
func TestIssue(t *testing.T) {
	dir := newCA(t, testTD)
	tests := []struct {
		name     string
		opts     identity.IssueOptions
		wantBase string
		wantTTL  time.Duration
	}{
		{
			name:     "name_from_path",
			opts:     identity.IssueOptions{SPIFFEID: agentID},
			wantBase: "agent-host-1",
			wantTTL:  identity.DefaultIssueTTL,
		},
		{
			name: "given_name_and_ttl",
			opts: identity.IssueOptions{
				SPIFFEID: "spiffe://routecast.test/operator/alice",
				Name:     "alice",
				TTL:      time.Hour,
			},
			wantBase: "alice",
			wantTTL:  time.Hour,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPath, keyPath := issue(t, dir, tt.opts)
			wantPaths := []string{
				filepath.Join(dir, tt.wantBase+".pem"),
				filepath.Join(dir, tt.wantBase+"-key.pem"),
			}
			if diff := cmp.Diff(wantPaths, []string{certPath, keyPath}); diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
			checkMode(t, certPath, 0o644)
			checkMode(t, keyPath, 0o600)

			cert := readCert(t, certPath)
			want := certFacts{
				URIs:        []string{tt.opts.SPIFFEID},
				KeyUsage:    x509.KeyUsageDigitalSignature,
				ExtKeyUsage: leafUsage,
				P256:        true,
				SerialBits:  true,
			}
			if diff := cmp.Diff(want, factsOf(cert)); diff != "" {
				t.Errorf("certificate (-want +got):\n%s", diff)
			}
			checkLifetime(t, "issued", cert, tt.wantTTL)
		})
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode = %v, want %v", path, got, want)
	}
}

// TestIssue_notBefore checks that a set NotBefore starts the validity period
// and TTL counts from it.
func TestIssue_notBefore(t *testing.T) {
	dir := newCA(t, testTD)
	start := time.Now().Add(time.Hour).Truncate(time.Second)
	opts := identity.IssueOptions{SPIFFEID: agentID, NotBefore: start, TTL: 2 * time.Hour}
	certPath, _ := issue(t, dir, opts)

	cert := readCert(t, certPath)
	got := []time.Time{cert.NotBefore, cert.NotAfter}
	want := []time.Time{start, start.Add(2 * time.Hour)}
	if diff := cmp.Diff(want, got, cmp.Comparer(time.Time.Equal)); diff != "" {
		t.Errorf("validity (-want +got):\n%s", diff)
	}
}

// TestIssue_errors checks that Issue refuses bad options and a missing CA.
func TestIssue_errors(t *testing.T) {
	dir := newCA(t, testTD)
	const year = 365 * 24 * time.Hour
	tests := []struct {
		name     string
		dir      string // empty means the CA's
		id       string
		fileName string
		ttl      time.Duration
		wantIs   error
		wantMsg  string
	}{
		{name: "not_spiffe", id: "https://routecast.test/x", wantMsg: "https://routecast.test/x"},
		{name: "empty_id", id: "", wantMsg: "SPIFFE ID"},
		{name: "no_path", id: "spiffe://routecast.test", wantMsg: "has no path"},
		{name: "other_trust_domain", id: otherID, wantIs: identity.ErrForeignTrustDomain},
		{name: "path_in_name", id: agentID, fileName: "../x", wantIs: identity.ErrBadName},
		{name: "hidden_name", id: agentID, fileName: ".x", wantIs: identity.ErrBadName},
		{name: "ca_name", id: agentID, fileName: "ca", wantIs: identity.ErrBadName},
		{name: "ca_key_name", id: agentID, fileName: "ca-key", wantIs: identity.ErrBadName},
		{name: "server_name", id: "spiffe://routecast.test/server", wantIs: identity.ErrBadName},
		{name: "negative_ttl", id: agentID, ttl: -time.Hour, wantMsg: "negative"},
		{name: "outlives_ca", id: agentID, ttl: year, wantIs: identity.ErrOutlivesCA},
		{name: "no_ca", dir: t.TempDir(), id: agentID, wantMsg: identity.CACertFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := dir
			if tt.dir != "" {
				d = tt.dir
			}
			opts := identity.IssueOptions{SPIFFEID: tt.id, Name: tt.fileName, TTL: tt.ttl}
			_, _, err := identity.Issue(d, opts)
			checkErr(t, err, tt.wantIs, tt.wantMsg)
		})
	}
}
