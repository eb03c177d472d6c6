package routes

import (
	"errors"
	"strings"
	"testing"
	"time"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// route is short for the route message in test tables.
type route = routecastv1.Route

// validRoute returns a route that passes validation and uses most fields,
// for tests to break one field at a time.
func validRoute() *routecastv1.Route {
	return &routecastv1.Route{
		Name:   "orders.list-v2",
		Labels: map[string]string{"team": "orders", "routecast.dev/source": "test"},
		Owner:  "Orders Team <orders@example.com>",
		Match: &routecastv1.RouteMatch{
			Hosts:   []string{"api.example.com", "*.orders.example.com"},
			Path:    &routecastv1.PathMatch{Kind: &routecastv1.PathMatch_Prefix{Prefix: "/v2/orders"}},
			Methods: []string{"GET", "HEAD"},
			Headers: []*routecastv1.KeyValueMatch{
				{Name: "x-version", Value: "2"},
				{Name: "x-tenant", Value: "^[a-z]+$", Type: routecastv1.MatchType_MATCH_TYPE_REGEX},
			},
			QueryParams: []*routecastv1.KeyValueMatch{{Name: "Debug", Value: "1"}},
		},
		Upstream: &routecastv1.Upstream{
			Backends: []*routecastv1.Backend{
				{Cluster: "orders:8080", Weight: 90},
				{Cluster: "orders-canary", Weight: 10},
			},
			TlsSecretRef: "orders/client-tls",
		},
		Filters: []*routecastv1.RouteFilter{
			{Kind: &routecastv1.RouteFilter_UrlRewrite{UrlRewrite: &routecastv1.UrlRewrite{
				Hostname: "orders.internal",
				Path:     &routecastv1.UrlRewrite_ReplacePrefixMatch{ReplacePrefixMatch: "/orders"},
			}}},
			{Kind: &routecastv1.RouteFilter_RequestHeaders{RequestHeaders: &routecastv1.HeaderModifier{
				Set:    []*routecastv1.Header{{Name: "X-Api-Key", SecretRef: "orders-api-key"}},
				Add:    []*routecastv1.Header{{Name: "X-Via", Value: "routecast"}},
				Remove: []string{"Cookie"},
			}}},
			{Kind: &routecastv1.RouteFilter_ResponseHeaders{ResponseHeaders: &routecastv1.HeaderModifier{
				Remove: []string{"Server"},
			}}},
		},
		Policy: &routecastv1.RoutePolicy{
			Timeout: durationpb.New(10 * time.Second),
			Retries: &routecastv1.RetryPolicy{
				Attempts:      3,
				PerTryTimeout: durationpb.New(2 * time.Second),
				RetryOn:       []string{"5xx", "reset"},
			},
			RateLimit: &routecastv1.RateLimit{RequestsPerSecond: 100, Burst: 20},
			Auth: &routecastv1.AuthRequirement{
				Scheme:    "jwt",
				Audience:  "orders",
				Scopes:    []string{"orders.read"},
				SecretRef: "orders-jwks",
			},
		},
	}
}

// redirectRoute returns a valid route that redirects and has no upstream.
func redirectRoute() *routecastv1.Route {
	return &routecastv1.Route{
		Name:  "old-docs",
		Match: &routecastv1.RouteMatch{Path: exact("/docs")},
		Filters: []*routecastv1.RouteFilter{
			{Kind: &routecastv1.RouteFilter_Redirect{Redirect: &routecastv1.Redirect{
				Scheme: "https", Hostname: "docs.example.com", Port: 443, Path: "/", StatusCode: 301,
			}}},
		},
	}
}

// replace makes r a copy of with.
func replace(r, with *routecastv1.Route) {
	proto.Reset(r)
	proto.Merge(r, with)
}

func exact(p string) *routecastv1.PathMatch {
	return &routecastv1.PathMatch{Kind: &routecastv1.PathMatch_Exact{Exact: p}}
}

func prefix(p string) *routecastv1.PathMatch {
	return &routecastv1.PathMatch{Kind: &routecastv1.PathMatch_Prefix{Prefix: p}}
}

func template(p string) *routecastv1.PathMatch {
	return &routecastv1.PathMatch{Kind: &routecastv1.PathMatch_Template{Template: p}}
}

func regex(p string) *routecastv1.PathMatch {
	return &routecastv1.PathMatch{Kind: &routecastv1.PathMatch_Regex{Regex: p}}
}

func rewrite(rw *routecastv1.UrlRewrite) *routecastv1.RouteFilter {
	return &routecastv1.RouteFilter{Kind: &routecastv1.RouteFilter_UrlRewrite{UrlRewrite: rw}}
}

func requestHeaders(hm *routecastv1.HeaderModifier) *routecastv1.RouteFilter {
	return &routecastv1.RouteFilter{Kind: &routecastv1.RouteFilter_RequestHeaders{RequestHeaders: hm}}
}

func redirect(rd *routecastv1.Redirect) *routecastv1.RouteFilter {
	return &routecastv1.RouteFilter{Kind: &routecastv1.RouteFilter_Redirect{Redirect: rd}}
}

// fieldOf returns the field of a *FieldError, failing the test for any
// other error. It returns "" and ok false for a nil error.
func fieldOf(t *testing.T, err error) (field string, ok bool) {
	t.Helper()
	if err == nil {
		return "", false
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is a %T, want a *FieldError", err, err)
	}
	return fe.Field, true
}

// TestValidateScope checks the tenant/environment syntax of scopes.
func TestValidateScope(t *testing.T) {
	tests := []struct {
		scope string
		ok    bool
	}{
		{"payments/production", true},
		{"a/b", true},
		{"team-1/env-2", true},
		{strings.Repeat("a", 63) + "/x", true},
		{"", false},
		{"payments", false},
		{"payments/", false},
		{"/production", false},
		{"payments/prod/eu", false},
		{"Payments/production", false},
		{"payments/-prod", false},
		{"payments/prod-", false},
		{"pay_ments/prod", false},
		{"pay.ments/prod", false},
		{strings.Repeat("a", 64) + "/x", false},
	}
	for _, tt := range tests {
		err := ValidateScope(tt.scope)
		field, failed := fieldOf(t, err)
		if failed == tt.ok {
			t.Errorf("ValidateScope(%q) = %v, want ok %v", tt.scope, err, tt.ok)
		}
		if failed && field != "scope" {
			t.Errorf("ValidateScope(%q) field = %q, want \"scope\"", tt.scope, field)
		}
	}
}

// TestValidateName checks the route name syntax and length limit.
func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"default.http-app-1.r0.m0", true},
		{"Orders_V2", true},
		{"9", true},
		{strings.Repeat("a", 253), true},
		{"", false},
		{strings.Repeat("a", 254), false},
		{"-orders", false},
		{"orders.", false},
		{"_orders", false},
		{"orders/list", false},
		{"orders list", false},
		{"ordérs", false},
	}
	for _, tt := range tests {
		err := ValidateName(tt.name)
		field, failed := fieldOf(t, err)
		if failed == tt.ok {
			t.Errorf("ValidateName(%q) = %v, want ok %v", tt.name, err, tt.ok)
		}
		if failed && field != "name" {
			t.Errorf("ValidateName(%q) field = %q, want \"name\"", tt.name, field)
		}
	}
}

// TestValidate_valid checks that valid routes pass, including spellings
// that only Normalize makes canonical.
func TestValidate_valid(t *testing.T) {
	tests := []struct {
		name string
		edit func(r *route)
	}{
		{"full", func(r *route) {}},
		{"minimal", func(r *route) {
			replace(r, &routecastv1.Route{
				Name:     "a",
				Match:    &routecastv1.RouteMatch{Path: prefix("/")},
				Upstream: &routecastv1.Upstream{Url: "http://a"},
			})
		}},
		{"scope-and-version", func(r *route) { r.Scope, r.Version = "orders/prod", 7 }},
		{"mixed-case-host", func(r *route) { r.Match.Hosts = []string{"API.Example.COM"} }},
		{"lower-case-method", func(r *route) { r.Match.Methods = []string{"get", "Post"} }},
		{"exact", func(r *route) {
			r.Match.Path, r.Filters = exact("/v2/orders/%2F"), nil
		}},
		{"template", func(r *route) {
			r.Match.Path, r.Filters = template("/pets/{pet_id}/toys/{toy}"), nil
		}},
		{"regex", func(r *route) { r.Match.Path, r.Filters = regex(`/v[0-9]+/.*`), nil }},
		{"url-upstream", func(r *route) {
			r.Upstream = &routecastv1.Upstream{Url: "https://orders.internal:8443/v2"}
		}},
		{"grpcs-upstream", func(r *route) {
			r.Upstream = &routecastv1.Upstream{Url: "grpcs://orders"}
		}},
		{"redirect-without-upstream", func(r *route) { replace(r, redirectRoute()) }},
		{"full-path-rewrite-of-exact", func(r *route) {
			r.Match.Path = exact("/a")
			r.Filters = []*routecastv1.RouteFilter{rewrite(&routecastv1.UrlRewrite{
				Path: &routecastv1.UrlRewrite_ReplaceFullPath{ReplaceFullPath: "/b"},
			})}
		}},
		{"zero-timeout", func(r *route) { r.Policy.Timeout = durationpb.New(0) }},
		{"hour-timeout", func(r *route) { r.Policy.Timeout = durationpb.New(time.Hour) }},
		{"ten-retries", func(r *route) { r.Policy.Retries.Attempts = 10 }},
		{"long-owner", func(r *route) { r.Owner = strings.Repeat("é", 128) }},
		{"long-label-value", func(r *route) { r.Labels["k"] = strings.Repeat("v", 256) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRoute()
			tt.edit(r)
			if err := Validate(r); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}
}

// TestValidate_invalid checks that each broken field is rejected with an
// error that names exactly that field.
func TestValidate_invalid(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(r *route)
		field string
	}{
		{"no-name", func(r *route) { r.Name = "" }, "name"},
		{"bad-name", func(r *route) { r.Name = "a b" }, "name"},
		{"bad-scope", func(r *route) { r.Scope = "orders" }, "scope"},
		{"empty-label-key", func(r *route) { r.Labels[""] = "x" }, `labels[""]`},
		{"long-label-key", func(r *route) { r.Labels[strings.Repeat("k", 64)] = "x" },
			`labels["` + strings.Repeat("k", 64) + `"]`},
		{"label-key-chars", func(r *route) { r.Labels["a:b"] = "x" }, `labels["a:b"]`},
		{"long-label-value", func(r *route) { r.Labels["team"] = strings.Repeat("v", 257) },
			`labels["team"]`},
		{"label-value-control", func(r *route) { r.Labels["team"] = "a\nb" }, `labels["team"]`},
		{"long-owner", func(r *route) { r.Owner = strings.Repeat("o", 129) }, "owner"},
		{"owner-control", func(r *route) { r.Owner = "a\tb" }, "owner"},

		{"no-match", func(r *route) { r.Match = nil }, "match"},
		{"no-path", func(r *route) { r.Match.Path = nil }, "match.path"},
		{"empty-path", func(r *route) { r.Match.Path = &routecastv1.PathMatch{} }, "match.path"},
		{"relative-prefix", func(r *route) { r.Match.Path = prefix("v2") }, "match.path.prefix"},
		{"empty-exact", func(r *route) { r.Match.Path = exact("") }, "match.path.exact"},
		{"space-in-path", func(r *route) { r.Match.Path = exact("/a b") }, "match.path.exact"},
		{"tab-in-path", func(r *route) { r.Match.Path = prefix("/a\tb") }, "match.path.prefix"},
		{"control-in-path", func(r *route) { r.Match.Path = prefix("/a\x00") }, "match.path.prefix"},
		{"query-in-path", func(r *route) { r.Match.Path = prefix("/a?b=1") }, "match.path.prefix"},
		{"fragment-in-path", func(r *route) { r.Match.Path = exact("/a#b") }, "match.path.exact"},
		{"empty-segment", func(r *route) { r.Match.Path = prefix("/a//b") }, "match.path.prefix"},
		{"bad-escape", func(r *route) { r.Match.Path = prefix("/a%2") }, "match.path.prefix"},
		{"bad-escape-digits", func(r *route) { r.Match.Path = prefix("/a%zz") }, "match.path.prefix"},
		{"template-relative", func(r *route) { r.Match.Path = template("pets/{id}") },
			"match.path.template"},
		{"template-partial-segment", func(r *route) { r.Match.Path = template("/pets/id-{id}") },
			"match.path.template"},
		{"template-unbalanced", func(r *route) { r.Match.Path = template("/pets/{id") },
			"match.path.template"},
		{"template-nested", func(r *route) { r.Match.Path = template("/pets/{{id}}") },
			"match.path.template"},
		{"template-empty-var", func(r *route) { r.Match.Path = template("/pets/{}") },
			"match.path.template"},
		{"template-bad-ident", func(r *route) { r.Match.Path = template("/pets/{1id}") },
			"match.path.template"},
		{"template-repeated-var", func(r *route) { r.Match.Path = template("/{a}/{a}") },
			"match.path.template"},
		{"regex-does-not-compile", func(r *route) { r.Match.Path = regex("/(a") }, "match.path.regex"},
		{"regex-lookahead", func(r *route) { r.Match.Path = regex("/(?=a)") }, "match.path.regex"},
		{"regex-empty", func(r *route) { r.Match.Path = regex("") }, "match.path.regex"},

		{"empty-host", func(r *route) { r.Match.Hosts = []string{"a.com", ""} }, "match.hosts[1]"},
		{"host-with-port", func(r *route) { r.Match.Hosts = []string{"a.com:80"} }, "match.hosts[0]"},
		{"host-underscore", func(r *route) { r.Match.Hosts = []string{"a_b.com"} }, "match.hosts[0]"},
		{"host-trailing-dot", func(r *route) { r.Match.Hosts = []string{"a.com."} }, "match.hosts[0]"},
		{"host-bare-wildcard", func(r *route) { r.Match.Hosts = []string{"*"} }, "match.hosts[0]"},
		{"host-inner-wildcard", func(r *route) { r.Match.Hosts = []string{"a.*.com"} },
			"match.hosts[0]"},
		{"host-long-label", func(r *route) {
			r.Match.Hosts = []string{strings.Repeat("a", 64) + ".com"}
		}, "match.hosts[0]"},
		{"duplicate-host", func(r *route) {
			r.Match.Hosts = []string{"a.com", "b.com", "A.com"}
		}, "match.hosts[2]"},
		{"unknown-method", func(r *route) { r.Match.Methods = []string{"GET", "FETCH"} },
			"match.methods[1]"},
		{"duplicate-method", func(r *route) { r.Match.Methods = []string{"GET", "get"} },
			"match.methods[1]"},
		{"nil-header", func(r *route) { r.Match.Headers[1] = nil }, "match.headers[1]"},
		{"empty-header-name", func(r *route) { r.Match.Headers[0].Name = "" },
			"match.headers[0].name"},
		{"header-name-not-token", func(r *route) { r.Match.Headers[0].Name = "x version" },
			"match.headers[0].name"},
		{"header-value-newline", func(r *route) { r.Match.Headers[0].Value = "a\r\nb" },
			"match.headers[0].value"},
		{"header-regex", func(r *route) { r.Match.Headers[1].Value = "[" },
			"match.headers[1].value"},
		{"header-type", func(r *route) { r.Match.Headers[0].Type = 9 }, "match.headers[0].type"},
		{"empty-query-name", func(r *route) { r.Match.QueryParams[0].Name = "" },
			"match.query_params[0].name"},
		{"query-regex", func(r *route) {
			r.Match.QueryParams[0].Type = routecastv1.MatchType_MATCH_TYPE_REGEX
			r.Match.QueryParams[0].Value = "a)"
		}, "match.query_params[0].value"},

		{"no-upstream", func(r *route) { r.Upstream = nil }, "upstream"},
		{"empty-upstream", func(r *route) { r.Upstream = &routecastv1.Upstream{} }, "upstream"},
		{"url-and-backends", func(r *route) { r.Upstream.Url = "http://a" }, "upstream"},
		{"not-a-url", func(r *route) { r.Upstream = &routecastv1.Upstream{Url: "http://a b%"} },
			"upstream.url"},
		{"relative-url", func(r *route) { r.Upstream = &routecastv1.Upstream{Url: "/v2"} },
			"upstream.url"},
		{"opaque-url", func(r *route) { r.Upstream = &routecastv1.Upstream{Url: "http:orders"} },
			"upstream.url"},
		{"ftp-url", func(r *route) { r.Upstream = &routecastv1.Upstream{Url: "ftp://a"} },
			"upstream.url"},
		{"url-no-host", func(r *route) { r.Upstream = &routecastv1.Upstream{Url: "https:///v2"} },
			"upstream.url"},
		{"url-userinfo", func(r *route) {
			r.Upstream = &routecastv1.Upstream{Url: "https://user:pass@a"}
		}, "upstream.url"},
		{"url-query", func(r *route) { r.Upstream = &routecastv1.Upstream{Url: "https://a/?x=1"} },
			"upstream.url"},
		{"url-empty-query", func(r *route) { r.Upstream = &routecastv1.Upstream{Url: "https://a/?"} },
			"upstream.url"},
		{"url-fragment", func(r *route) { r.Upstream = &routecastv1.Upstream{Url: "https://a/#x"} },
			"upstream.url"},
		{"url-port", func(r *route) { r.Upstream = &routecastv1.Upstream{Url: "https://a:0"} },
			"upstream.url"},
		{"nil-backend", func(r *route) { r.Upstream.Backends[1] = nil }, "upstream.backends[1]"},
		{"empty-cluster", func(r *route) { r.Upstream.Backends[0].Cluster = "" },
			"upstream.backends[0].cluster"},
		{"cluster-chars", func(r *route) { r.Upstream.Backends[1].Cluster = "orders/v2" },
			"upstream.backends[1].cluster"},
		{"cluster-only-port", func(r *route) { r.Upstream.Backends[0].Cluster = ":8080" },
			"upstream.backends[0].cluster"},
		{"cluster-port-zero", func(r *route) { r.Upstream.Backends[0].Cluster = "orders:0" },
			"upstream.backends[0].cluster"},
		{"cluster-port-large", func(r *route) { r.Upstream.Backends[0].Cluster = "orders:65536" },
			"upstream.backends[0].cluster"},
		{"cluster-port-empty", func(r *route) { r.Upstream.Backends[0].Cluster = "orders:" },
			"upstream.backends[0].cluster"},
		{"cluster-two-ports", func(r *route) { r.Upstream.Backends[0].Cluster = "orders:1:2" },
			"upstream.backends[0].cluster"},
		{"duplicate-cluster", func(r *route) { r.Upstream.Backends[1].Cluster = "orders:8080" },
			"upstream.backends[1].cluster"},
		{"tls-secret-ref", func(r *route) { r.Upstream.TlsSecretRef = "a b" },
			"upstream.tls_secret_ref"},

		{"filter-without-kind", func(r *route) { r.Filters[1] = &routecastv1.RouteFilter{} },
			"filters[1]"},
		{"nil-rewrite", func(r *route) { r.Filters[0] = rewrite(nil) }, "filters[0].url_rewrite"},
		{"rewrite-hostname", func(r *route) { r.Filters[0].GetUrlRewrite().Hostname = "a..b" },
			"filters[0].url_rewrite.hostname"},
		{"rewrite-prefix-relative", func(r *route) {
			r.Filters[0].GetUrlRewrite().Path = &routecastv1.UrlRewrite_ReplacePrefixMatch{
				ReplacePrefixMatch: "x",
			}
		}, "filters[0].url_rewrite.replace_prefix_match"},
		{"rewrite-prefix-of-exact", func(r *route) { r.Match.Path = exact("/a") },
			"filters[0].url_rewrite.replace_prefix_match"},
		{"rewrite-full-path", func(r *route) {
			r.Filters[0].GetUrlRewrite().Path = &routecastv1.UrlRewrite_ReplaceFullPath{}
		}, "filters[0].url_rewrite.replace_full_path"},
		{"two-rewrites", func(r *route) {
			r.Filters = append(r.Filters, rewrite(&routecastv1.UrlRewrite{Hostname: "a"}))
		}, "filters[3]"},
		{"rewrite-and-redirect", func(r *route) {
			r.Filters = append(r.Filters, redirect(&routecastv1.Redirect{}))
		}, "filters[3]"},
		{"nil-header-modifier", func(r *route) { r.Filters[1] = requestHeaders(nil) },
			"filters[1].request_headers"},
		{"set-header-name", func(r *route) { r.Filters[1].GetRequestHeaders().Set[0].Name = "" },
			"filters[1].request_headers.set[0].name"},
		{"add-header-name", func(r *route) { r.Filters[1].GetRequestHeaders().Add[0].Name = "a:b" },
			"filters[1].request_headers.add[0].name"},
		{"header-value-and-secret", func(r *route) {
			r.Filters[1].GetRequestHeaders().Set[0].Value = "literal"
		}, "filters[1].request_headers.set[0]"},
		{"header-neither-value-nor-secret", func(r *route) {
			r.Filters[1].GetRequestHeaders().Add[0].Value = ""
		}, "filters[1].request_headers.add[0]"},
		{"header-secret-ref", func(r *route) {
			r.Filters[1].GetRequestHeaders().Set[0].SecretRef = "bad ref"
		}, "filters[1].request_headers.set[0].secret_ref"},
		{"header-value-newline", func(r *route) {
			r.Filters[1].GetRequestHeaders().Add[0].Value = "a\nb"
		}, "filters[1].request_headers.add[0].value"},
		{"remove-header-name", func(r *route) {
			r.Filters[2].GetResponseHeaders().Remove = []string{"Server", ""}
		}, "filters[2].response_headers.remove[1]"},
		{"redirect-scheme", func(r *route) {
			replace(r, redirectRoute())
			r.Filters[0].GetRedirect().Scheme = "ftp"
		}, "filters[0].redirect.scheme"},
		{"redirect-status", func(r *route) {
			replace(r, redirectRoute())
			r.Filters[0].GetRedirect().StatusCode = 200
		}, "filters[0].redirect.status_code"},
		{"redirect-port", func(r *route) {
			replace(r, redirectRoute())
			r.Filters[0].GetRedirect().Port = 65536
		}, "filters[0].redirect.port"},
		{"redirect-hostname", func(r *route) {
			replace(r, redirectRoute())
			r.Filters[0].GetRedirect().Hostname = "-a"
		}, "filters[0].redirect.hostname"},
		{"redirect-path", func(r *route) {
			replace(r, redirectRoute())
			r.Filters[0].GetRedirect().Path = "docs"
		}, "filters[0].redirect.path"},
		{"two-redirects", func(r *route) {
			replace(r, redirectRoute())
			r.Filters = append(r.Filters, redirect(&routecastv1.Redirect{}))
		}, "filters[1]"},

		{"negative-timeout", func(r *route) { r.Policy.Timeout = durationpb.New(-time.Second) },
			"policy.timeout"},
		{"long-timeout", func(r *route) { r.Policy.Timeout = durationpb.New(time.Hour + 1) },
			"policy.timeout"},
		{"invalid-timeout", func(r *route) {
			r.Policy.Timeout = &durationpb.Duration{Seconds: 1, Nanos: -1}
		}, "policy.timeout"},
		{"too-many-retries", func(r *route) { r.Policy.Retries.Attempts = 11 },
			"policy.retries.attempts"},
		{"negative-per-try-timeout", func(r *route) {
			r.Policy.Retries.PerTryTimeout = durationpb.New(-1)
		}, "policy.retries.per_try_timeout"},
		{"long-per-try-timeout", func(r *route) {
			r.Policy.Retries.PerTryTimeout = durationpb.New(2 * time.Hour)
		}, "policy.retries.per_try_timeout"},
		{"empty-retry-on", func(r *route) { r.Policy.Retries.RetryOn = []string{"5xx", ""} },
			"policy.retries.retry_on[1]"},
		{"zero-rate", func(r *route) { r.Policy.RateLimit.RequestsPerSecond = 0 },
			"policy.rate_limit.requests_per_second"},
		{"no-auth-scheme", func(r *route) { r.Policy.Auth.Scheme = "" }, "policy.auth.scheme"},
		{"unknown-auth-scheme", func(r *route) { r.Policy.Auth.Scheme = "Bearer" },
			"policy.auth.scheme"},
		{"auth-scope", func(r *route) { r.Policy.Auth.Scopes = []string{"a b"} },
			"policy.auth.scopes[0]"},
		{"auth-secret-ref", func(r *route) { r.Policy.Auth.SecretRef = strings.Repeat("s", 254) },
			"policy.auth.secret_ref"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRoute()
			tt.edit(r)
			err := Validate(r)
			field, failed := fieldOf(t, err)
			if !failed {
				t.Fatalf("Validate() = nil, want an error for field %q", tt.field)
			}
			if field != tt.field {
				t.Errorf("Validate() = %v, want field %q", err, tt.field)
			}
		})
	}
}

// TestValidate_messages checks the wording of errors that people read
// most.
func TestValidate_messages(t *testing.T) {
	tests := []struct {
		name string
		edit func(r *route)
		want string
	}{
		{"unknown-method", func(r *route) { r.Match.Methods = []string{"GET", "FETCH"} },
			`match.methods[1]: unknown method "FETCH"`},
		{"not-a-url", func(r *route) { r.Upstream = &routecastv1.Upstream{Url: "http://a b%"} },
			`upstream.url: "http://a b%" is not a URL`},
		{"userinfo-redacted", func(r *route) {
			r.Upstream = &routecastv1.Upstream{Url: "http://u:secret@a b%"}
		}, `upstream.url: "http://REDACTED@a b%" is not a URL`},
		{"no-upstream", func(r *route) { r.Upstream = nil },
			"upstream: must be set unless a filter redirects"},
		{"duplicate-host", func(r *route) { r.Match.Hosts = []string{"a.com", "A.COM"} },
			`match.hosts[1]: duplicate host "A.COM" (also match.hosts[0])`},
		{"no-match", func(r *route) { r.Match = nil }, "match: must be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRoute()
			tt.edit(r)
			err := Validate(r)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
	if err := Validate(nil); err == nil {
		t.Errorf("Validate(nil) = nil, want an error")
	}
}

// TestValidateBatch checks that batch errors name the put or delete that is
// wrong, and the earlier entry for duplicates.
func TestValidateBatch(t *testing.T) {
	named := func(names ...string) []*routecastv1.Route {
		var rs []*routecastv1.Route
		for _, n := range names {
			r := validRoute()
			r.Name = n
			rs = append(rs, r)
		}
		return rs
	}
	broken := named("a", "b", "c")
	broken[2].Match.Path = prefix("c")

	tests := []struct {
		name    string
		puts    []*routecastv1.Route
		deletes []string
		want    string // the whole error; empty for none
	}{
		{"empty", nil, nil, ""},
		{"valid", named("a", "b"), []string{"c", "d"}, ""},
		{"invalid-put", broken, nil, `puts[2].match.path.prefix: "c" must start with "/"`},
		{"nil-put", []*routecastv1.Route{nil}, nil, "puts[0]: route is not set"},
		{"duplicate-put", named("x", "y", "z", "x"), nil,
			`puts[3].name: duplicate name "x" (also puts[0])`},
		{"invalid-delete", nil, []string{"a", "-b"},
			`deletes[1]: "-b" must start and end with a letter or digit`},
		{"empty-delete", nil, []string{""}, "deletes[0]: must be set"},
		{"duplicate-delete", nil, []string{"a", "b", "a"},
			`deletes[2]: duplicate name "a" (also deletes[0])`},
		{"put-and-delete", named("a", "b"), []string{"b"},
			`deletes[0]: name "b" is also put (puts[1])`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateBatch(tt.puts, tt.deletes)
			got := ""
			if err != nil {
				fieldOf(t, err)
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("ValidateBatch() = %q, want %q", got, tt.want)
			}
		})
	}
}
