// Command routecast-bench measures routecastd under load, on loopback,
// against a floor: a bare gRPC server with the same mTLS setup and the same
// traffic pattern but none of routecast's logic.
//
// It mints a development CA into a temporary directory, starts a real
// "routecastd serve" as a child process, loads one scope with -routes
// routes, and opens -agents discovery streams from this process. It then
// measures the initial sync, the server's memory per stream, the latency of
// one-route and hundred-route changes, resume, and the admin API's write
// rates. With -floor it repeats the stream measurements against the floor,
// which it runs by re-executing itself as "routecast-bench floor-server".
//
// Everything runs on one machine, so the streams' decoding competes with
// the server for CPU; the report gives the CPU time each side spent on
// each step, to tell which of them a figure measures.
//
// A table goes to standard output, followed by one JSON object on the last
// line. The exit status is 1 when any stream did not converge.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// floorServerCommand is the subcommand that runs the floor server.
const floorServerCommand = "floor-server"

// benchGCPercent is the GOGC of the load generator, unless GOGC is set.
// The servers it starts keep the default.
const benchGCPercent = 400

// config is what one benchmark run does.
type config struct {
	// Routecastd is the routecastd binary to start.
	Routecastd string
	// Agents is the number of discovery streams.
	Agents int
	// Routes is the number of routes in the streamed scope.
	Routes int
	// StreamsPerConn is how many streams share one gRPC connection.
	StreamsPerConn int
	// Rounds is how often each change latency is measured.
	Rounds int
	// KSweep lists further batch sizes K whose propagation is measured
	// against routecastd, such as 1,10,100,1000; empty measures none.
	KSweep []int
	// Timeout bounds each wait for the streams to converge.
	Timeout time.Duration
	// Floor also measures the bare gRPC floor.
	Floor bool
	// DialConcurrency bounds the connections being established at once.
	DialConcurrency int
	// Resume is how many streams reconnect with what they hold.
	Resume int
	// ApplyBatches is the number of 1000-route batches of the apply test.
	ApplyBatches int
	// ApplyConcurrency is the number of ApplyRoutes calls in flight at
	// once in the apply test; it is also measured with one.
	ApplyConcurrency int
	// Puts is the number of sequential PutRoute calls of the put test.
	Puts int
	// RSSSettle bounds the wait for the server's RSS to settle.
	RSSSettle time.Duration
	// CPUProfile, when set, receives a CPU profile of this process.
	CPUProfile string
	// DebugListen, when set, is passed to routecastd's --debug-listen, to
	// profile the server during a run.
	DebugListen string
}

// conns is the number of gRPC connections the streams need.
func (c config) conns() int {
	return (c.Agents + c.StreamsPerConn - 1) / c.StreamsPerConn
}

func (c config) check() error {
	switch {
	case c.Routecastd == "":
		return errors.New("-routecastd is required")
	case c.Agents < 1:
		return errors.New("-agents must be at least 1")
	case c.Routes < 1:
		return errors.New("-routes must be at least 1")
	case c.StreamsPerConn < 1:
		return errors.New("-streams-per-conn must be at least 1")
	case c.Rounds < 1:
		return errors.New("-rounds must be at least 1")
	case c.Timeout <= 0:
		return errors.New("-timeout must be positive")
	case c.DialConcurrency < 1:
		return errors.New("-dial-concurrency must be at least 1")
	case c.Resume < 0:
		return errors.New("-resume must not be negative")
	case c.ApplyBatches < 1 || c.Puts < 1 || c.ApplyConcurrency < 1:
		return errors.New("-apply-batches, -apply-concurrency and -puts must be at least 1")
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := config{}
	fs := flag.NewFlagSet("routecast-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Routecastd, "routecastd", defaultRoutecastd(), "routecastd `binary` to measure")
	fs.IntVar(&c.Agents, "agents", 1000, "number of discovery streams")
	fs.IntVar(&c.Routes, "routes", 1000, "routes in the streamed scope")
	fs.IntVar(&c.StreamsPerConn, "streams-per-conn", 1, "streams that share one gRPC connection")
	fs.IntVar(&c.Rounds, "rounds", 5, "rounds of each change; the median round is reported")
	fs.Func("k-sweep", "also measure changes of these comma-separated batch `sizes` (e.g. 1,10,100,1000)", func(v string) error {
		for _, f := range strings.Split(v, ",") {
			k, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || k < 1 {
				return fmt.Errorf("%q is not a batch size", f)
			}
			c.KSweep = append(c.KSweep, k)
		}
		return nil
	})
	fs.DurationVar(&c.Timeout, "timeout", 5*time.Minute, "wait for the streams to converge, per step")
	fs.BoolVar(&c.Floor, "floor", true, "also measure a bare gRPC server with the same traffic")
	fs.IntVar(&c.DialConcurrency, "dial-concurrency", 200, "connections being established at once")
	fs.IntVar(&c.Resume, "resume", 100, "streams that reconnect with the versions they hold")
	fs.IntVar(&c.ApplyBatches, "apply-batches", 50, "1000-route ApplyRoutes batches of the apply test")
	fs.IntVar(&c.ApplyConcurrency, "apply-concurrency", 4, "ApplyRoutes calls in flight at once in the apply test (also measured with 1)")
	fs.IntVar(&c.Puts, "puts", 500, "sequential PutRoute calls of the put test")
	fs.DurationVar(&c.RSSSettle, "rss-settle", 10*time.Second, "longest wait for the server's RSS to settle")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of this process to `file`")
	fs.StringVar(&c.DebugListen, "debug-listen", "", "serve routecastd's /debug/pprof on this loopback `address`, to profile it during the run")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, c.check()
}

// defaultRoutecastd is routecastd next to this binary.
func defaultRoutecastd() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return filepath.Join(filepath.Dir(exe), "routecastd")
}

func main() {
	os.Exit(benchMain(os.Args[1:]))
}

// benchMain runs the command and returns its exit status.
func benchMain(args []string) int {
	if len(args) > 0 && args[0] == floorServerCommand {
		return floorServerMain(args[1:])
	}
	cfg, err := parseFlags(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "routecast-bench:", err)
		return 2
	}
	if os.Getenv("GOGC") == "" {
		// The streams' decoding and bookkeeping run on the same cores as
		// the server under test; collecting less often leaves it more.
		debug.SetGCPercent(benchGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := profiled(cfg.CPUProfile, func() (*result, error) {
		return run(ctx, cfg, os.Stdout, os.Stderr)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "routecast-bench:", err)
		return 1
	}
	if res.NotConvergedCount > 0 {
		fmt.Fprintf(os.Stderr, "routecast-bench: %d streams did not converge\n", res.NotConvergedCount)
		return 1
	}
	return 0
}

// profiled calls f, writing a CPU profile of it to file unless file is
// empty.
func profiled(file string, f func() (*result, error)) (*result, error) {
	if file == "" {
		return f()
	}
	out, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	if err := pprof.StartCPUProfile(out); err != nil {
		return nil, err
	}
	defer pprof.StopCPUProfile()
	return f()
}
