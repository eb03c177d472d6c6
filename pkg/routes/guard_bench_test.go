package routes_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/routes"
)

// loadRoute returns route i of the shape the load generator sends to
// ApplyRoutes, about 450 bytes encoded.
func loadRoute(i int) *routecastv1.Route {
	svc := fmt.Sprintf("service-%05d", i)
	return &routecastv1.Route{
		Name:  fmt.Sprintf("apply-%05d", i),
		Scope: "bench/apply",
		Match: &routecastv1.RouteMatch{
			Hosts: []string{fmt.Sprintf("api-%03d.bench.example.com", i%1000)},
			Path: &routecastv1.PathMatch{
				Kind: &routecastv1.PathMatch_Prefix{Prefix: "/v1/" + svc + "/resources"}},
			Methods: []string{"GET", "POST", "PUT", "DELETE"},
			Headers: []*routecastv1.KeyValueMatch{
				{Name: "x-bench-tenant", Value: fmt.Sprintf("tenant-%03d", i%97)},
				{Name: "x-api-version", Value: "^v[12]$", Type: routecastv1.MatchType_MATCH_TYPE_REGEX},
			},
		},
		Upstream: &routecastv1.Upstream{Url: "https://" + svc + ".bench.internal:8443/api/v1"},
		Labels: map[string]string{
			"team": fmt.Sprintf("team-%02d", i%40), "tier": "backend", "app": svc,
			"bench-round": "r0",
			"bench/note": "lorem ipsum dolor sit amet lorem ipsum dolor sit amet " +
				"lorem ipsum dolor sit amet lorem ipsum dolor sit am",
		},
		Owner:  fmt.Sprintf("Bench Team %02d <bench-team-%02d@example.com>", i%40, i%40),
		Policy: &routecastv1.RoutePolicy{Timeout: durationpb.New(15 * time.Second)},
	}
}

// BenchmarkValidateLoadRoute measures validating the load generator's
// route, the cost ApplyRoutes pays for each route of its batches.
func BenchmarkValidateLoadRoute(b *testing.B) {
	r := loadRoute(42)
	b.ReportAllocs()
	for range b.N {
		if err := routes.Validate(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckCredentialsLoadRoute measures the credential guard alone
// on the load generator's route.
func BenchmarkCheckCredentialsLoadRoute(b *testing.B) {
	r := loadRoute(42)
	b.ReportAllocs()
	for range b.N {
		if err := routes.CheckCredentials(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateBatchLoadRoutes measures a batch of 1,000 load routes,
// as one ApplyRoutes call validates them.
func BenchmarkValidateBatchLoadRoutes(b *testing.B) {
	puts := make([]*routecastv1.Route, 1000)
	for i := range puts {
		puts[i] = loadRoute(i)
	}
	b.ReportAllocs()
	for range b.N {
		if err := routes.ValidateBatch(puts, nil); err != nil {
			b.Fatal(err)
		}
	}
}
