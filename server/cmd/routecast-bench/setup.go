package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"

	"github.com/routecast/routecast/pkg/identity"
)

// Identities of the benchmark's development CA.
const (
	trustDomain = "routecast.bench"
	operatorID  = "spiffe://" + trustDomain + "/operator/admin"
	agentID     = "spiffe://" + trustDomain + "/agent/bench/host"
	serverID    = "spiffe://" + trustDomain + identity.ServerPath
)

// Scopes the benchmark writes: agents stream loadScope; the write-rate
// tests use applyScope, which no stream reads.
const (
	loadScope  = "bench/load"
	applyScope = "bench/apply"
)

// benchPolicy makes the operator an admin and lets the agents read the
// streamed scope.
const benchPolicy = `rules:
  - id: ` + operatorID + `
    admin: true
  - id_prefix: spiffe://` + trustDomain + `/agent/bench
    read: [` + loadScope + `]
`

// identities holds the files of the development CA and the client TLS
// configurations minted from them.
type identities struct {
	// CA, ServerCert and ServerKey are PEM files that both servers use.
	CA, ServerCert, ServerKey string
	// Policy is the routecastd policy file.
	Policy string
	// Operator and Agent present the operator's and the agents' SVIDs and
	// accept only the server's.
	Operator, Agent *tls.Config
}

// mintIdentities creates a CA, a server certificate, an operator and an
// agent certificate and the policy in dir.
func mintIdentities(dir string) (*identities, error) {
	certs := filepath.Join(dir, "certs")
	if err := identity.InitCA(certs, identity.CAOptions{TrustDomain: trustDomain}); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	ids := &identities{
		CA:         filepath.Join(certs, identity.CACertFile),
		ServerCert: filepath.Join(certs, identity.ServerCertFile),
		ServerKey:  filepath.Join(certs, identity.ServerKeyFile),
		Policy:     filepath.Join(dir, "policy.yaml"),
	}
	if err := os.WriteFile(ids.Policy, []byte(benchPolicy), 0o600); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	var err error
	if ids.Operator, err = clientTLS(certs, operatorID, ids.CA); err != nil {
		return nil, err
	}
	if ids.Agent, err = clientTLS(certs, agentID, ids.CA); err != nil {
		return nil, err
	}
	return ids, nil
}

// clientTLS issues a certificate for id and returns a client configuration
// that presents it.
func clientTLS(certDir, id, caFile string) (*tls.Config, error) {
	cert, key, err := identity.Issue(certDir, identity.IssueOptions{SPIFFEID: id})
	if err != nil {
		return nil, fmt.Errorf("setup: issue %s: %w", id, err)
	}
	src, err := identity.NewFileSource(cert, key, caFile)
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	conf, err := identity.ClientTLSConfig(src, serverID)
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	return conf, nil
}
