package identity

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// ServerOptions adds checks to the client verification of ServerTLSConfig
// and reports refused handshakes. The zero value adds nothing.
type ServerOptions struct {
	// MaxCertLifetime, when non-zero, refuses client certificates whose
	// NotAfter-NotBefore exceeds it.
	MaxCertLifetime time.Duration

	// CheckPeer, when set, is called with the verified leaf and its SPIFFE
	// ID during the handshake; an error refuses the handshake (used for
	// revocation). It runs after every other check, on every handshake, and
	// must be safe for concurrent use.
	CheckPeer func(cert *x509.Certificate, id spiffeid.ID) error

	// OnReject, when set, is called once per refused client handshake,
	// before the handshake fails. It runs on the handshake's goroutine, so
	// it should return quickly, and must be safe for concurrent use.
	OnReject func(Rejection)
}

// Rejection describes a client handshake that ServerTLSConfig refused.
type Rejection struct {
	// Reason classifies the refusal.
	Reason RejectReason

	// Err is why, in words; the handshake fails with it.
	Err error

	// Remote is the client's network address, or "" if it is unknown.
	Remote string
}

// RejectReason says why ServerTLSConfig refused a client. Its values are
// short snake_case words, fit for a metric label.
//
// The checks run in this order, and a refusal names the first that failed:
// a certificate at all; exactly one URI SAN holding a SPIFFE ID; the server's
// trust domain; the SPIFFE rules and a chain to the server's bundle that is
// valid now; the lifetime; CheckPeer. A certificate that is both expired and
// signed by an unknown CA is therefore reported as expired, as the standard
// library checks the leaf's validity first.
type RejectReason string

// The reasons for refusing a client.
const (
	// RejectExpired: a certificate of the chain is past its NotAfter.
	RejectExpired RejectReason = "expired"

	// RejectNotYetValid: a certificate of the chain is before its
	// NotBefore.
	RejectNotYetValid RejectReason = "not_yet_valid"

	// RejectUnknownCA: the chain does not lead to an authority in the
	// bundle of the server's trust domain.
	RejectUnknownCA RejectReason = "unknown_ca"

	// RejectTrustDomain: the SPIFFE ID is of another trust domain.
	RejectTrustDomain RejectReason = "trust_domain"

	// RejectNoURISAN: the leaf has no URI SAN.
	RejectNoURISAN RejectReason = "no_uri_san"

	// RejectManyURISANs: the leaf has more than one URI SAN.
	RejectManyURISANs RejectReason = "many_uri_sans"

	// RejectLifetime: the leaf is valid for longer than
	// ServerOptions.MaxCertLifetime.
	RejectLifetime RejectReason = "lifetime"

	// RejectPeerCheck: ServerOptions.CheckPeer returned an error.
	RejectPeerCheck RejectReason = "peer_check"

	// RejectNoCertificate: the client presented no certificate.
	RejectNoCertificate RejectReason = "no_certificate"

	// RejectOther: any other failure, such as a URI SAN that is no SPIFFE
	// ID, a leaf that is a CA, or a bundle the server cannot get.
	RejectOther RejectReason = "other"
)

// clientCheck verifies the client certificates of one server configuration.
type clientCheck struct {
	// Set once at construction.
	src     Material
	td      spiffeid.TrustDomain
	opts    ServerOptions
	getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)
}

func newClientCheck(src Material, opts ServerOptions) *clientCheck {
	return &clientCheck{
		src:     src,
		td:      src.TrustDomain(),
		opts:    opts,
		getCert: tlsconfig.GetCertificate(src),
	}
}

// config returns the TLS configuration of a handshake with the client at
// remote. It asks for a client certificate without requiring one, so that
// verifyConnection sees, and can report, a client that sends none.
func (c *clientCheck) config(remote string) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		NextProtos:     []string{alpnH2},
		GetCertificate: c.getCert,
		ClientAuth:     tls.RequestClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return c.verifyConnection(cs, remote)
		},
	}
}

// verifyConnection checks the client of a handshake and reports a refusal.
func (c *clientCheck) verifyConnection(cs tls.ConnectionState, remote string) error {
	reason, err := c.check(cs.PeerCertificates, time.Now())
	if err == nil {
		return nil
	}
	if c.opts.OnReject != nil {
		c.opts.OnReject(Rejection{Reason: reason, Err: err, Remote: remote})
	}
	return err
}

// check verifies the chain a client presented at now. On failure it returns
// why, and the error to fail the handshake with.
func (c *clientCheck) check(certs []*x509.Certificate, now time.Time) (RejectReason, error) {
	if len(certs) == 0 {
		return RejectNoCertificate, ErrNoClientCert
	}
	leaf := certs[0]
	id, reason, err := c.checkID(leaf)
	if err != nil {
		return reason, err
	}
	if reason, err := c.checkChain(certs, id, now); err != nil {
		return reason, err
	}

	lifetime := leaf.NotAfter.Sub(leaf.NotBefore)
	if limit := c.opts.MaxCertLifetime; limit > 0 && lifetime > limit {
		return RejectLifetime, fmt.Errorf("%w: client %s is valid for %s, at most %s allowed",
			ErrCertLifetime, id, lifetime, limit)
	}
	if c.opts.CheckPeer != nil {
		if err := c.opts.CheckPeer(leaf, id); err != nil {
			return RejectPeerCheck, fmt.Errorf("identity: client %s refused: %w", id, err)
		}
	}
	return "", nil
}

// checkID reads the SPIFFE ID of leaf and makes sure it is in the server's
// trust domain.
func (c *clientCheck) checkID(leaf *x509.Certificate) (spiffeid.ID, RejectReason, error) {
	id, err := x509svid.IDFromCert(leaf)
	if err != nil {
		reason := RejectOther
		switch {
		case len(leaf.URIs) == 0:
			reason = RejectNoURISAN
		case len(leaf.URIs) > 1:
			reason = RejectManyURISANs
		}
		return id, reason, fmt.Errorf("identity: client certificate: %w", err)
	}
	if !id.MemberOf(c.td) {
		return id, RejectTrustDomain, fmt.Errorf("%w: client %s is not in %s",
			ErrForeignTrustDomain, id, c.td)
	}
	return id, "", nil
}

// checkChain verifies certs at now against the bundle of the server's trust
// domain, by the SPIFFE rules for X.509-SVIDs.
func (c *clientCheck) checkChain(certs []*x509.Certificate, id spiffeid.ID,
	now time.Time) (RejectReason, error) {
	bundle, err := c.src.GetX509BundleForTrustDomain(c.td)
	if err != nil {
		return RejectOther, fmt.Errorf("identity: verify client %s: %w", id, err)
	}
	// The bundle alone is the bundle source, so no federated trust domain
	// can vouch for a client.
	_, _, err = x509svid.Verify(certs, bundle, x509svid.WithTime(now))
	if err != nil {
		return chainReason(err, now), fmt.Errorf("identity: verify client %s: %w", id, err)
	}
	return "", nil
}

// chainReason classifies an error of x509svid.Verify at now.
func chainReason(err error, now time.Time) RejectReason {
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
		if invalid.Cert != nil && now.Before(invalid.Cert.NotBefore) {
			return RejectNotYetValid
		}
		return RejectExpired
	}
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return RejectUnknownCA
	}
	return RejectOther
}
