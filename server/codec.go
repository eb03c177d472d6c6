package server

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
)

// sharedMessage is a response already encoded, in pieces: the route frames
// in it are the hub's shared bytes, so a route encoded once goes to every
// stream without being marshalled or copied again. Its buffers are never
// freed into a pool: the frames outlive every message.
type sharedMessage mem.BufferSlice

// codec is the proto codec, with sharedMessage passed through.
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
