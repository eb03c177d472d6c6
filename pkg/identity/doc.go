// Package identity answers the question "who is calling" for routecast.
//
// Every agent, operator and server carries an X.509-SVID: a certificate with
// one URI SAN of the form spiffe://<trust-domain>/<path>. This package builds
// TLS configurations that present and verify such certificates, reads the
// SPIFFE ID of the caller of a gRPC method, and contains a small development
// CA for demos and tests.
//
// The certificate and trust bundle come from a Material: either PEM files
// that may be rewritten at any time (Source) or a SPIFFE Workload API, such
// as a SPIRE agent's socket (WorkloadSource).
//
// What an identity may do is not decided here; that is package policy.
package identity
