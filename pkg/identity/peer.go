package identity

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// PeerID returns the SPIFFE ID of the client certificate of the gRPC call in
// ctx. The certificate is trusted only as far as the server's TLS
// configuration verified it; with ServerTLSConfig, every connection that
// completed its handshake presented a verified X.509-SVID.
//
// It returns an error wrapping ErrNoPeer, ErrNotTLS or ErrNoPeerID when the
// call has no such identity.
func PeerID(ctx context.Context) (spiffeid.ID, error) {
	leaf, err := PeerCertificate(ctx)
	if err != nil {
		return spiffeid.ID{}, err
	}
	id, err := x509svid.IDFromCert(leaf)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("%w: %w", ErrNoPeerID, err)
	}
	return id, nil
}

// PeerCertificate returns the leaf certificate that the caller of the gRPC
// call in ctx presented, for showing its serial number and expiry. It fails
// like PeerID, except that it does not look for a SPIFFE ID in the
// certificate.
func PeerCertificate(ctx context.Context) (*x509.Certificate, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, ErrNoPeer
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return nil, fmt.Errorf("%w: auth info is %T", ErrNotTLS, p.AuthInfo)
	}
	// ServerTLSConfig verifies the client in VerifyConnection, so the
	// standard library leaves VerifiedChains empty; the leaf is the first
	// peer certificate.
	if len(info.State.PeerCertificates) == 0 {
		return nil, fmt.Errorf("%w: no client certificate", ErrNoPeerID)
	}
	return info.State.PeerCertificates[0], nil
}
