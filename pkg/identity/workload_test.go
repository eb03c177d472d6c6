package identity_test

import (
	"context"
	"crypto/tls"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/routecast/routecast/pkg/identity"
	"github.com/routecast/routecast/pkg/identity/identitytest"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// rotateLimit bounds the wait for a WorkloadSource to take a pushed SVID.
const rotateLimit = 30 * time.Second

// newWorkloadSource opens a WorkloadSource on the socket of api and closes
// it when t ends.
func newWorkloadSource(t *testing.T, api *identitytest.WorkloadAPI) *identity.WorkloadSource {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	src, err := identity.NewWorkloadSource(ctx, api.Addr())
	if err != nil {
		t.Fatalf("NewWorkloadSource: %v", err)
	}
	t.Cleanup(func() {
		if err := src.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return src
}

// waitFor waits until cond holds, looking again every few milliseconds, and
// fails t if it does not within rotateLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rotateLimit)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// waitSerial waits until src serves the SVID with the serial number want.
func waitSerial(t *testing.T, src identity.Material, want string) {
	t.Helper()
	waitFor(t, "SVID serial "+want, func() bool {
		svid, err := src.GetX509SVID()
		return err == nil && svid.Certificates[0].SerialNumber.Text(16) == want
	})
}

// TestNewWorkloadSource checks what a WorkloadSource serves after it
// started, and that it serves nothing once closed.
func TestNewWorkloadSource(t *testing.T) {
	checkLeaks(t)
	dir := newCA(t, testTD)
	api := identitytest.StartWorkloadAPI(t, dir, agentID)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	src, err := identity.NewWorkloadSource(ctx, api.Addr())
	if err != nil {
		t.Fatalf("NewWorkloadSource: %v", err)
	}

	got := []string{src.ID().String(), src.TrustDomain().String()}
	if diff := cmp.Diff([]string{agentID, testTD}, got); diff != "" {
		t.Errorf("ID and trust domain (-want +got):\n%s", diff)
	}
	checkSerial(t, src, api.Serial())
	b, err := src.GetX509BundleForTrustDomain(spiffeid.RequireTrustDomainFromString(testTD))
	if err != nil {
		t.Fatal(err)
	}
	if !b.HasX509Authority(readCert(t, caFile(dir))) {
		t.Error("bundle does not hold the CA certificate")
	}

	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := src.GetX509SVID(); err == nil {
		t.Error("GetX509SVID after Close succeeded")
	}
	if id := src.ID(); !id.IsZero() {
		t.Errorf("ID after Close = %v, want the zero ID", id)
	}
}

// TestWorkloadSource_server checks a server whose SVID comes from the
// Workload API: a client with files of the same CA is accepted, and once
// the Workload API pushes a new SVID the next handshake presents it.
func TestWorkloadSource_server(t *testing.T) {
	checkLeaks(t)
	dir := newCA(t, testTD)
	api := identitytest.StartWorkloadAPI(t, dir, serverID)
	src := newWorkloadSource(t, api)
	ts := startServer(t, src, identity.ServerOptions{})

	certPath, keyPath := issue(t, dir, identity.IssueOptions{SPIFFEID: agentID})
	cfg, err := identity.ClientTLSConfig(newSource(t, certPath, keyPath, caFile(dir)), serverID)
	if err != nil {
		t.Fatal(err)
	}
	checkServerCert(t, ts, cfg, api.Serial())
	if got, want := ts.nextCall(t).serial, serialOf(t, certPath); got != want {
		t.Errorf("server saw client serial %s, want %s", got, want)
	}

	api.Rotate(t)
	waitSerial(t, src, api.Serial())
	checkServerCert(t, ts, cfg, api.Serial())
	ts.nextCall(t)
}

// checkServerCert connects with cfg and checks the serial of the
// certificate the server presented.
func checkServerCert(t *testing.T, ts *testServer, cfg *tls.Config, wantSerial string) {
	t.Helper()
	state, err := ts.call(t, cfg)
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if got := state.PeerCertificates[0].SerialNumber.Text(16); got != wantSerial {
		t.Errorf("server presented serial %s, want %s", got, wantSerial)
	}
}

// TestWorkloadSource_client checks a client whose SVID comes from the
// Workload API: a server with files of the same CA accepts it, and once the
// Workload API pushes a new SVID the next handshake presents it.
func TestWorkloadSource_client(t *testing.T) {
	checkLeaks(t)
	dir := newCA(t, testTD)
	ts := startServer(t, serverSource(t, dir), identity.ServerOptions{})
	api := identitytest.StartWorkloadAPI(t, dir, agentID)
	src := newWorkloadSource(t, api)
	cfg, err := identity.ClientTLSConfig(src, serverID)
	if err != nil {
		t.Fatal(err)
	}
	checkServerSaw(t, ts, cfg, api.Serial())

	api.Rotate(t)
	want := api.Serial()
	waitSerial(t, src, want)
	checkServerSaw(t, ts, cfg, want)
}

// TestWorkloadSource_trustDomainChanged checks that a WorkloadSource keeps
// its trust domain when the Workload API pushes an SVID of another.
func TestWorkloadSource_trustDomainChanged(t *testing.T) {
	checkLeaks(t)
	dir, otherDir := newCA(t, testTD), newCA(t, otherTD)
	api := identitytest.StartWorkloadAPI(t, dir, agentID)
	src := newWorkloadSource(t, api)

	otherCert, otherKey := issue(t, otherDir, identity.IssueOptions{SPIFFEID: otherID})
	api.Push(t, otherCert, otherKey, caFile(otherDir))
	var err error
	waitFor(t, "the SVID of "+otherTD, func() bool {
		_, err = src.GetX509SVID()
		return err != nil
	})
	checkErr(t, err, identity.ErrTrustDomainChanged, otherTD)
	if got := src.TrustDomain().String(); got != testTD {
		t.Errorf("TrustDomain = %s, want %s", got, testTD)
	}
}

// TestNewWorkloadSource_errors checks that NewWorkloadSource fails, within
// the deadline of its context, with an error that names the socket.
func TestNewWorkloadSource_errors(t *testing.T) {
	checkLeaks(t)
	missing := "unix://" + filepath.Join(t.TempDir(), "missing.sock")
	noIdentity := identitytest.StartEmptyWorkloadAPI(t).Addr()

	tests := []struct {
		name    string
		addr    string
		wantIs  error
		wantMsg []string
	}{
		{name: "empty", addr: "", wantIs: identity.ErrNoWorkloadAddr},
		{
			name: "no_scheme", addr: "/run/spire/agent.sock",
			wantMsg: []string{"/run/spire/agent.sock"},
		},
		{name: "bad_scheme", addr: "http://127.0.0.1:1", wantMsg: []string{"http://127.0.0.1:1"}},
		{
			name: "missing_socket", addr: missing,
			wantIs: context.DeadlineExceeded, wantMsg: []string{missing},
		},
		{
			name: "no_identity", addr: noIdentity,
			wantIs: context.DeadlineExceeded, wantMsg: []string{noIdentity, "no identity issued"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const deadline = 500 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			src, err := identity.NewWorkloadSource(ctx, tt.addr)
			if err == nil {
				src.Close()
				t.Fatal("NewWorkloadSource succeeded")
			}
			if took := time.Since(start); took > deadline+waitLimit {
				t.Errorf("NewWorkloadSource took %s, past the deadline of %s", took, deadline)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.wantIs)
			}
			for _, msg := range tt.wantMsg {
				if !strings.Contains(err.Error(), msg) {
					t.Errorf("err = %v, want it to mention %q", err, msg)
				}
			}
		})
	}
}

// TestWorkloadAPI_securityHeader checks that the fake Workload API, like a
// real one, refuses a client that does not send the security header, so
// that the tests above show that WorkloadSource sends it.
func TestWorkloadAPI_securityHeader(t *testing.T) {
	checkLeaks(t)
	api := identitytest.StartEmptyWorkloadAPI(t)
	conn, err := grpc.NewClient(api.Addr(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	stream, err := workload.NewSpiffeWorkloadAPIClient(conn).FetchX509SVID(ctx,
		&workload.X509SVIDRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("FetchX509SVID without the header: err = %v, want code InvalidArgument", err)
	}
}
