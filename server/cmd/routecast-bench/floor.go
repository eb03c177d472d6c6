package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
)

// floorK1Size is the size of the floor's K=1 message; its K=100 message
// is as large as the routes of routecast's K=100 change.
const floorK1Size = 500

// floorClient is one stream of the floor: it subscribes with the sizes of
// the initial push, echoes every message and records the initial push and
// each broadcast in its progress.
type floorClient struct {
	progress *progress
	cancel   context.CancelFunc
	done     chan struct{}
}

var floorStreamDesc = &floorDesc.Streams[0]

// start runs the stream on cc on a new goroutine until cancelStream or
// until the stream fails, which is recorded in the client's progress.
func (c *floorClient) start(ctx context.Context, cc *grpc.ClientConn, parts []int) {
	ctx, c.cancel = context.WithCancel(ctx)
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		if err := c.run(ctx, cc, parts); err != nil && ctx.Err() == nil {
			c.progress.fail(err)
		}
	}()
}

// cancelStream ends the stream, if it was started.
func (c *floorClient) cancelStream() {
	if c.cancel != nil {
		c.cancel()
	}
}

// wait waits for the stream's goroutine, if it was started.
func (c *floorClient) wait() {
	if c.done != nil {
		<-c.done
	}
}

// run subscribes and echoes messages until the stream ends.
func (c *floorClient) run(ctx context.Context, cc *grpc.ClientConn, parts []int) error {
	stream, err := cc.NewStream(ctx, floorStreamDesc, floorStreamMethod,
		grpc.ForceCodecV2(rawCodec{}), grpc.WaitForReady(true))
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	if err := stream.SendMsg(subscribeMessage(parts)); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	var cur event
	for {
		var msg []byte
		if err := stream.RecvMsg(&msg); err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		at := time.Now()
		kind, seq, err := parseFloorMessage(msg)
		if err != nil {
			return err
		}
		if err := stream.SendMsg(floorMessage(kindEcho, seq, floorHeader)); err != nil {
			return fmt.Errorf("echo: %w", err)
		}
		cur.bytes += len(msg)
		cur.items++
		if kind == kindPart {
			continue
		}
		cur.key, cur.recvAt, cur.ackAt = seq, at, time.Now()
		c.progress.add(cur)
		cur = event{}
	}
}

// floorBench measures the floor server: one step per method, in the
// order of runFloor.
type floorBench struct {
	env
	dir   string // the run's temporary directory
	parts []int  // sizes of the messages of the initial push

	// Set by the steps.
	srv     *child
	ctl     *grpc.ClientConn // carries the Broadcast calls
	before  memory
	pool    *pool
	clients []*floorClient
	fleet   *fleet
}

// runFloor measures the floor into e.res. parts are the sizes of the
// messages of routecast's initial update.
func runFloor(ctx context.Context, e env, dir string, parts []int) error {
	b := &floorBench{env: e, dir: dir, parts: parts}
	defer b.close()
	return e.runSteps(ctx, "floor", []step{
		{"start", b.start},
		{"memory before streams", b.memoryBefore},
		{"initial push", b.initialPush},
		{"memory with streams", b.memoryAfter},
		{"K=1 broadcasts", b.k1},
		{"K=100 broadcasts", b.k100},
	})
}

// start runs this binary as the floor server.
func (b *floorBench) start(ctx context.Context) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	addrFile := filepath.Join(b.dir, "floor.addr")
	argv := []string{exe, floorServerCommand, "--addr-file", addrFile,
		"--cert", b.ids.ServerCert, "--key", b.ids.ServerKey, "--ca", b.ids.CA}
	if b.srv, err = startChild(ctx, "floor-server", addrFile, argv, b.log); err != nil {
		return err
	}
	b.ctl, err = dial(b.srv.addr, b.ids.Operator)
	return err
}

func (b *floorBench) memoryBefore(ctx context.Context) error {
	var err error
	b.before, err = settledMemory(ctx, b.srv.pid(), b.cfg.RSSSettle)
	return err
}

// initialPush opens every stream and waits until each has its initial
// push and has echoed it.
func (b *floorBench) initialPush(ctx context.Context) error {
	var err error
	b.pool, err = newPool(b.srv.addr, b.ids.Agent, b.cfg.Agents, b.cfg.StreamsPerConn)
	if err != nil {
		return err
	}
	b.fleet = newFleet(b.cfg.Agents, b.cfg.Timeout)
	b.clients = make([]*floorClient, b.cfg.Agents)
	for i := range b.clients {
		b.clients[i] = &floorClient{progress: b.fleet.streams[i]}
	}

	cpu := startCPU(b.srv.pid())
	start := time.Now()
	b.pool.open(ctx, b.cfg.Timeout, b.cfg.DialConcurrency,
		func(i int, cc *grpc.ClientConn) { b.clients[i].start(ctx, cc, b.parts) },
		func(i int, err error) { b.fleet.streams[i].fail(err) })
	events := b.fleet.await(ctx, "initial push", nil, nil, func(e event) bool { return e.key == 0 })
	b.res.CPUInitialSyncFloor = cpu.stop()
	b.res.FloorConnTransientFails = b.pool.transientFailures.Load()

	took, _, err := lastAck(b.fleet, events, start)
	b.res.InitialSyncFloorS = round3(took.Seconds())
	return err
}

func (b *floorBench) memoryAfter(ctx context.Context) error {
	after, err := settledMemory(ctx, b.srv.pid(), b.cfg.RSSSettle)
	if err != nil {
		return err
	}
	b.res.FloorRSSPeakKiB = after.Peak
	b.res.RSSPerStreamFloorKiB = perStreamKiB(b.before, after, len(b.fleet.live()))
	return nil
}

// broadcast asks the floor server to send size bytes to every stream and
// returns the broadcast's sequence number.
func (b *floorBench) broadcast(ctx context.Context, size int) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	var reply []byte
	req := binary.AppendUvarint(nil, uint64(size))
	err := b.ctl.Invoke(ctx, floorBroadcastMethod, req, &reply, grpc.ForceCodecV2(rawCodec{}))
	if err != nil {
		return 0, err
	}
	if len(reply) != 8 {
		return 0, fmt.Errorf("broadcast: reply of %d bytes", len(reply))
	}
	return binary.BigEndian.Uint64(reply), nil
}

// k1 broadcasts a route-sized message per round.
func (b *floorBench) k1(ctx context.Context) error {
	m, cpu, err := b.measureRounds(ctx, b.fleet, b.srv.pid(), "K=1",
		func(ctx context.Context, _ int) (uint64, error) { return b.broadcast(ctx, floorK1Size) })
	b.res.CPUK1Floor = cpu
	b.res.K1P50FloorMs, b.res.K1P99FloorMs = round3(ms(m.p50)), round3(ms(m.p99))
	return err
}

// k100 broadcasts a message as large as routecast's K=100 change per
// round.
func (b *floorBench) k100(ctx context.Context) error {
	size := b.cfg.k100Routes() * routeSize
	m, cpu, err := b.measureRounds(ctx, b.fleet, b.srv.pid(), "K=100",
		func(ctx context.Context, _ int) (uint64, error) { return b.broadcast(ctx, size) })
	b.res.CPUK100Floor = cpu
	b.res.K100P50FloorMs, b.res.K100P99FloorMs = round3(ms(m.p50)), round3(ms(m.p99))
	return err
}

// close stops the server, then the streams and connections.
func (b *floorBench) close() {
	if b.fleet != nil {
		b.res.addFailures("floor", b.fleet.failures)
	}
	if b.srv != nil {
		if _, err := b.srv.stop(); err != nil {
			fmt.Fprintf(b.log, "routecast-bench: %v\n", err)
		}
	}
	for _, c := range b.clients {
		c.cancelStream()
	}
	for _, c := range b.clients {
		c.wait()
	}
	if b.pool != nil {
		b.pool.close()
	}
	if b.ctl != nil {
		b.ctl.Close()
	}
}
