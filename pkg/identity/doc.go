// Package identity answers the question "who is calling" for routecast.
//
// Every agent, operator and server carries an X.509-SVID: a certificate with
// one URI SAN of the form spiffe://<trust-domain>/<path>. This package builds
// TLS configurations that present and verify such certificates, reads the
// SPIFFE ID of the caller of a gRPC method, serves certificates and trust
// bundles from PEM files that may be rewritten at any time, and contains a
// small development CA for demos and tests.
//
// What an identity may do is not decided here; that is package policy.
package identity
