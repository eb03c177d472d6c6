package server

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/internal/benchdata"
	"github.com/routecast/routecast/internal/parallel"
)

// applyRequests returns requests that exercise every field of an
// ApplyRoutesRequest, in batches below and above parallel.MinChunk.
func applyRequests(t testing.TB) []*routecastv1.ApplyRoutesRequest {
	var out []*routecastv1.ApplyRoutesRequest
	for _, n := range []int{0, 1, parallel.MinChunk - 1, 2 * parallel.MinChunk, 1000} {
		rs, err := benchdata.Routes("a/b", "r", n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &routecastv1.ApplyRoutesRequest{
			Scope: "a/b", Puts: rs, Deletes: []string{"old-1", "old-2"}, Prune: n%2 == 0, DryRun: n == 1,
		})
	}
	return out
}

// TestUnmarshalApply checks that the parallel decoder gives what
// proto.Unmarshal gives, fields written in any order and repeated, and
// unknown fields, included.
func TestUnmarshalApply(t *testing.T) {
	for _, req := range applyRequests(t) {
		b, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		// A second scope after the routes, interleaved deletes and an
		// unknown field: the last scope wins, lists keep their order.
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, "c/d")
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendString(b, "old-3")
		b = protowire.AppendTag(b, 99, protowire.VarintType)
		b = protowire.AppendVarint(b, 7)
		checkSameDecoding(t, b)
	}
}

// TestUnmarshalApply_Malformed checks that prefixes of a request large
// enough to be decoded in parallel, and such a request with a broken
// route, fail to decode as they do with proto.Unmarshal, and that framing
// errors say where they are.
func TestUnmarshalApply_Malformed(t *testing.T) {
	b, err := proto.Marshal(applyRequests(t)[3])
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(b); n += 97 {
		checkSameDecoding(t, b[:n])
	}
	broken := protowire.AppendTag(b, applyPutsField, protowire.BytesType)
	broken = protowire.AppendBytes(broken, []byte{0x0a, 0x05, 'a'}) // a name cut short
	if err := unmarshalApply(broken, new(routecastv1.ApplyRoutesRequest)); err == nil {
		t.Error("a request with a truncated route decoded without error")
	}
	checkSameDecoding(t, broken)

	err = unmarshalApply([]byte{0x12, 0x05, 0x0a}, new(routecastv1.ApplyRoutesRequest))
	if err == nil || !strings.Contains(err.Error(), "ApplyRoutesRequest: invalid wire-format data in field 2 at byte 0") {
		t.Errorf("truncated route: err = %v, want one naming the field and the byte", err)
	}
}

// TestUnmarshalApply_TinyRoutes checks that a request of many tiny
// routes, such as 2,000 empty ones, which unmarshalApply hands whole to
// proto.Unmarshal, decodes as proto.Unmarshal decodes it.
func TestUnmarshalApply_TinyRoutes(t *testing.T) {
	checkSameDecoding(t, bytes.Repeat([]byte{0x12, 0x00}, 2000))
}

// checkSameDecoding fails t unless unmarshalApply and proto.Unmarshal
// agree on b: both fail, or both give the same request.
func checkSameDecoding(t testing.TB, b []byte) {
	t.Helper()
	want, got := new(routecastv1.ApplyRoutesRequest), new(routecastv1.ApplyRoutesRequest)
	wantErr, gotErr := proto.Unmarshal(b, want), unmarshalApply(b, got)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("%d bytes: unmarshalApply error %v, proto.Unmarshal error %v", len(b), gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Fatalf("%d bytes: unmarshalApply differs from proto.Unmarshal (-want +got):\n%s", len(b), diff)
	}
}

// FuzzUnmarshalApply checks the parallel decoder against proto.Unmarshal
// on arbitrary bytes.
func FuzzUnmarshalApply(f *testing.F) {
	for _, req := range applyRequests(f)[:4] {
		b, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkSameDecoding(t, b) })
}
