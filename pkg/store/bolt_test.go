package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/store"
	"github.com/routecast/routecast/pkg/store/storetest"
)

func openBolt(t *testing.T, path string) *store.Bolt {
	t.Helper()
	s, err := store.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestBolt runs the conformance suite against bbolt files in a temp dir.
func TestBolt(t *testing.T) {
	storetest.Run(t, storetest.Opener{
		Open: func(t *testing.T) store.Store {
			return openBolt(t, filepath.Join(t.TempDir(), "routes.db"))
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			path := s.(*store.Bolt).Path()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return openBolt(t, path)
		},
	})
}

// TestBolt_OpenLocked checks that a second open of the same file fails with
// a message that says why.
func TestBolt_OpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.db")
	openBolt(t, path)
	_, err := store.OpenBolt(path)
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("second OpenBolt: err = %v, want a lock error", err)
	}
}

// TestBolt_Closed checks that calls after Close fail with ErrClosed.
func TestBolt_Closed(t *testing.T) {
	s := openBolt(t, filepath.Join(t.TempDir(), "routes.db"))
	s.Close()
	if _, err := s.Apply(context.Background(), "a/b", store.Batch{}); err != store.ErrClosed {
		t.Errorf("Apply after Close: err = %v, want ErrClosed", err)
	}
	if _, err := s.Revision(context.Background()); err != store.ErrClosed {
		t.Errorf("Revision after Close: err = %v, want ErrClosed", err)
	}
}

// TestRouteVersionIsLastField guards the encoding shortcut of the bbolt
// store: it appends the version to a route encoded without one, which is
// the deterministic encoding only while version has the highest number.
func TestRouteVersionIsLastField(t *testing.T) {
	fields := (&routecastv1.Route{}).ProtoReflect().Descriptor().Fields()
	version := fields.ByName("version")
	for i := range fields.Len() {
		if f := fields.Get(i); f.Number() > version.Number() {
			t.Errorf("Route field %s (%d) comes after version (%d): store.withVersion must change", f.Name(), f.Number(), version.Number())
		}
	}
}
