package identity

import (
	"crypto/tls"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
)

// alpnH2 is the ALPN protocol of HTTP/2, which gRPC requires.
const alpnH2 = "h2"

// ServerTLSConfig returns a TLS 1.3 server configuration that presents the
// SVID of src and requires every client to present an X.509-SVID of the same
// trust domain that verifies against the bundle of src. Both are read from
// src on every handshake, so rewritten files take effect for new connections.
func ServerTLSConfig(src *Source) *tls.Config {
	cfg := tlsconfig.MTLSServerConfig(src, src, tlsconfig.AuthorizeMemberOf(src.TrustDomain()))
	cfg.MinVersion = tls.VersionTLS13
	cfg.NextProtos = []string{alpnH2}
	return cfg
}

// ClientTLSConfig returns a TLS 1.3 client configuration that presents the
// SVID of src and accepts a server whose X.509-SVID verifies against the
// bundle of src. An empty serverID accepts any member of the trust domain of
// src; otherwise the server must be exactly that SPIFFE ID, which must be in
// the same trust domain. Host names are not checked: the SPIFFE ID is the
// server's identity.
func ClientTLSConfig(src *Source, serverID string) (*tls.Config, error) {
	authorize := tlsconfig.AuthorizeMemberOf(src.TrustDomain())
	if serverID != "" {
		id, err := spiffeid.FromString(serverID)
		if err != nil {
			return nil, fmt.Errorf("identity: server ID %q: %w", serverID, err)
		}
		if !id.MemberOf(src.TrustDomain()) {
			return nil, fmt.Errorf("%w: server ID %s is not in %s",
				ErrForeignTrustDomain, id, src.TrustDomain())
		}
		authorize = tlsconfig.AuthorizeID(id)
	}

	cfg := tlsconfig.MTLSClientConfig(src, src, authorize)
	cfg.MinVersion = tls.VersionTLS13
	cfg.NextProtos = []string{alpnH2}
	return cfg, nil
}
