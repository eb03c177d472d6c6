// Command routecast is the operator CLI: it applies route files and reads
// routes, history and status through the admin API over mTLS.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/identity"
)

const usage = `usage: routecast <command> [flags]

commands:
  apply -f FILE --scope S   apply a Gateway API HTTPRoute file or a routecast RouteSet
  get NAME --scope S        show one route
  list --scope S            list the routes of a scope
  delete NAME --scope S     delete one route
  history [--scope S]       show the change log
  status                    show the revision, scopes and connected agents
  revoke --spiffe-id ID | --serial S --reason R
                            refuse a workload identity or one certificate
  unrevoke --spiffe-id ID | --serial S
                            lift a revocation
  revocations               list the revocations in force

Every command takes the connection flags --server, --cert, --key and --ca,
which default to $ROUTECAST_SERVER, $ROUTECAST_CERT, $ROUTECAST_KEY and
$ROUTECAST_CA. Run a command with -h for its flags.
`

// command is one subcommand: it registers its flags and runs.
type command struct {
	flags func(fs *flag.FlagSet)
	run   func(ctx context.Context, c *client, args []string) error
}

var commands = map[string]func() command{
	"apply":   applyCommand,
	"get":     getCommand,
	"list":    listCommand,
	"delete":  deleteCommand,
	"history": historyCommand,
	"status":  statusCommand,

	"revoke":      revokeCommand,
	"unrevoke":    unrevokeCommand,
	"revocations": revocationsCommand,
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "routecast:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	newCmd, ok := commands[args[0]]
	if !ok {
		return fmt.Errorf("unknown command %q\n\n%s", args[0], usage)
	}
	cmd := newCmd()
	fs := flag.NewFlagSet("routecast "+args[0], flag.ContinueOnError)
	conn := connFlags(fs)
	cmd.flags(fs)
	// Flags may come before or after the positional arguments.
	var positional []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	c, err := conn.dial()
	if err != nil {
		return err
	}
	defer c.conn.Close()
	c.out = stdout
	ctx, cancel := context.WithTimeout(context.Background(), conn.timeout)
	defer cancel()
	if err := cmd.run(ctx, c, positional); err != nil {
		if s, ok := status.FromError(err); ok {
			return fmt.Errorf("%s: %s", s.Code(), s.Message())
		}
		return err
	}
	return nil
}

// connection holds the connection flags.
type connection struct {
	server, cert, key, ca string
	timeout               time.Duration
}

func connFlags(fs *flag.FlagSet) *connection {
	c := &connection{}
	fs.StringVar(&c.server, "server", envOr("ROUTECAST_SERVER", "127.0.0.1:7443"), "server `address`")
	fs.StringVar(&c.cert, "cert", os.Getenv("ROUTECAST_CERT"), "operator certificate `file` (PEM)")
	fs.StringVar(&c.key, "key", os.Getenv("ROUTECAST_KEY"), "operator private key `file` (PEM)")
	fs.StringVar(&c.ca, "ca", os.Getenv("ROUTECAST_CA"), "trust bundle `file` (PEM)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "deadline of the call")
	return c
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// client is a connected admin API client.
type client struct {
	conn  *grpc.ClientConn
	admin routecastv1.RouteAdminServiceClient
	out   io.Writer
}

func (c *connection) dial() (*client, error) {
	if c.cert == "" || c.key == "" || c.ca == "" {
		return nil, errors.New("--cert, --key and --ca (or $ROUTECAST_CERT, $ROUTECAST_KEY, $ROUTECAST_CA) are required")
	}
	src, err := identity.NewFileSource(c.cert, c.key, c.ca)
	if err != nil {
		return nil, err
	}
	tlsConf, err := identity.ClientTLSConfig(src, "")
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(c.server, grpc.WithTransportCredentials(credentials.NewTLS(tlsConf)))
	if err != nil {
		return nil, err
	}
	return &client{conn: conn, admin: routecastv1.NewRouteAdminServiceClient(conn)}, nil
}
