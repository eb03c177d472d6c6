package importer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"google.golang.org/protobuf/testing/protocmp"
)

// testdataEnv names the folder of real route documents that some tests
// read. Those tests are skipped when it is unset.
const testdataEnv = "ROUTECAST_TESTDATA"

// readTestdata returns a file of $ROUTECAST_TESTDATA. It skips the test
// when the variable is unset, and fails it when the file is missing.
func readTestdata(t *testing.T, rel string) []byte {
	t.Helper()
	dir := os.Getenv(testdataEnv)
	if dir == "" {
		t.Skipf("%s is not set; set it to the folder of real route documents to run this test",
			testdataEnv)
	}
	data, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		t.Fatalf("reading test data: %v", err)
	}
	return data
}

// parseTestdata parses a Gateway API file of the test data.
func parseTestdata(t *testing.T, name string) *Result {
	t.Helper()
	data := readTestdata(t, filepath.Join("gateway-api", name))
	res, err := Parse(name, data, Options{})
	if err != nil {
		t.Fatalf("Parse(%s) = %v", name, err)
	}
	return res
}

// gwRoute builds the route expected from an HTTPRoute rule match.
type gwRoute struct {
	name, source string
	hosts        []string
	path         *routecastv1.PathMatch
	methods      []string
	headers      []*routecastv1.KeyValueMatch
	query        []*routecastv1.KeyValueMatch
	backends     []string
	filters      []*routecastv1.RouteFilter
}

func (g gwRoute) route() *routecastv1.Route {
	r := &routecastv1.Route{
		Name:   g.name,
		Labels: map[string]string{"routecast.dev/source": g.source},
		Match: &routecastv1.RouteMatch{
			Hosts:       g.hosts,
			Path:        g.path,
			Methods:     g.methods,
			Headers:     g.headers,
			QueryParams: g.query,
		},
		Upstream: &routecastv1.Upstream{},
		Filters:  g.filters,
	}
	for _, b := range g.backends {
		r.Upstream.Backends = append(r.Upstream.Backends, &routecastv1.Backend{Cluster: b})
	}
	return r
}

func prefixPath(p string) *routecastv1.PathMatch {
	return &routecastv1.PathMatch{Kind: &routecastv1.PathMatch_Prefix{Prefix: p}}
}

func exactPath(p string) *routecastv1.PathMatch {
	return &routecastv1.PathMatch{Kind: &routecastv1.PathMatch_Exact{Exact: p}}
}

func exactKV(name, value string) []*routecastv1.KeyValueMatch {
	return []*routecastv1.KeyValueMatch{
		{Name: name, Value: value, Type: routecastv1.MatchType_MATCH_TYPE_EXACT},
	}
}

func regexKV(name, value string) []*routecastv1.KeyValueMatch {
	return []*routecastv1.KeyValueMatch{
		{Name: name, Value: value, Type: routecastv1.MatchType_MATCH_TYPE_REGEX},
	}
}

func rewrite(rw *routecastv1.UrlRewrite) *routecastv1.RouteFilter {
	return &routecastv1.RouteFilter{Kind: &routecastv1.RouteFilter_UrlRewrite{UrlRewrite: rw}}
}

func replacePrefix(p string) *routecastv1.RouteFilter {
	return rewrite(&routecastv1.UrlRewrite{
		Path: &routecastv1.UrlRewrite_ReplacePrefixMatch{ReplacePrefixMatch: p},
	})
}

func replaceFull(p string) *routecastv1.RouteFilter {
	return rewrite(&routecastv1.UrlRewrite{
		Path: &routecastv1.UrlRewrite_ReplaceFullPath{ReplaceFullPath: p},
	})
}

// conformanceHeaders is the request header modifier of the rewrite-path
// conformance test.
func conformanceHeaders() *routecastv1.RouteFilter {
	return &routecastv1.RouteFilter{Kind: &routecastv1.RouteFilter_RequestHeaders{
		RequestHeaders: &routecastv1.HeaderModifier{
			Set: []*routecastv1.Header{{Name: "X-Header-Set", Value: "set-overwrites-values"}},
			Add: []*routecastv1.Header{
				{Name: "X-Header-Add", Value: "header-val-1"},
				{Name: "X-Header-Add-Append", Value: "header-val-2"},
			},
			Remove: []string{"X-Header-Remove"},
		},
	}}
}

func gwRoutes(gs ...gwRoute) []*routecastv1.Route {
	var rs []*routecastv1.Route
	for _, g := range gs {
		rs = append(rs, g.route())
	}
	return rs
}

func diffRoutes(want, got []*routecastv1.Route) string {
	return cmp.Diff(want, got, protocmp.Transform())
}

// TestParse_basicHTTP checks the Gateway API basic example: a GatewayClass
// and a Gateway are skipped, and the HTTPRoute without a namespace is
// imported into the default namespace with ANDed path, header, query and
// method conditions.
func TestParse_basicHTTP(t *testing.T) {
	res := parseTestdata(t, "gwapi-basic-http.yaml")

	const src = "httproute/default/http-app-1"
	want := gwRoutes(
		gwRoute{name: "default.http-app-1.r0.m0", source: src, hosts: []string{"foo.com"},
			path: prefixPath("/bar"), backends: []string{"my-service1:8080"}},
		gwRoute{name: "default.http-app-1.r1.m0", source: src, hosts: []string{"foo.com"},
			path: prefixPath("/some/thing"), methods: []string{"GET"},
			headers: exactKV("magic", "foo"), query: exactKV("great", "example"),
			backends: []string{"my-service2:8080"}},
	)
	if diff := diffRoutes(want, res.Routes); diff != "" {
		t.Errorf("routes mismatch (-want +got):\n%s", diff)
	}

	wantSkipped := []Skipped{
		{Document: 1, Kind: "GatewayClass", Name: "example"},
		{Document: 2, Kind: "Gateway", Name: "my-gateway"},
	}
	ignoreReason := cmpopts.IgnoreFields(Skipped{}, "Reason")
	if diff := cmp.Diff(wantSkipped, res.Skipped, ignoreReason); diff != "" {
		t.Errorf("skipped mismatch (-want +got):\n%s", diff)
	}
	for _, s := range res.Skipped {
		if s.Reason == "" {
			t.Errorf("skipped %s has no reason", s.Kind)
		}
	}
}

// TestParse_pathMatchOrder checks the path match order conformance route:
// exact and prefix paths, and that choosing among the imported routes the
// way the Gateway API does (exact first, then the longest prefix) sends
// each request to the backend the conformance test expects.
func TestParse_pathMatchOrder(t *testing.T) {
	res := parseTestdata(t, "gwapi-conformance-httproute-path-match-order.yaml")

	r := func(name string, path *routecastv1.PathMatch, backend string) gwRoute {
		return gwRoute{
			name:     "gateway-conformance-infra.path-matching-order." + name,
			source:   "httproute/gateway-conformance-infra/path-matching-order",
			path:     path,
			backends: []string{backend},
		}
	}
	want := gwRoutes(
		r("r0.m0", exactPath("/match"), "infra-backend-v1:8080"),
		r("r1.m0", exactPath("/match/exact"), "infra-backend-v2:8080"),
		r("r2.m0", exactPath("/match/exact/one"), "infra-backend-v3:8080"),
		r("r3.m0", prefixPath("/match/"), "infra-backend-v3:8080"),
		r("r4.m0", prefixPath("/match/prefix/"), "infra-backend-v1:8080"),
		r("r5.m0", prefixPath("/match/prefix/one"), "infra-backend-v2:8080"),
	)
	if diff := diffRoutes(want, res.Routes); diff != "" {
		t.Errorf("routes mismatch (-want +got):\n%s", diff)
	}

	requests := []struct{ path, backend string }{
		{"/match/exact/one", "infra-backend-v3:8080"},
		{"/match/exact", "infra-backend-v2:8080"},
		{"/match", "infra-backend-v1:8080"},
		{"/match/prefix/one/any", "infra-backend-v2:8080"},
		{"/match/prefix/any", "infra-backend-v1:8080"},
		{"/match/any", "infra-backend-v3:8080"},
	}
	for _, tt := range requests {
		if got := pickBackend(res.Routes, tt.path); got != tt.backend {
			t.Errorf("request %s goes to %q, want %q", tt.path, got, tt.backend)
		}
	}
}

// pickBackend returns the first backend of the route that the Gateway API
// precedence picks for a request path: an exact match, else the longest
// prefix match on a segment boundary.
func pickBackend(rs []*routecastv1.Route, path string) string {
	best, bestLen := "", -1
	for _, r := range rs {
		backend := r.GetUpstream().GetBackends()[0].GetCluster()
		if r.GetMatch().GetPath().GetExact() == path {
			return backend
		}
		p := strings.TrimSuffix(r.GetMatch().GetPath().GetPrefix(), "/")
		if r.GetMatch().GetPath().GetPrefix() == "" || len(p) <= bestLen {
			continue
		}
		if path == p || strings.HasPrefix(path, p+"/") {
			best, bestLen = backend, len(p)
		}
	}
	return best
}

// TestParse_rewritePath checks the rewrite path conformance route: prefix
// and full path rewrites, and header modifiers that follow a rewrite in
// order.
func TestParse_rewritePath(t *testing.T) {
	res := parseTestdata(t, "gwapi-conformance-httproute-rewrite-path.yaml")

	r := func(name, prefix string, filters ...*routecastv1.RouteFilter) gwRoute {
		return gwRoute{
			name:     "gateway-conformance-infra.rewrite-path." + name,
			source:   "httproute/gateway-conformance-infra/rewrite-path",
			path:     prefixPath(prefix),
			backends: []string{"infra-backend-v1:8080"},
			filters:  filters,
		}
	}
	want := gwRoutes(
		r("r0.m0", "/prefix/one", replacePrefix("/one")),
		r("r1.m0", "/strip-prefix", replacePrefix("/")),
		r("r2.m0", "/full/one", replaceFull("/one")),
		r("r3.m0", "/full/rewrite-path-and-modify-headers", replaceFull("/test"), conformanceHeaders()),
		r("r4.m0", "/prefix/rewrite-path-and-modify-headers", replacePrefix("/prefix"),
			conformanceHeaders()),
	)
	if diff := diffRoutes(want, res.Routes); diff != "" {
		t.Errorf("routes mismatch (-want +got):\n%s", diff)
	}

	var rewrites, modifiers int
	for _, r := range res.Routes {
		for i, f := range r.GetFilters() {
			if f.GetUrlRewrite() != nil {
				rewrites++
				if i != 0 {
					t.Errorf("%s: URL rewrite is filter %d, want 0", r.GetName(), i)
				}
			}
			if hm := f.GetRequestHeaders(); hm != nil {
				modifiers++
				if len(hm.GetSet()) != 1 || len(hm.GetAdd()) != 2 || len(hm.GetRemove()) != 1 {
					t.Errorf("%s: header modifier sets %d, adds %d, removes %d; want 1, 2, 1",
						r.GetName(), len(hm.GetSet()), len(hm.GetAdd()), len(hm.GetRemove()))
				}
			}
		}
	}
	if rewrites != 5 || modifiers != 2 {
		t.Errorf("got %d URL rewrites and %d header modifiers, want 5 and 2", rewrites, modifiers)
	}
}

// TestParse_cafeRoutes checks the NGINX Gateway Fabric advanced routing
// example: ORed matches become separate routes, header and query matches
// keep the case of their names, and RegularExpression becomes a regex
// match.
func TestParse_cafeRoutes(t *testing.T) {
	res := parseTestdata(t, "ngf-advanced-routing-cafe-routes.yaml")

	hosts := []string{"cafe.example.com"}
	coffee := func(name string, backend string, headers, query []*routecastv1.KeyValueMatch) gwRoute {
		return gwRoute{name: "default.coffee." + name, source: "httproute/default/coffee", hosts: hosts,
			path: prefixPath("/coffee"), headers: headers, query: query, backends: []string{backend}}
	}
	tea := func(name, method, backend string) gwRoute {
		return gwRoute{name: "default.tea." + name, source: "httproute/default/tea", hosts: hosts,
			path: prefixPath("/tea"), methods: []string{method}, backends: []string{backend}}
	}
	want := gwRoutes(
		coffee("r0.m0", "coffee-v1-svc:80", nil, nil),
		coffee("r1.m0", "coffee-v2-svc:80", exactKV("version", "v2"), nil),
		coffee("r1.m1", "coffee-v2-svc:80", nil, exactKV("TEST", "v2")),
		coffee("r2.m0", "coffee-v3-svc:80", regexKV("headerRegex", "header-[a-z]{1}"), nil),
		coffee("r2.m1", "coffee-v3-svc:80", nil, regexKV("queryRegex", "query-[a-z]{1}")),
		tea("r0.m0", "POST", "tea-post-svc:80"),
		tea("r1.m0", "GET", "tea-svc:80"),
	)
	if diff := diffRoutes(want, res.Routes); diff != "" {
		t.Errorf("routes mismatch (-want +got):\n%s", diff)
	}
	if len(res.Skipped) != 0 {
		t.Errorf("skipped %v, want none", res.Skipped)
	}
}

// TestParse_allTestdata checks that every Gateway API file of the test data
// imports, so that a file added there is at least parsed.
func TestParse_allTestdata(t *testing.T) {
	dir := os.Getenv(testdataEnv)
	if dir == "" {
		t.Skipf("%s is not set; set it to the folder of real route documents to run this test",
			testdataEnv)
	}
	files, err := filepath.Glob(filepath.Join(dir, "gateway-api", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Gateway API files in %s (err %v)", dir, err)
	}
	for _, f := range files {
		res := parseTestdata(t, filepath.Base(f))
		if len(res.Routes) == 0 {
			t.Errorf("%s: no routes", f)
		}
	}
}
