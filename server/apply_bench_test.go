package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/internal/benchdata"
	"github.com/routecast/routecast/server/servertest"
)

// BenchmarkApplyRoutes measures ApplyRoutes end to end over mTLS on
// loopback, in batches of 1,000 new routes of the load generator's shape
// and size, with one call or several in flight: encoding and decoding,
// validation with the credential guard, the bbolt commit with fsync, and
// the hub update.
func BenchmarkApplyRoutes(b *testing.B) {
	for _, inFlight := range []int{1, 4} {
		b.Run(fmt.Sprintf("inflight=%d", inFlight), func(b *testing.B) {
			e := servertest.Start(b, servertest.Config{})
			adm := e.Admin("/operator/alice")
			ctx := context.Background()
			work := make(chan *routecastv1.ApplyRoutesRequest, b.N)
			for i := range b.N {
				rs, err := benchdata.Routes(scope, fmt.Sprintf("apply-%03d", i), 1000)
				if err != nil {
					b.Fatal(err)
				}
				work <- &routecastv1.ApplyRoutesRequest{Scope: scope, Puts: rs}
			}
			close(work)
			b.ResetTimer()
			var wg sync.WaitGroup
			for range inFlight {
				wg.Go(func() {
					for req := range work {
						resp, err := adm.ApplyRoutes(ctx, req)
						if err != nil {
							b.Error(err)
							return
						}
						if n := len(resp.GetCreated()); n != 1000 {
							b.Errorf("created %d routes, want 1000", n)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "routes/s")
		})
	}
}
