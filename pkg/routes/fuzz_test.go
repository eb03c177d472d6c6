package routes_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/routes"
)

// FuzzDecodeRoute feeds arbitrary bytes to the route decoder the agent and
// the store use, then to validation and normalization. Nothing may panic;
// a valid route stays valid once normalized, normalizing twice changes
// nothing, and the canonical encoding is stable.
func FuzzDecodeRoute(f *testing.F) {
	for _, r := range []*routecastv1.Route{
		{Name: "a", Match: &routecastv1.RouteMatch{Path: &routecastv1.PathMatch{Kind: &routecastv1.PathMatch_Prefix{Prefix: "/a"}}},
			Upstream: &routecastv1.Upstream{Url: "https://a.internal:8443"}},
		{Name: "b.c-d", Match: &routecastv1.RouteMatch{
			Hosts:   []string{"API.example.com", "*.example.com"},
			Path:    &routecastv1.PathMatch{Kind: &routecastv1.PathMatch_Template{Template: "/pets/{id}"}},
			Methods: []string{"get", "POST"},
			Headers: []*routecastv1.KeyValueMatch{{Name: "x-v", Value: "v[0-9]+", Type: routecastv1.MatchType_MATCH_TYPE_REGEX}},
		}, Upstream: &routecastv1.Upstream{Backends: []*routecastv1.Backend{{Cluster: "pets:8080", Weight: 3}}},
			Filters: []*routecastv1.RouteFilter{{Kind: &routecastv1.RouteFilter_UrlRewrite{UrlRewrite: &routecastv1.UrlRewrite{
				Path: &routecastv1.UrlRewrite_ReplaceFullPath{ReplaceFullPath: "/x"}}}}},
			Labels: map[string]string{"team": "pets"}},
	} {
		b, err := proto.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := new(routecastv1.Route)
		if err := proto.Unmarshal(data, r); err != nil {
			return
		}
		if routes.Validate(r) != nil {
			return
		}
		routes.Normalize(r)
		if err := routes.Validate(r); err != nil {
			t.Fatalf("valid route invalid after Normalize: %v", err)
		}
		once := proto.Clone(r).(*routecastv1.Route)
		routes.Normalize(r)
		if !proto.Equal(once, r) {
			t.Fatalf("Normalize is not idempotent:\n%v\n%v", once, r)
		}
		opts := proto.MarshalOptions{Deterministic: true}
		a, _ := opts.Marshal(r)
		b, _ := opts.Marshal(once)
		if string(a) != string(b) {
			t.Fatal("deterministic encoding differs for equal routes")
		}
	})
}
