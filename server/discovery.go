package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/identity"
	"github.com/routecast/routecast/pkg/routes"
)

// discovery implements RouteDiscoveryService.
type discovery struct {
	routecastv1.UnimplementedRouteDiscoveryServiceServer
	srv *Server
}

type routesStream = grpc.BidiStreamingServer[routecastv1.StreamRoutesRequest, routecastv1.StreamRoutesResponse]

// StreamRoutes runs one subscription: a receiver goroutine takes ACKs and
// NACKs, and this goroutine sends updates whenever the stream is woken.
func (d *discovery) StreamRoutes(ss routesStream) error {
	ctx := ss.Context()
	id := callerID(ctx)
	first, err := ss.Recv()
	if err != nil {
		return err
	}
	if err := d.checkSubscription(id, first); err != nil {
		return err
	}

	cert, err := identity.PeerCertificate(ctx)
	if err != nil {
		return status.Errorf(codes.Unauthenticated, "no workload identity: %v", err)
	}
	st := newStream(first, id.String(), peerAddr(ctx), time.Now(), d.srv.maxUpdateBytes)
	st.certSerial, st.certExpiry = serialOf(cert), cert.NotAfter
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	st.cancel = cancel

	log := d.srv.log.With(slog.String(logKeyScope, st.scope), slog.String(logKeySPIFFEID, id.String()),
		slog.String(logKeyNode, first.GetNode().GetId()))
	d.srv.hub.register(st)
	defer d.srv.hub.unregister(st)
	// A revocation or policy change that landed before register found no
	// stream to end; check again now that later ones will.
	if err := d.checkStillAllowed(id, st); err != nil {
		return err
	}
	expiry := time.AfterFunc(time.Until(st.certExpiry), func() {
		st.end(status.Errorf(codes.Unauthenticated, "client certificate %s expired at %s; reconnect with a renewed one",
			st.certSerial, st.certExpiry.UTC().Format(time.RFC3339)))
	})
	defer expiry.Stop()
	log.Info("stream opened", slog.Int("initial_versions", len(first.GetInitialVersions())),
		slog.Int("names", len(first.GetNames())), slog.String("cert_serial", st.certSerial))

	go d.receive(ctx, cancel, ss, st, log)

	err = d.send(ctx, ss, st, log)
	log.Info("stream closed", slog.String(logKeyReason, closeReason(err)))
	return err
}

// checkSubscription validates the first request and checks policy.
func (d *discovery) checkSubscription(id spiffeid.ID, req *routecastv1.StreamRoutesRequest) error {
	if req.GetResponseNonce() != "" || req.GetErrorDetail() != nil {
		return status.Error(codes.InvalidArgument, "the first request must subscribe: it has a response_nonce")
	}
	if err := routes.ValidateScope(req.GetScope()); err != nil {
		return invalidArgument(err)
	}
	for i, n := range req.GetNames() {
		if err := routes.ValidateName(n); err != nil {
			return invalidArgument(withField(err, fmt.Sprintf("names[%d]", i)))
		}
	}
	if !d.srv.policy.Load().CanRead(id, req.GetScope()) {
		return status.Errorf(codes.PermissionDenied, "identity %s may not read scope %q", id, req.GetScope())
	}
	return nil
}

// checkStillAllowed repeats the revocation and policy checks for a
// registered stream.
func (d *discovery) checkStillAllowed(id spiffeid.ID, st *stream) error {
	if r := d.srv.revoked.Load().match(st.spiffeID, st.certSerial); r != nil {
		return revokedError(st.spiffeID, r)
	}
	if !d.srv.policy.Load().CanRead(id, st.scope) {
		return status.Errorf(codes.PermissionDenied, "identity %s may not read scope %q", id, st.scope)
	}
	return nil
}

// send writes an update each time the stream has one, until ctx ends.
func (d *discovery) send(ctx context.Context, ss routesStream, st *stream, log *slog.Logger) error {
	for {
		select {
		case <-ctx.Done():
			return streamError(ctx)
		case <-d.srv.stopping:
			return status.Error(codes.Unavailable, "server is shutting down")
		case <-st.wake:
		}
		u := st.next(d.srv.hub)
		if u == nil {
			continue
		}
		if err := ss.SendMsg(u.message(st.scope)); err != nil {
			return err
		}
		log.Debug("update sent", slog.Uint64(logKeyRevision, u.revision), slog.String("nonce", u.nonce),
			slog.Int("routes", len(u.routes)), slog.Int("removed", len(u.removed)), slog.Bool("more", u.more))
	}
}

// receive reads ACKs and NACKs until the stream ends, and cancels ctx with
// the reason.
func (d *discovery) receive(ctx context.Context, cancel context.CancelCauseFunc, ss routesStream, st *stream, log *slog.Logger) {
	for {
		req, err := ss.Recv()
		if err != nil {
			cancel(err)
			return
		}
		res, u := st.answer(req.GetResponseNonce(), req.GetErrorDetail(), time.Now())
		switch {
		case res == ackUnknown:
			cancel(status.Errorf(codes.InvalidArgument, "response_nonce %q was never sent on this stream", req.GetResponseNonce()))
			return
		case res == ackStale:
			log.Debug("stale answer ignored", slog.String("nonce", req.GetResponseNonce()))
		case req.GetErrorDetail() != nil:
			log.Info("update rejected by agent", slog.Uint64(logKeyRevision, u.revision),
				slog.String("nonce", u.nonce), slog.String("error", req.GetErrorDetail().GetMessage()))
		default:
			log.Debug("update acknowledged", slog.Uint64(logKeyRevision, u.revision))
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// streamError turns the reason a stream's context ended into the status
// the handler returns.
func streamError(ctx context.Context) error {
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, io.EOF):
		return nil
	case status.Code(cause) != codes.Unknown:
		return cause
	}
	return status.FromContextError(ctx.Err()).Err()
}

func closeReason(err error) string {
	if err == nil {
		return "client closed the stream"
	}
	return status.Convert(err).Message()
}

func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok {
		return p.Addr.String()
	}
	return ""
}
