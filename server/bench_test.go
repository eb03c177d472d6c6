package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/protobuf/proto"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/store"
)

// benchRoute is a route of about 400 bytes encoded, like the load
// generator's.
func benchRoute(i int, version uint64) *routecastv1.Route {
	name := fmt.Sprintf("route-%05d", i)
	return &routecastv1.Route{
		Name: name, Scope: "bench/load", Version: version, Owner: "team-bench",
		Match: &routecastv1.RouteMatch{
			Hosts:   []string{"api.bench.example.com"},
			Path:    &routecastv1.PathMatch{Kind: &routecastv1.PathMatch_Prefix{Prefix: "/v1/" + name + "/items"}},
			Methods: []string{"GET", "POST"},
			Headers: []*routecastv1.KeyValueMatch{
				{Name: "x-tenant", Value: "bench", Type: routecastv1.MatchType_MATCH_TYPE_EXACT},
				{Name: "x-version", Value: "v[0-9]+", Type: routecastv1.MatchType_MATCH_TYPE_REGEX},
			},
		},
		Upstream: &routecastv1.Upstream{Url: "https://" + name + ".backend.bench.internal:8443/base"},
		Labels:   map[string]string{"team": "bench", "tier": "gold", "region": "eu-west-1"},
	}
}

func benchHub(routes int) *hub {
	snap := store.Snapshot{Revision: 1, Scopes: map[string][]store.StoredRoute{}}
	for i := range routes {
		snap.Scopes["bench/load"] = append(snap.Scopes["bench/load"], mustEncode(benchRoute(i, 1)))
	}
	return newHub(snap)
}

func benchStream(h *hub, held map[string]uint64) *stream {
	st := newStream(&routecastv1.StreamRoutesRequest{Scope: "bench/load", InitialVersions: held},
		spiffeid.RequireFromString("spiffe://t/a").String(), "", time.Now(), DefaultMaxUpdateBytes)
	h.register(st)
	return st
}

// BenchmarkFanOut measures one commit of K routes reaching N streams:
// marking them dirty, then building and encoding each stream's update, as
// the server does for every stream after a change. Cost should grow with
// N and K, never with the scope's size.
func BenchmarkFanOut(b *testing.B) {
	for _, tt := range []struct{ streams, routes, k int }{
		{1000, 1000, 1}, {1000, 1000, 10}, {1000, 1000, 100}, {1000, 1000, 1000},
		{1000, 10000, 1}, {100, 1000, 1}, {100, 100000, 1},
		{10000, 1000, 1}, {10000, 1000, 100},
	} {
		b.Run(fmt.Sprintf("N=%d/R=%d/K=%d", tt.streams, tt.routes, tt.k), func(b *testing.B) {
			h := benchHub(tt.routes)
			streams := make([]*stream, tt.streams)
			for i := range streams {
				streams[i] = benchStream(h, nil)
				drain(h, streams[i]) // the initial update, out of the way
			}
			rev := uint64(1)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				rev++
				c := store.Commit{Revision: rev, Scope: "bench/load"}
				for i := range tt.k {
					c.Puts = append(c.Puts, mustEncode(benchRoute(i, rev)))
				}
				h.apply(c)
				for _, st := range streams {
					u := st.next(h)
					_ = u.message(st.scope)
					st.answer(u.nonce, nil, time.Time{})
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tt.streams), "ns/stream")
		})
	}
}

// BenchmarkInitialUpdate measures the first update of a stream: the
// difference between what it holds and the scope.
func BenchmarkInitialUpdate(b *testing.B) {
	for _, held := range []string{"nothing", "everything"} {
		b.Run("holds="+held, func(b *testing.B) {
			h := benchHub(1000)
			versions := map[string]uint64{}
			if held == "everything" {
				for i := range 1000 {
					versions[fmt.Sprintf("route-%05d", i)] = 1
				}
			}
			b.ReportAllocs()
			for range b.N {
				st := benchStream(h, versions)
				drain(h, st)
				h.unregister(st)
			}
		})
	}
}

// mustEncode returns r, with its scope and version set, as a store holds
// it.
func mustEncode(r *routecastv1.Route) store.StoredRoute {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
	if err != nil {
		panic(err)
	}
	return store.StoredRoute{Name: r.GetName(), Version: r.GetVersion(), Bytes: b}
}

// drain builds, encodes and acknowledges updates until st has none.
func drain(h *hub, st *stream) {
	for u := st.next(h); u != nil; u = st.next(h) {
		_ = u.message(st.scope)
		st.answer(u.nonce, nil, time.Time{})
	}
}

// BenchmarkEncodeEntry measures encoding and framing one route version,
// done once per version and shared by every stream.
func BenchmarkEncodeEntry(b *testing.B) {
	r := benchRoute(1, 1)
	b.ReportAllocs()
	for range b.N {
		frameEntry(r.GetName(), r.GetVersion(), mustEncode(r).Bytes)
	}
}
