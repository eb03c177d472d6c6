// Command routecast-agent subscribes to one scope of a routecast server and
// writes its routes to local files.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/routecast/routecast/agent"
	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/identity"
)

// version is the agent's version, set at build time with -ldflags.
var version = "dev"

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// config is the agent's command-line configuration.
type config struct {
	// Servers are the addresses to connect to, tried in turn.
	Servers listFlag
	// Scope to subscribe to; Names narrows it to some routes.
	Scope string
	Names listFlag
	// Out receives routes.json; State keeps the agent's state.
	Out, State string
	// Identity is the agent's X.509-SVID and trust bundle: PEM files or a
	// Workload API socket.
	Identity identity.Config
	// ServerID, when set, is the only SPIFFE ID accepted for the server.
	ServerID string
	// Templates are "source.tmpl:output-name" pairs.
	Templates listFlag
	// Protected are extra paths never written into.
	Protected listFlag
	// NodeID identifies the agent to the server; default the host name.
	NodeID string
	// LogLevel is debug, info, warn or error.
	LogLevel string
}

func parse(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("routecast-agent", flag.ContinueOnError)
	fs.Var(&c.Servers, "server", "server `address` host:port; repeat for failover")
	fs.StringVar(&c.Scope, "scope", "", "`scope` to subscribe to, tenant/environment (required)")
	fs.Var(&c.Names, "name", "subscribe to this route `name` only; repeatable")
	fs.StringVar(&c.Out, "out", "", "output `directory` for routes.json (required)")
	fs.StringVar(&c.State, "state-dir", "", "state `directory`, kept across restarts (required)")
	fs.StringVar(&c.Identity.Cert, "cert", "", "agent certificate `file` (PEM, X.509-SVID); read again when it changes")
	fs.StringVar(&c.Identity.Key, "key", "", "agent private key `file` (PEM)")
	fs.StringVar(&c.Identity.Bundle, "ca", "", "trust bundle `file` (PEM) to verify the server")
	fs.StringVar(&c.Identity.Socket, "spiffe-socket", "", "take the SVID and bundle from this Workload API `address` (unix:///...) instead of files")
	fs.StringVar(&c.ServerID, "server-id", "", "required SPIFFE `ID` of the server; default any ID of the agent's trust domain")
	fs.Var(&c.Templates, "template", "render `source.tmpl:output` into the output directory; repeatable")
	fs.Var(&c.Protected, "protected-path", "never write into this `path` (added to the defaults); repeatable")
	fs.StringVar(&c.NodeID, "node-id", "", "node `id` reported to the server (default: host name)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if len(c.Servers) == 0 {
		c.Servers = listFlag{"127.0.0.1:7443"}
	}
	for name, v := range map[string]string{"-scope": c.Scope, "-out": c.Out, "-state-dir": c.State} {
		if v == "" {
			return nil, fmt.Errorf("%s is required", name)
		}
	}
	return c, nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "routecast-agent:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	c, err := parse(args)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	src, closeID, err := identity.Open(ctx, c.Identity)
	if err != nil {
		return err
	}
	defer closeID()
	tlsConf, err := identity.ClientTLSConfig(src, c.ServerID)
	if err != nil {
		return err
	}
	var templates []agent.Template
	for _, t := range c.Templates {
		srcPath, out, ok := strings.Cut(t, ":")
		if !ok {
			return fmt.Errorf("-template %q: want source.tmpl:output", t)
		}
		templates = append(templates, agent.Template{Source: srcPath, Output: out})
	}
	host, _ := os.Hostname()
	node := &routecastv1.Node{Id: c.NodeID, Hostname: host, Version: version}
	if node.Id == "" {
		node.Id = host
	}
	a, err := agent.New(agent.Config{
		Servers:        c.Servers,
		Scope:          c.Scope,
		Names:          c.Names,
		OutDir:         c.Out,
		StateDir:       c.State,
		TLS:            tlsConf,
		Templates:      templates,
		ProtectedPaths: append(append([]string{}, agent.DefaultProtectedPaths...), c.Protected...),
		Node:           node,
		Backoff:        agent.Backoff{Initial: 250 * time.Millisecond, Max: 30 * time.Second},
		Logger:         log,
	})
	if err != nil {
		return err
	}
	log.Info("routecast-agent starting", slog.String("spiffe_id", src.ID().String()), slog.String("scope", c.Scope))
	return a.Run(ctx)
}
