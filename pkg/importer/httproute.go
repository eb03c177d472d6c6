package importer

import (
	"cmp"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// sourceLabel is the label that names the HTTPRoute a route came from, as
// "httproute/<namespace>/<name>".
const sourceLabel = "routecast.dev/source"

// maxWeight is the largest backend weight the Gateway API allows.
const maxWeight = 1000000

// Filter types of the Gateway API.
const (
	filterRequestHeaders  = "RequestHeaderModifier"
	filterResponseHeaders = "ResponseHeaderModifier"
	filterRewrite         = "URLRewrite"
	filterRedirect        = "RequestRedirect"
	filterMirror          = "RequestMirror"
	filterExtension       = "ExtensionRef"
	filterCORS            = "CORS"
	filterExternalAuth    = "ExternalAuth"
)

// unsupportedFilters are Gateway API filter types routecast cannot express.
var unsupportedFilters = map[string]bool{
	filterMirror: true, filterExtension: true, filterCORS: true, filterExternalAuth: true,
}

// gatewayDuration is the syntax of a Gateway API duration (GEP-2257).
var gatewayDuration = regexp.MustCompile(`^([0-9]{1,5}(h|m|s|ms)){1,4}$`)

// decodeHTTPRoute decodes an HTTPRoute document into one route for each
// match of each rule.
func decodeHTTPRoute(w *walker, root *yaml.Node, opts Options) ([]imported, error) {
	var hr httpRoute
	if err := w.decodeStrict(root, reflect.ValueOf(&hr).Elem(), ""); err != nil {
		return nil, err
	}
	c := &httpRouteConverter{w: w, hr: &hr, namespace: hr.Metadata.Namespace}
	if c.namespace == "" {
		c.namespace = cmp.Or(opts.DefaultNamespace, "default")
	}
	return c.convert()
}

// httpRouteConverter turns one decoded HTTPRoute into routes.
type httpRouteConverter struct {
	w         *walker
	hr        *httpRoute
	namespace string
}

func (c *httpRouteConverter) errorf(field, format string, args ...any) *Error {
	return &Error{Line: c.w.line(field), Field: field, Reason: fmt.Sprintf(format, args...)}
}

func (c *httpRouteConverter) convert() ([]imported, error) {
	if c.hr.Metadata.Name == "" {
		return nil, c.errorf("metadata.name", "must be set")
	}
	if len(c.hr.Spec.Rules) == 0 {
		return nil, c.errorf("spec.rules", "must have at least one rule")
	}
	var out []imported
	for i := range c.hr.Spec.Rules {
		rs, err := c.rule(i)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

// labels returns the route labels: the HTTPRoute's, and the source label.
func (c *httpRouteConverter) labels() map[string]string {
	labels := maps.Clone(c.hr.Metadata.Labels)
	if labels == nil {
		labels = make(map[string]string, 1)
	}
	labels[sourceLabel] = fmt.Sprintf("httproute/%s/%s", c.namespace, c.hr.Metadata.Name)
	return labels
}

// rule converts rule i. Every match becomes a route with the rule's
// upstream, filters and policy; a rule without matches matches every path.
// Routes are named "<namespace>.<httproute>.<rule>.<match>", where <rule>
// is the rule's name or "r<index>" and <match> is "m<index>".
func (c *httpRouteConverter) rule(ri int) ([]imported, error) {
	rule := &c.hr.Spec.Rules[ri]
	rp := indexPath("spec.rules", ri)
	shared := fieldMap{"": rp, "labels": "metadata.labels", "name": "metadata.name"}
	ruleName := rule.Name
	if ruleName == "" {
		ruleName = fmt.Sprintf("r%d", ri)
	} else {
		shared["name"] = rp + ".name"
	}

	base := &routecastv1.Route{Labels: c.labels()}
	var err error
	if base.Upstream, err = c.upstream(rp, rule, shared); err != nil {
		return nil, err
	}
	if base.Filters, err = c.filters(rp, rule.Filters, shared); err != nil {
		return nil, err
	}
	if base.Policy, err = c.policy(rp, rule, shared); err != nil {
		return nil, err
	}

	matches, matchPath := rule.Matches, func(i int) string { return indexPath(rp+".matches", i) }
	if len(matches) == 0 {
		matches, matchPath = []httpRouteMatch{{}}, func(int) string { return rp }
	}
	out := make([]imported, 0, len(matches))
	for mi := range matches {
		fields := maps.Clone(shared)
		r := proto.Clone(base).(*routecastv1.Route)
		r.Name = strings.Join([]string{
			c.namespace, c.hr.Metadata.Name, ruleName, fmt.Sprintf("m%d", mi),
		}, ".")
		if r.Match, err = c.match(matchPath(mi), &matches[mi], fields); err != nil {
			return nil, err
		}
		out = append(out, imported{route: r, fields: fields})
	}
	return out, nil
}

func (c *httpRouteConverter) match(mp string, m *httpRouteMatch,
	fields fieldMap) (*routecastv1.RouteMatch, error) {
	out := &routecastv1.RouteMatch{Hosts: slices.Clone(c.hr.Spec.Hostnames)}
	fields["match"] = mp
	fields["match.hosts"] = "spec.hostnames"

	var err error
	if out.Path, err = c.pathMatch(mp+".path", m.Path, fields); err != nil {
		return nil, err
	}
	if m.Method != "" {
		out.Methods = []string{m.Method}
		fields["match.methods[0]"] = mp + ".method"
	}
	if out.Headers, err = c.keyMatches(mp+".headers", m.Headers); err != nil {
		return nil, err
	}
	fields["match.headers"] = mp + ".headers"
	if out.QueryParams, err = c.keyMatches(mp+".queryParams", m.QueryParams); err != nil {
		return nil, err
	}
	fields["match.query_params"] = mp + ".queryParams"
	return out, nil
}

// pathMatch converts a path match. Both type and value have defaults:
// PathPrefix and "/".
func (c *httpRouteConverter) pathMatch(pp string, pm *httpPathMatch,
	fields fieldMap) (*routecastv1.PathMatch, error) {
	typ, value := "PathPrefix", "/"
	if pm != nil {
		typ, value = cmp.Or(pm.Type, typ), cmp.Or(pm.Value, value)
	}
	fields["match.path"] = pp
	var out routecastv1.PathMatch
	switch typ {
	case "PathPrefix":
		out.Kind = &routecastv1.PathMatch_Prefix{Prefix: value}
		fields["match.path.prefix"] = pp + ".value"
	case "Exact":
		out.Kind = &routecastv1.PathMatch_Exact{Exact: value}
		fields["match.path.exact"] = pp + ".value"
	case "RegularExpression":
		out.Kind = &routecastv1.PathMatch_Regex{Regex: value}
		fields["match.path.regex"] = pp + ".value"
	default:
		return nil, c.errorf(pp+".type",
			"unknown value %q (want PathPrefix, Exact or RegularExpression)", typ)
	}
	return &out, nil
}

// keyMatches converts header or query parameter matches. Names keep their
// case.
func (c *httpRouteConverter) keyMatches(kp string,
	ms []httpKeyMatch) ([]*routecastv1.KeyValueMatch, error) {
	var out []*routecastv1.KeyValueMatch
	for i, m := range ms {
		kv := &routecastv1.KeyValueMatch{Name: m.Name, Value: m.Value}
		switch m.Type {
		case "", "Exact":
			kv.Type = routecastv1.MatchType_MATCH_TYPE_EXACT
		case "RegularExpression":
			kv.Type = routecastv1.MatchType_MATCH_TYPE_REGEX
		default:
			return nil, c.errorf(indexPath(kp, i)+".type",
				"unknown value %q (want Exact or RegularExpression)", m.Type)
		}
		out = append(out, kv)
	}
	return out, nil
}

// upstream converts the backends of a rule. A rule without backends must
// redirect.
func (c *httpRouteConverter) upstream(rp string, rule *httpRouteRule,
	fields fieldMap) (*routecastv1.Upstream, error) {
	fields["upstream"] = rp + ".backendRefs"
	var backends []*routecastv1.Backend
	for j := range rule.BackendRefs {
		bp := indexPath(rp+".backendRefs", j)
		b, err := c.backend(bp, &rule.BackendRefs[j])
		if err != nil {
			return nil, err
		}
		if b == nil {
			continue
		}
		fields[indexPath("upstream.backends", len(backends))] = bp
		fields[indexPath("upstream.backends", len(backends))+".cluster"] = bp + ".name"
		backends = append(backends, b)
	}
	switch {
	case len(backends) > 0:
		return &routecastv1.Upstream{Backends: backends}, nil
	case slices.ContainsFunc(rule.Filters, isRedirect):
		return nil, nil
	case len(rule.BackendRefs) > 0:
		return nil, c.errorf(rp+".backendRefs",
			"every backend has weight 0, so the rule sends no traffic")
	}
	return nil, c.errorf(rp+".backendRefs",
		"must name at least one backend unless the rule redirects")
}

func isRedirect(f httpRouteFilter) bool {
	return f.Type == filterRedirect
}

// backend converts a backendRef to a cluster "name:port", or
// "name.namespace:port" when the Service is in another namespace than the
// HTTPRoute. It returns nil for weight 0: the Gateway API sends such a
// backend no traffic, and routecast reads weight 0 as the default of 1, so
// the backend is left out.
func (c *httpRouteConverter) backend(bp string, br *httpBackendRef) (*routecastv1.Backend, error) {
	group, kind := deref(br.Group), deref(br.Kind)
	switch {
	case group != "" && group != "core":
		return nil, c.errorf(bp+".group",
			"backend group %q is not supported; only Service backends are", group)
	case kind != "" && kind != "Service":
		return nil, c.errorf(bp+".kind",
			"backend kind %q is not supported; only Service backends are", kind)
	case len(br.Filters) > 0:
		return nil, c.errorf(bp+".filters",
			"per-backend filters are not supported; set filters on the rule")
	case br.Name == "":
		return nil, c.errorf(bp+".name", "must be set")
	case br.Port == nil:
		return nil, c.errorf(bp+".port", "must be set for a Service backend")
	case *br.Port < 1 || *br.Port > 65535:
		return nil, c.errorf(bp+".port", "%d is not a port number", *br.Port)
	case br.Weight != nil && (*br.Weight < 0 || *br.Weight > maxWeight):
		return nil, c.errorf(bp+".weight", "%d is not from 0 to %d", *br.Weight, maxWeight)
	case br.Weight != nil && *br.Weight == 0:
		return nil, nil
	}
	cluster := br.Name
	if br.Namespace != "" && br.Namespace != c.namespace {
		cluster += "." + br.Namespace
	}
	b := &routecastv1.Backend{Cluster: fmt.Sprintf("%s:%d", cluster, *br.Port)}
	if br.Weight != nil {
		b.Weight = uint32(*br.Weight)
	}
	return b, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// policy converts the timeouts and retries of a rule; it returns nil when
// the rule has neither. timeouts.backendRequest, the limit on each request
// to a backend, becomes the per-try timeout. retry.backoff has no routecast
// field and is dropped.
func (c *httpRouteConverter) policy(rp string, rule *httpRouteRule,
	fields fieldMap) (*routecastv1.RoutePolicy, error) {
	fields["policy"] = rp
	var out routecastv1.RoutePolicy
	retries := func() *routecastv1.RetryPolicy {
		if out.Retries == nil {
			out.Retries = &routecastv1.RetryPolicy{}
		}
		return out.Retries
	}
	if t := rule.Timeouts; t != nil {
		if t.Request != nil {
			d, err := c.duration(rp+".timeouts.request", *t.Request)
			if err != nil {
				return nil, err
			}
			out.Timeout = d
			fields["policy.timeout"] = rp + ".timeouts.request"
		}
		if t.BackendRequest != nil {
			d, err := c.duration(rp+".timeouts.backendRequest", *t.BackendRequest)
			if err != nil {
				return nil, err
			}
			retries().PerTryTimeout = d
			fields["policy.retries.per_try_timeout"] = rp + ".timeouts.backendRequest"
		}
	}
	if rt := rule.Retry; rt != nil {
		if err := c.retry(rp+".retry", rt, retries()); err != nil {
			return nil, err
		}
		fields["policy.retries.attempts"] = rp + ".retry.attempts"
		fields["policy.retries.retry_on"] = rp + ".retry.codes"
	}
	if out.Timeout == nil && out.Retries == nil {
		return nil, nil
	}
	return &out, nil
}

func (c *httpRouteConverter) retry(field string, rt *httpRouteRetry,
	out *routecastv1.RetryPolicy) error {

	if rt.Attempts != nil {
		if *rt.Attempts < 0 {
			return c.errorf(field+".attempts", "must not be negative")
		}
		out.Attempts = uint32(*rt.Attempts)
	}
	for i, code := range rt.Codes {
		if code < 400 || code > 599 {
			return c.errorf(indexPath(field+".codes", i), "%d is not an HTTP error status code",
				code)
		}
		out.RetryOn = append(out.RetryOn, strconv.Itoa(int(code)))
	}
	return nil
}

// duration parses a Gateway API duration such as "10s", "1m" or "500ms".
func (c *httpRouteConverter) duration(field, s string) (*durationpb.Duration, error) {
	d, err := time.ParseDuration(s)
	if !gatewayDuration.MatchString(s) || err != nil {
		return nil, c.errorf(field, "%q is not a duration such as \"10s\", \"1m\" or \"500ms\"", s)
	}
	return durationpb.New(d), nil
}
