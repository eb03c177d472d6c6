package importer

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// lineOf returns the 1-based line of the first occurrence of marker in
// input, so that tests name the line they expect by its content.
func lineOf(t *testing.T, input, marker string) int {
	t.Helper()
	i := strings.Index(input, marker)
	if i < 0 {
		t.Fatalf("marker %q is not in the input", marker)
	}
	return strings.Count(input[:i], "\n") + 1
}

// where is the part of an *Error that locates the problem.
type where struct {
	Document int
	Line     int
	Field    string
}

const httpRouteHead = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: shop
spec:
`

const routeSetHead = `apiVersion: routecast.dev/v1
kind: RouteSet
routes:
`

// TestParse_errors checks that bad input fails with an *Error naming the
// document, line and field of the problem, and returns no result.
func TestParse_errors(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		doc    int
		marker string // content of the line the error is on; "" for line 0
		field  string
		reason string // a part of the reason
	}{
		{
			name: "unknown-field",
			input: httpRouteHead + `  rules:
  - matches:
    - pathh:
        value: /a
`,
			doc: 1, marker: "pathh:", field: "spec.rules[0].matches[0].pathh",
			reason: "unknown field",
		},
		{
			name: "unknown-top-level-field",
			input: httpRouteHead + `  rules: []
extra: 1
`,
			doc: 1, marker: "extra:", field: "extra", reason: "unknown field",
		},
		{
			name: "config-map",
			input: httpRouteHead + `  rules:
  - backendRefs:
    - name: web
      port: 80
---
# settings
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
`,
			doc: 2, marker: "apiVersion: v1", field: "",
			reason: "not an HTTPRoute or a routecast RouteSet",
		},
		{
			name:  "no-kind",
			input: "name: x\n",
			doc:   1, marker: "name: x", reason: "apiVersion and kind are not set",
		},
		{
			name:  "not-a-mapping",
			input: "- a\n- b\n",
			doc:   1, marker: "- a", reason: "not a mapping",
		},
		{
			name:  "unknown-gateway-kind",
			input: "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoutes\n",
			doc:   1, marker: "kind:", field: "kind",
			reason: `unknown Gateway API kind "HTTPRoutes"`,
		},
		{
			name:  "old-httproute-version",
			input: "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: HTTPRoute\n",
			doc:   1, marker: "apiVersion", field: "apiVersion",
			reason: "v1alpha2 is not supported",
		},
		{
			name: "invalid-path-type",
			input: httpRouteHead + `  rules:
  - matches:
    - path:
        type: Foo
        value: /a
    backendRefs:
    - name: web
      port: 80
`,
			doc: 1, marker: "type: Foo", field: "spec.rules[0].matches[0].path.type",
			reason: `unknown value "Foo"`,
		},
		{
			name: "malformed-yaml",
			input: httpRouteHead + `  rules:
  - matches: [
--- # next
`,
			doc: 1, marker: "- matches: [", reason: "invalid YAML",
		},
		{
			name: "malformed-yaml-second-document",
			input: httpRouteHead + `  rules:
  - backendRefs:
    - name: web
      port: 80
---
a: b: c
`,
			doc: 2, marker: "a: b: c", reason: "invalid YAML",
		},
		{
			name: "merge-key",
			input: httpRouteHead + `  rules:
  - &rule
    backendRefs:
    - name: web
      port: 80
  - <<: *rule
    name: second
`,
			doc: 1, marker: "<<:", field: "spec.rules[1]", reason: "merge keys",
		},
		{
			name: "duplicate-key",
			input: httpRouteHead + `  hostnames: [a.com]
  hostnames: [b.com]
`,
			doc: 1, marker: "hostnames: [b.com]", field: "spec.hostnames", reason: "duplicate key",
		},
		{
			name: "string-for-integer",
			input: httpRouteHead + `  rules:
  - backendRefs:
    - name: web
      port: "80"
`,
			doc: 1, marker: `port: "80"`, field: "spec.rules[0].backendRefs[0].port",
			reason: `want an integer, got the string "80"`,
		},
		{
			name: "integer-for-string",
			input: httpRouteHead + `  rules:
  - matches:
    - headers:
      - name: x-version
        value: 2
`,
			doc: 1, marker: "value: 2", field: "spec.rules[0].matches[0].headers[0].value",
			reason: "want a string, got the number 2",
		},
		{
			name: "duplicate-httproute",
			input: httpRouteHead + `  rules:
  - backendRefs:
    - name: web
      port: 80
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: shop
  namespace: default
spec:
  rules:
  - backendRefs:
    - name: web
      port: 80
`,
			doc: 2, marker: "name: shop\n  namespace: default",
			field:  "metadata.name",
			reason: `duplicate route name "default.shop.r0.m0" (also document 1, line 4)`,
		},
		{
			name: "duplicate-rule-name",
			input: httpRouteHead + `  rules:
  - backendRefs:
    - name: web
      port: 80
  - name: r0
    backendRefs:
    - name: web
      port: 80
`,
			doc: 1, marker: "name: r0", field: "spec.rules[1].name",
			reason: `duplicate route name "default.shop.r0.m0" (also line 4)`,
		},
		{
			name: "unsupported-filter",
			input: httpRouteHead + `  rules:
  - filters:
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: mirror
          port: 80
    backendRefs:
    - name: web
      port: 80
`,
			doc: 1, marker: "type: RequestMirror", field: "spec.rules[0].filters[0].type",
			reason: `filter type "RequestMirror" is not supported`,
		},
		{
			name: "filter-config-of-other-type",
			input: httpRouteHead + `  rules:
  - filters:
    - type: URLRewrite
      urlRewrite:
        hostname: a.com
      requestHeaderModifier:
        remove: [x]
    backendRefs:
    - name: web
      port: 80
`,
			doc: 1, marker: "requestHeaderModifier:",
			field:  "spec.rules[0].filters[0].requestHeaderModifier",
			reason: "must not be set for filter type URLRewrite",
		},
		{
			name: "no-backends",
			input: httpRouteHead + `  rules:
  - matches:
    - path:
        value: /a
`,
			doc: 1, marker: "- matches:", field: "spec.rules[0].backendRefs",
			reason: "must name at least one backend",
		},
		{
			name: "only-zero-weights",
			input: httpRouteHead + `  rules:
  - backendRefs:
    - name: web
      port: 80
      weight: 0
`,
			doc: 1, marker: "backendRefs:", field: "spec.rules[0].backendRefs", reason: "weight 0",
		},
		{
			name: "backend-kind",
			input: httpRouteHead + `  rules:
  - backendRefs:
    - name: web
      kind: ServiceImport
      port: 80
`,
			doc: 1, marker: "kind: ServiceImport", field: "spec.rules[0].backendRefs[0].kind",
			reason: `backend kind "ServiceImport" is not supported`,
		},
		{
			name: "bad-duration",
			input: httpRouteHead + `  rules:
  - timeouts:
      request: 1.5s
    backendRefs:
    - name: web
      port: 80
`,
			doc: 1, marker: "request: 1.5s", field: "spec.rules[0].timeouts.request",
			reason: "not a duration",
		},
		{
			name: "validation-hostname",
			input: httpRouteHead + `  hostnames:
  - a.com
  - b_c.com
  rules:
  - backendRefs:
    - name: web
      port: 80
`,
			doc: 1, marker: "- b_c.com", field: "spec.hostnames[1]", reason: "not a DNS name",
		},
		{
			name: "validation-method",
			input: httpRouteHead + `  rules:
  - matches:
    - method: FETCH
    backendRefs:
    - name: web
      port: 80
`,
			doc: 1, marker: "method: FETCH", field: "spec.rules[0].matches[0].method",
			reason: `unknown method "FETCH"`,
		},
		{
			name: "validation-path",
			input: httpRouteHead + `  rules:
  - matches:
    - path:
        type: Exact
        value: a/b
    backendRefs:
    - name: web
      port: 80
`,
			doc: 1, marker: "value: a/b", field: "spec.rules[0].matches[0].path.value",
			reason: `must start with "/"`,
		},
		{
			name: "validation-header-regex",
			input: httpRouteHead + `  rules:
  - matches:
    - headers:
      - name: x-a
        type: RegularExpression
        value: "("
    backendRefs:
    - name: web
      port: 80
`,
			doc: 1, marker: `value: "("`, field: "spec.rules[0].matches[0].headers[0].value",
			reason: "does not compile",
		},
		{
			name: "validation-rewrite-of-exact",
			input: httpRouteHead + `  rules:
  - matches:
    - path:
        type: Exact
        value: /a
    filters:
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplacePrefixMatch
          replacePrefixMatch: /b
    backendRefs:
    - name: web
      port: 80
`,
			doc: 1, marker: "replacePrefixMatch: /b",
			field:  "spec.rules[0].filters[0].urlRewrite.path.replacePrefixMatch",
			reason: "requires a prefix path match",
		},
		{
			name: "validation-header-modifier",
			input: httpRouteHead + `  rules:
  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        add:
        - name: "bad name"
          value: x
    backendRefs:
    - name: web
      port: 80
`,
			doc: 1, marker: `- name: "bad name"`,
			field:  "spec.rules[0].filters[0].requestHeaderModifier.add[0].name",
			reason: "not a valid header name",
		},
		{
			name: "validation-label",
			input: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: shop
  labels:
    "a b": x
spec:
  rules:
  - backendRefs:
    - name: web
      port: 80
`,
			doc: 1, marker: `"a b": x`, field: `metadata.labels["a b"]`,
			reason: "key may contain only",
		},

		{
			name: "routeset-invalid-method",
			input: routeSetHead + `- name: a
  match:
    path: {prefix: /}
    methods:
    - GET
    - FETCH
  upstream: {url: "http://a"}
`,
			doc: 1, marker: "- FETCH", field: "routes[0].match.methods[1]",
			reason: `unknown method "FETCH"`,
		},
		{
			name: "routeset-bad-upstream-url",
			input: routeSetHead + `- name: a
  match: {path: {prefix: /}}
  upstream: {url: "http://a"}
- name: b
  match: {path: {prefix: /}}
  upstream:
    url: ftp://files.example.com
`,
			doc: 1, marker: "url: ftp:", field: "routes[1].upstream.url", reason: `scheme "ftp"`,
		},
		{
			name: "routeset-unknown-field",
			input: routeSetHead + `- name: a
  match: {path: {prefix: /}}
  upstream: {url: "http://a"}
- name: b
  match: {path: {prefix: /}}
  upstream: {url: "http://a"}
- name: c
  match:
    path:
      prefx: /c
  upstream: {url: "http://a"}
`,
			doc: 1, marker: "prefx:", field: "routes[2].match.path.prefx", reason: "unknown field",
		},
		{
			name: "routeset-wrong-type",
			input: routeSetHead + `- name: a
  match: {path: {prefix: /}}
  upstream:
    backends:
    - cluster: web:80
      weight: heavy
`,
			doc: 1, marker: "weight: heavy", field: "routes[0].upstream.backends[0].weight",
			reason: `want an integer from 0 to 4294967295, got the string "heavy"`,
		},
		{
			name: "routeset-negative-integer",
			input: routeSetHead + `- name: a
  policy:
    retries:
      attempts: -1
`,
			doc: 1, marker: "attempts: -1", field: "routes[0].policy.retries.attempts",
			reason: "want an integer from 0",
		},
		{
			name: "routeset-list-for-string",
			input: routeSetHead + `- name: [a]
`,
			doc: 1, marker: "name: [a]", field: "routes[0].name",
			reason: "want a string, got a list",
		},
		{
			name: "routeset-version-set",
			input: routeSetHead + `- name: a
  version: 3
  match: {path: {prefix: /}}
  upstream: {url: "http://a"}
`,
			doc: 1, marker: "version: 3", field: "routes[0].version", reason: "set by the server",
		},
		{
			name: "routeset-scope-set",
			input: routeSetHead + `- name: a
  scope: shop/prod
`,
			doc: 1, marker: "scope:", field: "routes[0].scope", reason: "set by the server",
		},
		{
			name: "routeset-two-oneof-members",
			input: routeSetHead + `- name: a
  match:
    path:
      prefix: /a
      exact: /a
`,
			doc: 1, marker: "exact: /a", field: "routes[0].match.path.exact",
			reason: "cannot be set together with prefix",
		},
		{
			name: "routeset-field-set-twice",
			input: routeSetHead + `- name: a
  match:
    query_params: []
    queryParams: []
`,
			doc: 1, marker: "queryParams", field: "routes[0].match.query_params",
			reason: "set twice (also line 6)",
		},
		{
			name: "routeset-unknown-enum",
			input: routeSetHead + `- name: a
  match:
    path: {prefix: /}
    headers:
    - {name: x, value: y, type: GLOB}
`,
			doc: 1, marker: "type: GLOB", field: "routes[0].match.headers[0].type",
			reason: "MATCH_TYPE_REGEX",
		},
		{
			name: "routeset-bad-duration",
			input: routeSetHead + `- name: a
  policy:
    timeout: 5
`,
			doc: 1, marker: "timeout: 5", field: "routes[0].policy.timeout",
			reason: "want a duration",
		},
		{
			name: "routeset-missing-name",
			input: routeSetHead + `- match: {path: {prefix: /}}
  upstream: {url: "http://a"}
`,
			doc: 1, marker: "- match:", field: "routes[0].name", reason: "must be set",
		},
		{
			name: "routeset-duplicate-name",
			input: routeSetHead + `- name: a
  match: {path: {prefix: /}}
  upstream: {url: "http://a"}
- name: a
  match: {path: {prefix: /b}}
  upstream: {url: "http://b"}
`,
			doc: 1, marker: "- name: a\n  match: {path: {prefix: /b}}", field: "routes[1].name",
			reason: `duplicate route name "a" (also line 4)`,
		},
		{
			name: "routeset-unknown-top-level-field",
			input: `apiVersion: routecast.dev/v1
kind: RouteSet
route: []
`,
			doc: 1, marker: "route:", field: "route", reason: "unknown field",
		},
		{
			name:  "routeset-json-wrong-type",
			input: `{"apiVersion": "routecast.dev/v1", "kind": "RouteSet", "routes": {"name": "a"}}`,
			doc:   1, marker: "{", field: "routes", reason: "want a list of routes, got a mapping",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Parse("routes.yaml", []byte(tt.input), Options{})
			if res != nil {
				t.Errorf("Parse() returned a result with its error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse() = %v, want an *Error", err)
			}
			want := where{Document: tt.doc, Field: tt.field}
			if tt.marker != "" {
				want.Line = lineOf(t, tt.input, tt.marker)
			}
			got := where{Document: e.Document, Line: e.Line, Field: e.Field}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Parse() = %v; location mismatch (-want +got):\n%s", err, diff)
			}
			if !strings.Contains(e.Reason, tt.reason) {
				t.Errorf("Parse() reason = %q, want it to contain %q", e.Reason, tt.reason)
			}
			if e.File != "routes.yaml" {
				t.Errorf("Parse() file = %q, want routes.yaml", e.File)
			}
		})
	}
}

// TestError_Error checks the format of import errors.
func TestError_Error(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "routes.yaml", Document: 2, Line: 14, Field: "spec.rules[0].matches[0].path.type",
			Reason: `unknown value "Foo"`},
			`routes.yaml: document 2, line 14: spec.rules[0].matches[0].path.type: unknown value "Foo"`},
		{Error{File: "a.yaml", Document: 1, Reason: "invalid YAML: x"},
			"a.yaml: document 1: invalid YAML: x"},
		{Error{Document: 3, Line: 1, Reason: "r"}, "document 3, line 1: r"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
