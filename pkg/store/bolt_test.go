package store_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/internal/benchdata"
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

// TestFieldNumbers guards the encoding shortcuts of the bbolt store: a
// route's scope is spliced in after its name, and its version appended at
// the end, which is where a deterministic encoding puts them only while
// name and scope are fields 1 and 2 and version has the highest number;
// a change-log entry appends its name, kind and route by number.
func TestFieldNumbers(t *testing.T) {
	change := (&routecastv1.Change{}).ProtoReflect().Descriptor().Fields()
	for name, want := range map[string]int{"name": 3, "kind": 4, "route": 5} {
		if n := change.ByName(protoreflect.Name(name)).Number(); int(n) != want {
			t.Errorf("Change.%s is field %d, want %d: the store's change constants must change", name, n, want)
		}
	}
	fields := (&routecastv1.Route{}).ProtoReflect().Descriptor().Fields()
	if n := fields.ByName("name").Number(); n != 1 {
		t.Errorf("Route.name is field %d, want 1: store.withScope must change", n)
	}
	if n := fields.ByName("scope").Number(); n != 2 {
		t.Errorf("Route.scope is field %d, want 2: store.withScope must change", n)
	}
	version := fields.ByName("version")
	for i := range fields.Len() {
		if f := fields.Get(i); f.Number() > version.Number() {
			t.Errorf("Route field %s (%d) comes after version (%d): store.withVersion must change", f.Name(), f.Number(), version.Number())
		}
	}
}

// TestBolt_StoredBytes checks that what the store keeps and publishes is
// the deterministic encoding of the route with scope and version set,
// whether the put came without a scope (spliced in), with the same scope
// or with another scope and a version (both replaced), for routes of
// every shape in the load generator's set.
func TestBolt_StoredBytes(t *testing.T) {
	s := openBolt(t, filepath.Join(t.TempDir(), "routes.db"))
	commits := make(chan store.Commit, 1)
	_, cancel, err := s.Subscribe(context.Background(), func(c store.Commit) { commits <- c })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	rs, err := benchdata.Routes("a/b", "r", 30)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		switch i % 3 {
		case 1:
			r.Scope = "a/b"
		case 2:
			r.Scope, r.Version = "x/y", 1234567
		}
	}
	if _, err := s.Apply(context.Background(), "a/b", store.Batch{Puts: rs}); err != nil {
		t.Fatal(err)
	}
	c := <-commits
	if len(c.Puts) != len(rs) {
		t.Fatalf("commit has %d puts, want %d", len(c.Puts), len(rs))
	}
	for _, p := range c.Puts {
		want, err := s.Get(context.Background(), "a/b", p.Name)
		if err != nil {
			t.Fatal(err)
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if want.GetScope() != "a/b" || want.GetVersion() != c.Revision || p.Version != c.Revision || !bytes.Equal(p.Bytes, b) {
			t.Errorf("route %s stored as %v (version %d in the commit), bytes equal to a fresh encoding: %v",
				p.Name, want, p.Version, bytes.Equal(p.Bytes, b))
		}
	}
}
