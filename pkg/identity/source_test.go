package identity_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/routecast/routecast/pkg/identity"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// TestNewFileSource checks what a Source serves after loading.
func TestNewFileSource(t *testing.T) {
	dir := newCA(t, testTD)
	certPath, keyPath := issue(t, dir, identity.IssueOptions{SPIFFEID: agentID})
	src := newSource(t, certPath, keyPath, caFile(dir))

	got := []string{src.ID().String(), src.TrustDomain().String()}
	if diff := cmp.Diff([]string{agentID, testTD}, got); diff != "" {
		t.Errorf("ID and trust domain (-want +got):\n%s", diff)
	}
	svid, err := src.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := svid.Certificates[0].SerialNumber.Text(16), serialOf(t, certPath); got != want {
		t.Errorf("SVID serial = %s, want %s", got, want)
	}
	if err := src.LastReloadError(); err != nil {
		t.Errorf("LastReloadError = %v, want nil", err)
	}
}

// TestSource_bundle checks that every CA certificate in the bundle file
// becomes an authority of the source's trust domain, and that other trust
// domains get no bundle.
func TestSource_bundle(t *testing.T) {
	dir1, dir2 := newCA(t, testTD), newCA(t, testTD)
	certPath, keyPath := issue(t, dir1, identity.IssueOptions{SPIFFEID: agentID})
	bundlePath := concat(t, caFile(dir1), caFile(dir2))
	src := newSource(t, certPath, keyPath, bundlePath)

	b, err := src.GetX509BundleForTrustDomain(spiffeid.RequireTrustDomainFromString(testTD))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(b.X509Authorities()); got != 2 {
		t.Errorf("bundle has %d authorities, want 2", got)
	}

	_, err = src.GetX509BundleForTrustDomain(spiffeid.RequireTrustDomainFromString(otherTD))
	if !errors.Is(err, identity.ErrNoBundle) {
		t.Errorf("bundle for %s: err = %v, want ErrNoBundle", otherTD, err)
	}
}

// TestNewFileSource_errors checks that load errors name the file at fault.
func TestNewFileSource_errors(t *testing.T) {
	dir := newCA(t, testTD)
	certPath, keyPath := issue(t, dir, identity.IssueOptions{SPIFFEID: agentID})
	otherCert, _ := issue(t, dir, identity.IssueOptions{SPIFFEID: agentID, Name: "other"})
	bundlePath := caFile(dir)
	garbage := writeTemp(t, "garbage.pem", "not PEM at all\n")
	empty := writeTemp(t, "empty.pem", "")
	missing := filepath.Join(t.TempDir(), "missing.pem")

	tests := []struct {
		name              string
		cert, key, bundle string
		wantIs            error
		wantMsg           string
	}{
		{name: "missing_cert", cert: missing, key: keyPath, bundle: bundlePath, wantMsg: missing},
		{name: "missing_key", cert: certPath, key: missing, bundle: bundlePath, wantMsg: missing},
		{name: "missing_bundle", cert: certPath, key: keyPath, bundle: missing, wantMsg: missing},
		{name: "garbage_cert", cert: garbage, key: keyPath, bundle: bundlePath, wantMsg: garbage},
		{name: "garbage_key", cert: certPath, key: garbage, bundle: bundlePath, wantMsg: garbage},
		{name: "key_mismatch", cert: otherCert, key: keyPath, bundle: bundlePath, wantMsg: keyPath},
		{name: "garbage_bundle", cert: certPath, key: keyPath, bundle: garbage, wantMsg: garbage},
		{
			name: "empty_bundle", cert: certPath, key: keyPath, bundle: empty,
			wantIs: identity.ErrEmptyBundle, wantMsg: empty,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := identity.NewFileSource(tt.cert, tt.key, tt.bundle)
			checkErr(t, err, tt.wantIs, tt.wantMsg)
		})
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSource_reload checks that a Source picks up rewritten files once its
// throttle allows, and keeps its material when the new files are bad.
func TestSource_reload(t *testing.T) {
	dir := newCA(t, testTD)
	opts := identity.IssueOptions{SPIFFEID: agentID}
	certPath, keyPath := issue(t, dir, opts)
	bundlePath := caFile(dir)
	src := newSource(t, certPath, keyPath, bundlePath)
	clock := newFakeClock(time.Now())
	identity.SetClock(src, clock.Now)
	first := serialOf(t, certPath)

	// A rewrite is not seen within the second after the last look.
	issue(t, dir, opts)
	touch(t, 1, certPath, keyPath)
	second := serialOf(t, certPath)
	checkSerial(t, src, first)

	clock.Advance(time.Second)
	checkSerial(t, src, second)
	if err := src.LastReloadError(); err != nil {
		t.Errorf("LastReloadError after a good reload = %v", err)
	}

	// Files that do not parse leave the old SVID in place.
	if err := os.WriteFile(certPath, []byte("broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	touch(t, 2, certPath)
	clock.Advance(time.Second)
	checkSerial(t, src, second)
	checkErr(t, src.LastReloadError(), nil, certPath)

	// Good files again clear the error.
	issue(t, dir, opts)
	touch(t, 3, certPath, keyPath)
	third := serialOf(t, certPath)
	clock.Advance(time.Second)
	checkSerial(t, src, third)
	if err := src.LastReloadError(); err != nil {
		t.Errorf("LastReloadError after a repair = %v", err)
	}
}

// TestSource_reloadTrustDomain checks that a Source refuses files of another
// trust domain and a missing bundle, and keeps what it has.
func TestSource_reloadTrustDomain(t *testing.T) {
	dir, otherDir := newCA(t, testTD), newCA(t, otherTD)
	certPath, keyPath := issue(t, dir, identity.IssueOptions{SPIFFEID: agentID})
	bundlePath := concat(t, caFile(dir))
	src := newSource(t, certPath, keyPath, bundlePath)
	clock := newFakeClock(time.Now())
	identity.SetClock(src, clock.Now)
	want := serialOf(t, certPath)

	foreignCert, foreignKey := issue(t, otherDir, identity.IssueOptions{SPIFFEID: otherID})
	copyFile(t, foreignCert, certPath)
	copyFile(t, foreignKey, keyPath)
	touch(t, 1, certPath, keyPath)
	clock.Advance(time.Second)
	checkSerial(t, src, want)
	checkErr(t, src.LastReloadError(), identity.ErrTrustDomainChanged, otherTD)

	if err := os.Remove(bundlePath); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	checkSerial(t, src, want)
	checkErr(t, src.LastReloadError(), nil, bundlePath)
	if got := src.TrustDomain().String(); got != testTD {
		t.Errorf("TrustDomain = %s, want %s", got, testTD)
	}
}

func checkSerial(t *testing.T, src identity.Material, want string) {
	t.Helper()
	svid, err := src.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	if got := svid.Certificates[0].SerialNumber.Text(16); got != want {
		t.Errorf("SVID serial = %s, want %s", got, want)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
