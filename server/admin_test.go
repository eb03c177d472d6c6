package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/internal/benchdata"
	"github.com/routecast/routecast/server/servertest"
)

// TestListChanges_PagesInsideACommit checks that ListChanges reads every
// change of a commit larger than a page, page token by page token, and
// that a bad token is refused.
func TestListChanges_PagesInsideACommit(t *testing.T) {
	e := servertest.Start(t, servertest.Config{})
	adm := e.Admin("/operator/alice")
	ctx := context.Background()
	rs, err := benchdata.Routes(scope, "r", 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.ApplyRoutes(ctx, &routecastv1.ApplyRoutesRequest{Scope: scope, Puts: rs}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.ApplyRoutes(ctx, &routecastv1.ApplyRoutesRequest{Scope: scope, Deletes: []string{"r-00001"}}); err != nil {
		t.Fatal(err)
	}

	var got []string
	req := &routecastv1.ListChangesRequest{Scope: scope, PageSize: 2}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("ListChanges did not stop after 10 pages")
		}
		resp, err := adm.ListChanges(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.GetChanges() {
			got = append(got, fmt.Sprintf("%d %s %s", c.GetRevision(),
				strings.TrimPrefix(c.GetKind().String(), "CHANGE_KIND_"), c.GetName()))
		}
		if resp.GetNextPageToken() == "" {
			if resp.GetNextAfterRevision() != 0 {
				t.Errorf("last page: next_after_revision = %d, want 0", resp.GetNextAfterRevision())
			}
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	want := []string{"1 PUT r-00000", "1 PUT r-00001", "1 PUT r-00002", "1 PUT r-00003", "1 PUT r-00004", "2 DELETE r-00001"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes read in pages of 2 (-want +got):\n%s", diff)
	}

	for _, bad := range []*routecastv1.ListChangesRequest{
		{PageToken: "not a token"},
		{PageToken: "MS4y", AfterRevision: 1}, // a real token, with after_revision
		{PageToken: "eC55"},                   // base64 of "x.y"
	} {
		_, err := adm.ListChanges(ctx, bad)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "page_token") {
			t.Errorf("ListChanges(%v): err = %v, want InvalidArgument naming page_token", bad, err)
		}
	}
}
