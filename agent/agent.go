// Package agent is routecast's host agent: it subscribes to one scope,
// applies the server's incremental updates, writes the routes to local
// files atomically and keeps its state across restarts.
package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/routes"
)

// Attribute keys of the agent's log lines.
const (
	logKeyComponent = "component"
	logKeyServer    = "server"
	logKeyRevision  = "revision"
)

// maxResponseBytes is the largest response the agent accepts. The server
// splits updates at 1 MiB by default, but a single route larger than its
// budget travels alone.
const maxResponseBytes = 16 << 20

// Config configures an Agent. Servers, Scope, OutDir, StateDir and TLS are
// required.
type Config struct {
	// Servers are host:port addresses, tried in turn.
	Servers []string
	// Scope is the "tenant/environment" to subscribe to.
	Scope string
	// Names limits the subscription to these routes; empty means all.
	Names []string
	// OutDir receives routes.json and the rendered templates.
	OutDir string
	// StateDir keeps the agent's state across restarts.
	StateDir string
	// TLS returns the client TLS configuration; it is called once, and the
	// configuration should read the certificate on every handshake (see
	// identity.ClientTLSConfig).
	TLS *tls.Config
	// Templates render further files from the same routes.
	Templates []Template
	// ProtectedPaths are never written into; nil means
	// DefaultProtectedPaths.
	ProtectedPaths []string
	// Node describes this agent to the server; an empty id is the host
	// name.
	Node *routecastv1.Node
	// Backoff bounds the delay between reconnects; zero values mean 250ms
	// and 30s.
	Backoff Backoff
	// Keepalive sets the agent's HTTP/2 pings; zero values mean a ping
	// after 30 s of silence, answered within 20 s. Time must not be shorter
	// than the server's minimum client ping interval (10 s by default).
	Keepalive keepalive.ClientParameters
	// Logger receives the agent's logs; nil discards them.
	Logger *slog.Logger
	// OnUpdate, when set, is called after each update has been applied
	// (or rejected), before the agent answers the server.
	OnUpdate func(Event)
}

// Backoff bounds the reconnect delay: each failed attempt doubles it, with
// full jitter, up to Max; data from the server resets it.
type Backoff struct {
	Initial, Max time.Duration
}

// Event reports one update the agent received.
type Event struct {
	// Revision the update carried.
	Revision uint64
	// Upserts and Removed count the routes the update changed.
	Upserts, Removed int
	// Routes counts the routes held after the update.
	Routes int
	// Written names the output files the update changed.
	Written []string
	// Err is why the update was rejected; nil when it was applied.
	Err error
}

// Agent runs one subscription.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	render   *renderer
	outDir   string
	stateDir string
	state    *state // owned by the Run goroutine
	status   Status // owned by the Run goroutine
}

// New checks the configuration, refuses protected output paths, prepares
// the directories and loads the saved state.
func New(cfg Config) (*Agent, error) {
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, log: cfg.Logger.With(slog.String(logKeyComponent, "agent"))}
	if err := a.prepare(); err != nil {
		return nil, err
	}
	return a, nil
}

func checkConfig(cfg *Config) error {
	switch {
	case len(cfg.Servers) == 0:
		return errors.New("agent: no server address")
	case cfg.OutDir == "":
		return errors.New("agent: no output directory")
	case cfg.StateDir == "":
		return errors.New("agent: no state directory")
	case cfg.TLS == nil:
		return errors.New("agent: no TLS configuration")
	}
	if err := routes.ValidateScope(cfg.Scope); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	for _, n := range cfg.Names {
		if err := routes.ValidateName(n); err != nil {
			return fmt.Errorf("agent: subscribed %w", err)
		}
	}
	if cfg.ProtectedPaths == nil {
		cfg.ProtectedPaths = DefaultProtectedPaths
	}
	if cfg.Node == nil {
		cfg.Node = &routecastv1.Node{}
	}
	if cfg.Node.GetId() == "" {
		host, _ := os.Hostname()
		cfg.Node.Id, cfg.Node.Hostname = host, host
	}
	if cfg.Backoff.Initial <= 0 {
		cfg.Backoff.Initial = 250 * time.Millisecond
	}
	if cfg.Backoff.Max <= 0 {
		cfg.Backoff.Max = 30 * time.Second
	}
	if cfg.Keepalive.Time <= 0 {
		cfg.Keepalive.Time = 30 * time.Second
	}
	if cfg.Keepalive.Timeout <= 0 {
		cfg.Keepalive.Timeout = 20 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func (a *Agent) prepare() error {
	for _, dir := range []string{a.cfg.OutDir, a.cfg.StateDir} {
		if err := checkNotProtected(dir, a.cfg.ProtectedPaths); err != nil {
			return err
		}
	}
	var err error
	if a.render, err = newRenderer(a.cfg.Templates); err != nil {
		return err
	}
	if a.outDir, err = prepareDir(a.cfg.OutDir, 0o755); err != nil {
		return fmt.Errorf("agent: output directory: %w", err)
	}
	if a.stateDir, err = prepareDir(a.cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("agent: state directory: %w", err)
	}
	st, ok, err := loadState(a.stateDir, a.cfg.Scope)
	if err != nil {
		return err
	}
	a.state = st
	if ok {
		a.log.Info("resuming from saved state", slog.Uint64(logKeyRevision, st.Revision), slog.Int("routes", len(st.Routes)))
	}
	return nil
}

// Run keeps a stream open until ctx ends or the server gives a final
// answer (the identity may not read the scope, or the request is invalid).
// It returns nil when ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	delay := a.cfg.Backoff.Initial
	defer func() { a.setStatus(statusStopped, "", nil) }()
	for attempt := 0; ; attempt++ {
		addr := a.cfg.Servers[attempt%len(a.cfg.Servers)]
		a.setStatus(statusConnecting, addr, nil)
		gotData, err := a.runStream(ctx, addr)
		if ctx.Err() != nil {
			return nil
		}
		if isFinal(err) {
			err = fmt.Errorf("agent: %s: %s", addr, status.Convert(err).Message())
			a.setStatus(statusRefused, addr, err)
			return err
		}
		a.setStatus(statusDisconnected, addr, errors.New(status.Convert(err).Message()))
		if gotData {
			delay = a.cfg.Backoff.Initial
		}
		wait := rand.N(delay) + time.Millisecond
		a.log.Warn("stream ended; reconnecting, keeping current files", slog.String(logKeyServer, addr),
			slog.String("error", status.Convert(err).Message()), slog.Duration("retry_in", wait))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		delay = min(2*delay, a.cfg.Backoff.Max)
	}
}

// isFinal reports whether reconnecting cannot help.
func isFinal(err error) bool {
	switch status.Code(err) {
	case codes.PermissionDenied, codes.InvalidArgument, codes.Unimplemented:
		return true
	}
	return false
}

// runStream runs one stream against addr. gotData reports whether the
// server sent anything, which resets the backoff.
func (a *Agent) runStream(ctx context.Context, addr string) (gotData bool, err error) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(credentials.NewTLS(a.cfg.TLS)),
		grpc.WithKeepaliveParams(a.cfg.Keepalive),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxResponseBytes)),
	)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	client := routecastv1.NewRouteDiscoveryServiceClient(conn)
	s, err := client.StreamRoutes(ctx)
	if err != nil {
		return false, err
	}
	sub := &routecastv1.StreamRoutesRequest{
		Node:            a.cfg.Node,
		Scope:           a.cfg.Scope,
		InitialVersions: a.state.versions(),
		Names:           a.cfg.Names,
	}
	if err := s.Send(sub); err != nil {
		return false, err
	}
	a.log.Info("subscribed", slog.String(logKeyServer, addr), slog.String("scope", a.cfg.Scope),
		slog.Int("held_routes", len(sub.InitialVersions)), slog.Uint64(logKeyRevision, a.state.Revision))

	var pending *partial // parts of an update split with more=true
	for {
		resp, err := s.Recv()
		if err != nil {
			return gotData, err
		}
		if !gotData {
			a.setStatus(statusConnected, addr, nil)
		}
		gotData = true
		ack := &routecastv1.StreamRoutesRequest{ResponseNonce: resp.GetNonce()}
		if pending, err = a.apply(resp, pending); err != nil {
			ack.ErrorDetail = &routecastv1.ErrorDetail{Code: int32(codes.InvalidArgument), Message: err.Error()}
		}
		if err := s.Send(ack); err != nil {
			return gotData, err
		}
	}
}

// partial is an update whose parts are still arriving.
type partial struct {
	state            *state
	upserts, removed int
	// failed is why an earlier part was rejected: the rest of the update
	// is rejected with it, so that it is applied whole or not at all.
	failed error
}

// apply applies one response on top of the held state (or of the parts
// received so far), writes the files once an update is complete and saves
// the state. On error nothing is written and the held state stays.
func (a *Agent) apply(resp *routecastv1.StreamRoutesResponse, pending *partial) (*partial, error) {
	if pending == nil {
		pending = &partial{state: a.state.clone()}
	}
	err := pending.failed
	if err == nil {
		err = a.merge(pending.state, resp)
	}
	pending.upserts += len(resp.GetRoutes())
	pending.removed += len(resp.GetRemoved())
	if resp.GetMore() {
		pending.failed = err
		return pending, err
	}
	ev := Event{Revision: resp.GetRevision(), Upserts: pending.upserts, Removed: pending.removed, Err: err}
	if err == nil {
		ev.Written, err = a.commit(pending.state)
		ev.Err = err
	}
	ev.Routes = len(a.state.Routes)
	if err != nil {
		a.log.Error("update rejected; keeping last good files", slog.Uint64(logKeyRevision, resp.GetRevision()),
			slog.String("error", err.Error()))
		a.status.LastError = "update rejected: " + err.Error()
		a.writeStatus()
	} else {
		a.noteApplied()
		a.log.Info("update applied", slog.Uint64(logKeyRevision, resp.GetRevision()),
			slog.Int("upserts", ev.Upserts), slog.Int("removed", ev.Removed), slog.Int("routes", ev.Routes),
			slog.Any("files_written", ev.Written))
	}
	if a.cfg.OnUpdate != nil {
		a.cfg.OnUpdate(ev)
	}
	return nil, err
}

// merge applies resp's changes to s after validating them.
func (a *Agent) merge(s *state, resp *routecastv1.StreamRoutesResponse) error {
	if resp.GetScope() != a.cfg.Scope {
		return fmt.Errorf("update is for scope %q, not %q", resp.GetScope(), a.cfg.Scope)
	}
	if resp.GetRevision() < s.Revision {
		return fmt.Errorf("update revision %d is older than the held revision %d", resp.GetRevision(), s.Revision)
	}
	for _, r := range resp.GetRoutes() {
		if err := routes.Validate(r); err != nil {
			return fmt.Errorf("route %q: %w", r.GetName(), err)
		}
		s.Routes[r.GetName()] = r
	}
	for _, name := range resp.GetRemoved() {
		delete(s.Routes, name)
	}
	s.Revision = resp.GetRevision()
	return nil
}

// commit renders and writes the files of next, saves it and makes it the
// held state.
func (a *Agent) commit(next *state) ([]string, error) {
	files, err := a.render.render(next)
	if err != nil {
		return nil, err
	}
	written, err := writeOutputs(a.outDir, files)
	if err != nil {
		return written, err
	}
	if err := next.save(a.stateDir); err != nil {
		return written, err
	}
	a.state = next
	return written, nil
}
