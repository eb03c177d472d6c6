package benchdata

import (
	"testing"

	"google.golang.org/protobuf/proto"
)

// TestRouteSize checks that routes validate and are about RouteSize bytes
// as stored, and that a change keeps the size.
func TestRouteSize(t *testing.T) {
	const scope = "bench/load"
	for _, i := range []int{0, 7, 999, 12345} {
		r, err := Route(scope, "load", i)
		if err != nil {
			t.Fatal(err)
		}
		stored := Changed(r, 1000)
		stored.Scope, stored.Version = scope, TypicalVersion
		if n := proto.Size(stored); n < RouteSize-8 || n > RouteSize+8 {
			t.Errorf("route %d is %d bytes stored, want about %d", i, n, RouteSize)
		}
		if proto.Equal(stored, r) {
			t.Errorf("route %d: Changed returned an equal route", i)
		}
	}
}
