package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

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
	// Cert and Key are the server's X.509-SVID; CA is the trust bundle
	// that client certificates must chain to.
	Cert, Key, CA string
	// Policy is the YAML policy file.
	Policy string
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
	fs.StringVar(&c.Cert, "cert", "", "server certificate `file` (PEM, X.509-SVID)")
	fs.StringVar(&c.Key, "key", "", "server private key `file` (PEM)")
	fs.StringVar(&c.CA, "ca", "", "trust bundle `file` (PEM): CAs that sign client certificates")
	fs.StringVar(&c.Policy, "policy", "", "policy `file` (YAML); deny everything when unset")
	fs.StringVar(&c.AddrFile, "addr-file", "", "write the bound address to this `file` once listening")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	for name, v := range map[string]string{"-data-dir": c.DataDir, "-cert": c.Cert, "-key": c.Key, "-ca": c.CA} {
		if v == "" {
			return nil, fmt.Errorf("serve: %s is required", name)
		}
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

	pol := &policy.Policy{}
	if c.Policy != "" {
		if pol, err = policy.Load(c.Policy); err != nil {
			return err
		}
	}
	src, err := identity.NewFileSource(c.Cert, c.Key, c.CA)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("serve: -data-dir: %w", err)
	}
	st, err := store.OpenBolt(filepath.Join(c.DataDir, "routes.db"))
	if err != nil {
		return err
	}
	defer st.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	holder := policy.NewHolder(pol)
	srv, err := server.New(ctx, server.Config{Store: st, TLS: identity.ServerTLSConfig(src, identity.ServerOptions{}), Policy: holder, Logger: log})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if c.AddrFile != "" {
		if _, err := atomicfile.Write(c.AddrFile, []byte(lis.Addr().String()+"\n"), 0o644); err != nil {
			lis.Close()
			return fmt.Errorf("serve: -addr-file: %w", err)
		}
	}
	log.Info("routecastd starting", slog.String("spiffe_id", src.ID().String()), slog.String("data_dir", c.DataDir))
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
