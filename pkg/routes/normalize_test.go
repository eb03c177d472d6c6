package routes

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// TestNormalize checks case folding, sorting and deduplication, and that
// filter order and other fields are kept.
func TestNormalize(t *testing.T) {
	r := validRoute()
	r.Match.Hosts = []string{"B.example.com", "a.example.com", "b.example.COM"}
	r.Match.Methods = []string{"post", "GET", "Get"}
	r.Match.Headers = []*routecastv1.KeyValueMatch{
		{Name: "x-b", Value: "1"},
		{Name: "x-a", Value: "2", Type: routecastv1.MatchType_MATCH_TYPE_EXACT},
		{Name: "x-a", Value: "2"},
	}
	r.Upstream.Backends = []*routecastv1.Backend{{Cluster: "z:1"}, {Cluster: "a:1", Weight: 3}}
	r.Filters[0].GetUrlRewrite().Hostname = "Orders.Internal"
	r.Policy.Retries.RetryOn = []string{"reset", "5xx", "reset"}
	r.Policy.Auth.Scopes = []string{"b", "a"}

	want := proto.Clone(r).(*routecastv1.Route)
	want.Match.Hosts = []string{"a.example.com", "b.example.com"}
	want.Match.Methods = []string{"GET", "POST"}
	want.Match.Headers = []*routecastv1.KeyValueMatch{
		{Name: "x-a", Value: "2", Type: routecastv1.MatchType_MATCH_TYPE_EXACT},
		{Name: "x-b", Value: "1", Type: routecastv1.MatchType_MATCH_TYPE_EXACT},
	}
	want.Match.QueryParams[0].Type = routecastv1.MatchType_MATCH_TYPE_EXACT
	want.Upstream.Backends = []*routecastv1.Backend{{Cluster: "a:1", Weight: 3}, {Cluster: "z:1"}}
	want.Filters[0].GetUrlRewrite().Hostname = "orders.internal"
	want.Policy.Retries.RetryOn = []string{"5xx", "reset"}
	want.Policy.Auth.Scopes = []string{"a", "b"}

	Normalize(r)
	if diff := cmp.Diff(want, r, protocmp.Transform()); diff != "" {
		t.Errorf("Normalize() mismatch (-want +got):\n%s", diff)
	}
	if err := Validate(r); err != nil {
		t.Errorf("Validate(Normalize(r)) = %v", err)
	}

	again := proto.Clone(r).(*routecastv1.Route)
	Normalize(again)
	if diff := cmp.Diff(r, again, protocmp.Transform()); diff != "" {
		t.Errorf("second Normalize() changed the route (-first +second):\n%s", diff)
	}
	Normalize(nil)
}

// TestEqual checks that Equal ignores scope and version and nothing else.
func TestEqual(t *testing.T) {
	withServerFields := validRoute()
	withServerFields.Scope, withServerFields.Version = "orders/prod", 42
	otherPath := validRoute()
	otherPath.Match.Path = prefix("/v3")
	otherFilterOrder := validRoute()
	otherFilterOrder.Filters[1], otherFilterOrder.Filters[2] =
		otherFilterOrder.Filters[2], otherFilterOrder.Filters[1]

	tests := []struct {
		name string
		a, b *routecastv1.Route
		want bool
	}{
		{"same", validRoute(), validRoute(), true},
		{"server-fields", validRoute(), withServerFields, true},
		{"path", validRoute(), otherPath, false},
		{"filter-order", validRoute(), otherFilterOrder, false},
		{"nil-nil", nil, nil, true},
		{"nil-route", nil, validRoute(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Equal(tt.a, tt.b); got != tt.want {
				t.Errorf("Equal() = %v, want %v", got, tt.want)
			}
		})
	}
	if withServerFields.Scope == "" || withServerFields.Version == 0 {
		t.Errorf("Equal() changed its arguments")
	}
}
