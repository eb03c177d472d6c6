package server_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/store"
	"github.com/routecast/routecast/server/servertest"
)

// TestDocClient_InitialSync checks that a first start receives the scope in
// one update, that a restart from held routes receives only the difference
// (changed routes and removals), and that a current client receives an
// empty update at the current revision.
func TestDocClient_InitialSync(t *testing.T) {
	e := servertest.Start(t, servertest.Config{})
	adm := e.Admin("/operator/alice")
	rev := docApply(t, adm, putsOf(docRoutes("r", 50, "v1")...))
	conn := docDial(t, e, e.Addr)

	c := startDocClient(t, conn, docClientConfig{Node: docNode("sync-1")})
	st := waitSynced(t, c, adm)
	if len(st.records) != 1 || st.records[0].resp.GetMore() || st.records[0].resp.GetRevision() != rev {
		t.Fatalf("first start got %d responses, want one complete update at revision %d",
			len(st.records), rev)
	}
	checkUpdate(t, "first start", st.records[0].resp, docNames("r", 0, 50), nil)
	c.stop()

	// Restart from what was held, plus a route the scope no longer has.
	held := maps.Clone(st.held)
	held["gone"] = proto.Clone(held["r-001"]).(*routecastv1.Route)
	held["gone"].Name = "gone"
	docApply(t, adm, putsOf(route("r-003", "https://r3.internal/v2")))
	c2 := startDocClient(t, conn, docClientConfig{Node: docNode("sync-2"), Held: held})
	st = waitSynced(t, c2, adm)
	if len(st.records) != 1 {
		t.Fatalf("restart got %d responses, want 1", len(st.records))
	}
	checkUpdate(t, "restart", st.records[0].resp, []string{"r-003"}, []string{"gone"})
	c2.stop()

	// Nothing changed: an empty update at the current revision.
	_, rev = listStore(t, adm, nil)
	c3 := startDocClient(t, conn, docClientConfig{Node: docNode("sync-3"), Held: st.held})
	st = waitSynced(t, c3, adm)
	if len(st.records) != 1 || st.records[0].resp.GetRevision() != rev {
		t.Fatalf("current client got %d responses, want one at revision %d", len(st.records), rev)
	}
	checkUpdate(t, "current client", st.records[0].resp, nil, nil)
}

// TestDocClient_Incremental checks that each change reaches a synced client
// as one update carrying exactly that change, and a burst converges.
func TestDocClient_Incremental(t *testing.T) {
	e := servertest.Start(t, servertest.Config{})
	adm := e.Admin("/operator/alice")
	docApply(t, adm, putsOf(docRoutes("r", 50, "v1")...))
	c := startDocClient(t, docDial(t, e, e.Addr), docClientConfig{Node: docNode("incr")})
	st := waitSynced(t, c, adm)

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	steps := []struct {
		name            string
		do              func() error
		routes, removed []string
	}{
		{"Create", func() error {
			_, err := adm.PutRoute(ctx, &routecastv1.PutRouteRequest{Scope: scope,
				Route: route("new-1", "https://n.internal")})
			return err
		}, []string{"new-1"}, nil},
		{"Update", func() error {
			_, err := adm.PutRoute(ctx, &routecastv1.PutRouteRequest{Scope: scope,
				Route: route("r-007", "https://r7.internal/v2")})
			return err
		}, []string{"r-007"}, nil},
		{"Delete", func() error {
			_, err := adm.DeleteRoute(ctx, &routecastv1.DeleteRouteRequest{Scope: scope, Name: "r-010"})
			return err
		}, nil, []string{"r-010"}},
		{"Batch", func() error {
			_, err := adm.ApplyRoutes(ctx, &routecastv1.ApplyRoutesRequest{Scope: scope,
				Puts:    append(docRoutes("b", 2, "v1"), route("r-020", "https://r20.internal/v2")),
				Deletes: []string{"r-030", "r-031"}})
			return err
		}, []string{"b-000", "b-001", "r-020"}, []string{"r-030", "r-031"}},
	}
	for _, tt := range steps {
		seen := len(st.records)
		if err := tt.do(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		st = waitSynced(t, c, adm)
		if n := len(st.records) - seen; n != 1 {
			t.Fatalf("%s: %d responses, want 1", tt.name, n)
		}
		checkUpdate(t, tt.name, st.records[seen].resp, tt.routes, tt.removed)
	}

	// A burst of changes to one route converges on the latest version.
	for i := range 5 {
		_, err := adm.PutRoute(ctx, &routecastv1.PutRouteRequest{Scope: scope,
			Route: route("r-040", fmt.Sprintf("https://r40.internal/burst%d", i))})
		if err != nil {
			t.Fatal(err)
		}
	}
	st = waitSynced(t, c, adm)
	if got := st.held["r-040"].GetUpstream().GetUrl(); got != "https://r40.internal/burst4" {
		t.Errorf("after the burst r-040 goes to %q", got)
	}
}

// routeBytes is the size of a response's route data.
func routeBytes(resp *routecastv1.StreamRoutesResponse) int {
	n := 0
	for _, r := range resp.GetRoutes() {
		n += proto.Size(r)
	}
	return n
}

// checkParts checks that recs, the responses of one update, are parts
// within budget with more set on all but the last, and logs them.
func checkParts(t *testing.T, what string, recs []docRecord, budget int) {
	t.Helper()
	if len(recs) < 2 {
		t.Fatalf("%s: %d responses, want the update split into parts", what, len(recs))
	}
	for i, rec := range recs {
		resp := rec.resp
		t.Logf("%s part %d: revision %d, %d routes, %d bytes of routes, %d bytes in all, more %v",
			what, i, resp.GetRevision(), len(resp.GetRoutes()), routeBytes(resp), proto.Size(resp),
			resp.GetMore())
		if last := i == len(recs)-1; resp.GetMore() == last {
			t.Errorf("%s part %d of %d: more = %v", what, i, len(recs), resp.GetMore())
		}
		if routeBytes(resp) > budget {
			t.Errorf("%s part %d: %d bytes of routes, budget %d", what, i, routeBytes(resp), budget)
		}
	}
}

// checkPublishes checks that every published state is complete: n routes,
// all at the version of the update that changed every route.
func checkPublishes(t *testing.T, st *docState, n int) {
	t.Helper()
	for i, p := range st.publishes {
		if len(p.versions) != n {
			t.Errorf("publish %d at revision %d holds %d routes, want %d",
				i, p.revision, len(p.versions), n)
		}
		for name, v := range p.versions {
			if v != p.revision {
				t.Errorf("publish %d at revision %d holds %s at version %d", i, p.revision, name, v)
				break
			}
		}
	}
}

// TestDocClient_SplitUpdates checks that a large scope arrives in parts
// within the message budget, that the client publishes only complete
// updates, and that a stream broken between parts resumes from the last
// complete update.
func TestDocClient_SplitUpdates(t *testing.T) {
	const budget, n = 4096, 300
	e := servertest.Start(t, servertest.Config{MaxUpdateBytes: budget})
	adm := e.Admin("/operator/alice")
	docApply(t, adm, putsOf(docRoutes("r", n, "v1")...))
	proxy := servertest.NewProxy(t, e.Addr)
	var network docNetwork

	// Stop once in the middle of the third update, until released.
	parted, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hold := func(ctx context.Context, resp *routecastv1.StreamRoutesResponse) {
		if !resp.GetMore() || !slices.ContainsFunc(resp.GetRoutes(), func(r *routecastv1.Route) bool {
			return strings.HasSuffix(r.GetUpstream().GetUrl(), "/v3")
		}) {
			return
		}
		once.Do(func() {
			close(parted)
			select {
			case <-release:
			case <-ctx.Done():
			}
		})
	}
	c := startDocClient(t, docDial(t, e, proxy.Addr(), grpc.WithContextDialer(network.dial)),
		docClientConfig{Node: docNode("split"), BeforeAnswer: hold})

	st := waitSynced(t, c, adm)
	checkParts(t, "initial", st.records, budget)
	seen := len(st.records)

	docApply(t, adm, putsOf(docRoutes("r", n, "v2")...))
	st = waitSynced(t, c, adm)
	checkParts(t, "update", st.records[seen:], budget)
	if len(st.publishes) != 2 {
		t.Errorf("%d publishes after two updates, want 2", len(st.publishes))
	}

	// Break the stream between parts of the next update.
	docApply(t, adm, putsOf(docRoutes("r", n, "v3")...))
	select {
	case <-parted:
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for a part of the third update")
	}
	network.set(true)
	proxy.Break()
	close(release)
	broken := c.waitFor(t, "the stream to fail", streamFailed)
	if broken.revision != broken.publishes[1].revision || len(broken.publishes) != 2 {
		t.Errorf("after a broken split update the client holds revision %d, want %d",
			broken.revision, broken.publishes[1].revision)
	}
	network.set(false)
	st = waitSynced(t, c, adm)
	checkPublishes(t, st, n)
	if len(st.publishes) != 3 || len(st.streams) < 2 {
		t.Errorf("%d publishes on %d streams after three updates, want 3 on 2 or more",
			len(st.publishes), len(st.streams))
	}
	got, want := st.streams[len(st.streams)-1], st.publishes[1].versions
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resumed with initial_versions other than the last complete update:\n%s", diff)
	}
}

// docChanges is the offline change both resume tests make: update r-000..4,
// delete r-045..49, create n-000..2.
func docChanges() (puts []*routecastv1.Route, deletes []string) {
	puts = append(docRoutes("n", 3, "v1"), docRoutes("r", 5, "v2")...)
	return puts, docNames("r", 45, 50)
}

// checkResume checks the first response after stream `after`: it was
// requested with the held routes as initial_versions and carries exactly
// the offline changes at revision rev.
func checkResume(t *testing.T, st *docState, after int, held map[string]*routecastv1.Route,
	rev uint64) {
	t.Helper()
	i := slices.IndexFunc(st.records, func(rec docRecord) bool { return rec.stream > after })
	if i < 0 {
		t.Fatal("no response after the stream ended")
	}
	rec := st.records[i]
	if diff := cmp.Diff(docVersions(held), st.streams[rec.stream]); diff != "" {
		t.Errorf("resumed with initial_versions other than the held routes (-held +sent):\n%s", diff)
	}
	if rec.resp.GetRevision() != rev || rec.resp.GetMore() {
		t.Errorf("resume update at revision %d (more %v), want %d",
			rec.resp.GetRevision(), rec.resp.GetMore(), rev)
	}
	want := append(docNames("n", 0, 3), docNames("r", 0, 5)...)
	checkUpdate(t, "resume", rec.resp, want, docNames("r", 45, 50))
	for _, r := range rec.resp.GetRoutes() {
		if r.GetVersion() == held[r.GetName()].GetVersion() {
			t.Errorf("resume resent %s at the version held, %d", r.GetName(), r.GetVersion())
		}
	}
}

// TestDocClient_ResumeAfterNetworkBreak checks that a client cut off by the
// network keeps its routes and, on resume, receives only what changed
// meanwhile, deletions as removed.
func TestDocClient_ResumeAfterNetworkBreak(t *testing.T) {
	e := servertest.Start(t, servertest.Config{})
	adm := e.Admin("/operator/alice")
	docApply(t, adm, putsOf(docRoutes("r", 50, "v1")...))
	proxy := servertest.NewProxy(t, e.Addr)
	var network docNetwork
	c := startDocClient(t, docDial(t, e, proxy.Addr(), grpc.WithContextDialer(network.dial)),
		docClientConfig{Node: docNode("netbreak")})
	before := waitSynced(t, c, adm)

	network.set(true)
	proxy.Break()
	down := c.waitFor(t, "the stream to fail", streamFailed)
	if diff := cmp.Diff(before.held, down.held, protocmp.Transform()); diff != "" {
		t.Errorf("routes changed when the stream ended (-before +after):\n%s", diff)
	}
	puts, deletes := docChanges()
	rev := docApply(t, adm, &routecastv1.ApplyRoutesRequest{Puts: puts, Deletes: deletes})
	network.set(false)

	st := waitSynced(t, c, adm)
	checkResume(t, st, len(before.streams)-1, before.held, rev)
}

// TestDocClient_ResumeAfterRestart checks that a client survives a server
// restart with changes made to the store while the server was down, and
// receives only those changes.
func TestDocClient_ResumeAfterRestart(t *testing.T) {
	for _, tt := range []struct {
		name     string
		graceful bool
	}{{"Graceful", true}, {"Hard", false}} {
		t.Run(tt.name, func(t *testing.T) {
			e := servertest.Start(t, servertest.Config{})
			adm := e.Admin("/operator/alice")
			docApply(t, adm, putsOf(docRoutes("r", 50, "v1")...))
			c := startDocClient(t, docDial(t, e, e.Addr), docClientConfig{Node: docNode("restart")})
			before := waitSynced(t, c, adm)

			e.Stop(tt.graceful)
			st := c.waitFor(t, "the stream to fail", streamFailed)
			if code := status.Code(st.failures[0]); code != codes.Unavailable {
				t.Errorf("stream ended with %v, want Unavailable", st.failures[0])
			}
			rev := applyOffline(t, filepath.Join(e.Dir, "routes.db"))
			e.Reopen()

			st = waitSynced(t, c, e.Admin("/operator/alice"))
			checkResume(t, st, len(before.streams)-1, before.held, rev)
		})
	}
}

// applyOffline makes docChanges in the store file of a stopped server.
func applyOffline(t *testing.T, path string) uint64 {
	t.Helper()
	db, err := store.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	puts, deletes := docChanges()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	res, err := db.Apply(ctx, scope, store.Batch{Puts: puts, Deletes: deletes,
		Actor: "spiffe://" + servertest.TrustDomain + "/operator/offline"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return res.Revision
}

// TestDocClient_NamedSubscription checks that a named subscription gets
// only its names, that a missing name is reported absent and arrives when
// created, and that a deleted name is answered with a removal.
func TestDocClient_NamedSubscription(t *testing.T) {
	e := servertest.Start(t, servertest.Config{})
	adm := e.Admin("/operator/alice")
	docApply(t, adm, putsOf(docRoutes("r", 10, "v1")...))
	names := []string{"r-001", "r-002", "ghost"}
	c := startDocClient(t, docDial(t, e, e.Addr),
		docClientConfig{Node: docNode("named"), Names: names})
	st := waitSynced(t, c, adm)
	if len(st.records) != 1 {
		t.Fatalf("first update: %d responses, want 1", len(st.records))
	}
	checkUpdate(t, "first update", st.records[0].resp, []string{"r-001", "r-002"}, []string{"ghost"})

	steps := []struct {
		name            string
		req             *routecastv1.ApplyRoutesRequest
		routes, removed []string
	}{
		{"CreateGhost", putsOf(route("ghost", "https://g.internal")),
			[]string{"ghost"}, nil},
		{"UpdateSubscribed", putsOf(
			route("r-001", "https://r1.internal/v2"), route("r-005", "https://r5.internal/v2")),
			[]string{"r-001"}, nil},
		{"DeleteGhost", &routecastv1.ApplyRoutesRequest{Deletes: []string{"ghost"}}, nil, []string{"ghost"}},
		{"DeleteSubscribed", &routecastv1.ApplyRoutesRequest{Deletes: []string{"r-002", "r-003"}},
			nil, []string{"r-002"}},
		{"Recreate", putsOf(route("r-002", "https://r2.internal/v3")),
			[]string{"r-002"}, nil},
	}
	for _, tt := range steps {
		seen := len(st.records)
		// A change outside the subscription first: it must not be sent.
		docApply(t, adm, putsOf(
			route("other", "https://other.internal/"+tt.name)))
		docApply(t, adm, tt.req)
		st = waitSynced(t, c, adm)
		if n := len(st.records) - seen; n != 1 {
			t.Fatalf("%s: %d responses, want 1", tt.name, n)
		}
		checkUpdate(t, tt.name, st.records[seen].resp, tt.routes, tt.removed)
	}
	for i, rec := range st.records {
		for _, r := range rec.resp.GetRoutes() {
			if !slices.Contains(names, r.GetName()) {
				t.Errorf("response %d carries %q, not subscribed", i, r.GetName())
			}
		}
	}
}

// TestDocClient_NackKeepsLastGood checks that after a NACK the client keeps
// its last good routes, the server records the NACK and does not resend the
// rejected version, and the next change arrives alone.
func TestDocClient_NackKeepsLastGood(t *testing.T) {
	e := servertest.Start(t, servertest.Config{})
	adm := e.Admin("/operator/alice")
	docApply(t, adm, putsOf(docRoutes("r", 10, "v1")...))
	rejectMe := func(r *routecastv1.Route) error {
		if r.GetOwner() == "reject-me" {
			return errors.New("owner reject-me is not allowed here")
		}
		return nil
	}
	c := startDocClient(t, docDial(t, e, e.Addr),
		docClientConfig{Node: docNode("nack"), Validate: rejectMe})
	good := waitSynced(t, c, adm)

	// One batch: a route the client rejects and a change to r-001.
	bad := route("bad", "https://bad.internal")
	bad.Owner = "reject-me"
	badRev := docApply(t, adm, &routecastv1.ApplyRoutesRequest{
		Puts: []*routecastv1.Route{bad, route("r-001", "https://r1.internal/v2")}})
	st := c.waitFor(t, "a NACK", func(st *docState) bool {
		return len(st.records) > len(good.records) && st.records[len(st.records)-1].nacked
	})
	nacked := st.records[len(st.records)-1].resp
	checkUpdate(t, "rejected update", nacked, []string{"bad", "r-001"}, nil)
	diff := cmp.Diff(good.held, st.held, protocmp.Transform())
	if diff != "" || st.revision != good.revision {
		t.Errorf("after the NACK the client holds revision %d, want %d; routes (-good +held):\n%s",
			st.revision, good.revision, diff)
	}
	// The next change arrives alone; the rejected version is not resent.
	nextRev := docApply(t, adm, putsOf(route("next", "https://next.internal")))
	seen := len(st.records)
	st = c.waitFor(t, "the next change", func(st *docState) bool { return st.revision >= nextRev })
	checkInvariants(t, c, st)
	if n := len(st.records) - seen; n != 1 {
		t.Fatalf("after the NACK: %d responses, want 1", n)
	}
	checkUpdate(t, "next change", st.records[seen].resp, []string{"next"}, nil)
	want := maps.Clone(good.held)
	want["next"] = st.records[seen].resp.GetRoutes()[0]
	if diff := cmp.Diff(want, st.held, protocmp.Transform()); diff != "" {
		t.Errorf("client does not hold its last good routes plus the next change "+
			"(-want +held):\n%s", diff)
	}
	// The server sent the next change, so it has read the NACK.
	agent := statusOf(t, adm, "nack")
	if n := agent.GetLastNack(); n.GetNonce() != nacked.GetNonce() || n.GetRevision() != badRev ||
		n.GetErrorDetail().GetCode() != int32(codes.InvalidArgument) {
		t.Errorf("GetStatus last_nack = %v, want nonce %q at revision %d", n, nacked.GetNonce(), badRev)
	}

	// A fixed version of the rejected route is accepted; the change to
	// r-001 that came with the rejected one stays missing, as documented.
	bad.Owner = "mesh"
	fixRev := docApply(t, adm, putsOf(bad))
	st = c.waitFor(t, "the fixed route", func(st *docState) bool { return st.revision >= fixRev })
	checkInvariants(t, c, st)
	if st.held["bad"].GetVersion() != fixRev {
		t.Errorf("the fixed route is held at version %d, want %d", st.held["bad"].GetVersion(), fixRev)
	}
	if v := st.held["r-001"].GetVersion(); v != good.held["r-001"].GetVersion() {
		t.Errorf("r-001 is held at version %d; the rejected update was resent", v)
	}
}

// TestDocClient_FinalErrors checks that the client stops, without
// reconnecting, when a stream ends with PermissionDenied or
// InvalidArgument.
func TestDocClient_FinalErrors(t *testing.T) {
	e := servertest.Start(t, servertest.Config{})
	tests := []struct {
		name  string
		path  string
		scope string
		want  codes.Code
	}{
		{"PermissionDenied", "/agent/orders/host-1", scope, codes.PermissionDenied},
		{"InvalidArgument", "/agent/payments/host-1", "Payments/Staging", codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := e.Dial(e.ClientTLS(tt.path))
			c := startDocClient(t, conn,
				docClientConfig{Node: docNode("final-" + tt.name), Scope: tt.scope})
			select {
			case <-c.done:
			case <-time.After(waitTimeout):
				t.Fatal("client did not stop")
			}
			st, _ := c.state()
			if status.Code(st.final) != tt.want || len(st.streams) != 1 || len(st.records) != 0 {
				t.Errorf("client stopped with %v after %d streams and %d responses, "+
					"want %v after one stream", st.final, len(st.streams), len(st.records), tt.want)
			}
		})
	}
}
