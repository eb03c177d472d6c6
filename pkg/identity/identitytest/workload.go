// Package identitytest provides a fake SPIFFE Workload API for tests of
// code that takes its identity from one, such as identity.WorkloadSource.
//
// The fake listens on a unix socket in a temporary directory, serves
// FetchX509SVID only, and, like a SPIRE agent, refuses requests that lack
// the security header. It hands out SVIDs minted by the development CA of
// package identity, and pushes a new one to every open stream on Rotate.
package identitytest

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/routecast/routecast/pkg/identity"
)

// securityHeader is the metadata key that every Workload API request must
// carry with the value "true".
const securityHeader = "workload.spiffe.io"

// socketName is the file name of the fake's socket in its directory.
const socketName = "workload.sock"

// minted numbers the SVIDs that Rotate mints in this process, so that the
// files of two of them never share a name in a CA directory.
var minted atomic.Uint64

// WorkloadAPI is a fake SPIFFE Workload API server. It streams the current
// X.509-SVID to every FetchX509SVID caller and sends it again each time it
// changes. It is safe for concurrent use.
type WorkloadAPI struct {
	workload.UnimplementedSpiffeWorkloadAPIServer

	// Set once at construction.
	addr     string // unix:///...
	certDir  string // CA directory that Rotate mints from; empty for none
	spiffeID string // ID that Rotate mints

	mu      sync.Mutex
	resp    *workload.X509SVIDResponse // guarded by mu; nil until an SVID is set
	serial  string                     // guarded by mu; leaf serial of resp
	changed chan struct{}              // guarded by mu; closed when resp changes
}

// StartWorkloadAPI starts a fake that serves an X.509-SVID for spiffeID,
// minted by the development CA in certDir (see identity.InitCA), with the
// CA certificates of certDir as the bundle. It stops when t ends.
func StartWorkloadAPI(t testing.TB, certDir, spiffeID string) *WorkloadAPI {
	t.Helper()
	w := start(t, certDir, spiffeID)
	w.Rotate(t)
	return w
}

// StartEmptyWorkloadAPI starts a fake that has no SVID to hand out: it
// answers PermissionDenied, as a real agent does for a workload it does not
// know, until Push gives it one. Rotate fails on it. It stops when t ends.
func StartEmptyWorkloadAPI(t testing.TB) *WorkloadAPI {
	t.Helper()
	return start(t, "", "")
}

// start listens on a new socket and serves until t ends.
func start(t testing.TB, certDir, spiffeID string) *WorkloadAPI {
	t.Helper()
	path := filepath.Join(t.TempDir(), socketName)
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("identitytest: listen: %v", err)
	}
	w := &WorkloadAPI{
		addr:     "unix://" + path,
		certDir:  certDir,
		spiffeID: spiffeID,
		changed:  make(chan struct{}),
	}
	srv := grpc.NewServer()
	workload.RegisterSpiffeWorkloadAPIServer(srv, w)

	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return w
}

// Addr returns the address of the fake, "unix://" and the socket's path,
// as identity.NewWorkloadSource and identity.Config.Socket take it.
func (w *WorkloadAPI) Addr() string {
	return w.addr
}

// Serial returns the serial number of the leaf certificate the fake serves,
// in lower-case hexadecimal as big.Int.Text(16) writes it, or "" while it
// serves none.
func (w *WorkloadAPI) Serial() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.serial
}

// Rotate mints a new X.509-SVID for the fake's SPIFFE ID from its CA and
// pushes it, with the CA certificates as the bundle, on every stream, open
// or new. The files of the SVID are left in the CA directory.
func (w *WorkloadAPI) Rotate(t testing.TB) {
	t.Helper()
	if w.certDir == "" {
		t.Fatal("identitytest: Rotate on a Workload API started without a CA")
	}
	name := fmt.Sprintf("workload-svid-%d", minted.Add(1))
	certFile, keyFile, err := identity.Issue(w.certDir,
		identity.IssueOptions{SPIFFEID: w.spiffeID, Name: name})
	if err != nil {
		t.Fatalf("identitytest: mint SVID for %s: %v", w.spiffeID, err)
	}
	w.Push(t, certFile, keyFile, filepath.Join(w.certDir, identity.CACertFile))
}

// Push makes the fake serve the X.509-SVID in certFile and keyFile (PEM),
// with the CA certificates in bundleFile as the bundle of the SVID's trust
// domain, on every stream, open or new.
func (w *WorkloadAPI) Push(t testing.TB, certFile, keyFile, bundleFile string) {
	t.Helper()
	svid, err := x509svid.Load(certFile, keyFile)
	if err != nil {
		t.Fatalf("identitytest: %v", err)
	}
	chain, key, err := svid.MarshalRaw()
	if err != nil {
		t.Fatalf("identitytest: %v", err)
	}
	bundle, err := x509bundle.Load(svid.ID.TrustDomain(), bundleFile)
	if err != nil {
		t.Fatalf("identitytest: %v", err)
	}
	var bundleDER []byte
	for _, ca := range bundle.X509Authorities() {
		bundleDER = append(bundleDER, ca.Raw...)
	}
	resp := &workload.X509SVIDResponse{Svids: []*workload.X509SVID{{
		SpiffeId:    svid.ID.String(),
		X509Svid:    chain,
		X509SvidKey: key,
		Bundle:      bundleDER,
	}}}
	w.set(resp, svid.Certificates[0].SerialNumber.Text(16))
}

// set replaces the response and wakes every stream.
func (w *WorkloadAPI) set(resp *workload.X509SVIDResponse, serial string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.resp, w.serial = resp, serial
	close(w.changed)
	w.changed = make(chan struct{})
}

// current returns the response to send and a channel closed when it
// changes.
func (w *WorkloadAPI) current() (*workload.X509SVIDResponse, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.resp, w.changed
}

// FetchX509SVID sends the current SVID, and again each time it changes. It
// refuses a request without the security header, and answers
// PermissionDenied while it has no SVID to hand out.
func (w *WorkloadAPI) FetchX509SVID(_ *workload.X509SVIDRequest,
	stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	ctx := stream.Context()
	if err := checkSecurityHeader(ctx); err != nil {
		return err
	}
	for {
		resp, changed := w.current()
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
