package identity

import (
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Material is where TLS identity comes from: an X.509-SVID and trust bundles.
//
// The TLS configurations of this package ask a Material for its SVID and
// bundle on every handshake, so a Material that rotates its SVID or bundle
// takes effect for new connections without a restart. TrustDomain must not
// change over the life of a Material; ID may, as the SVID rotates.
//
// *Source, which reads PEM files, and *WorkloadSource, which follows a
// SPIFFE Workload API, implement Material.
type Material interface {
	x509svid.Source
	x509bundle.Source

	// ID returns the SPIFFE ID of the current X.509-SVID.
	ID() spiffeid.ID

	// TrustDomain returns the trust domain of the SVID, whose bundle
	// verifies peers.
	TrustDomain() spiffeid.TrustDomain
}

var (
	_ Material = (*Source)(nil)
	_ Material = (*WorkloadSource)(nil)
)
