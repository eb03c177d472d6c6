package identity

import "errors"

var (
	// ErrCAExists is returned by InitCA when the directory already holds CA
	// or server files and CAOptions.Force is not set.
	ErrCAExists = errors.New("identity: CA already exists")

	// ErrForeignTrustDomain is returned when a SPIFFE ID is not in the trust
	// domain it must belong to: an ID given to Issue outside the CA's trust
	// domain, a server ID given to ClientTLSConfig outside the source's, or
	// the ID of a client that ServerTLSConfig refuses with RejectTrustDomain.
	ErrForeignTrustDomain = errors.New("identity: SPIFFE ID outside the trust domain")

	// ErrBadName is returned by Issue for a file name that is not a plain
	// base name or that would overwrite one of the CA's own files.
	ErrBadName = errors.New("identity: invalid certificate file name")

	// ErrOutlivesCA is returned when a certificate would still be valid
	// after the CA certificate that signs it expires.
	ErrOutlivesCA = errors.New("identity: certificate would outlive the CA")

	// ErrEmptyBundle is returned when a bundle file holds no certificate.
	ErrEmptyBundle = errors.New("identity: bundle holds no certificate")

	// ErrNoBundle is returned by Source.GetX509BundleForTrustDomain for a
	// trust domain other than the source's own.
	ErrNoBundle = errors.New("identity: no bundle for trust domain")

	// ErrTrustDomainChanged is recorded as the reload error when rewritten
	// files hold an SVID of another trust domain, and returned by
	// WorkloadSource.GetX509SVID when the Workload API pushed one; a source
	// keeps its trust domain for its whole life.
	ErrTrustDomainChanged = errors.New("identity: trust domain changed")

	// ErrNoPeer is returned by PeerID and PeerCertificate when the context
	// carries no gRPC peer.
	ErrNoPeer = errors.New("identity: no gRPC peer in context")

	// ErrNotTLS is returned by PeerID and PeerCertificate when the caller's
	// connection is not secured by TLS.
	ErrNotTLS = errors.New("identity: connection is not TLS")

	// ErrNoPeerID is returned by PeerID and PeerCertificate when the caller
	// presented no certificate, or one without a valid SPIFFE ID.
	ErrNoPeerID = errors.New("identity: caller has no SPIFFE ID")

	// ErrNoWorkloadAddr is returned by NewWorkloadSource when the socket
	// address is empty.
	ErrNoWorkloadAddr = errors.New("identity: workload API socket address is empty")

	// ErrNoClientCert is the error of a handshake that ServerTLSConfig
	// refuses with RejectNoCertificate.
	ErrNoClientCert = errors.New("identity: client presented no certificate")

	// ErrCertLifetime is the error of a handshake that ServerTLSConfig
	// refuses with RejectLifetime.
	ErrCertLifetime = errors.New("identity: certificate lifetime exceeds the maximum")
)
