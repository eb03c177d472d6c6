package identity_test

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// securityHeader is the metadata key that every Workload API request must
// carry with the value "true".
const securityHeader = "workload.spiffe.io"

// fakeAgent is a Workload API server on a unix socket in a temporary
// directory. It streams the X.509-SVID given to push; FetchX509SVID is its
// only method.
type fakeAgent struct {
	workload.UnimplementedSpiffeWorkloadAPIServer

	// Set once at construction.
	addr string // unix:///...

	mu      sync.Mutex
	resp    *workload.X509SVIDResponse // guarded by mu; nil until push
	changed chan struct{}              // guarded by mu; closed when resp changes
}

// startAgent starts a fake agent with no SVID to hand out yet. It stops
// when t ends.
func startAgent(t *testing.T) *fakeAgent {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.sock")
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	a := &fakeAgent{addr: "unix://" + path, changed: make(chan struct{})}
	srv := grpc.NewServer()
	workload.RegisterSpiffeWorkloadAPIServer(srv, a)

	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return a
}

// push makes the agent send the SVID in certPath and keyPath, with the CA
// certificate in bundlePath as the bundle of its trust domain, on every
// stream, open or new.
func (a *fakeAgent) push(t *testing.T, certPath, keyPath, bundlePath string) {
	t.Helper()
	svid, err := x509svid.Load(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	chain, key, err := svid.MarshalRaw()
	if err != nil {
		t.Fatal(err)
	}
	resp := &workload.X509SVIDResponse{Svids: []*workload.X509SVID{{
		SpiffeId:    svid.ID.String(),
		X509Svid:    chain,
		X509SvidKey: key,
		Bundle:      readCert(t, bundlePath).Raw,
	}}}

	a.mu.Lock()
	defer a.mu.Unlock()
	a.resp = resp
	close(a.changed)
	a.changed = make(chan struct{})
}

// current returns the response to send and a channel closed when it changes.
func (a *fakeAgent) current() (*workload.X509SVIDResponse, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.resp, a.changed
}

// FetchX509SVID sends the current SVID, and again each time it changes. Like
// a real agent, it refuses requests without the security header, and
// answers PermissionDenied while it has no SVID for the caller.
func (a *fakeAgent) FetchX509SVID(_ *workload.X509SVIDRequest,
	stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	ctx := stream.Context()
	if err := checkSecurityHeader(ctx); err != nil {
		return err
	}
	for {
		resp, changed := a.current()
		if resp == nil {
			return status.Error(codes.PermissionDenied, "no identity issued")
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

// checkSecurityHeader refuses a request that does not carry the security
// header with the value "true".
func checkSecurityHeader(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(securityHeader); len(v) != 1 || v[0] != "true" {
		return status.Error(codes.InvalidArgument, "security header missing from request")
	}
	return nil
}
