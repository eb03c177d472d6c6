// Package storetest is the conformance suite that every store.Store backend
// must pass. A backend's tests call Run with a function that opens a fresh,
// empty store.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/store"
)

// Opener returns a new empty store. Reopen, when not nil, closes the store
// and opens the same data again, for durability checks.
type Opener struct {
	Open   func(t *testing.T) store.Store
	Reopen func(t *testing.T, s store.Store) store.Store
}

// Run runs the conformance suite.
func Run(t *testing.T, o Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, o Opener)
	}{
		{"ApplyCreatesOneRevision", testApplyCreatesOneRevision},
		{"UnchangedPutCreatesNoRevision", testUnchangedPut},
		{"DeleteMissingChangesNothing", testDeleteMissing},
		{"InvalidBatch", testInvalidBatch},
		{"ExpectedVersion", testExpectedVersion},
		{"Prune", testPrune},
		{"DryRun", testDryRun},
		{"ListPages", testListPages},
		{"ScopesAndChanges", testScopesAndChanges},
		{"SubscribeSeesEveryCommit", testSubscribe},
		{"Reopen", testReopen},
		{"Revocations", testRevocations},
		{"LargeBatchKeepsCallersRoutes", testLargeBatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, o) })
	}
}

// Route returns a small valid route for tests.
func Route(name, prefix string) *routecastv1.Route {
	return &routecastv1.Route{
		Name: name,
		Match: &routecastv1.RouteMatch{
			Path: &routecastv1.PathMatch{Kind: &routecastv1.PathMatch_Prefix{Prefix: prefix}},
		},
		Upstream: &routecastv1.Upstream{Url: "https://backend.internal:8443"},
	}
}

func apply(t *testing.T, s store.Store, scope string, b store.Batch) store.Result {
	t.Helper()
	res, err := s.Apply(context.Background(), scope, b)
	if err != nil {
		t.Fatalf("Apply(%s): %v", scope, err)
	}
	return res
}

func names(t *testing.T, s store.Store, scope string) []string {
	t.Helper()
	routes, _, err := s.List(context.Background(), scope, "", 0)
	if err != nil {
		t.Fatalf("List(%s): %v", scope, err)
	}
	var out []string
	for _, r := range routes {
		out = append(out, r.GetName())
	}
	return out
}

// testApplyCreatesOneRevision checks that a batch gets one revision and that
// every route it changes carries that revision as its version.
func testApplyCreatesOneRevision(t *testing.T, o Opener) {
	s := o.Open(t)
	ctx := context.Background()
	res := apply(t, s, "payments/staging", store.Batch{Puts: []*routecastv1.Route{Route("b", "/b"), Route("a", "/a")}})
	want := store.Result{Revision: 1, Created: []string{"a", "b"}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("first batch result (-want +got):\n%s", diff)
	}
	res = apply(t, s, "payments/staging", store.Batch{Puts: []*routecastv1.Route{Route("a", "/a2")}, Deletes: []string{"b"}})
	want = store.Result{Revision: 2, Updated: []string{"a"}, Deleted: []string{"b"}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("second batch result (-want +got):\n%s", diff)
	}
	got, err := s.Get(ctx, "payments/staging", "a")
	if err != nil {
		t.Fatal(err)
	}
	wantRoute := Route("a", "/a2")
	wantRoute.Scope, wantRoute.Version = "payments/staging", 2
	if diff := cmp.Diff(wantRoute, got, protocmp.Transform()); diff != "" {
		t.Errorf("Get after update (-want +got):\n%s", diff)
	}
	if _, err := s.Get(ctx, "payments/staging", "b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get of deleted route: err = %v, want ErrNotFound", err)
	}
	if rev, err := s.Revision(ctx); err != nil || rev != 2 {
		t.Errorf("Revision() = %d, %v; want 2", rev, err)
	}
}

// testUnchangedPut checks that putting identical content is a no-op.
func testUnchangedPut(t *testing.T, o Opener) {
	s := o.Open(t)
	apply(t, s, "a/b", store.Batch{Puts: []*routecastv1.Route{Route("x", "/x")}})
	r := Route("x", "/x")
	r.Version, r.Scope = 99, "ignored/here"
	res := apply(t, s, "a/b", store.Batch{Puts: []*routecastv1.Route{r}})
	if diff := cmp.Diff(store.Result{Revision: 1, Unchanged: 1}, res); diff != "" {
		t.Errorf("unchanged put (-want +got):\n%s", diff)
	}
}

// testDeleteMissing checks that a batch deleting a missing route fails whole.
func testDeleteMissing(t *testing.T, o Opener) {
	s := o.Open(t)
	apply(t, s, "a/b", store.Batch{Puts: []*routecastv1.Route{Route("x", "/x")}})
	_, err := s.Apply(context.Background(), "a/b", store.Batch{
		Puts:    []*routecastv1.Route{Route("y", "/y")},
		Deletes: []string{"missing"},
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Apply deleting a missing route: err = %v, want ErrNotFound", err)
	}
	if diff := cmp.Diff([]string{"x"}, names(t, s, "a/b")); diff != "" {
		t.Errorf("routes after failed batch (-want +got):\n%s", diff)
	}
}

// testInvalidBatch checks the batches no store can commit.
func testInvalidBatch(t *testing.T, o Opener) {
	s := o.Open(t)
	for _, tt := range []struct {
		name  string
		batch store.Batch
	}{
		{"NoName", store.Batch{Puts: []*routecastv1.Route{Route("", "/")}}},
		{"PutTwice", store.Batch{Puts: []*routecastv1.Route{Route("x", "/"), Route("x", "/y")}}},
		{"PutAndDelete", store.Batch{Puts: []*routecastv1.Route{Route("x", "/")}, Deletes: []string{"x"}}},
	} {
		if _, err := s.Apply(context.Background(), "a/b", tt.batch); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, err)
		}
	}
	if rev, _ := s.Revision(context.Background()); rev != 0 {
		t.Errorf("revision after invalid batches = %d, want 0", rev)
	}
}

// testExpectedVersion checks optimistic concurrency.
func testExpectedVersion(t *testing.T, o Opener) {
	s := o.Open(t)
	ctx := context.Background()
	apply(t, s, "a/b", store.Batch{Puts: []*routecastv1.Route{Route("x", "/x")}, Expected: map[string]uint64{"x": 0}})
	_, err := s.Apply(ctx, "a/b", store.Batch{Puts: []*routecastv1.Route{Route("x", "/y")}, Expected: map[string]uint64{"x": 0}})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("put with stale expected version: err = %v, want ErrConflict", err)
	}
	apply(t, s, "a/b", store.Batch{Puts: []*routecastv1.Route{Route("x", "/y")}, Expected: map[string]uint64{"x": 1}})
}

// testPrune checks that prune deletes what the batch does not put.
func testPrune(t *testing.T, o Opener) {
	s := o.Open(t)
	apply(t, s, "a/b", store.Batch{Puts: []*routecastv1.Route{Route("x", "/x"), Route("y", "/y"), Route("z", "/z")}})
	res := apply(t, s, "a/b", store.Batch{Puts: []*routecastv1.Route{Route("y", "/y")}, Prune: true})
	if diff := cmp.Diff(store.Result{Revision: 2, Deleted: []string{"x", "z"}, Unchanged: 1}, res); diff != "" {
		t.Errorf("prune result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"y"}, names(t, s, "a/b")); diff != "" {
		t.Errorf("routes after prune (-want +got):\n%s", diff)
	}
}

// testDryRun checks that a dry run reports without committing.
func testDryRun(t *testing.T, o Opener) {
	s := o.Open(t)
	res := apply(t, s, "a/b", store.Batch{Puts: []*routecastv1.Route{Route("x", "/x")}, DryRun: true})
	if diff := cmp.Diff(store.Result{Revision: 1, Created: []string{"x"}}, res); diff != "" {
		t.Errorf("dry run result (-want +got):\n%s", diff)
	}
	if got := names(t, s, "a/b"); len(got) != 0 {
		t.Errorf("dry run stored %v", got)
	}
	if rev, _ := s.Revision(context.Background()); rev != 0 {
		t.Errorf("revision after dry run = %d, want 0", rev)
	}
}

// testListPages checks pagination and scope isolation.
func testListPages(t *testing.T, o Opener) {
	s := o.Open(t)
	ctx := context.Background()
	var puts []*routecastv1.Route
	for i := range 25 {
		puts = append(puts, Route(fmt.Sprintf("r%02d", i), "/"))
	}
	apply(t, s, "a/b", store.Batch{Puts: puts})
	apply(t, s, "a/c", store.Batch{Puts: []*routecastv1.Route{Route("other", "/")}})

	var got []string
	after := ""
	for {
		page, rev, err := s.List(ctx, "a/b", after, 10)
		if err != nil {
			t.Fatal(err)
		}
		if rev != 2 {
			t.Errorf("List revision = %d, want 2", rev)
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			got = append(got, r.GetName())
		}
		after = page[len(page)-1].GetName()
	}
	var want []string
	for _, r := range puts {
		want = append(want, r.GetName())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paged names (-want +got):\n%s", diff)
	}
}

// testScopesAndChanges checks the scope summary and the change log.
func testScopesAndChanges(t *testing.T, o Opener) {
	s := o.Open(t)
	ctx := context.Background()
	apply(t, s, "a/b", store.Batch{Puts: []*routecastv1.Route{Route("x", "/x"), Route("y", "/y")}, Actor: "spiffe://t/op"})
	apply(t, s, "c/d", store.Batch{Puts: []*routecastv1.Route{Route("z", "/z")}})
	apply(t, s, "a/b", store.Batch{Deletes: []string{"x"}, Actor: "spiffe://t/op2"})
	apply(t, s, "c/d", store.Batch{Deletes: []string{"z"}})

	scopes, err := s.Scopes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.ScopeInfo{{Scope: "a/b", Routes: 1, Revision: 3}}, scopes); diff != "" {
		t.Errorf("Scopes (-want +got):\n%s", diff)
	}

	changes, _, err := s.Changes(ctx, store.AfterRevision(0), 0, store.ChangeFilter{Scope: "a/b"})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Rev                uint64
		Scope, Name, Actor string
		Kind               routecastv1.ChangeKind
		RoutePrefix        string // the embedded route's path prefix
		RouteVersion       uint64
		Timed              bool
	}
	var got []row
	for _, c := range changes {
		got = append(got, row{c.GetRevision(), c.GetScope(), c.GetName(), c.GetActor(), c.GetKind(),
			c.GetRoute().GetMatch().GetPath().GetPrefix(), c.GetRoute().GetVersion(), c.GetTime().IsValid() && c.GetTime().AsTime().Unix() > 0})
	}
	put, del := routecastv1.ChangeKind_CHANGE_KIND_PUT, routecastv1.ChangeKind_CHANGE_KIND_DELETE
	want := []row{
		{1, "a/b", "x", "spiffe://t/op", put, "/x", 1, true},
		{1, "a/b", "y", "spiffe://t/op", put, "/y", 1, true},
		{3, "a/b", "x", "spiffe://t/op2", del, "", 0, true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Changes (-want +got):\n%s", diff)
	}
	later, _, err := s.Changes(ctx, store.AfterRevision(2), 1, store.ChangeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(later) != 1 || later[0].GetRevision() != 3 {
		t.Errorf("Changes(after 2, limit 1) = %v, want the one change at revision 3", later)
	}

	// Pages smaller than a commit go on inside it, position by position.
	var paged []string
	pos := store.AfterRevision(0)
	for range 10 {
		page, next, err := s.Changes(ctx, pos, 2, store.ChangeFilter{Scope: "a/b"})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			if next != pos {
				t.Errorf("an empty page moved the position from %+v to %+v", pos, next)
			}
			break
		}
		for _, c := range page {
			paged = append(paged, fmt.Sprintf("%d/%s", c.GetRevision(), c.GetName()))
		}
		pos = next
	}
	if diff := cmp.Diff([]string{"1/x", "1/y", "3/x"}, paged); diff != "" {
		t.Errorf("Changes in pages of 2 (-want +got):\n%s", diff)
	}
}

// testSubscribe checks that a subscriber gets the snapshot and then every
// commit in order.
func testSubscribe(t *testing.T, o Opener) {
	s := o.Open(t)
	ctx := context.Background()
	apply(t, s, "a/b", store.Batch{Puts: []*routecastv1.Route{Route("x", "/x")}})

	commits := make(chan store.Commit, 10)
	snap, cancel, err := s.Subscribe(ctx, func(c store.Commit) { commits <- c })
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != 1 || len(snap.Scopes["a/b"]) != 1 || snap.ScopeRevisions["a/b"] != 1 {
		t.Fatalf("snapshot = rev %d %v %v, want rev 1 with one route", snap.Revision, snap.Scopes, snap.ScopeRevisions)
	}
	apply(t, s, "a/b", store.Batch{Puts: []*routecastv1.Route{Route("y", "/y")}})
	apply(t, s, "a/b", store.Batch{Puts: []*routecastv1.Route{Route("y", "/y")}}) // unchanged: no commit
	apply(t, s, "a/b", store.Batch{Deletes: []string{"x"}})
	cancel()
	apply(t, s, "a/b", store.Batch{Deletes: []string{"y"}})

	c1, c2 := <-commits, <-commits
	if c1.Revision != 2 || len(c1.Puts) != 1 || !storedAs(t, c1.Puts[0], "a/b", "y", 2) {
		t.Errorf("first commit = %+v, want revision 2 putting y at version 2", c1)
	}
	if c2.Revision != 3 || len(c2.Deletes) != 1 || c2.Deletes[0] != "x" {
		t.Errorf("second commit = %+v, want revision 3 deleting x", c2)
	}
	select {
	case c := <-commits:
		t.Errorf("commit after cancel delivered: %+v", c)
	default:
	}
}

// testReopen checks that committed data survives closing the store.
func testReopen(t *testing.T, o Opener) {
	if o.Reopen == nil {
		t.Skip("backend has no reopen")
	}
	s := o.Open(t)
	apply(t, s, "a/b", store.Batch{Puts: []*routecastv1.Route{Route("x", "/x")}})
	apply(t, s, "a/b", store.Batch{Puts: []*routecastv1.Route{Route("y", "/y")}})
	s = o.Reopen(t, s)
	if diff := cmp.Diff([]string{"x", "y"}, names(t, s, "a/b")); diff != "" {
		t.Errorf("routes after reopen (-want +got):\n%s", diff)
	}
	res := apply(t, s, "a/b", store.Batch{Deletes: []string{"x"}})
	if res.Revision != 3 {
		t.Errorf("revision of first batch after reopen = %d, want 3", res.Revision)
	}
}

// testRevocations checks that revocations are stored, replaced, listed,
// watched and lifted without touching routes.
func testRevocations(t *testing.T, o Opener) {
	s := o.Open(t)
	ctx := context.Background()
	apply(t, s, "a/b", store.Batch{Puts: []*routecastv1.Route{Route("x", "/x")}})
	lists := make(chan []*routecastv1.Revocation, 10)
	initial, cancel, err := s.WatchRevocations(ctx, func(l []*routecastv1.Revocation) { lists <- l })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if len(initial) != 0 {
		t.Fatalf("initial revocations = %v, want none", initial)
	}

	byID := &routecastv1.Revocation{Target: &routecastv1.Revocation_SpiffeId{SpiffeId: "spiffe://t/agent/a"}, Reason: "lost laptop", Actor: "spiffe://t/op"}
	bySerial := &routecastv1.Revocation{Target: &routecastv1.Revocation_Serial{Serial: "1f"}, Reason: "key leaked"}
	for _, r := range []*routecastv1.Revocation{bySerial, byID} {
		if err := s.Revoke(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	replaced := proto.Clone(byID).(*routecastv1.Revocation)
	replaced.Reason = "stolen laptop"
	if err := s.Revoke(ctx, replaced); err != nil {
		t.Fatal(err)
	}
	got, err := s.Revocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*routecastv1.Revocation{replaced, bySerial}, got, protocmp.Transform()); diff != "" {
		t.Errorf("Revocations (-want +got):\n%s", diff)
	}
	for i := range 3 {
		if l := <-lists; i == 2 && len(l) != 2 {
			t.Errorf("third watched list has %d revocations, want 2", len(l))
		}
	}

	if err := s.Unrevoke(ctx, store.TargetOf(bySerial)); err != nil {
		t.Fatal(err)
	}
	if err := s.Unrevoke(ctx, store.TargetOf(bySerial)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Unrevoke: err = %v, want ErrNotFound", err)
	}
	if l := <-lists; len(l) != 1 || l[0].GetSpiffeId() != "spiffe://t/agent/a" {
		t.Errorf("watched list after Unrevoke = %v", l)
	}
	if err := s.Revoke(ctx, &routecastv1.Revocation{Reason: "nothing"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Revoke without a target: err = %v, want ErrInvalid", err)
	}
	if rev, _ := s.Revision(ctx); rev != 1 {
		t.Errorf("revision after revocations = %d, want 1: revocations must not touch routes", rev)
	}
}

// storedAs reports whether got is route name at version in scope, and its
// bytes decode to such a route.
func storedAs(t *testing.T, got store.StoredRoute, scope, name string, version uint64) bool {
	t.Helper()
	r := new(routecastv1.Route)
	if err := proto.Unmarshal(got.Bytes, r); err != nil {
		t.Errorf("commit bytes of %q: %v", got.Name, err)
		return false
	}
	return got.Name == name && got.Version == version &&
		r.GetName() == name && r.GetVersion() == version && r.GetScope() == scope &&
		bytes.Equal(got.Bytes, mustMarshal(t, r))
}

// testLargeBatch applies a batch large enough to be encoded on several
// CPUs, in reverse name order and with some routes carrying another scope
// and a version: the result is in name order, every route is stored with
// the batch's scope and revision, and the caller's routes are unchanged.
func testLargeBatch(t *testing.T, o Opener) {
	s := o.Open(t)
	ctx := context.Background()
	const n = 1000
	var puts, sent []*routecastv1.Route
	for i := n - 1; i >= 0; i-- {
		r := Route(fmt.Sprintf("r%04d", i), fmt.Sprintf("/r%d", i))
		if i%3 == 0 {
			r.Scope, r.Version = "other/scope", 77
		}
		puts = append(puts, r)
		sent = append(sent, proto.Clone(r).(*routecastv1.Route))
	}
	res := apply(t, s, "big/batch", store.Batch{Puts: puts})
	if len(res.Created) != n || res.Created[0] != "r0000" || res.Created[n-1] != "r0999" {
		t.Fatalf("created %d routes from %v, want %d in name order", len(res.Created), res.Created[:3], n)
	}
	for i := range puts {
		if !proto.Equal(puts[i], sent[i]) {
			t.Fatalf("Apply changed the caller's route %q: %v, sent %v", sent[i].GetName(), puts[i], sent[i])
		}
	}
	stored, _, err := s.List(ctx, "big/batch", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range stored {
		want := fmt.Sprintf("r%04d", i)
		if r.GetName() != want || r.GetScope() != "big/batch" || r.GetVersion() != res.Revision ||
			r.GetMatch().GetPath().GetPrefix() != fmt.Sprintf("/r%d", i) {
			t.Fatalf("stored route %d = %v, want %s in big/batch at version %d", i, r, want, res.Revision)
		}
	}
	if len(stored) != n {
		t.Fatalf("stored %d routes, want %d", len(stored), n)
	}
	again := apply(t, s, "big/batch", store.Batch{Puts: puts})
	if again.Unchanged != n || again.Changed() {
		t.Errorf("the same batch again: %d unchanged, changed %v; want %d unchanged", again.Unchanged, again.Changed(), n)
	}
}

func mustMarshal(t *testing.T, r *routecastv1.Route) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
