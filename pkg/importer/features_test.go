package importer

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TestParse_httpRouteMapping checks the parts of the HTTPRoute mapping the
// test data does not use: the default namespace option, default matches,
// backends in other namespaces and with weights, redirects, response
// headers, timeouts, retries and labels.
func TestParse_httpRouteMapping(t *testing.T) {
	const input = `
# Leading comments and empty documents are fine.
---
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata:
  name: shop
  labels:
    app: shop
  annotations:
    note: ignored
  uid: 1234
spec:
  parentRefs:
  - name: gw
    sectionName: https
    port: 443
  hostnames: [Shop.Example.com]
  rules:
  - name: catalog
    backendRefs:
    - name: catalog
      port: 8080
      weight: 3
    - name: catalog-next
      namespace: next
      port: 8080
      weight: 1
    - name: catalog-old
      port: 8080
      weight: 0
    - name: same-ns
      namespace: retail
      port: 80
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        remove: [Server]
    timeouts:
      request: 1m30s
      backendRequest: 500ms
    retry:
      attempts: 2
      codes: [503, 502]
      backoff: 100ms
    sessionPersistence:
      sessionName: shop
  - matches:
    - path:
        type: Exact
        value: /old
      method: get
    filters:
    - type: RequestRedirect
      requestRedirect:
        scheme: https
        hostname: new.example.com
        port: 8443
        statusCode: 301
        path:
          type: ReplaceFullPath
          replaceFullPath: /new
status:
  parents: []
`
	res, err := Parse("shop.yaml", []byte(input), Options{DefaultNamespace: "retail"})
	if err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	labels := map[string]string{"app": "shop", "routecast.dev/source": "httproute/retail/shop"}
	want := []*routecastv1.Route{
		{
			Name:   "retail.shop.catalog.m0",
			Labels: labels,
			Match: &routecastv1.RouteMatch{
				Hosts: []string{"shop.example.com"},
				Path:  prefixPath("/"),
			},
			Upstream: &routecastv1.Upstream{Backends: []*routecastv1.Backend{
				{Cluster: "catalog-next.next:8080", Weight: 1},
				{Cluster: "catalog:8080", Weight: 3},
				{Cluster: "same-ns:80"},
			}},
			Filters: []*routecastv1.RouteFilter{{Kind: &routecastv1.RouteFilter_ResponseHeaders{
				ResponseHeaders: &routecastv1.HeaderModifier{Remove: []string{"Server"}},
			}}},
			Policy: &routecastv1.RoutePolicy{
				Timeout: durationpb.New(90 * time.Second),
				Retries: &routecastv1.RetryPolicy{
					Attempts:      2,
					PerTryTimeout: durationpb.New(500 * time.Millisecond),
					RetryOn:       []string{"502", "503"},
				},
			},
		},
		{
			Name:   "retail.shop.r1.m0",
			Labels: labels,
			Match: &routecastv1.RouteMatch{
				Hosts:   []string{"shop.example.com"},
				Path:    exactPath("/old"),
				Methods: []string{"GET"},
			},
			Filters: []*routecastv1.RouteFilter{{Kind: &routecastv1.RouteFilter_Redirect{
				Redirect: &routecastv1.Redirect{
					Scheme: "https", Hostname: "new.example.com", Port: 8443,
					Path: "/new", StatusCode: 301,
				},
			}}},
		},
	}
	if diff := diffRoutes(want, res.Routes); diff != "" {
		t.Errorf("routes mismatch (-want +got):\n%s", diff)
	}
}

// TestParse_routeSet checks that a RouteSet decodes every kind of field:
// proto and JSON names, enums, durations, maps, oneofs, aliases, and JSON
// input.
func TestParse_routeSet(t *testing.T) {
	want := []*routecastv1.Route{{
		Name:   "orders",
		Owner:  "orders-team",
		Labels: map[string]string{"team": "orders"},
		Match: &routecastv1.RouteMatch{
			Hosts: []string{"api.example.com"},
			Path: &routecastv1.PathMatch{
				Kind: &routecastv1.PathMatch_Template{Template: "/orders/{id}"},
			},
			Methods: []string{"GET"},
			QueryParams: []*routecastv1.KeyValueMatch{
				{Name: "v", Value: "[0-9]+", Type: routecastv1.MatchType_MATCH_TYPE_REGEX},
			},
		},
		Upstream: &routecastv1.Upstream{
			Backends: []*routecastv1.Backend{{Cluster: "orders:8080", Weight: 2}},
		},
		Filters: []*routecastv1.RouteFilter{{Kind: &routecastv1.RouteFilter_UrlRewrite{
			UrlRewrite: &routecastv1.UrlRewrite{
				Path: &routecastv1.UrlRewrite_ReplaceFullPath{ReplaceFullPath: "/v2/orders"},
			},
		}}},
		Policy: &routecastv1.RoutePolicy{
			Timeout:   durationpb.New(2500 * time.Millisecond),
			RateLimit: &routecastv1.RateLimit{RequestsPerSecond: 10, Burst: 5},
			Auth:      &routecastv1.AuthRequirement{Scheme: "bearer", SecretRef: "orders/tokens"},
		},
	}}

	tests := []struct {
		name  string
		input string
	}{
		{"yaml", `apiVersion: routecast.dev/v1
kind: RouteSet
routes:
- name: orders
  owner: orders-team
  labels: {team: orders}
  match:
    hosts: [API.example.com]
    path: {template: "/orders/{id}", exact: null}
    methods: [get]
    query_params:
    - {name: v, value: "[0-9]+", type: MATCH_TYPE_REGEX}
  upstream:
    backends: [{cluster: "orders:8080", weight: 2}]
  filters:
  - url_rewrite: {replace_full_path: /v2/orders}
  policy: &policy
    timeout: 2.5s
    rate_limit: {requests_per_second: 10, burst: 5}
    auth: {scheme: bearer, secret_ref: orders/tokens}
`},
		{"json", `{
  "apiVersion": "routecast.dev/v1",
  "kind": "RouteSet",
  "routes": [{
    "name": "orders",
    "owner": "orders-team",
    "labels": {"team": "orders"},
    "match": {
      "hosts": ["api.example.com"],
      "path": {"template": "/orders/{id}"},
      "methods": ["GET"],
      "queryParams": [{"name": "v", "value": "[0-9]+", "type": 2}]
    },
    "upstream": {"backends": [{"cluster": "orders:8080", "weight": 2}]},
    "filters": [{"urlRewrite": {"replaceFullPath": "/v2/orders"}}],
    "policy": {
      "timeout": "2500ms",
      "rateLimit": {"requestsPerSecond": 10, "burst": 5},
      "auth": {"scheme": "bearer", "secretRef": "orders/tokens"}
    }
  }]
}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Parse("orders."+tt.name, []byte(tt.input), Options{})
			if err != nil {
				t.Fatalf("Parse() = %v", err)
			}
			if diff := cmp.Diff(want, res.Routes, protocmp.Transform()); diff != "" {
				t.Errorf("routes mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParse_empty checks that files without documents, or with only empty
// ones, give an empty result.
func TestParse_empty(t *testing.T) {
	for _, input := range []string{"", "# nothing here\n", "---\n---\n", "~\n"} {
		res, err := Parse("empty.yaml", []byte(input), Options{})
		if err != nil {
			t.Errorf("Parse(%q) = %v", input, err)
			continue
		}
		if len(res.Routes) != 0 || len(res.Skipped) != 0 {
			t.Errorf("Parse(%q) = %+v, want an empty result", input, res)
		}
	}
}

// TestParse_aliasExpansion checks that a document whose aliases expand into
// more values than the limit is refused instead of decoded.
func TestParse_aliasExpansion(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: routecast.dev/v1\nkind: RouteSet\nroutes:\n- &r {match: {hosts: [")
	b.WriteString(strings.Repeat("a.com, ", 999) + "a.com]}}\n")
	b.WriteString(strings.Repeat("- *r\n", 2000))

	_, err := Parse("aliases.yaml", []byte(b.String()), Options{})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Parse() = %v, want an *Error", err)
	}
	if !strings.Contains(e.Reason, "once aliases are expanded") {
		t.Errorf("Parse() = %v, want the alias limit", err)
	}
}
