package identity

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// WorkloadSource takes the SVID and bundle from a SPIFFE Workload API socket,
// e.g. "unix:///run/spire/agent.sock", and follows rotations the Workload API
// pushes.
//
// When the Workload API offers several SVIDs, a WorkloadSource serves the
// first. Like Source, it keeps the trust domain of the SVID it started with:
// should the Workload API later push an SVID of another trust domain,
// GetX509SVID fails with ErrTrustDomainChanged until it pushes one of the
// original trust domain again.
//
// A WorkloadSource is safe for concurrent use.
type WorkloadSource struct {
	// Set once at construction.
	addr string
	x509 *workloadapi.X509Source
	td   spiffeid.TrustDomain
}

// NewWorkloadSource connects to the Workload API at socketAddr and waits
// until it has sent the first X.509-SVID, or until ctx is done. The
// connection stays open, and the source takes each SVID and bundle the
// Workload API pushes later, until Close.
func NewWorkloadSource(ctx context.Context, socketAddr string) (*WorkloadSource, error) {
	if socketAddr == "" {
		return nil, ErrNoWorkloadAddr
	}
	if err := workloadapi.ValidateAddress(socketAddr); err != nil {
		return nil, fmt.Errorf("identity: workload API %s: %w", socketAddr, err)
	}

	log := &watchLog{}
	x, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(
		workloadapi.WithAddr(socketAddr), workloadapi.WithLogger(log)))
	if err != nil {
		return nil, log.explain(socketAddr, err)
	}
	svid, err := x.GetX509SVID()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("identity: workload API %s: %w", socketAddr, err),
			x.Close())
	}
	return &WorkloadSource{addr: socketAddr, x509: x, td: svid.ID.TrustDomain()}, nil
}

// GetX509SVID returns the X.509-SVID the Workload API pushed last. It
// implements x509svid.Source.
func (w *WorkloadSource) GetX509SVID() (*x509svid.SVID, error) {
	svid, err := w.x509.GetX509SVID()
	if err != nil {
		return nil, fmt.Errorf("identity: workload API %s: %w", w.addr, err)
	}
	if td := svid.ID.TrustDomain(); td != w.td {
		return nil, fmt.Errorf("%w: workload API %s now serves an SVID of %q, not %q",
			ErrTrustDomainChanged, w.addr, td, w.td)
	}
	return svid, nil
}

// GetX509BundleForTrustDomain returns the bundle of td that the Workload API
// pushed last: that of the source's own trust domain, or of a federated one.
// It implements x509bundle.Source.
func (w *WorkloadSource) GetX509BundleForTrustDomain(
	td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	b, err := w.x509.GetX509BundleForTrustDomain(td)
	if err != nil {
		return nil, fmt.Errorf("identity: workload API %s: %w", w.addr, err)
	}
	return b, nil
}

// ID returns the SPIFFE ID of the current X.509-SVID, or the zero ID once
// the source is closed.
func (w *WorkloadSource) ID() spiffeid.ID {
	svid, err := w.x509.GetX509SVID()
	if err != nil {
		return spiffeid.ID{}
	}
	return svid.ID
}

// TrustDomain returns the trust domain of the first X.509-SVID the source
// received.
func (w *WorkloadSource) TrustDomain() spiffeid.TrustDomain {
	return w.td
}

// Close drops the connection to the Workload API. Handshakes that ask the
// source for material afterwards fail.
func (w *WorkloadSource) Close() error {
	if err := w.x509.Close(); err != nil {
		return fmt.Errorf("identity: close workload API %s: %w", w.addr, err)
	}
	return nil
}

// watchLog takes the log of a Workload API client and remembers the latest
// error it reported, which tells why no SVID arrived better than the
// context's error does.
type watchLog struct {
	mu   sync.Mutex
	last error // guarded by mu
}

func (l *watchLog) Debugf(string, ...any) {}
func (l *watchLog) Infof(string, ...any)  {}
func (l *watchLog) Warnf(string, ...any)  {}

// Errorf records the last error among args.
func (l *watchLog) Errorf(_ string, args ...any) {
	for _, arg := range args {
		if err, ok := arg.(error); ok {
			l.mu.Lock()
			l.last = err
			l.mu.Unlock()
		}
	}
}

// explain wraps err, why no SVID came from the Workload API at addr, adding
// the latest error the client logged.
func (l *watchLog) explain(addr string, err error) error {
	l.mu.Lock()
	last := l.last
	l.mu.Unlock()
	if last == nil || errors.Is(err, last) {
		return fmt.Errorf("identity: no X.509-SVID from workload API %s: %w", addr, err)
	}
	return fmt.Errorf("identity: no X.509-SVID from workload API %s: %w (last error: %v)",
		addr, err, last)
}
