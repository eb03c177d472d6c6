package server_test

import (
	"context"
	"fmt"
	"testing"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/server/servertest"
)

// BenchmarkApplyRoutes measures ApplyRoutes end to end over mTLS on
// loopback, in batches of 1,000 new routes of about 400 bytes: encoding
// and decoding, validation with the credential guard, the bbolt commit with
// fsync, and the hub update.
func BenchmarkApplyRoutes(b *testing.B) {
	e := servertest.Start(b, servertest.Config{})
	adm := e.Admin("/operator/alice")
	ctx := context.Background()
	reqs := make([]*routecastv1.ApplyRoutesRequest, b.N)
	for i := range reqs {
		reqs[i] = applyBatch(i)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := adm.ApplyRoutes(ctx, reqs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "routes/s")
}

func applyBatch(v int) *routecastv1.ApplyRoutesRequest {
	req := &routecastv1.ApplyRoutesRequest{Scope: scope}
	for j := range 1000 {
		name := fmt.Sprintf("route-%03d-%05d", v, j)
		req.Puts = append(req.Puts, &routecastv1.Route{
			Name: name, Owner: "team-bench",
			Match: &routecastv1.RouteMatch{
				Hosts:   []string{"api.bench.example.com"},
				Path:    &routecastv1.PathMatch{Kind: &routecastv1.PathMatch_Prefix{Prefix: fmt.Sprintf("/v%d/%s/items", v, name)}},
				Methods: []string{"GET", "POST"},
				Headers: []*routecastv1.KeyValueMatch{{Name: "x-tenant", Value: "bench"}},
			},
			Upstream: &routecastv1.Upstream{Url: "https://" + name + ".backend.bench.internal:8443/base"},
			Labels:   map[string]string{"team": "bench", "tier": "gold", "region": "eu-west-1"},
		})
	}
	return req
}
