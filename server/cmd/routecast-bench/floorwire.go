package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
)

// The floor service: one bidirectional stream and one unary call, declared
// by hand and carried as raw bytes, so that the floor has no code of its
// own between gRPC and the network.
const (
	floorServiceName     = "routecastbench.Floor"
	floorStreamMethod    = "/" + floorServiceName + "/Stream"
	floorBroadcastMethod = "/" + floorServiceName + "/Broadcast"
)

// floorHandler is what the floor service's handlers call.
type floorHandler interface {
	serveStream(grpc.ServerStream) error
	broadcast(size int) (seq uint64, err error)
}

// floorDesc declares the floor service for grpc.Server.RegisterService
// and for the clients' streams.
var floorDesc = grpc.ServiceDesc{
	ServiceName: floorServiceName,
	HandlerType: (*floorHandler)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Broadcast", Handler: handleBroadcast}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Stream",
		Handler:       handleStream,
		ServerStreams: true,
		ClientStreams: true,
	}},
}

// handleBroadcast decodes a Broadcast request, a size as a uvarint, and
// answers with the broadcast's sequence number, 8 bytes big-endian.
func handleBroadcast(srv any, _ context.Context, dec func(any) error,
	_ grpc.UnaryServerInterceptor) (any, error) {
	var req []byte
	if err := dec(&req); err != nil {
		return nil, err
	}
	size, n := binary.Uvarint(req)
	if n <= 0 || size > maxFloorMessage {
		return nil, errors.New("floor: bad broadcast request")
	}
	seq, err := srv.(floorHandler).broadcast(int(size))
	if err != nil {
		return nil, err
	}
	return binary.BigEndian.AppendUint64(nil, seq), nil
}

func handleStream(srv any, ss grpc.ServerStream) error {
	return srv.(floorHandler).serveStream(ss)
}

// rawCodec passes []byte messages through as they are.
type rawCodec struct{}

// Marshal implements encoding.CodecV2.
func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("raw codec: cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

// Unmarshal implements encoding.CodecV2.
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("raw codec: cannot unmarshal into %T", v)
	}
	*p = data.Materialize()
	return nil
}

// Name implements encoding.CodecV2.
func (rawCodec) Name() string { return "raw" }

// Floor messages start with a kind byte and a sequence number; the rest
// is padding up to the message's size.
const (
	kindPart      byte = 1 // a part of the initial push; more follow
	kindLast      byte = 2 // the last part of the initial push
	kindBroadcast byte = 3 // a broadcast
	kindEcho      byte = 4 // the client's answer to any of them
	kindSubscribe byte = 5 // the client's first message: the part sizes

	floorHeader     = 9
	maxFloorMessage = 16 << 20
)

// floorMessage returns a message of size bytes (at least the header).
func floorMessage(kind byte, seq uint64, size int) []byte {
	b := make([]byte, max(size, floorHeader))
	b[0] = kind
	binary.BigEndian.PutUint64(b[1:], seq)
	return b
}

// parseFloorMessage returns the kind and sequence number of b.
func parseFloorMessage(b []byte) (kind byte, seq uint64, err error) {
	if len(b) < floorHeader {
		return 0, 0, errors.New("floor: short message")
	}
	return b[0], binary.BigEndian.Uint64(b[1:]), nil
}

// subscribeMessage asks for an initial push of messages of these sizes.
func subscribeMessage(sizes []int) []byte {
	b := []byte{kindSubscribe}
	for _, s := range sizes {
		b = binary.AppendUvarint(b, uint64(s))
	}
	return b
}

// parseSubscribe returns the sizes a subscribe message asks for.
func parseSubscribe(b []byte) ([]int, error) {
	if len(b) == 0 || b[0] != kindSubscribe {
		return nil, errors.New("floor: first message is not a subscription")
	}
	var sizes []int
	for b = b[1:]; len(b) > 0; {
		s, n := binary.Uvarint(b)
		if n <= 0 || s > maxFloorMessage {
			return nil, errors.New("floor: bad subscription")
		}
		sizes = append(sizes, int(s))
		b = b[n:]
	}
	if len(sizes) == 0 {
		return nil, errors.New("floor: empty subscription")
	}
	return sizes, nil
}
