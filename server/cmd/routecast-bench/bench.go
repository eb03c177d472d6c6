package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// run measures routecastd and, with cfg.Floor, the floor, then writes the
// report to stdout; progress and the children's output go to stderr. It
// returns an error when a measurement could not be made; streams that did
// not converge are listed in the result instead.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) (*result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if err := raiseFileLimit(cfg.conns()); err != nil {
		return nil, err
	}
	began := time.Now()
	res := newResult(cfg, began)
	dir, err := os.MkdirTemp("", "routecast-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ids, err := mintIdentities(dir)
	if err != nil {
		return nil, err
	}
	e := env{cfg: cfg, ids: ids, log: stderr, res: res}

	parts, err := runRoutecast(ctx, e, dir)
	if err != nil {
		return nil, err
	}
	if cfg.Floor {
		if len(parts) == 0 {
			parts = []int{cfg.Routes * routeSize}
		}
		if err := runFloor(ctx, e, dir, parts); err != nil {
			return nil, err
		}
	}
	res.WallS = round3(time.Since(began).Seconds())
	res.LoadAvgEnd = loadAverage()
	res.ratios()
	return res, res.write(stdout)
}

// env is what the measurements of both servers share.
type env struct {
	cfg config
	ids *identities
	log io.Writer // progress and the children's output
	res *result
}

// step is one named step of a measurement.
type step struct {
	name string
	run  func(context.Context) error
}

// runSteps runs steps in order until one fails.
func (e env) runSteps(ctx context.Context, server string, steps []step) error {
	for _, s := range steps {
		fmt.Fprintf(e.log, "routecast-bench: %s: %s\n", server, s.name)
		if err := s.run(ctx); err != nil {
			return fmt.Errorf("%s: %s: %w", server, s.name, err)
		}
	}
	return nil
}

// dial returns a connection to addr that presents conf.
func dial(addr string, conf *tls.Config) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(conf)))
}

// perStreamKiB is the memory the server gained per stream.
func perStreamKiB(before, after memory, streams int) float64 {
	return round3(float64(after.RSS-before.RSS) / float64(streams))
}

// measureRounds runs e.cfg.Rounds changes, each built by change from the
// round's number, and returns the median round and the CPU the rounds
// cost the server (process pid) and this process.
func (e env) measureRounds(ctx context.Context, f *fleet, pid int, name string,
	change func(ctx context.Context, n int) (uint64, error)) (round, cpuUse, error) {
	rounds := make([]round, 0, e.cfg.Rounds)
	var cpu cpuUse
	for n := range e.cfg.Rounds {
		// This process holds every stream's state, gigabytes at
		// N = 10,000: a collection that starts inside a round would
		// charge the round for it. Collect between rounds instead, for
		// routecastd and the floor alike, and outside the CPU figures.
		runtime.GC()
		m := startCPU(pid)
		r, err := measureRound(ctx, f, fmt.Sprintf("%s round %d", name, n+1),
			func(ctx context.Context) (uint64, error) { return change(ctx, n) })
		if err != nil {
			return round{}, cpuUse{}, err
		}
		cpu = cpu.add(m.stop())
		rounds = append(rounds, r)
	}
	return medianRound(rounds), cpu, nil
}

// lastAck returns how long after start the last of the events of the live
// streams was acknowledged, and their mean size in bytes.
func lastAck(f *fleet, events []event, start time.Time) (time.Duration, float64, error) {
	live := f.live()
	if len(live) == 0 {
		return 0, 0, fmt.Errorf("no stream converged")
	}
	var last time.Time
	var bytes float64
	for _, i := range live {
		if events[i].ackAt.After(last) {
			last = events[i].ackAt
		}
		bytes += float64(events[i].bytes)
	}
	return last.Sub(start), bytes / float64(len(live)), nil
}

// newResult returns a result that describes the run.
func newResult(cfg config, began time.Time) *result {
	return &result{
		Agents: cfg.Agents, Routes: cfg.Routes, StreamsPerConn: cfg.StreamsPerConn,
		Conns: cfg.conns(), Rounds: cfg.Rounds,
		Date: began.UTC().Format(time.RFC3339), Go: runtime.Version(), CPUs: runtime.NumCPU(),
		LoadAvgStart: loadAverage(), NotConverged: []failure{},
	}
}
