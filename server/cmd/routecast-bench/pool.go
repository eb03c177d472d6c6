package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
)

// pool is the gRPC connections that the streams of a fleet share: stream i
// uses connection i / perConn.
type pool struct {
	conns   []*grpc.ClientConn
	perConn int
	streams int

	transientFailures atomic.Int64 // connection attempts that failed and were retried
}

// newPool creates the connections for streams streams, perConn to a
// connection. They connect when open is called.
func newPool(addr string, conf *tls.Config, streams, perConn int) (*pool, error) {
	p := &pool{perConn: perConn, streams: streams}
	for i := 0; i < streams; i += perConn {
		cc, err := dial(addr, conf)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("connect %s: %w", addr, err)
		}
		p.conns = append(p.conns, cc)
	}
	return p, nil
}

// open connects every connection, at most concurrency at a time, and once
// a connection is ready calls start for each of its streams, on the
// connecting goroutine. A connection that is not ready within timeout
// calls fail for each of its streams instead. open returns when every
// connection is ready or has failed.
func (p *pool) open(ctx context.Context, timeout time.Duration, concurrency int,
	start func(stream int, cc *grpc.ClientConn), fail func(stream int, err error)) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for c, cc := range p.conns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.waitReady(ctx, cc)
			<-sem
			for s := c * p.perConn; s < min((c+1)*p.perConn, p.streams); s++ {
				if err != nil {
					fail(s, err)
				} else {
					start(s, cc)
				}
			}
		}()
	}
	wg.Wait()
}

// waitReady connects cc and waits until it is ready. gRPC retries failed
// attempts with its backoff; each is counted.
func (p *pool) waitReady(ctx context.Context, cc *grpc.ClientConn) error {
	cc.Connect()
	for {
		s := cc.GetState()
		switch s {
		case connectivity.Ready:
			return nil
		case connectivity.TransientFailure:
			p.transientFailures.Add(1)
		case connectivity.Shutdown:
			return errors.New("connection closed while connecting")
		}
		if !cc.WaitForStateChange(ctx, s) {
			return fmt.Errorf("connection not ready (%s): %w", s, ctx.Err())
		}
	}
}

// conn returns the connection of stream i.
func (p *pool) conn(i int) *grpc.ClientConn { return p.conns[i/p.perConn] }

// close closes every connection.
func (p *pool) close() {
	for _, cc := range p.conns {
		cc.Close()
	}
}
