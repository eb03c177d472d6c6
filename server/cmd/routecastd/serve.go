package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/routecast/routecast/pkg/atomicfile"
	"github.com/routecast/routecast/pkg/identity"
	"github.com/routecast/routecast/pkg/policy"
	"github.com/routecast/routecast/pkg/store"
	"github.com/routecast/routecast/server"
)

// serveConfig is the configuration of "routecastd serve".
type serveConfig struct {
	// Listen is the address of the mTLS port that serves every API.
	Listen string
	// DataDir holds the bbolt file routes.db.
	DataDir string
	// Identity is the server's X.509-SVID and trust bundle: PEM files or
	// a Workload API socket.
	Identity identity.Config
	// Policy is the YAML policy file, reloaded when it changes.
	Policy string
	// PolicyInterval is how often the policy file is checked for changes.
	PolicyInterval time.Duration
	// MaxCertLifetime refuses client certificates valid for longer; zero
	// means no limit.
	MaxCertLifetime time.Duration
	// CertExpiryWarning flags agents whose certificates expire sooner.
	CertExpiryWarning time.Duration
	// DebugListen, when set, serves Go's pprof profiles over plain HTTP on
	// this address: keep it on loopback.
	DebugListen string
	// AddrFile, when set, receives the bound address once the port is
	// open: useful with -listen 127.0.0.1:0.
	AddrFile string
	// LogLevel is debug, info, warn or error.
	LogLevel string
}

func parseServe(args []string) (*serveConfig, error) {
	c := &serveConfig{}
	fs := flag.NewFlagSet("routecastd serve", flag.ContinueOnError)
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:7443", "`address` of the mTLS port (discovery, admin, health, reflection)")
	fs.StringVar(&c.DataDir, "data-dir", "", "`directory` of the bbolt store (required)")
	fs.StringVar(&c.Identity.Cert, "cert", "", "server certificate `file` (PEM, X.509-SVID); reloaded when it changes")
	fs.StringVar(&c.Identity.Key, "key", "", "server private key `file` (PEM)")
	fs.StringVar(&c.Identity.Bundle, "ca", "", "trust bundle `file` (PEM): CAs that sign client certificates")
	fs.StringVar(&c.Identity.Socket, "spiffe-socket", "", "take the SVID and bundle from this Workload API `address` (unix:///...) instead of files")
	fs.StringVar(&c.Policy, "policy", "", "policy `file` (YAML), reloaded when it changes; deny everything when unset")
	fs.DurationVar(&c.PolicyInterval, "policy-interval", time.Second, "how often to check the policy file for changes")
	fs.DurationVar(&c.MaxCertLifetime, "max-cert-lifetime", 0, "refuse client certificates valid for longer than this (0: no limit)")
	fs.DurationVar(&c.CertExpiryWarning, "cert-expiry-warning", server.DefaultCertExpiryWarning, "flag agents whose certificates expire within this")
	fs.StringVar(&c.DebugListen, "debug-listen", "", "serve /debug/pprof on this `address` (plain HTTP; keep it on loopback)")
	fs.StringVar(&c.AddrFile, "addr-file", "", "write the bound address to this `file` once listening")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if c.DataDir == "" {
		return nil, errors.New("serve: -data-dir is required")
	}
	return c, nil
}

func serve(args []string) error {
	c, err := parseServe(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("serve: -log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	pol := &policy.Policy{}
	if c.Policy != "" {
		if pol, err = policy.Load(c.Policy); err != nil {
			return err
		}
	}
	id, closeID, err := identity.Open(ctx, c.Identity)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer closeID()
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("serve: -data-dir: %w", err)
	}
	st, err := store.OpenBolt(filepath.Join(c.DataDir, "routes.db"))
	if err != nil {
		return err
	}
	defer st.Close()

	srv, err := server.New(ctx, server.Config{
		Store: st, Identity: id, Policy: policy.NewHolder(pol), Logger: log,
		MaxCertLifetime: c.MaxCertLifetime, CertExpiryWarning: c.CertExpiryWarning,
	})
	if err != nil {
		return err
	}
	lis, err := listen(c)
	if err != nil {
		return err
	}
	if c.Policy != "" {
		go srv.WatchPolicyFile(ctx, c.Policy, c.PolicyInterval)
	}
	if c.DebugListen != "" {
		go serveDebug(ctx, c.DebugListen, log)
	}
	log.Info("routecastd starting", slog.String("spiffe_id", id.ID().String()), slog.String("data_dir", c.DataDir))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	srv.GracefulStop()
	return <-errc
}

// listen opens the port and writes its address to -addr-file.
func listen(c *serveConfig) (net.Listener, error) {
	lis, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if c.AddrFile != "" {
		if _, err := atomicfile.Write(c.AddrFile, []byte(lis.Addr().String()+"\n"), 0o644); err != nil {
			lis.Close()
			return nil, fmt.Errorf("serve: -addr-file: %w", err)
		}
	}
	return lis, nil
}

// serveDebug serves the pprof handlers, which net/http/pprof registers on
// http.DefaultServeMux, until ctx ends.
func serveDebug(ctx context.Context, addr string, log *slog.Logger) {
	hs := &http.Server{Addr: addr, Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	log.Info("debug server listening", slog.String("address", addr))
	if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("debug server failed", slog.String("error", err.Error()))
	}
}
