package routes

import (
	"net/url"
	"strings"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
)

// upstreamSchemes are the URL schemes an upstream may use.
var upstreamSchemes = map[string]bool{"http": true, "https": true, "grpc": true, "grpcs": true}

// checkUpstream checks the upstream, which only a redirecting route may
// leave out.
func checkUpstream(r *routecastv1.Route) error {
	u := r.GetUpstream()
	if u == nil {
		if hasRedirect(r.GetFilters()) {
			return nil
		}
		return fieldErrorf("upstream", "must be set unless a filter redirects")
	}
	var err error
	switch {
	case u.GetUrl() != "" && len(u.GetBackends()) > 0:
		err = fieldErrorf("upstream", "must set url or backends, not both")
	case u.GetUrl() != "":
		err = checkURL("upstream.url", u.GetUrl())
	case len(u.GetBackends()) > 0:
		err = checkBackends("upstream.backends", u.GetBackends())
	default:
		err = fieldErrorf("upstream", "must set url or backends")
	}
	if err != nil {
		return err
	}
	return checkOptionalSecretRef("upstream.tls_secret_ref", u.GetTlsSecretRef())
}

func hasRedirect(filters []*routecastv1.RouteFilter) bool {
	for _, f := range filters {
		if f.GetRedirect() != nil {
			return true
		}
	}
	return false
}

// checkURL checks an upstream base URL. The URL is quoted in errors only
// without its user information, which may hold a password.
func checkURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fieldErrorf(field, "%q is not a URL", redactUserinfo(raw))
	}
	switch {
	case !u.IsAbs() || u.Opaque != "":
		return fieldErrorf(field, "%q is not an absolute URL such as https://host/path", raw)
	case !upstreamSchemes[u.Scheme]:
		return fieldErrorf(field, "scheme %q is not one of http, https, grpc or grpcs", u.Scheme)
	case u.User != nil:
		return fieldErrorf(field, "must not contain user information")
	case u.Hostname() == "":
		return fieldErrorf(field, "%q has no host", raw)
	case u.RawQuery != "" || u.ForceQuery:
		return fieldErrorf(field, "%q must not have a query", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fieldErrorf(field, "%q must not have a fragment", raw)
	}
	if p := u.Port(); p != "" {
		if _, ok := parsePort(p); !ok {
			return fieldErrorf(field, "%q has an invalid port", raw)
		}
	}
	return nil
}

// redactUserinfo replaces the user information of a URL-like string.
func redactUserinfo(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	authority, _, _ := strings.Cut(rest, "/")
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return raw
	}
	start := len(raw) - len(rest)
	return raw[:start] + "REDACTED" + raw[start+at:]
}

// checkBackends checks the backends at field. The path of an element is
// built only for an error.
func checkBackends(field string, backends []*routecastv1.Backend) error {
	seen := make(map[string]int, len(backends))
	for i, b := range backends {
		if b == nil {
			return fieldErrorf(indexField(field, i), "must be set")
		}
		if err := checkCluster("cluster", b.GetCluster()); err != nil {
			return withPrefix(indexField(field, i), err)
		}
		if j, ok := seen[b.GetCluster()]; ok {
			return fieldErrorf(indexField(field, i)+".cluster", "duplicate cluster %q (also %s)",
				b.GetCluster(), indexField(field, j))
		}
		seen[b.GetCluster()] = i
	}
	return nil
}

// checkCluster checks a cluster name with an optional port, "orders:8080".
func checkCluster(field, cluster string) error {
	name, port, hasPort := strings.Cut(cluster, ":")
	switch {
	case cluster == "":
		return fieldErrorf(field, "must not be empty")
	case !onlyBytes(name, "._-"):
		return fieldErrorf(field,
			"%q: a cluster name may contain only letters, digits, '.', '_' and '-'", cluster)
	case hasPort:
		if _, ok := parsePort(port); !ok {
			return fieldErrorf(field, "%q: port must be a number from 1 to 65535", cluster)
		}
	}
	return nil
}

// checkOptionalSecretRef checks a secret reference name that may be empty.
func checkOptionalSecretRef(field, ref string) error {
	if ref == "" || isSecretRef(ref) {
		return nil
	}
	return fieldErrorf(field,
		"%q is not a secret reference: use 1 to %d letters, digits, '.', '_', '/' and '-'",
		ref, maxSecretRefLen)
}
