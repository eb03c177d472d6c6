package identity_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/url"
	"testing"

	"github.com/routecast/routecast/pkg/identity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// TestPeerID checks PeerID and PeerCertificate on calls without a usable
// identity, and on one with.
func TestPeerID(t *testing.T) {
	withCerts := func(certs ...*x509.Certificate) context.Context {
		info := credentials.TLSInfo{State: tls.ConnectionState{PeerCertificates: certs}}
		return peer.NewContext(context.Background(), &peer.Peer{AuthInfo: info})
	}
	good := &x509.Certificate{URIs: []*url.URL{
		{Scheme: "spiffe", Host: "routecast.test", Path: "/agent/host-1"},
	}}
	noURI := &x509.Certificate{}

	tests := []struct {
		name        string
		ctx         context.Context
		wantID      string
		wantErr     error
		wantCertErr error
	}{
		{
			name:        "no_peer",
			ctx:         context.Background(),
			wantErr:     identity.ErrNoPeer,
			wantCertErr: identity.ErrNoPeer,
		},
		{
			name:        "insecure",
			ctx:         peer.NewContext(context.Background(), &peer.Peer{}),
			wantErr:     identity.ErrNotTLS,
			wantCertErr: identity.ErrNotTLS,
		},
		{
			name:        "no_certificate",
			ctx:         withCerts(),
			wantErr:     identity.ErrNoPeerID,
			wantCertErr: identity.ErrNoPeerID,
		},
		{name: "no_uri_san", ctx: withCerts(noURI), wantErr: identity.ErrNoPeerID},
		{name: "svid", ctx: withCerts(good), wantID: agentID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := identity.PeerID(tt.ctx)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("PeerID: err = %v, want %v", err, tt.wantErr)
			}
			if got := id.String(); got != tt.wantID {
				t.Errorf("PeerID = %q, want %q", got, tt.wantID)
			}
			_, err = identity.PeerCertificate(tt.ctx)
			if !errors.Is(err, tt.wantCertErr) || (tt.wantCertErr == nil && err != nil) {
				t.Errorf("PeerCertificate: err = %v, want %v", err, tt.wantCertErr)
			}
		})
	}
}
