package server

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
)

// rawMessage is a message that is already encoded. The server's codec
// writes its bytes as they are, so a route encoded once can be sent to
// every stream without being marshalled again.
type rawMessage []byte

// codec is the proto codec, with rawMessage passed through.
type codec struct {
	encoding.CodecV2
}

func newCodec() codec {
	return codec{encoding.GetCodecV2("proto")}
}

// Marshal implements encoding.CodecV2.
func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	if raw, ok := v.(rawMessage); ok {
		return mem.BufferSlice{mem.SliceBuffer(raw)}, nil
	}
	return c.CodecV2.Marshal(v)
}
