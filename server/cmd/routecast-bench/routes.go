package main

import (
	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/internal/benchdata"
)

// routeSize is the size of a benchmark route as stored.
const routeSize = benchdata.RouteSize

// batchSize is the number of routes of one ApplyRoutes call.
const batchSize = 1000

// batches splits rs into ApplyRoutes batches of at most batchSize.
func batches(rs []*routecastv1.Route) [][]*routecastv1.Route {
	var out [][]*routecastv1.Route
	for len(rs) > 0 {
		n := min(batchSize, len(rs))
		out = append(out, rs[:n])
		rs = rs[n:]
	}
	return out
}
