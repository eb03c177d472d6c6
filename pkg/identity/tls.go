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
// trust domain that verifies against the bundle of src for that trust
// domain. Both are read from src on every handshake, so rotated material
// takes effect for new connections. opts adds checks and reports each
// refused handshake; see ServerOptions.
//
// The checks run on every handshake, resumed ones included, so a client
// that CheckPeer starts to refuse cannot come back on an earlier session.
func ServerTLSConfig(src Material, opts ServerOptions) *tls.Config {
	c := newClientCheck(src, opts)
	cfg := c.config("")
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		return c.config(remoteAddr(hello)), nil
	}
	return cfg
}

// remoteAddr returns the address of the client that sent hello, or "".
func remoteAddr(hello *tls.ClientHelloInfo) string {
	if hello.Conn == nil || hello.Conn.RemoteAddr() == nil {
		return ""
	}
	return hello.Conn.RemoteAddr().String()
}

// ClientTLSConfig returns a TLS 1.3 client configuration that presents the
// SVID of src and accepts a server whose X.509-SVID verifies against the
// bundles of src. An empty serverID accepts any member of the trust domain of
// src; otherwise the server must be exactly that SPIFFE ID, which must be in
// the same trust domain. Host names are not checked: the SPIFFE ID is the
// server's identity.
func ClientTLSConfig(src Material, serverID string) (*tls.Config, error) {
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
