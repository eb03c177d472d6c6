package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/routes"
	"github.com/routecast/routecast/pkg/store"
)

// Page size limits of the list calls.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// admin implements RouteAdminService.
type admin struct {
	routecastv1.UnimplementedRouteAdminServiceServer
	srv *Server
}

// PutRoute creates or replaces one route.
func (a *admin) PutRoute(ctx context.Context, req *routecastv1.PutRouteRequest) (*routecastv1.PutRouteResponse, error) {
	if err := a.authorizeWrite(ctx, req.GetScope()); err != nil {
		return nil, err
	}
	if req.GetRoute() == nil {
		return nil, invalidArgument(&routes.FieldError{Field: "route", Reason: "is required"})
	}
	r := proto.Clone(req.GetRoute()).(*routecastv1.Route)
	// Validate before normalizing, so that indexes in errors refer to the
	// request as sent.
	if err := routes.Validate(r); err != nil {
		return nil, invalidArgument(prefixField(err, "route"))
	}
	routes.Normalize(r)
	b := store.Batch{Puts: []*routecastv1.Route{r}, Actor: callerID(ctx).String()}
	if v := req.GetExpectedVersion(); v != 0 {
		b.Expected = map[string]uint64{r.GetName(): v}
	}
	res, err := a.commit(ctx, req.GetScope(), b)
	if err != nil {
		return nil, err
	}
	stored, err := a.srv.store.Get(ctx, req.GetScope(), r.GetName())
	if err != nil {
		return nil, storeError(err)
	}
	return &routecastv1.PutRouteResponse{Route: stored, Revision: res.Revision, Changed: res.Changed()}, nil
}

// DeleteRoute deletes one route.
func (a *admin) DeleteRoute(ctx context.Context, req *routecastv1.DeleteRouteRequest) (*routecastv1.DeleteRouteResponse, error) {
	if err := a.authorizeWrite(ctx, req.GetScope()); err != nil {
		return nil, err
	}
	if err := routes.ValidateName(req.GetName()); err != nil {
		return nil, invalidArgument(err)
	}
	b := store.Batch{Deletes: []string{req.GetName()}, Actor: callerID(ctx).String()}
	if v := req.GetExpectedVersion(); v != 0 {
		b.Expected = map[string]uint64{req.GetName(): v}
	}
	res, err := a.commit(ctx, req.GetScope(), b)
	if err != nil {
		return nil, err
	}
	return &routecastv1.DeleteRouteResponse{Revision: res.Revision}, nil
}

// GetRoute returns one route.
func (a *admin) GetRoute(ctx context.Context, req *routecastv1.GetRouteRequest) (*routecastv1.GetRouteResponse, error) {
	if err := a.authorizeRead(ctx, req.GetScope()); err != nil {
		return nil, err
	}
	if err := routes.ValidateName(req.GetName()); err != nil {
		return nil, invalidArgument(err)
	}
	r, err := a.srv.store.Get(ctx, req.GetScope(), req.GetName())
	if err != nil {
		return nil, storeError(err)
	}
	return &routecastv1.GetRouteResponse{Route: r}, nil
}

// ListRoutes returns a page of a scope's routes.
func (a *admin) ListRoutes(ctx context.Context, req *routecastv1.ListRoutesRequest) (*routecastv1.ListRoutesResponse, error) {
	if err := a.authorizeRead(ctx, req.GetScope()); err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	after, err := decodePageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	// Read one more than the page to know whether another page follows.
	page, rev, err := a.srv.store.List(ctx, req.GetScope(), after, size+1)
	if err != nil {
		return nil, storeError(err)
	}
	resp := &routecastv1.ListRoutesResponse{Routes: page, Revision: rev}
	if len(page) > size {
		resp.Routes = page[:size]
		resp.NextPageToken = encodePageToken(page[size-1].GetName())
	}
	return resp, nil
}

// ApplyRoutes commits an atomic batch.
func (a *admin) ApplyRoutes(ctx context.Context, req *routecastv1.ApplyRoutesRequest) (*routecastv1.ApplyRoutesResponse, error) {
	if err := a.authorizeWrite(ctx, req.GetScope()); err != nil {
		return nil, err
	}
	if err := routes.ValidateBatch(req.GetPuts(), req.GetDeletes()); err != nil {
		return nil, invalidArgument(err)
	}
	// The request is this call's own; normalize its routes in place.
	puts := req.GetPuts()
	for _, r := range puts {
		routes.Normalize(r)
	}
	res, err := a.commit(ctx, req.GetScope(), store.Batch{
		Puts:    puts,
		Deletes: req.GetDeletes(),
		Prune:   req.GetPrune(),
		DryRun:  req.GetDryRun(),
		Actor:   callerID(ctx).String(),
	})
	if err != nil {
		return nil, err
	}
	return &routecastv1.ApplyRoutesResponse{
		Revision:  res.Revision,
		Created:   res.Created,
		Updated:   res.Updated,
		Deleted:   res.Deleted,
		Unchanged: int32(res.Unchanged),
	}, nil
}

// GetStatus reports the revision, the scopes and the connected agents.
func (a *admin) GetStatus(ctx context.Context, _ *routecastv1.GetStatusRequest) (*routecastv1.GetStatusResponse, error) {
	if err := a.authorizeAdmin(ctx); err != nil {
		return nil, err
	}
	rev, err := a.srv.store.Revision(ctx)
	if err != nil {
		return nil, storeError(err)
	}
	scopes, err := a.srv.store.Scopes(ctx)
	if err != nil {
		return nil, storeError(err)
	}
	resp := &routecastv1.GetStatusResponse{Revision: rev, HandshakeRejections: a.srv.rejections.snapshot()}
	for _, s := range scopes {
		resp.Scopes = append(resp.Scopes, &routecastv1.ScopeStatus{Scope: s.Scope, Routes: int32(s.Routes), Revision: s.Revision})
	}
	for _, st := range a.srv.hub.streams() {
		as := st.status()
		as.CertExpiresSoon = time.Until(st.certExpiry) < a.srv.certExpiryWarning
		resp.Agents = append(resp.Agents, as)
	}
	slices.SortFunc(resp.Agents, func(x, y *routecastv1.AgentStatus) int {
		return strings.Compare(x.GetScope()+"\x00"+x.GetNode().GetId(), y.GetScope()+"\x00"+y.GetNode().GetId())
	})
	return resp, nil
}

// ListChanges reads the change log.
func (a *admin) ListChanges(ctx context.Context, req *routecastv1.ListChangesRequest) (*routecastv1.ListChangesResponse, error) {
	if err := a.authorizeAdmin(ctx); err != nil {
		return nil, err
	}
	if req.GetScope() != "" {
		if err := routes.ValidateScope(req.GetScope()); err != nil {
			return nil, invalidArgument(err)
		}
	}
	if req.GetName() != "" && req.GetScope() == "" {
		return nil, invalidArgument(&routes.FieldError{Field: "name", Reason: "requires scope"})
	}
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	after := store.AfterRevision(req.GetAfterRevision())
	if t := req.GetPageToken(); t != "" {
		if req.GetAfterRevision() != 0 {
			return nil, invalidArgument(&routes.FieldError{Field: "page_token",
				Reason: "is set with after_revision; the token already says where to read on"})
		}
		if after, err = parseChangesPageToken(t); err != nil {
			return nil, err
		}
	}
	changes, last, err := a.srv.store.Changes(ctx, after, size,
		store.ChangeFilter{Scope: req.GetScope(), Name: req.GetName()})
	if err != nil {
		return nil, storeError(err)
	}
	resp := &routecastv1.ListChangesResponse{Changes: changes}
	if len(changes) == size {
		resp.NextAfterRevision = last.Revision
		resp.NextPageToken = changesPageToken(last)
	}
	return resp, nil
}

// changesPageToken returns the ListChanges page token that reads on
// after p.
func changesPageToken(p store.LogPosition) string {
	return encodePageToken(fmt.Sprintf("%d.%d", p.Revision, p.Index))
}

// parseChangesPageToken reads a token made by changesPageToken.
func parseChangesPageToken(tok string) (store.LogPosition, error) {
	s, err := decodePageToken(tok)
	if err != nil {
		return store.LogPosition{}, err
	}
	var p store.LogPosition
	if n, err := fmt.Sscanf(s, "%d.%d", &p.Revision, &p.Index); n != 2 || err != nil || changesPageToken(p) != tok {
		return store.LogPosition{}, invalidArgument(&routes.FieldError{Field: "page_token", Reason: "is not a token this server issued"})
	}
	return p, nil
}

// RevokeIdentity stores a revocation and ends the streams it refuses.
func (a *admin) RevokeIdentity(ctx context.Context, req *routecastv1.RevokeIdentityRequest) (*routecastv1.RevokeIdentityResponse, error) {
	if err := a.authorizeAdmin(ctx); err != nil {
		return nil, err
	}
	target, err := revocationTarget(req.GetSpiffeId(), req.GetSerial())
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.GetReason()) == "" {
		return nil, invalidArgument(&routes.FieldError{Field: "reason", Reason: "is required: say why, for the audit trail"})
	}
	r := &routecastv1.Revocation{Reason: req.GetReason(), Actor: callerID(ctx).String(), Time: timestamppb.Now()}
	if target.SPIFFEID != "" {
		r.Target = &routecastv1.Revocation_SpiffeId{SpiffeId: target.SPIFFEID}
	} else {
		r.Target = &routecastv1.Revocation_Serial{Serial: target.Serial}
	}
	// The streams the revocation refuses, found before the store's watch
	// ends them (and they leave the hub), to count them in the answer.
	rs := newRevocationSet([]*routecastv1.Revocation{r})
	var refused []*stream
	for _, st := range a.srv.hub.streams() {
		if rs.match(st.spiffeID, st.certSerial) != nil {
			refused = append(refused, st)
		}
	}
	if err := a.srv.store.Revoke(ctx, r); err != nil {
		return nil, storeError(err)
	}
	for _, st := range refused {
		st.end(revokedError(st.spiffeID, r)) // already ended by the watch; harmless
	}
	n := len(refused)
	a.srv.log.Info("identity revoked", slog.String(logKeySPIFFEID, target.SPIFFEID), slog.String("serial", target.Serial),
		slog.String("actor", r.GetActor()), slog.String(logKeyReason, r.GetReason()), slog.Int("streams_ended", n))
	return &routecastv1.RevokeIdentityResponse{Revocation: r, StreamsEnded: int32(n)}, nil
}

// UnrevokeIdentity lifts a revocation.
func (a *admin) UnrevokeIdentity(ctx context.Context, req *routecastv1.UnrevokeIdentityRequest) (*routecastv1.UnrevokeIdentityResponse, error) {
	if err := a.authorizeAdmin(ctx); err != nil {
		return nil, err
	}
	target, err := revocationTarget(req.GetSpiffeId(), req.GetSerial())
	if err != nil {
		return nil, err
	}
	if err := a.srv.store.Unrevoke(ctx, target); err != nil {
		return nil, storeError(err)
	}
	a.srv.log.Info("revocation lifted", slog.String(logKeySPIFFEID, target.SPIFFEID), slog.String("serial", target.Serial),
		slog.String("actor", callerID(ctx).String()))
	return &routecastv1.UnrevokeIdentityResponse{}, nil
}

// ListRevocations lists the revocations in force.
func (a *admin) ListRevocations(ctx context.Context, _ *routecastv1.ListRevocationsRequest) (*routecastv1.ListRevocationsResponse, error) {
	if err := a.authorizeAdmin(ctx); err != nil {
		return nil, err
	}
	list, err := a.srv.store.Revocations(ctx)
	if err != nil {
		return nil, storeError(err)
	}
	return &routecastv1.ListRevocationsResponse{Revocations: list}, nil
}

// revocationTarget checks that exactly one of id and serial is given and
// puts it in canonical form.
func revocationTarget(id, serial string) (store.RevocationTarget, error) {
	switch {
	case id != "" && serial != "":
		return store.RevocationTarget{}, invalidArgument(&routes.FieldError{Field: "serial", Reason: "give spiffe_id or serial, not both"})
	case id != "":
		parsed, err := spiffeid.FromString(id)
		if err != nil {
			return store.RevocationTarget{}, invalidArgument(&routes.FieldError{Field: "spiffe_id", Reason: err.Error()})
		}
		return store.RevocationTarget{SPIFFEID: parsed.String()}, nil
	case serial != "":
		s, err := normalizeSerial(serial)
		if err != nil {
			return store.RevocationTarget{}, invalidArgument(&routes.FieldError{Field: "serial", Reason: err.Error()})
		}
		return store.RevocationTarget{Serial: s}, nil
	}
	return store.RevocationTarget{}, invalidArgument(&routes.FieldError{Field: "spiffe_id", Reason: "give spiffe_id or serial"})
}

// commit applies b and logs what it changed.
func (a *admin) commit(ctx context.Context, scope string, b store.Batch) (store.Result, error) {
	res, err := a.srv.store.Apply(ctx, scope, b)
	if err != nil {
		return res, storeError(err)
	}
	if res.Changed() && !b.DryRun {
		a.srv.log.Info("routes changed", slog.String(logKeyScope, scope), slog.String(logKeySPIFFEID, b.Actor),
			slog.Uint64(logKeyRevision, res.Revision), slog.Int("created", len(res.Created)),
			slog.Int("updated", len(res.Updated)), slog.Int("deleted", len(res.Deleted)))
	}
	return res, nil
}

func (a *admin) authorizeWrite(ctx context.Context, scope string) error {
	if err := routes.ValidateScope(scope); err != nil {
		return invalidArgument(err)
	}
	id := callerID(ctx)
	if !a.srv.policy.Load().CanWrite(id, scope) {
		return permissionDenied(id, "may not change scope %q", scope)
	}
	return nil
}

func (a *admin) authorizeRead(ctx context.Context, scope string) error {
	if err := routes.ValidateScope(scope); err != nil {
		return invalidArgument(err)
	}
	id := callerID(ctx)
	if !a.srv.policy.Load().CanRead(id, scope) {
		return permissionDenied(id, "may not read scope %q", scope)
	}
	return nil
}

func (a *admin) authorizeAdmin(ctx context.Context) error {
	id := callerID(ctx)
	if !a.srv.policy.Load().IsAdmin(id) {
		return permissionDenied(id, "is not an admin")
	}
	return nil
}

func permissionDenied(id spiffeid.ID, format string, args ...any) error {
	return status.Errorf(codes.PermissionDenied, "identity %s "+format, append([]any{id}, args...)...)
}

func pageSize(n int32) (int, error) {
	switch {
	case n == 0:
		return defaultPageSize, nil
	case n < 0 || n > maxPageSize:
		return 0, invalidArgument(&routes.FieldError{Field: "page_size", Reason: fmt.Sprintf("must be 1 to %d", maxPageSize)})
	}
	return int(n), nil
}

// Page tokens are the last name of the previous page, base64url encoded so
// that clients treat them as opaque.
func encodePageToken(name string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(name))
}

func decodePageToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", invalidArgument(&routes.FieldError{Field: "page_token", Reason: "is not a token this server issued"})
	}
	return string(b), nil
}
