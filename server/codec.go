package server

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/internal/parallel"
)

// sharedMessage is a response already encoded, in pieces: the route frames
// in it are the hub's shared bytes, so a route encoded once goes to every
// stream without being marshalled or copied again. Its buffers are never
// freed into a pool: the frames outlive every message.
type sharedMessage mem.BufferSlice

// codec is the proto codec, with sharedMessage passed through and the
// routes of an ApplyRoutesRequest decoded on every CPU.
type codec struct {
	encoding.CodecV2
}

func newCodec() codec {
	return codec{encoding.GetCodecV2("proto")}
}

// Marshal implements encoding.CodecV2.
func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(sharedMessage); ok {
		return mem.BufferSlice(m), nil
	}
	return c.CodecV2.Marshal(v)
}

// Unmarshal implements encoding.CodecV2.
func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	if req, ok := v.(*routecastv1.ApplyRoutesRequest); ok {
		buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
		defer buf.Free()
		return unmarshalApply(buf.ReadOnlyData(), req)
	}
	return c.CodecV2.Unmarshal(data, v)
}

// applyPutsField is the number of ApplyRoutesRequest.puts.
const applyPutsField = 2

// decodeChunk is the number of routes from which unmarshalApply splits
// the decoding of a batch across CPUs.
const decodeChunk = 128

// unmarshalApply decodes an ApplyRoutesRequest as proto.Unmarshal does,
// but decodes its routes, most of a large request, on every CPU: it cuts
// the request into the encodings of its routes and the rest, decodes the
// rest, then each route. proto.Unmarshal copies what it decodes, so
// nothing refers to b afterwards.
func unmarshalApply(b []byte, req *routecastv1.ApplyRoutesRequest) error {
	var rest []byte
	var puts [][]byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		if num == applyPutsField && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b[n:])
			puts = append(puts, v)
		} else {
			rest = append(rest, b[:n+m]...)
		}
		b = b[n+m:]
	}
	if err := proto.Unmarshal(rest, req); err != nil {
		return err
	}
	if len(puts) == 0 {
		return nil
	}
	routes := make([]*routecastv1.Route, len(puts))
	if i, err := parallel.Each(len(puts), decodeChunk, func(i int) error {
		routes[i] = new(routecastv1.Route)
		return proto.Unmarshal(puts[i], routes[i])
	}); err != nil {
		return fmt.Errorf("puts[%d]: %w", i, err)
	}
	req.Puts = routes
	return nil
}
