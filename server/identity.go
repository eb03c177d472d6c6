package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/identity"
	"github.com/routecast/routecast/pkg/policy"
)

// revocationSet is the revocations in force, indexed for the handshake
// check. Immutable once built; the server swaps the whole set.
type revocationSet struct {
	ids     map[string]*routecastv1.Revocation
	serials map[string]*routecastv1.Revocation
}

func newRevocationSet(list []*routecastv1.Revocation) *revocationSet {
	rs := &revocationSet{ids: make(map[string]*routecastv1.Revocation), serials: make(map[string]*routecastv1.Revocation)}
	for _, r := range list {
		if id := r.GetSpiffeId(); id != "" {
			rs.ids[id] = r
		} else {
			rs.serials[r.GetSerial()] = r
		}
	}
	return rs
}

// match returns the revocation that refuses id or serial, or nil.
func (rs *revocationSet) match(id, serial string) *routecastv1.Revocation {
	if rs == nil {
		return nil
	}
	if r := rs.ids[id]; r != nil {
		return r
	}
	return rs.serials[serial]
}

// serialOf is a certificate's serial as revocations name it: lower-case
// hexadecimal without leading zeros.
func serialOf(cert *x509.Certificate) string {
	if cert == nil || cert.SerialNumber == nil {
		return ""
	}
	return cert.SerialNumber.Text(16)
}

// normalizeSerial accepts a serial in hexadecimal, with or without colons
// and leading zeros, in either case.
func normalizeSerial(s string) (string, error) {
	h := strings.TrimLeft(strings.ToLower(strings.ReplaceAll(s, ":", "")), "0")
	if h == "" {
		h = "0"
	}
	for _, c := range h {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return "", fmt.Errorf("serial %q is not hexadecimal", s)
		}
	}
	return h, nil
}

func revokedError(id string, r *routecastv1.Revocation) error {
	what := "identity " + id
	if r.GetSerial() != "" {
		what = fmt.Sprintf("certificate %s of identity %s", r.GetSerial(), id)
	}
	return status.Errorf(codes.PermissionDenied, "%s was revoked by %s at %s: %s", what,
		orUnknown(r.GetActor()), r.GetTime().AsTime().UTC().Format(time.RFC3339), r.GetReason())
}

func orUnknown(s string) string {
	if s == "" {
		return "an admin"
	}
	return s
}

// watchRevocations loads the revocations and follows every change, ending
// the streams each new revocation refuses.
func (s *Server) watchRevocations(ctx context.Context) error {
	list, cancel, err := s.store.WatchRevocations(ctx, s.onRevocations)
	if err != nil {
		return fmt.Errorf("server: load revocations: %w", err)
	}
	s.revoked.Store(newRevocationSet(list))
	s.unwatchRev = cancel
	return nil
}

// onRevocations takes a new list from the store.
func (s *Server) onRevocations(list []*routecastv1.Revocation) {
	rs := newRevocationSet(list)
	s.revoked.Store(rs)
	s.endStreams(func(st *stream) error {
		if r := rs.match(st.spiffeID, st.certSerial); r != nil {
			return revokedError(st.spiffeID, r)
		}
		return nil
	})
}

// endStreams ends every stream for which why returns an error, with that
// error, and returns how many it ended.
func (s *Server) endStreams(why func(*stream) error) int {
	n := 0
	for _, st := range s.hub.streams() {
		if err := why(st); err != nil {
			if st.end(err) {
				s.log.Info("stream ended", slog.String(logKeySPIFFEID, st.spiffeID), slog.String(logKeyScope, st.scope),
					slog.String(logKeyReason, status.Convert(err).Message()))
			}
			n++
		}
	}
	return n
}

// PolicyChanged ends every stream whose identity the current policy no
// longer lets read its scope. Call it after storing a new policy.
func (s *Server) PolicyChanged() int {
	pol := s.policy.Load()
	return s.endStreams(func(st *stream) error {
		id, err := spiffeid.FromString(st.spiffeID)
		if err == nil && pol.CanRead(id, st.scope) {
			return nil
		}
		return status.Errorf(codes.PermissionDenied, "policy no longer lets identity %s read scope %q", st.spiffeID, st.scope)
	})
}

// WatchPolicyFile reloads the policy from path whenever its modification
// time or size changes, checking every interval, until ctx ends. A file
// that does not parse is logged and the policy in force stays.
func (s *Server) WatchPolicyFile(ctx context.Context, path string, interval time.Duration) {
	last, _ := os.Stat(path)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		info, err := os.Stat(path)
		if err != nil || (last != nil && info.ModTime().Equal(last.ModTime()) && info.Size() == last.Size()) {
			continue
		}
		last = info
		pol, err := policy.Load(path)
		if err != nil {
			s.log.Error("policy reload failed; keeping the policy in force", slog.String("error", err.Error()))
			continue
		}
		s.policy.Store(pol)
		n := s.PolicyChanged()
		s.log.Info("policy reloaded", slog.String("file", path), slog.Int("streams_ended", n))
	}
}

// checkPeer refuses a revoked client during the TLS handshake.
func (s *Server) checkPeer(cert *x509.Certificate, id spiffeid.ID) error {
	if r := s.revoked.Load().match(id.String(), serialOf(cert)); r != nil {
		return errors.New(status.Convert(revokedError(id.String(), r)).Message())
	}
	return nil
}

// rejectionCounts counts refused handshakes by reason.
type rejectionCounts struct {
	mu     sync.Mutex
	counts map[identity.RejectReason]uint64 // guarded by mu
}

func (c *rejectionCounts) add(r identity.RejectReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = make(map[identity.RejectReason]uint64)
	}
	c.counts[r]++
}

func (c *rejectionCounts) snapshot() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64, len(c.counts))
	for r, n := range maps.All(c.counts) {
		out[string(r)] = n
	}
	return out
}

// onReject logs and counts a refused client handshake.
func (s *Server) onReject(r identity.Rejection) {
	s.rejections.add(r.Reason)
	s.log.Warn("client handshake refused", slog.String(logKeyReason, string(r.Reason)),
		slog.String("remote", r.Remote), slog.String("error", r.Err.Error()))
}
