package identity

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// checkInterval is the least time between two looks at a Source's files.
// Zero: every handshake looks (three stat calls, far cheaper than the
// handshake), so a rotated certificate is used on the very next dial.
const checkInterval = 0

// Source serves an X.509-SVID and the trust bundle of its trust domain from
// PEM files. It implements x509svid.Source and x509bundle.Source, so the TLS
// configurations built on it read the material on every handshake.
//
// On every handshake a Source compares the modification
// time and size of its files with those it last loaded and reads them again
// when they differ. If the new files do not load, it keeps serving the old
// material and reports the failure through LastReloadError; it tries again on
// a later handshake. A Source keeps the trust domain it started with.
//
// A Source is safe for concurrent use.
type Source struct {
	// Set once at construction.
	files [3]string // certificate, key, bundle
	td    spiffeid.TrustDomain
	now   func() time.Time
	// interval is checkInterval, but for tests of the throttle.
	interval time.Duration

	// Atomics. lastCheck is the time of the latest look at the files, in
	// Unix nanoseconds.
	cur       atomic.Pointer[material]
	lastCheck atomic.Int64

	// reloadMu serializes looks at the files and is held across their I/O.
	// Callers that only read cur never wait for it.
	reloadMu sync.Mutex
	stamps   [3]fileStamp // guarded by reloadMu

	errMu     sync.Mutex
	reloadErr error // guarded by errMu
}

// material is what a Source serves; it is never modified once loaded.
type material struct {
	svid   *x509svid.SVID
	bundle *x509bundle.Bundle
}

// fileStamp is what a Source remembers of a file to notice that it changed.
type fileStamp struct {
	modTime int64 // Unix nanoseconds
	size    int64
}

// NewFileSource loads an X.509-SVID from certFile and keyFile and the trust
// bundle of its trust domain from bundleFile. The certificate file may hold
// intermediates after the leaf; the bundle file holds one or more CA
// certificates, all taken as authorities of the SVID's trust domain (several
// while a CA is being rotated).
func NewFileSource(certFile, keyFile, bundleFile string) (*Source, error) {
	s := &Source{
		files:    [3]string{certFile, keyFile, bundleFile},
		now:      time.Now,
		interval: checkInterval,
	}
	stamps, err := statFiles(s.files)
	if err != nil {
		return nil, err
	}
	m, err := loadMaterial(s.files)
	if err != nil {
		return nil, err
	}
	s.td = m.svid.ID.TrustDomain()
	s.stamps = stamps
	s.cur.Store(m)
	s.lastCheck.Store(s.now().UnixNano())
	return s, nil
}

// GetX509SVID returns the current X.509-SVID. It implements x509svid.Source.
func (s *Source) GetX509SVID() (*x509svid.SVID, error) {
	s.maybeReload()
	return s.cur.Load().svid, nil
}

// GetX509BundleForTrustDomain returns the current bundle of the source's
// trust domain, and ErrNoBundle for any other. It implements
// x509bundle.Source.
func (s *Source) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	if td != s.td {
		return nil, fmt.Errorf("%w %q (have %q)", ErrNoBundle, td, s.td)
	}
	s.maybeReload()
	return s.cur.Load().bundle, nil
}

// ID returns the SPIFFE ID of the current X.509-SVID.
func (s *Source) ID() spiffeid.ID {
	return s.cur.Load().svid.ID
}

// TrustDomain returns the trust domain of the source.
func (s *Source) TrustDomain() spiffeid.TrustDomain {
	return s.td
}

// LastReloadError returns why the latest attempt to reload the files failed,
// or nil if it succeeded or none was needed since the source was created.
func (s *Source) LastReloadError() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.reloadErr
}

// maybeReload reloads the files if they changed, looking at most once per
// s.interval. Of concurrent callers only one looks; the others go on with
// the current material.
func (s *Source) maybeReload() {
	now := s.now().UnixNano()
	last := s.lastCheck.Load()
	if now-last < int64(s.interval) || !s.lastCheck.CompareAndSwap(last, now) {
		return
	}

	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.setReloadErr(s.reloadLocked())
}

// reloadLocked loads the files if their stamps changed. It must be called
// with s.reloadMu held.
func (s *Source) reloadLocked() error {
	stamps, err := statFiles(s.files)
	if err != nil {
		return err
	}
	if stamps == s.stamps {
		return nil
	}
	m, err := loadMaterial(s.files)
	if err != nil {
		return err
	}
	if td := m.svid.ID.TrustDomain(); td != s.td {
		return fmt.Errorf("%w: %s now holds an SVID of %q, not %q",
			ErrTrustDomainChanged, s.files[0], td, s.td)
	}
	s.cur.Store(m)
	s.stamps = stamps
	return nil
}

func (s *Source) setReloadErr(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	s.reloadErr = err
}

// statFiles returns the stamps of files.
func statFiles(files [3]string) ([3]fileStamp, error) {
	var stamps [3]fileStamp
	for i, path := range files {
		fi, err := os.Stat(path)
		if err != nil {
			return stamps, fmt.Errorf("identity: %w", err)
		}
		stamps[i] = fileStamp{modTime: fi.ModTime().UnixNano(), size: fi.Size()}
	}
	return stamps, nil
}

// loadMaterial reads and parses the certificate, key and bundle files.
func loadMaterial(files [3]string) (*material, error) {
	certFile, keyFile, bundleFile := files[0], files[1], files[2]
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	svid, err := x509svid.Parse(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("identity: load SVID from %s and %s: %w", certFile, keyFile, err)
	}

	bundlePEM, err := os.ReadFile(bundleFile)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	bundle, err := x509bundle.Parse(svid.ID.TrustDomain(), bundlePEM)
	if err != nil {
		return nil, fmt.Errorf("identity: load bundle from %s: %w", bundleFile, err)
	}
	if bundle.Empty() {
		return nil, fmt.Errorf("%w: %s", ErrEmptyBundle, bundleFile)
	}
	return &material{svid: svid, bundle: bundle}, nil
}
