package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"google.golang.org/grpc"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/internal/benchdata"
)

// k100Size is the number of routes of the K=100 change, or all of them
// when the scope has fewer.
const k100Size = 100

// k100Routes is the number of routes the K=100 change rewrites.
func (c config) k100Routes() int { return min(k100Size, c.Routes) }

// routecastBench measures a routecastd child: one step per method, in the
// order of runRoutecast.
type routecastBench struct {
	env
	dir string // the run's temporary directory

	// Set by the steps.
	srv     *child
	listen  string // the address routecastd listens on; "" picks a port
	adminCC *grpc.ClientConn
	admin   routecastv1.RouteAdminServiceClient
	load    []*routecastv1.Route // the streamed scope as last written
	changes int                  // changes made, for unique labels
	before  memory               // server memory before any stream
	pool    *pool
	agents  []*agent
	fleet   *fleet
}

// runRoutecast measures routecastd into e.res and returns the sizes of
// the messages of its initial update, for the floor to send the same.
func runRoutecast(ctx context.Context, e env, dir string) ([]int, error) {
	b := &routecastBench{env: e, dir: dir}
	defer b.close()
	err := e.runSteps(ctx, "routecastd", []step{
		{"start", b.start},
		{"load routes", b.loadRoutes},
		{"memory before streams", b.memoryBefore},
		{"initial sync", b.initialSync},
		{"memory with streams", b.memoryAfter},
		{"K=1 changes", b.k1},
		{"K=100 changes", b.k100},
		{"K sweep", b.kSweep},
		{"resume", b.resume},
		{"PutRoute latency", b.putLatency},
		{"ApplyRoutes rate", b.applyRate},
		{"reconnect storm", b.storm},
	})
	return b.firstParts(), err
}

// start runs routecastd on a loopback port with its bbolt file in b.dir.
func (b *routecastBench) start(ctx context.Context) error {
	addrFile := filepath.Join(b.dir, "routecastd.addr")
	listen := b.listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	argv := []string{b.cfg.Routecastd, "serve",
		"--listen", listen, "--addr-file", addrFile,
		"--data-dir", filepath.Join(b.dir, "data"),
		"--cert", b.ids.ServerCert, "--key", b.ids.ServerKey, "--ca", b.ids.CA,
		"--policy", b.ids.Policy, "--log-level", "warn"}
	if b.cfg.DebugListen != "" {
		argv = append(argv, "--debug-listen", b.cfg.DebugListen)
	}
	var err error
	if b.srv, err = startChild(ctx, "routecastd", addrFile, argv, b.log); err != nil {
		return err
	}
	if b.adminCC, err = dial(b.srv.addr, b.ids.Operator); err != nil {
		return err
	}
	b.admin = routecastv1.NewRouteAdminServiceClient(b.adminCC)
	return nil
}

// loadRoutes writes the streamed scope in batches.
func (b *routecastBench) loadRoutes(ctx context.Context) error {
	var err error
	if b.load, err = benchdata.Routes(loadScope, "load", b.cfg.Routes); err != nil {
		return err
	}
	for _, batch := range batches(b.load) {
		if _, err := b.apply(ctx, loadScope, batch); err != nil {
			return err
		}
	}
	return nil
}

// apply calls ApplyRoutes with a deadline.
func (b *routecastBench) apply(ctx context.Context, scope string,
	puts []*routecastv1.Route) (*routecastv1.ApplyRoutesResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	return b.admin.ApplyRoutes(ctx, &routecastv1.ApplyRoutesRequest{Scope: scope, Puts: puts})
}

// put calls PutRoute with a deadline.
func (b *routecastBench) put(ctx context.Context, scope string,
	r *routecastv1.Route) (*routecastv1.PutRouteResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	return b.admin.PutRoute(ctx, &routecastv1.PutRouteRequest{Scope: scope, Route: r})
}

func (b *routecastBench) memoryBefore(ctx context.Context) error {
	var err error
	b.before, err = settledMemory(ctx, b.srv.pid(), b.cfg.RSSSettle)
	b.res.ServerRSSBeforeKiB = b.before.RSS
	return err
}

// initialSync opens every stream and waits until each holds the whole
// scope and has ACKed it.
func (b *routecastBench) initialSync(ctx context.Context) error {
	var err error
	b.pool, err = newPool(b.srv.addr, b.ids.Agent, b.cfg.Agents, b.cfg.StreamsPerConn)
	if err != nil {
		return err
	}
	b.fleet = newFleet(b.cfg.Agents, b.cfg.Timeout)
	b.agents = make([]*agent, b.cfg.Agents)
	for i := range b.agents {
		b.agents[i] = newAgent(i, b.fleet.streams[i])
	}

	cpu := startCPU(b.srv.pid())
	start := time.Now()
	b.pool.open(ctx, b.cfg.Timeout, b.cfg.DialConcurrency,
		func(i int, cc *grpc.ClientConn) { b.agents[i].start(ctx, cc, nil) },
		func(i int, err error) { b.fleet.streams[i].fail(err) })
	holdsAll := func(e event) bool { return e.held >= b.cfg.Routes }
	events := b.fleet.await(ctx, "initial sync", nil, nil, holdsAll)
	b.res.CPUInitialSync = cpu.stop()
	b.res.ConnTransientFailures = b.pool.transientFailures.Load()

	took, bytes, err := lastAck(b.fleet, events, start)
	b.res.InitialSyncS = round3(took.Seconds())
	b.res.InitialBytesPerAgent = round3(bytes)
	b.res.InitialParts = len(b.firstParts())
	return err
}

// firstParts returns the part sizes of a converged stream's first update.
func (b *routecastBench) firstParts() []int {
	if b.fleet == nil {
		return nil
	}
	for _, i := range b.fleet.live() {
		if b.fleet.streams[i].count() > 0 {
			return b.agents[i].firstParts
		}
	}
	return nil
}

// memoryAfter reads the server's memory with every stream idle and in
// sync.
func (b *routecastBench) memoryAfter(ctx context.Context) error {
	after, err := settledMemory(ctx, b.srv.pid(), b.cfg.RSSSettle)
	if err != nil {
		return err
	}
	b.res.ServerRSSAfterKiB, b.res.ServerRSSPeakKiB = after.RSS, after.Peak
	b.res.ServerRSSPerStreamKiB = perStreamKiB(b.before, after, len(b.fleet.live()))
	return nil
}

// nextChange returns a number unique to this change.
func (b *routecastBench) nextChange() int {
	b.changes++
	return b.changes
}

// k1 changes one route per round with PutRoute.
func (b *routecastBench) k1(ctx context.Context) error {
	m, cpu, err := b.measureRounds(ctx, b.fleet, b.srv.pid(), "K=1", b.putOne)
	b.res.CPUK1 = cpu
	b.res.K1P50Ms, b.res.K1P99Ms = round3(ms(m.p50)), round3(ms(m.p99))
	b.res.BytesPerAgentK1 = round3(m.meanBytes)
	return err
}

// putOne changes one streamed route, a different one each round, and
// returns the revision of the change.
func (b *routecastBench) putOne(ctx context.Context, round int) (uint64, error) {
	i := (round * 7919) % len(b.load)
	c := benchdata.Changed(b.load[i], b.nextChange())
	resp, err := b.put(ctx, loadScope, c)
	if err != nil {
		return 0, err
	}
	if !resp.GetChanged() {
		return 0, fmt.Errorf("PutRoute of %s changed nothing", c.GetName())
	}
	b.load[i] = c
	return resp.GetRevision(), nil
}

// k100 changes k100Routes routes per round in one ApplyRoutes batch.
func (b *routecastBench) k100(ctx context.Context) error {
	m, cpu, err := b.measureRounds(ctx, b.fleet, b.srv.pid(), "K=100", b.applyMany)
	b.res.CPUK100 = cpu
	b.res.K100P50Ms, b.res.K100P99Ms = round3(ms(m.p50)), round3(ms(m.p99))
	b.res.BytesPerAgentK100 = round3(m.meanBytes)
	return err
}

// kSweep measures the propagation of batches of each size in -k-sweep.
func (b *routecastBench) kSweep(ctx context.Context) error {
	for _, k := range b.cfg.KSweep {
		k = min(k, len(b.load))
		change := func(ctx context.Context, round int) (uint64, error) { return b.applyK(ctx, round, k) }
		m, _, err := b.measureRounds(ctx, b.fleet, b.srv.pid(), fmt.Sprintf("K=%d", k), change)
		if err != nil {
			return err
		}
		b.res.KSweep = append(b.res.KSweep, kResult{K: k, P50Ms: round3(ms(m.p50)), P99Ms: round3(ms(m.p99)),
			BytesPerAgent: round3(m.meanBytes)})
	}
	return nil
}

// applyMany changes k100Routes streamed routes in one batch, other ones
// each round, and returns the revision of the change.
func (b *routecastBench) applyMany(ctx context.Context, round int) (uint64, error) {
	return b.applyK(ctx, round, b.cfg.k100Routes())
}

// applyK changes k streamed routes in one batch, other ones each round,
// and returns the revision of the change.
func (b *routecastBench) applyK(ctx context.Context, round, k int) (uint64, error) {
	index := func(j int) int { return (round*k + j) % len(b.load) }
	puts := make([]*routecastv1.Route, k)
	for j := range puts {
		puts[j] = benchdata.Changed(b.load[index(j)], b.nextChange())
	}
	resp, err := b.apply(ctx, loadScope, puts)
	if err != nil {
		return 0, err
	}
	if n := len(resp.GetUpdated()); n != k {
		return 0, fmt.Errorf("ApplyRoutes updated %d routes, want %d", n, k)
	}
	for j, p := range puts {
		b.load[index(j)] = p
	}
	return resp.GetRevision(), nil
}

// resume reopens some streams with the versions they hold, nothing having
// changed, and counts the routes their first update carries.
func (b *routecastBench) resume(ctx context.Context) error {
	live := b.fleet.live()
	n := min(b.cfg.Resume, len(live))
	if n == 0 {
		return nil
	}
	picked := make([]int, n)
	held := make([]map[string]uint64, n)
	for j := range picked {
		picked[j] = live[j*len(live)/n]
		a := b.agents[picked[j]]
		a.stop()
		held[j] = a.holding()
	}
	from := b.fleet.counts()
	for j, i := range picked {
		b.agents[i].start(ctx, b.pool.conn(i), held[j])
	}
	events := b.fleet.await(ctx, "resume", picked, from, func(event) bool { return true })
	b.res.ResumeStreams = n
	for _, i := range picked {
		b.res.ResumeRoutesResent += events[i].items
	}
	return nil
}

// storm restarts routecastd on the same address and data while every
// stream is open: all agents reconnect at once, each offering what it
// holds. It measures the time until every one has resumed, the routes
// resent (none: nothing changed) and the new server's peak memory.
func (b *routecastBench) storm(ctx context.Context) error {
	live := b.fleet.live()
	if _, err := b.srv.stop(); err != nil {
		return err
	}
	held := make(map[int]map[string]uint64, len(live))
	for _, i := range live {
		b.agents[i].stop()
		held[i] = b.agents[i].holding()
	}
	b.listen = b.srv.addr
	start := time.Now()
	if b.adminCC != nil {
		b.adminCC.Close()
	}
	if err := b.start(ctx); err != nil {
		return err
	}
	from := b.fleet.counts()
	for _, i := range live {
		b.agents[i].start(ctx, b.pool.conn(i), held[i])
	}
	events := b.fleet.await(ctx, "reconnect storm", live, from, func(event) bool { return true })
	b.res.StormS = round3(time.Since(start).Seconds())
	b.res.StormStreams = len(live)
	for _, i := range live {
		b.res.StormRoutesResent += events[i].items
	}
	m, err := readMemory(b.srv.pid())
	if err != nil {
		return err
	}
	b.res.StormPeakRSSKiB = m.Peak
	return nil
}

// applyRate writes ApplyBatches batches of new routes to applyScope one
// call at a time, then as many again with ApplyConcurrency calls in
// flight, as several operators or pipelines applying at once would.
func (b *routecastBench) applyRate(ctx context.Context) error {
	seq, err := b.applyBatches(ctx, "apply-seq", 1)
	if err != nil {
		return err
	}
	par, err := b.applyBatches(ctx, "apply", b.cfg.ApplyConcurrency)
	if err != nil {
		return err
	}
	b.res.ApplySequentialPerS, b.res.ApplyRoutesPerS = round3(seq), round3(par)
	b.res.ApplyConcurrency = b.cfg.ApplyConcurrency
	return nil
}

// applyBatches writes ApplyBatches batches of new routes named prefix-N
// to applyScope with at most inFlight calls at once, and returns the
// routes written per second. Every call must create its 1,000 routes.
func (b *routecastBench) applyBatches(ctx context.Context, prefix string, inFlight int) (float64, error) {
	rs, err := benchdata.Routes(applyScope, prefix, b.cfg.ApplyBatches*batchSize)
	if err != nil {
		return 0, err
	}
	work := make(chan []*routecastv1.Route, len(rs)/batchSize+1)
	for _, batch := range batches(rs) {
		work <- batch
	}
	close(work)
	runtime.GC()
	errs := make([]error, inFlight)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range inFlight {
		wg.Go(func() {
			for batch := range work {
				resp, err := b.apply(ctx, applyScope, batch)
				if err == nil && len(resp.GetCreated()) != len(batch) {
					err = fmt.Errorf("ApplyRoutes created %d routes, want %d", len(resp.GetCreated()), len(batch))
				}
				if err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return float64(len(rs)) / time.Since(start).Seconds(), nil
}

// putRoutes is the number of routes the PutRoute test writes in turn:
// the first puts create them, the others change them.
const putRoutes = 100

// putLatency writes routes of applyScope, which no stream reads, with
// sequential PutRoute calls. It runs before the apply test, so that the
// garbage of 100,000 applied routes is not collected while it measures.
func (b *routecastBench) putLatency(ctx context.Context) error {
	lat := make([]time.Duration, 0, b.cfg.Puts)
	runtime.GC() // as between rounds: this process's collection is not the server's latency
	for n := range b.cfg.Puts {
		r, err := benchdata.Route(applyScope, "put", n%putRoutes)
		if err != nil {
			return err
		}
		r = benchdata.Changed(r, b.nextChange())
		start := time.Now()
		if _, err := b.put(ctx, applyScope, r); err != nil {
			return err
		}
		lat = append(lat, time.Since(start))
	}
	b.res.PutRouteP50Ms = round3(ms(percentile(lat, 0.50)))
	b.res.PutRouteP99Ms = round3(ms(percentile(lat, 0.99)))
	return nil
}

// close stops the server first, with the streams still open, so that its
// exit time covers ending them; then the streams and connections.
func (b *routecastBench) close() {
	if b.fleet != nil {
		b.res.addFailures("routecastd", b.fleet.failures)
	}
	if b.srv != nil {
		took, err := b.srv.stop()
		b.res.ServerStopS = round3(took.Seconds())
		if err != nil {
			fmt.Fprintf(b.log, "routecast-bench: %v\n", err)
		}
		b.res.ServerLogLines = b.srv.linesBeforeStop
		b.res.ServerStopLogLines = b.srv.logs.count() - b.srv.linesBeforeStop
	}
	for _, a := range b.agents {
		a.cancelStream()
	}
	for _, a := range b.agents {
		a.stop()
	}
	if b.pool != nil {
		b.pool.close()
	}
	if b.adminCC != nil {
		b.adminCC.Close()
	}
}
