package server

import (
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/policy"
	"github.com/routecast/routecast/pkg/store"
)

// FuzzStreamRequests drives the stream request handler (subscription
// check, update building, ACK and NACK handling) with arbitrary request
// sequences, interleaved with commits. The input is a sequence of
// length-prefixed StreamRoutesRequest encodings. Nothing may panic; a bad
// subscription is refused with InvalidArgument or PermissionDenied; every
// update decodes as a StreamRoutesResponse of the subscribed scope with
// non-decreasing revisions; an ACK of the in-flight nonce clears it.
func FuzzStreamRequests(f *testing.F) {
	seed := func(reqs ...*routecastv1.StreamRoutesRequest) []byte {
		var b []byte
		for _, r := range reqs {
			enc, _ := proto.Marshal(r)
			b = protowire.AppendBytes(b, enc)
		}
		return b
	}
	sub := &routecastv1.StreamRoutesRequest{Scope: "payments/staging", Node: &routecastv1.Node{Id: "n"},
		InitialVersions: map[string]uint64{"a": 1, "gone": 1}}
	ack := func(n string) *routecastv1.StreamRoutesRequest {
		return &routecastv1.StreamRoutesRequest{ResponseNonce: n}
	}
	f.Add(seed(sub, ack("1"), ack("2"), ack("2"), ack("1"), ack("3")))
	f.Add(seed(&routecastv1.StreamRoutesRequest{Scope: "payments/staging", Names: []string{"a", "later"}}, ack("1"),
		&routecastv1.StreamRoutesRequest{ResponseNonce: "2", ErrorDetail: &routecastv1.ErrorDetail{Code: 3, Message: "rejected"}}))
	f.Add(seed(&routecastv1.StreamRoutesRequest{Scope: "bad scope"}))
	f.Add(seed(sub, ack("999")))

	pol, err := policy.Parse([]byte("rules:\n  - id_prefix: spiffe://t/agent\n    read: [\"payments/*\"]\n"))
	if err != nil {
		f.Fatal(err)
	}
	id := spiffeid.RequireFromString("spiffe://t/agent/host-1")
	f.Fuzz(func(t *testing.T, data []byte) {
		reqs := decodeRequests(data)
		if len(reqs) == 0 {
			return
		}
		h := newHub(store.Snapshot{Revision: 1, Scopes: map[string][]store.StoredRoute{
			"payments/staging": {mustEncode(fuzzRoute("a", 1)), mustEncode(fuzzRoute("b", 1))},
		}})
		d := &discovery{srv: &Server{policy: policy.NewHolder(pol), hub: h, maxUpdateBytes: 256}}
		if err := d.checkSubscription(id, reqs[0]); err != nil {
			if c := status.Code(err); c != codes.InvalidArgument && c != codes.PermissionDenied {
				t.Fatalf("subscription refused with %v", err)
			}
			return
		}
		st := newStream(reqs[0], id.String(), "", time.Unix(0, 0), d.srv.maxUpdateBytes)
		h.register(st)
		var lastRev uint64
		for i, req := range reqs[1:] {
			if i%3 == 2 {
				rev := h.revision + 1
				h.apply(store.Commit{Revision: rev, Scope: "payments/staging",
					Puts: []store.StoredRoute{mustEncode(fuzzRoute(req.GetResponseNonce()+"x", rev))}, Deletes: []string{"b"}})
			}
			if u := st.next(h); u != nil {
				resp := new(routecastv1.StreamRoutesResponse)
				if err := proto.Unmarshal(mem.BufferSlice(u.message(st.scope)).Materialize(), resp); err != nil {
					t.Fatalf("update does not decode: %v", err)
				}
				if resp.GetScope() != st.scope || resp.GetNonce() != u.nonce || resp.GetRevision() < lastRev {
					t.Fatalf("update %v after revision %d", resp, lastRev)
				}
				lastRev = resp.GetRevision()
			}
			res, _ := st.answer(req.GetResponseNonce(), req.GetErrorDetail(), time.Unix(0, 0))
			if res == ackUnknown {
				break
			}
			if res == ackApplied && st.status().GetPendingNames() > uint32(len(h.scopes["payments/staging"].routes)+2) {
				t.Fatalf("pending names %d exceed the scope", st.status().GetPendingNames())
			}
		}
		h.unregister(st)
	})
}

func decodeRequests(data []byte) []*routecastv1.StreamRoutesRequest {
	var out []*routecastv1.StreamRoutesRequest
	for len(data) > 0 && len(out) < 64 {
		b, n := protowire.ConsumeBytes(data)
		if n < 0 {
			break
		}
		data = data[n:]
		req := new(routecastv1.StreamRoutesRequest)
		if proto.Unmarshal(b, req) != nil {
			break
		}
		out = append(out, req)
	}
	return out
}

func fuzzRoute(name string, version uint64) *routecastv1.Route {
	return &routecastv1.Route{Name: name, Scope: "payments/staging", Version: version,
		Match:    &routecastv1.RouteMatch{Path: &routecastv1.PathMatch{Kind: &routecastv1.PathMatch_Prefix{Prefix: "/"}}},
		Upstream: &routecastv1.Upstream{Url: "https://x.internal"}}
}
