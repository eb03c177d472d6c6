package main

import (
	"context"
	"fmt"
	"maps"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
)

// agent is one discovery stream, speaking docs/protocol.md with the
// generated stubs: it subscribes to loadScope, applies each response to
// what it holds, ACKs every response (every part of a split update too)
// and records each complete update in its progress.
type agent struct {
	// Set at construction, then read only.
	id       int
	progress *progress

	// Owned by the stream's goroutine while it runs; read by others only
	// after stop returns.
	held       map[string]uint64 // route name -> version
	firstParts []int             // encoded sizes of the parts of the first update

	// Used by the goroutine that starts and stops the stream.
	cancel context.CancelFunc // ends the running stream; nil when stopped
	done   chan struct{}      // closed when the stream's goroutine returns
}

func newAgent(id int, p *progress) *agent {
	return &agent{id: id, progress: p, held: make(map[string]uint64)}
}

// start opens the stream on cc, offering initial as the versions held,
// and runs it on a new goroutine until stop or until the stream fails,
// which is recorded in the agent's progress.
func (a *agent) start(ctx context.Context, cc *grpc.ClientConn, initial map[string]uint64) {
	ctx, a.cancel = context.WithCancel(ctx)
	a.done = make(chan struct{})
	a.progress.reset()
	go func() {
		defer close(a.done)
		// run returns only when the stream ends; an end that nobody asked
		// for is a failure.
		if err := a.run(ctx, cc, initial); ctx.Err() == nil {
			a.progress.fail(err)
		}
	}()
}

// cancelStream ends the stream without waiting for its goroutine, so
// that many streams can be ended at once before stop waits for each.
func (a *agent) cancelStream() {
	if a.cancel != nil {
		a.cancel()
	}
}

// stop ends the stream and waits for its goroutine.
func (a *agent) stop() {
	if a.cancel == nil {
		return
	}
	a.cancel()
	<-a.done
	a.cancel = nil
}

// run subscribes and answers responses until the stream ends. It reads
// responses as bytes and scans them with protowire for what it needs (the
// revision, the nonce, more, and each route's name and version), as a
// lean client would: a full decode of every route would make the load
// generator, not the server, the bottleneck on a small machine.
func (a *agent) run(ctx context.Context, cc *grpc.ClientConn, initial map[string]uint64) error {
	desc := &grpc.StreamDesc{StreamName: "StreamRoutes", ServerStreams: true, ClientStreams: true}
	stream, err := cc.NewStream(ctx, desc, routecastv1.RouteDiscoveryService_StreamRoutes_FullMethodName,
		grpc.WaitForReady(true), grpc.ForceCodecV2(rawCodec{}), grpc.CallContentSubtype("proto"))
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	node := &routecastv1.Node{Id: fmt.Sprintf("bench-%05d", a.id), Hostname: "routecast-bench"}
	sub, err := proto.Marshal(&routecastv1.StreamRoutesRequest{Node: node, Scope: loadScope, InitialVersions: initial})
	if err != nil {
		return err
	}
	if err := stream.SendMsg(sub); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	var cur event // the update being collected
	for {
		var b []byte
		if err := stream.RecvMsg(&b); err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		at := time.Now()
		resp, err := a.apply(b)
		if err != nil {
			return err
		}
		if a.progress.count() == 0 {
			a.firstParts = append(a.firstParts, len(b))
		}
		ack := protowire.AppendTag(nil, 5, protowire.BytesType) // response_nonce
		ack = protowire.AppendString(ack, resp.nonce)
		if err := stream.SendMsg(ack); err != nil {
			return fmt.Errorf("ack: %w", err)
		}
		cur.bytes += len(b)
		cur.items += resp.routes
		if resp.more {
			continue
		}
		cur.key, cur.recvAt, cur.ackAt, cur.held = resp.revision, at, time.Now(), len(a.held)
		a.progress.add(cur)
		cur = event{}
	}
}

// scanned is what a client needs of a StreamRoutesResponse.
type scanned struct {
	revision uint64
	nonce    string
	more     bool
	routes   int
}

// apply scans an encoded response and merges it into what the agent
// holds. Field numbers are those of discovery.proto and route.proto.
func (a *agent) apply(b []byte) (scanned, error) {
	var r scanned
	err := scanFields(b, func(num protowire.Number, v []byte, n uint64) {
		switch num {
		case 2:
			r.revision = n
		case 3:
			name, version := scanRoute(v)
			a.held[name] = version
			r.routes++
		case 4:
			delete(a.held, string(v))
		case 5:
			r.nonce = string(v)
		case 6:
			r.more = n != 0
		}
	})
	return r, err
}

// scanRoute returns the name (field 1) and version (field 9) of an encoded
// route.
func scanRoute(b []byte) (name string, version uint64) {
	scanFields(b, func(num protowire.Number, v []byte, n uint64) {
		switch num {
		case 1:
			name = string(v)
		case 9:
			version = n
		}
	})
	return name, version
}

// scanFields calls fn for each top-level field of b with its bytes (for
// length-delimited fields) or its value (for varints).
func scanFields(b []byte, fn func(num protowire.Number, v []byte, n uint64)) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("bad response: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return fmt.Errorf("bad response: %w", protowire.ParseError(m))
			}
			fn(num, v, 0)
			b = b[m:]
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return fmt.Errorf("bad response: %w", protowire.ParseError(m))
			}
			fn(num, nil, v)
			b = b[m:]
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return fmt.Errorf("bad response: %w", protowire.ParseError(m))
			}
			b = b[m:]
		}
	}
	return nil
}

// holding returns a copy of the versions the agent holds. Call it only
// after stop.
func (a *agent) holding() map[string]uint64 {
	return maps.Clone(a.held)
}
