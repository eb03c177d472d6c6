package store_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

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

// TestFieldNumbers guards the encoding shortcuts of the bbolt store.
// encodeBody writes a route's own fields by number and copies the nested
// ones by name, so Route must have exactly these fields: a new one must be
// added there. A route's version is appended to its encoding, so it must
// have the highest number. A change-log entry appends its name, kind and
// route by number.
func TestFieldNumbers(t *testing.T) {
	for _, tt := range []struct {
		msg  proto.Message
		want map[string]int
	}{
		{&routecastv1.Route{}, map[string]int{"name": 1, "scope": 2, "match": 3, "upstream": 4,
			"filters": 5, "policy": 6, "labels": 7, "owner": 8, "version": 9}},
		{&routecastv1.Change{}, map[string]int{"revision": 1, "scope": 2, "name": 3, "kind": 4,
			"route": 5, "actor": 6, "time": 7}},
	} {
		fields := tt.msg.ProtoReflect().Descriptor().Fields()
		got := map[string]int{}
		for i := range fields.Len() {
			got[string(fields.Get(i).Name())] = int(fields.Get(i).Number())
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s fields changed; the store's encoding must follow (-want +got):\n%s",
				tt.msg.ProtoReflect().Descriptor().Name(), diff)
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
