package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/routecast/routecast/pkg/atomicfile"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// organization is the subject organization of every certificate minted here.
const organization = "routecast"

// PEM block types of the files written here.
const (
	pemCertificate = "CERTIFICATE"
	pemPrivateKey  = "PRIVATE KEY"
)

// publicKey is what the public keys of the standard library have in common.
type publicKey interface {
	Equal(crypto.PublicKey) bool
}

// authority is a CA certificate with its signing key.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
	td   spiffeid.TrustDomain
}

// keyPair is a minted certificate with its private key.
type keyPair struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// leafSpec says what to put into a leaf certificate.
type leafSpec struct {
	id                  spiffeid.ID
	notBefore, notAfter time.Time
	hosts               []string // DNS names and IP addresses, if any
}

// newAuthority mints a self-signed CA for td, valid between notBefore and
// notAfter. Its URI SAN is the ID of the trust domain, spiffe://<td>.
func newAuthority(td spiffeid.TrustDomain, notBefore, notAfter time.Time) (*authority, error) {
	key, serial, err := newKeyAndSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{organization},
			CommonName:   "routecast development CA",
		},
		URIs:                  []*url.URL{td.ID().URL()},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	cert, err := createCertificate(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return &authority{cert: cert, key: key, td: td}, nil
}

// loadAuthority reads the CA certificate and key that InitCA wrote to dir.
func loadAuthority(dir string) (*authority, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	cert, err := readCertificate(certPath)
	if err != nil {
		return nil, err
	}
	key, err := readPrivateKey(keyPath)
	if err != nil {
		return nil, err
	}
	if pub, ok := key.Public().(publicKey); !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("identity: CA key %s does not match certificate %s",
			keyPath, certPath)
	}
	id, err := x509svid.IDFromCert(cert)
	if err != nil {
		return nil, fmt.Errorf("identity: CA certificate %s: %w", certPath, err)
	}
	return &authority{cert: cert, key: key, td: id.TrustDomain()}, nil
}

// sign mints a leaf X.509-SVID: one URI SAN, digital signature only, usable
// for both TLS client and server authentication.
func (a *authority) sign(spec leafSpec) (*keyPair, error) {
	if spec.notAfter.After(a.cert.NotAfter) {
		return nil, fmt.Errorf("%w: %s expires %s, the CA %s",
			ErrOutlivesCA, spec.id, spec.notAfter.UTC().Format(time.RFC3339),
			a.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	dnsNames, ips, err := splitHosts(spec.hosts)
	if err != nil {
		return nil, err
	}
	key, serial, err := newKeyAndSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{organization}},
		URIs:                  []*url.URL{spec.id.URL()},
		DNSNames:              dnsNames,
		IPAddresses:           ips,
		NotBefore:             spec.notBefore,
		NotAfter:              spec.notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           leafExtKeyUsage,
		BasicConstraintsValid: true,
	}
	cert, err := createCertificate(tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return nil, err
	}
	return &keyPair{cert: cert, key: key}, nil
}

// leafExtKeyUsage lets a leaf certificate authenticate either end of a TLS
// connection.
var leafExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}

// newKey generates an ECDSA P-256 key.
// newKeyAndSerial returns what every new certificate needs: a key and a
// serial number.
func newKeyAndSerial() (*ecdsa.PrivateKey, *big.Int, error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	return key, serial, nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: generate key: %w", err)
	}
	return key, nil
}

// serialLimit bounds serial numbers to 128 bits.
var serialLimit = new(big.Int).Lsh(big.NewInt(1), 128)

// newSerial returns a random, positive serial number of at most 128 bits.
func newSerial() (*big.Int, error) {
	for {
		n, err := rand.Int(rand.Reader, serialLimit)
		if err != nil {
			return nil, fmt.Errorf("identity: generate serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// createCertificate signs tmpl with parent's key and parses the result.
func createCertificate(tmpl, parent *x509.Certificate, pub crypto.PublicKey,
	signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("identity: create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("identity: parse created certificate: %w", err)
	}
	return cert, nil
}

// writeKeyPair writes the key with mode 0600 and then the certificate with
// mode 0644, both as PEM, into dir.
func writeKeyPair(dir, certName, keyName string, cert *x509.Certificate, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("identity: encode key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der})
	if _, err := atomicfile.WriteMode(filepath.Join(dir, keyName), keyPEM, 0o600); err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: cert.Raw})
	_, err = atomicfile.WriteMode(filepath.Join(dir, certName), certPEM, 0o644)
	return err
}

// readCertificate reads the first PEM certificate in path.
func readCertificate(path string) (*x509.Certificate, error) {
	der, err := readPEM(path, pemCertificate)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("identity: certificate %s: %w", path, err)
	}
	return cert, nil
}

// readPrivateKey reads a PKCS#8 PEM private key from path.
func readPrivateKey(path string) (crypto.Signer, error) {
	der, err := readPEM(path, pemPrivateKey)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("identity: key %s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("identity: key %s: %T cannot sign", path, key)
	}
	return signer, nil
}

// readPEM returns the bytes of the first PEM block of the given type in path.
func readPEM(path, blockType string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	for len(data) > 0 {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type == blockType {
			return block.Bytes, nil
		}
	}
	return nil, fmt.Errorf("identity: %s: no %s PEM block", path, blockType)
}
