package routes_test

import (
	"testing"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/routes"
)

func benchRoute() *routecastv1.Route {
	return &routecastv1.Route{
		Name: "route-00042", Owner: "team-bench",
		Match: &routecastv1.RouteMatch{
			Hosts:   []string{"api.bench.example.com"},
			Path:    &routecastv1.PathMatch{Kind: &routecastv1.PathMatch_Prefix{Prefix: "/v1/route-00042/items"}},
			Methods: []string{"GET", "POST"},
			Headers: []*routecastv1.KeyValueMatch{
				{Name: "x-tenant", Value: "bench"},
				{Name: "x-version", Value: "v[0-9]+", Type: routecastv1.MatchType_MATCH_TYPE_REGEX},
			},
		},
		Upstream: &routecastv1.Upstream{Url: "https://route-00042.backend.bench.internal:8443/base"},
		Labels:   map[string]string{"team": "bench", "tier": "gold", "region": "eu-west-1"},
	}
}

// BenchmarkValidate measures validating one typical route, credential
// guard included: ApplyRoutes pays it for every route it receives.
func BenchmarkValidate(b *testing.B) {
	r := benchRoute()
	b.ReportAllocs()
	for range b.N {
		if err := routes.Validate(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckCredentials measures the credential guard alone.
func BenchmarkCheckCredentials(b *testing.B) {
	r := benchRoute()
	b.ReportAllocs()
	for range b.N {
		if err := routes.CheckCredentials(r); err != nil {
			b.Fatal(err)
		}
	}
}
