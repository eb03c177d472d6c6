package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/internal/benchdata"
	"github.com/routecast/routecast/pkg/store"
)

// BenchmarkBolt_Apply measures one committed batch of the load
// generator's routes on a real bbolt file, fsync included: a single put
// (PutRoute) and batches of 1,000 (ApplyRoutes) that change existing
// routes or create new ones. The routes are made before the timer runs.
func BenchmarkBolt_Apply(b *testing.B) {
	const scope = "bench/apply"
	for _, tt := range []struct {
		size   int
		create bool
	}{{1, false}, {1000, false}, {1000, true}} {
		b.Run(fmt.Sprintf("batch=%d/create=%v", tt.size, tt.create), func(b *testing.B) {
			s, err := store.OpenBolt(filepath.Join(b.TempDir(), "routes.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			base, err := benchdata.Routes(scope, "r", tt.size)
			if err != nil {
				b.Fatal(err)
			}
			batches := make([][]*routecastv1.Route, b.N)
			for i := range batches {
				if tt.create {
					if batches[i], err = benchdata.Routes(scope, fmt.Sprintf("r%04d", i), tt.size); err != nil {
						b.Fatal(err)
					}
					continue
				}
				for _, r := range base {
					batches[i] = append(batches[i], benchdata.Changed(r, i))
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := s.Apply(ctx, scope, store.Batch{Puts: batches[i]}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*tt.size)/b.Elapsed().Seconds(), "routes/s")
		})
	}
}
