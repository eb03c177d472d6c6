package identity

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Names of the files InitCA writes into a CA directory.
const (
	CACertFile     = "ca.pem"
	CAKeyFile      = "ca-key.pem"
	ServerCertFile = "server.pem"
	ServerKeyFile  = "server-key.pem"
)

// ServerPath is the SPIFFE ID path of the server certificate that InitCA
// mints: the server is spiffe://<trust-domain>/routecastd.
const ServerPath = "/routecastd"

// Defaults for CAOptions and IssueOptions.
const (
	DefaultCATTL     = 30 * 24 * time.Hour
	DefaultServerTTL = 7 * 24 * time.Hour
	DefaultIssueTTL  = 24 * time.Hour
)

// backdate is how long before now a certificate becomes valid by default, so
// that a peer whose clock runs a little behind still accepts it.
const backdate = time.Minute

// defaultServerHosts are the names the server certificate covers when
// CAOptions.ServerHosts is empty.
var defaultServerHosts = []string{"localhost", "127.0.0.1", "::1"}

// CAOptions configures InitCA. Only TrustDomain is required.
type CAOptions struct {
	// TrustDomain is the SPIFFE trust domain of the CA, such as
	// "routecast.test".
	TrustDomain string

	// CATTL is how long the CA certificate is valid. Zero means
	// DefaultCATTL.
	CATTL time.Duration

	// ServerTTL is how long the server certificate is valid. Zero means
	// DefaultServerTTL.
	ServerTTL time.Duration

	// ServerHosts are the DNS names and IP addresses that the server
	// certificate covers besides its SPIFFE ID, so that tools which verify
	// by host name (grpcurl -cacert) accept it. Empty means localhost,
	// 127.0.0.1 and ::1.
	ServerHosts []string

	// Force replaces a CA that already exists in the directory.
	Force bool
}

// InitCA creates a development CA in dir: the CA certificate and key
// (CACertFile, CAKeyFile) and a server certificate and key signed by it
// (ServerCertFile, ServerKeyFile). The server certificate carries the URI SAN
// spiffe://<trust-domain>/routecastd plus DNS and IP SANs for
// CAOptions.ServerHosts.
//
// The directory is created with mode 0700 if it is missing; keys are written
// with mode 0600 and certificates with 0644. InitCA returns ErrCAExists when
// any of the four files exists, unless opts.Force is set.
func InitCA(dir string, opts CAOptions) error {
	td, err := opts.resolve()
	if err != nil {
		return err
	}
	if err := prepareCADir(dir, opts.Force); err != nil {
		return err
	}

	now := time.Now()
	ca, err := newAuthority(td, now.Add(-backdate), now.Add(opts.CATTL))
	if err != nil {
		return err
	}
	server, err := ca.sign(leafSpec{
		id:        spiffeid.RequireFromPath(td, ServerPath),
		notBefore: now.Add(-backdate),
		notAfter:  now.Add(opts.ServerTTL),
		hosts:     opts.ServerHosts,
	})
	if err != nil {
		return err
	}

	if err := writeKeyPair(dir, CACertFile, CAKeyFile, ca.cert, ca.key); err != nil {
		return err
	}
	return writeKeyPair(dir, ServerCertFile, ServerKeyFile, server.cert, server.key)
}

// resolve checks the options, fills in the defaults and returns the parsed
// trust domain.
func (o *CAOptions) resolve() (td spiffeid.TrustDomain, err error) {
	if o.TrustDomain == "" {
		return td, errors.New("identity: trust domain is required")
	}
	td, err = spiffeid.TrustDomainFromString(o.TrustDomain)
	if err != nil {
		return td, fmt.Errorf("identity: trust domain %q: %w", o.TrustDomain, err)
	}
	if o.CATTL < 0 || o.ServerTTL < 0 {
		return td, errors.New("identity: certificate lifetimes must not be negative")
	}
	if o.CATTL == 0 {
		o.CATTL = DefaultCATTL
	}
	if o.ServerTTL == 0 {
		o.ServerTTL = DefaultServerTTL
	}
	if len(o.ServerHosts) == 0 {
		o.ServerHosts = defaultServerHosts
	}
	return td, nil
}

// prepareCADir creates dir if needed and, unless force is set, makes sure
// that no CA file is in the way.
func prepareCADir(dir string, force bool) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("identity: create CA directory: %w", err)
	}
	if force {
		return nil
	}
	for _, name := range []string{CACertFile, CAKeyFile, ServerCertFile, ServerKeyFile} {
		path := filepath.Join(dir, name)
		_, err := os.Lstat(path)
		switch {
		case err == nil:
			return fmt.Errorf("%w: %s", ErrCAExists, path)
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("identity: %w", err)
		}
	}
	return nil
}

// IssueOptions configures Issue. Only SPIFFEID is required.
type IssueOptions struct {
	// SPIFFEID is the identity the certificate carries, such as
	// "spiffe://routecast.test/agent/host-1". It must have a path and be in
	// the trust domain of the CA.
	SPIFFEID string

	// TTL is how long the certificate is valid. Zero means
	// DefaultIssueTTL.
	TTL time.Duration

	// Name is the base name of the files written: <Name>.pem and
	// <Name>-key.pem. Empty means a name derived from the ID's path, such as
	// "agent-host-1" for spiffe://routecast.test/agent/host-1.
	Name string

	// NotBefore is when the certificate becomes valid, and it then expires
	// TTL later. Zero means one minute ago, and expiry TTL from now. Tests
	// set it to mint certificates that are expired or not yet valid.
	NotBefore time.Time
}

// Issue mints an X.509-SVID signed by the CA in dir and writes it to
// <dir>/<name>.pem with its key in <dir>/<name>-key.pem, replacing earlier
// files of that name. It returns the paths of both files.
func Issue(dir string, opts IssueOptions) (certPath, keyPath string, err error) {
	spec, name, err := opts.resolve()
	if err != nil {
		return "", "", err
	}
	ca, err := loadAuthority(dir)
	if err != nil {
		return "", "", err
	}
	if !spec.id.MemberOf(ca.td) {
		return "", "", fmt.Errorf("%w: %s is not in the CA's trust domain %s",
			ErrForeignTrustDomain, spec.id, ca.td)
	}

	leaf, err := ca.sign(spec)
	if err != nil {
		return "", "", err
	}
	certName, keyName := name+".pem", name+"-key.pem"
	if err := writeKeyPair(dir, certName, keyName, leaf.cert, leaf.key); err != nil {
		return "", "", err
	}
	return filepath.Join(dir, certName), filepath.Join(dir, keyName), nil
}

// resolve checks the options and turns them into what to sign and the base
// name of the files.
func (o IssueOptions) resolve() (leafSpec, string, error) {
	id, err := spiffeid.FromString(o.SPIFFEID)
	if err != nil {
		return leafSpec{}, "", fmt.Errorf("identity: SPIFFE ID %q: %w", o.SPIFFEID, err)
	}
	if id.Path() == "" {
		return leafSpec{}, "", fmt.Errorf("identity: SPIFFE ID %q has no path", o.SPIFFEID)
	}
	if o.TTL < 0 {
		return leafSpec{}, "", errors.New("identity: certificate lifetime must not be negative")
	}
	ttl := o.TTL
	if ttl == 0 {
		ttl = DefaultIssueTTL
	}

	spec := leafSpec{id: id, notBefore: o.NotBefore, notAfter: o.NotBefore.Add(ttl)}
	if o.NotBefore.IsZero() {
		now := time.Now()
		spec.notBefore, spec.notAfter = now.Add(-backdate), now.Add(ttl)
	}

	name := o.Name
	if name == "" {
		name = strings.ReplaceAll(strings.TrimPrefix(id.Path(), "/"), "/", "-")
	}
	if err := checkName(name); err != nil {
		return leafSpec{}, "", err
	}
	return spec, name, nil
}

// checkName makes sure that name is a plain file base name and that the
// files Issue derives from it do not replace the CA's own.
func checkName(name string) error {
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			i > 0 && (c == '.' || c == '-' || c == '_')
		if !ok {
			return fmt.Errorf("%w: %q (use letters, digits, '.', '-' and '_')", ErrBadName, name)
		}
	}
	if name == "" {
		return fmt.Errorf("%w: empty", ErrBadName)
	}
	for _, file := range []string{name + ".pem", name + "-key.pem"} {
		switch file {
		case CACertFile, CAKeyFile, ServerCertFile, ServerKeyFile:
			return fmt.Errorf("%w: %q would replace %s", ErrBadName, name, file)
		}
	}
	return nil
}

// splitHosts sorts host names into DNS names and IP addresses.
func splitHosts(hosts []string) (dnsNames []string, ips []net.IP, err error) {
	for _, h := range hosts {
		switch ip := net.ParseIP(h); {
		case ip != nil:
			ips = append(ips, ip)
		case h == "":
			return nil, nil, errors.New("identity: empty server host name")
		default:
			dnsNames = append(dnsNames, h)
		}
	}
	return dnsNames, ips, nil
}
