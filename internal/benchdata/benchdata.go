// Package benchdata makes the routes that routecast's benchmarks write:
// realistic routes of about RouteSize bytes as stored, the same for the
// load generator and the Go benchmarks, so that their figures compare.
package benchdata

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/routes"
)

// RouteSize is the encoded size each route is padded to, as the server
// stores and streams it (with its scope and version set).
const RouteSize = 400

// roundLabel is the label Changed rewrites, so that a route's new version
// has the same size as the old one.
const roundLabel = "bench-round"

// noteLabel is the label that pads a route to RouteSize.
const noteLabel = "bench/note"

// TypicalVersion stands for the version the server sets, when sizing.
const TypicalVersion = 1 << 14

// Route returns route i of a scope: a route of about RouteSize bytes,
// named prefix-NNNNN, with a header regex, five labels and a policy, as
// gateway routes have. The scope is not set on the route: requests carry
// it.
func Route(scope, prefix string, i int) (*routecastv1.Route, error) {
	svc := fmt.Sprintf("service-%05d", i)
	r := &routecastv1.Route{
		Name: fmt.Sprintf("%s-%05d", prefix, i),
		Match: &routecastv1.RouteMatch{
			Hosts: []string{fmt.Sprintf("api-%03d.bench.example.com", i%1000)},
			Path: &routecastv1.PathMatch{
				Kind: &routecastv1.PathMatch_Prefix{Prefix: "/v1/" + svc + "/resources"},
			},
			Methods: []string{"GET", "POST", "PUT", "DELETE"},
			Headers: []*routecastv1.KeyValueMatch{
				{Name: "x-bench-tenant", Value: fmt.Sprintf("tenant-%03d", i%97)},
				{Name: "x-api-version", Value: "^v[12]$",
					Type: routecastv1.MatchType_MATCH_TYPE_REGEX},
			},
		},
		Upstream: &routecastv1.Upstream{Url: "https://" + svc + ".bench.internal:8443/api/v1"},
		Labels: map[string]string{
			"team":     fmt.Sprintf("team-%02d", i%40),
			"tier":     "backend",
			"app":      svc,
			roundLabel: "r0",
			noteLabel:  "",
		},
		Owner:  fmt.Sprintf("Bench Team %02d <bench-team-%02d@example.com>", i%40, i%40),
		Policy: &routecastv1.RoutePolicy{Timeout: durationpb.New(15 * time.Second)},
	}
	pad(r, scope)
	if err := routes.Validate(r); err != nil {
		return nil, fmt.Errorf("route %s: %w", r.GetName(), err)
	}
	return r, nil
}

// pad fills the note label so that r, stored in scope, is RouteSize bytes,
// or drops it when r is that large without it.
func pad(r *routecastv1.Route, scope string) {
	sized := proto.Clone(r).(*routecastv1.Route)
	sized.Scope, sized.Version = scope, TypicalVersion
	n := RouteSize - proto.Size(sized)
	if n <= 0 {
		delete(r.Labels, noteLabel)
		return
	}
	r.Labels[noteLabel] = strings.Repeat("lorem ipsum dolor sit amet ", n/27+1)[:n]
}

// Routes returns routes 0 to n-1 of a scope.
func Routes(scope, prefix string, n int) ([]*routecastv1.Route, error) {
	out := make([]*routecastv1.Route, n)
	for i := range out {
		r, err := Route(scope, prefix, i)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// Changed returns a copy of r marked with change, a number unique to each
// change of a run, so that the copy is a new version of about the same
// size.
func Changed(r *routecastv1.Route, change int) *routecastv1.Route {
	c := proto.Clone(r).(*routecastv1.Route)
	c.Labels[roundLabel] = fmt.Sprintf("r%d", change)
	return c
}
