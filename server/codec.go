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

// minParallelRouteSize is the mean encoded size of a request's routes
// below which unmarshalApply decodes them in one call: a route that
// small is a few fields, and a call per route would cost more than it.
const minParallelRouteSize = 64

// unmarshalApply decodes an ApplyRoutesRequest as proto.Unmarshal does,
// but decodes its routes, most of a large request, on every CPU: it cuts
// the request into the encodings of its routes and the rest, decodes the
// rest, then each route. proto.Unmarshal copies what it decodes, so
// nothing refers to b afterwards.
func unmarshalApply(b []byte, req *routecastv1.ApplyRoutesRequest) error {
	n, err := countPuts(b)
	if err != nil {
		return err
	}
	if n < 2*parallel.MinChunk || len(b)/n < minParallelRouteSize {
		// Too few routes to share, or so small that decoding each on its
		// own costs more than decoding them all in one call.
		return proto.Unmarshal(b, req)
	}
	var rest []byte
	puts := make([][]byte, 0, n)
	for len(b) > 0 {
		num, typ, tag := protowire.ConsumeTag(b)
		size := tag + protowire.ConsumeFieldValue(num, typ, b[tag:])
		if num == applyPutsField && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b[tag:])
			puts = append(puts, v)
		} else {
			rest = append(rest, b[:size]...)
		}
		b = b[size:]
	}
	if err := proto.Unmarshal(rest, req); err != nil {
		return err
	}
	if len(puts) == 0 {
		return nil
	}
	routes := make([]*routecastv1.Route, len(puts))
	if i, err := parallel.Each(len(puts), func(i int) error {
		routes[i] = new(routecastv1.Route)
		return proto.Unmarshal(puts[i], routes[i])
	}); err != nil {
		return fmt.Errorf("puts[%d]: %w", i, err)
	}
	req.Puts = routes
	return nil
}

// countPuts checks the framing of an encoded ApplyRoutesRequest's fields
// and counts its routes.
func countPuts(b []byte) (int, error) {
	n := 0
	for off := 0; off < len(b); {
		num, typ, tag := protowire.ConsumeTag(b[off:])
		if tag < 0 {
			return 0, fmt.Errorf("ApplyRoutesRequest: invalid wire-format data at byte %d: %w", off, protowire.ParseError(tag))
		}
		size := protowire.ConsumeFieldValue(num, typ, b[off+tag:])
		if size < 0 {
			return 0, fmt.Errorf("ApplyRoutesRequest: invalid wire-format data in field %d at byte %d: %w", num, off, protowire.ParseError(size))
		}
		if num == applyPutsField && typ == protowire.BytesType {
			n++
		}
		off += tag + size
	}
	return n, nil
}
