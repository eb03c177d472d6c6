package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/store"
	"github.com/routecast/routecast/pkg/store/storetest"
)

// BenchmarkBolt_Apply measures one committed batch on a real bbolt file,
// fsync included: a single put (PutRoute) and batches of 1,000
// (ApplyRoutes) that change existing routes or create new ones.
func BenchmarkBolt_Apply(b *testing.B) {
	for _, tt := range []struct {
		size   int
		create bool
	}{{1, false}, {1000, false}, {1000, true}} {
		size := tt.size
		b.Run(fmt.Sprintf("batch=%d/create=%v", size, tt.create), func(b *testing.B) {
			s, err := store.OpenBolt(filepath.Join(b.TempDir(), "routes.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			b.ReportAllocs()
			for i := range b.N {
				batch := store.Batch{Puts: make([]*routecastv1.Route, size)}
				for j := range size {
					name := fmt.Sprintf("r%07d", j)
					if tt.create {
						name = fmt.Sprintf("r%04d-%07d", i, j)
					}
					batch.Puts[j] = storetest.Route(name, fmt.Sprintf("/v%d/r%d", i, j))
				}
				if _, err := s.Apply(ctx, "bench/apply", batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "routes/s")
		})
	}
}
