package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/routecast/routecast/pkg/atomicfile"
	"github.com/routecast/routecast/pkg/identity"
)

// floorQueue is how many broadcasts may wait for one stream's sender.
const floorQueue = 16

// floorServerMain runs the floor server until SIGTERM or SIGINT and
// returns the exit status.
func floorServerMain(args []string) int {
	if err := serveFloor(args); err != nil {
		fmt.Fprintln(os.Stderr, "floor-server:", err)
		return 1
	}
	return 0
}

// floorFlags are the flags of the floor-server command.
type floorFlags struct {
	addrFile, cert, key, ca string
}

func parseFloorFlags(args []string) (floorFlags, error) {
	var f floorFlags
	fs := flag.NewFlagSet("routecast-bench "+floorServerCommand, flag.ContinueOnError)
	fs.StringVar(&f.addrFile, "addr-file", "", "write the bound address to this `file` (required)")
	fs.StringVar(&f.cert, "cert", "", "server certificate `file` (PEM, X.509-SVID)")
	fs.StringVar(&f.key, "key", "", "server private key `file` (PEM)")
	fs.StringVar(&f.ca, "ca", "", "trust bundle `file` (PEM)")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if f.addrFile == "" {
		return f, errors.New("-addr-file is required")
	}
	return f, nil
}

// serveFloor serves the floor on a loopback port with the mTLS setup of
// routecastd, until SIGTERM or SIGINT.
func serveFloor(args []string) error {
	f, err := parseFloorFlags(args)
	if err != nil {
		return err
	}
	src, err := identity.NewFileSource(f.cert, f.key, f.ca)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	g := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(identity.ServerTLSConfig(src, identity.ServerOptions{}))),
		grpc.ForceServerCodecV2(rawCodec{}),
	)
	g.RegisterService(&floorDesc, newFloorServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if _, err := atomicfile.Write(f.addrFile, []byte(lis.Addr().String()+"\n"), 0o644); err != nil {
		lis.Close()
		return err
	}
	served := make(chan error, 1)
	go func() { served <- g.Serve(lis) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	g.Stop()
	return nil
}

// floorServer sends each new stream its initial push, one message per
// answer, and each broadcast to every stream.
type floorServer struct {
	seq atomic.Uint64 // the latest broadcast's sequence number

	mu       sync.Mutex
	streams  map[*floorStream]struct{} // guarded by mu
	messages map[[2]int][]byte         // guarded by mu: initial parts by kind and size, shared
}

// floorStream is a stream that has had its initial push.
type floorStream struct {
	queue chan []byte   // broadcasts for the stream's sender
	done  chan struct{} // closed when the stream ends
}

func newFloorServer() *floorServer {
	return &floorServer{streams: make(map[*floorStream]struct{}), messages: make(map[[2]int][]byte)}
}

// serveStream implements floorHandler: the initial push, then the
// broadcasts until the client ends the stream.
func (s *floorServer) serveStream(ss grpc.ServerStream) error {
	if err := s.push(ss); err != nil {
		return err
	}
	st := &floorStream{queue: make(chan []byte, floorQueue), done: make(chan struct{})}
	s.mu.Lock()
	s.streams[st] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.streams, st)
		s.mu.Unlock()
		close(st.done)
	}()

	// Echoes are read and dropped on their own goroutine, which ends once
	// the stream does.
	received := make(chan error, 1)
	go func() {
		for {
			var echo []byte
			if err := ss.RecvMsg(&echo); err != nil {
				received <- err
				return
			}
		}
	}()
	for {
		select {
		case msg := <-st.queue:
			if err := ss.SendMsg(msg); err != nil {
				return err
			}
		case err := <-received:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// push reads the subscription and sends the initial push it asks for,
// each message after the client echoed the one before.
func (s *floorServer) push(ss grpc.ServerStream) error {
	var sub []byte
	if err := ss.RecvMsg(&sub); err != nil {
		return err
	}
	sizes, err := parseSubscribe(sub)
	if err != nil {
		return err
	}
	for i, size := range sizes {
		kind := kindPart
		if i == len(sizes)-1 {
			kind = kindLast
		}
		if err := ss.SendMsg(s.message(kind, size)); err != nil {
			return err
		}
		var echo []byte
		if err := ss.RecvMsg(&echo); err != nil {
			return err
		}
	}
	return nil
}

// message returns the shared initial part of this kind and size.
func (s *floorServer) message(kind byte, size int) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]int{int(kind), size}
	m := s.messages[k]
	if m == nil {
		m = floorMessage(kind, 0, size)
		s.messages[k] = m
	}
	return m
}

// broadcast implements floorHandler: it queues one message of size bytes
// for every stream and returns its sequence number.
func (s *floorServer) broadcast(size int) (uint64, error) {
	seq := s.seq.Add(1)
	msg := floorMessage(kindBroadcast, seq, size)
	s.mu.Lock()
	targets := make([]*floorStream, 0, len(s.streams))
	for st := range s.streams {
		targets = append(targets, st)
	}
	s.mu.Unlock()
	for _, st := range targets {
		select {
		case st.queue <- msg:
		case <-st.done:
		}
	}
	return seq, nil
}
