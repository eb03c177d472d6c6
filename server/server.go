// Package server is routecast's control plane: the route discovery stream,
// the operator API and the agent inventory, served on one mTLS port.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	channelzsvc "google.golang.org/grpc/channelz/service"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/identity"
	"github.com/routecast/routecast/pkg/policy"
	"github.com/routecast/routecast/pkg/store"
)

// Attribute keys of the server's log lines.
const (
	logKeyComponent = "component"
	logKeyScope     = "scope"
	logKeySPIFFEID  = "spiffe_id"
	logKeyNode      = "node"
	logKeyRevision  = "revision"
	logKeyReason    = "reason"
)

// Config configures a Server. Store, Identity and Policy are required.
type Config struct {
	// Store is the source of truth. The server does not close it.
	Store store.Store
	// Identity is the server's X.509-SVID and trust bundle, from files or
	// the Workload API; read on every handshake, so rotation needs no
	// restart.
	Identity identity.Material
	// MaxCertLifetime, when non-zero, refuses client certificates valid
	// for longer.
	MaxCertLifetime time.Duration
	// CertExpiryWarning flags, in GetStatus, clients whose certificates
	// expire within it; zero means DefaultCertExpiryWarning.
	CertExpiryWarning time.Duration
	// Policy holds the current policy; swap it to change policy live.
	Policy *policy.Holder
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// MaxUpdateBytes bounds the route bytes of one response; a larger
	// update is sent in parts. Zero means DefaultMaxUpdateBytes.
	MaxUpdateBytes int
	// Keepalive configures HTTP/2 pings; zero fields take the defaults.
	Keepalive Keepalive
}

// Keepalive configures the server's HTTP/2 pings and what it allows of
// clients. The agent's defaults (a ping after 30 s of silence) agree with
// these: a client that pings more often than MinClientTime is disconnected.
type Keepalive struct {
	// Time is how long a connection may be silent before the server pings
	// it; default 1 minute, at least 1 second.
	Time time.Duration
	// Timeout is how long the server waits for a ping's answer before it
	// closes the connection; default 20 seconds.
	Timeout time.Duration
	// MinClientTime is the shortest interval at which a client may ping;
	// default 10 seconds.
	MinClientTime time.Duration
}

func (k Keepalive) withDefaults() Keepalive {
	if k.Time <= 0 {
		k.Time = time.Minute
	}
	if k.Timeout <= 0 {
		k.Timeout = 20 * time.Second
	}
	if k.MinClientTime <= 0 {
		k.MinClientTime = 10 * time.Second
	}
	return k
}

// connWriteBufferSize is the size of each connection's write buffer.
const connWriteBufferSize = 16 << 10

// DefaultCertExpiryWarning is the default of Config.CertExpiryWarning.
const DefaultCertExpiryWarning = 24 * time.Hour

// DefaultMaxUpdateBytes keeps every response well under gRPC's default
// 4 MiB receive limit.
const DefaultMaxUpdateBytes = 1 << 20

// Server serves RouteDiscoveryService, RouteAdminService, health and
// reflection on one listener.
type Server struct {
	store  store.Store
	policy *policy.Holder
	log    *slog.Logger
	hub    *hub
	grpc   *grpc.Server
	health *health.Server
	unsub  func()

	maxUpdateBytes    int
	certExpiryWarning time.Duration

	revoked    atomic.Pointer[revocationSet]
	rejections rejectionCounts
	unwatchRev func()

	stopping chan struct{} // closed when the server starts to stop
	stopOnce sync.Once
}

// New creates a server and loads the store's current routes.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Identity == nil || cfg.Policy == nil {
		return nil, errors.New("server: Config needs Store, Identity and Policy")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		store:    cfg.Store,
		policy:   cfg.Policy,
		log:      log.With(slog.String(logKeyComponent, "server")),
		stopping: make(chan struct{}),

		maxUpdateBytes:    cfg.MaxUpdateBytes,
		certExpiryWarning: cfg.CertExpiryWarning,
	}
	if s.certExpiryWarning <= 0 {
		s.certExpiryWarning = DefaultCertExpiryWarning
	}
	if s.maxUpdateBytes <= 0 {
		s.maxUpdateBytes = DefaultMaxUpdateBytes
	}

	var hubReady = make(chan struct{})
	snap, unsub, err := cfg.Store.Subscribe(ctx, func(c store.Commit) {
		<-hubReady
		s.hub.apply(c)
	})
	if err != nil {
		return nil, fmt.Errorf("server: load routes: %w", err)
	}
	s.hub, s.unsub = newHub(snap), unsub
	close(hubReady)
	if err := s.watchRevocations(ctx); err != nil {
		unsub()
		return nil, err
	}

	tlsConf := identity.ServerTLSConfig(cfg.Identity, identity.ServerOptions{
		MaxCertLifetime: cfg.MaxCertLifetime,
		CheckPeer:       s.checkPeer,
		OnReject:        s.onReject,
	})
	s.grpc = grpc.NewServer(s.serverOptions(tlsConf, cfg.Keepalive.withDefaults())...)
	routecastv1.RegisterRouteDiscoveryServiceServer(s.grpc, &discovery{srv: s})
	routecastv1.RegisterRouteAdminServiceServer(s.grpc, &admin{srv: s})
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	channelzsvc.RegisterChannelzServiceToServer(s.grpc)
	return s, nil
}

func (s *Server) serverOptions(tlsConf *tls.Config, ka Keepalive) []grpc.ServerOption {
	logger := logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		s.log.Log(ctx, slog.Level(lvl), msg, fields...)
	})
	logOpts := []logging.Option{logging.WithLogOnEvents(logging.FinishCall)}
	recoverOpt := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		s.log.ErrorContext(ctx, "panic in handler", slog.Any("panic", p))
		return status.Error(codes.Internal, "internal error")
	})
	return []grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(tlsConf)),
		grpc.ForceServerCodecV2(newCodec()),
		// Most connections are idle streams. gRPC takes a connection's
		// write buffer from a pool only while writing, and a buffer
		// smaller than its 32 KiB default keeps what the pool holds after
		// a burst low. Reads need no buffer of their own: the TLS
		// connection underneath already holds a whole decrypted record,
		// and a read buffer would cost every idle connection its size.
		grpc.WriteBufferSize(connWriteBufferSize),
		grpc.ReadBufferSize(0),
		grpc.ChainUnaryInterceptor(
			recovery.UnaryServerInterceptor(recoverOpt),
			logging.UnaryServerInterceptor(logger, logOpts...),
			auth.UnaryServerInterceptor(s.authenticate),
			s.adminOnlyUnary,
		),
		// Streams log their own opening and closing, with the scope and the
		// reason, so the logging interceptor is for unary calls only.
		grpc.ChainStreamInterceptor(
			recovery.StreamServerInterceptor(recoverOpt),
			auth.StreamServerInterceptor(s.authenticate),
			s.adminOnlyStream,
		),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             ka.MinClientTime,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: ka.Time, Timeout: ka.Timeout}),
	}
}

// Serve accepts connections on lis until Stop or GracefulStop.
func (s *Server) Serve(lis net.Listener) error {
	s.log.Info("serving", slog.String("address", lis.Addr().String()))
	return s.grpc.Serve(lis)
}

// GracefulStop stops accepting streams, ends open ones and waits for
// unary calls to finish.
func (s *Server) GracefulStop() {
	s.beginStop()
	s.grpc.GracefulStop()
}

// Stop closes every connection at once.
func (s *Server) Stop() {
	s.beginStop()
	s.grpc.Stop()
}

// beginStop marks the server unhealthy, detaches it from the store and
// ends every stream with Unavailable: streams never finish on their own.
func (s *Server) beginStop() {
	s.stopOnce.Do(func() {
		s.health.Shutdown()
		s.unsub()
		s.unwatchRev()
		close(s.stopping)
	})
}

type callerKey struct{}

// authenticate reads the caller's SPIFFE ID from its verified certificate
// and refuses a revoked caller: a connection made before the revocation
// may still carry calls.
func (s *Server) authenticate(ctx context.Context) (context.Context, error) {
	id, err := identity.PeerID(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unauthenticated, "no workload identity: %v", err)
	}
	cert, err := identity.PeerCertificate(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unauthenticated, "no workload identity: %v", err)
	}
	if r := s.revoked.Load().match(id.String(), serialOf(cert)); r != nil {
		return nil, revokedError(id.String(), r)
	}
	return context.WithValue(ctx, callerKey{}, id), nil
}

// adminServices are services that only admins may call: channelz shows
// every connection's peers and traffic.
var adminServices = []string{"/grpc.channelz.v1."}

func (s *Server) checkAdminService(ctx context.Context, method string) error {
	for _, prefix := range adminServices {
		if strings.HasPrefix(method, prefix) && !s.policy.Load().IsAdmin(callerID(ctx)) {
			return permissionDenied(callerID(ctx), "is not an admin")
		}
	}
	return nil
}

func (s *Server) adminOnlyUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := s.checkAdminService(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (s *Server) adminOnlyStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := s.checkAdminService(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return h(srv, ss)
}

// callerID returns the identity authenticate stored in ctx.
func callerID(ctx context.Context) spiffeid.ID {
	id, _ := ctx.Value(callerKey{}).(spiffeid.ID)
	return id
}
