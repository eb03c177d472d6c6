package routes

import (
	"strings"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
)

// redirectCodes are the status codes a redirect may use; zero means 302.
var redirectCodes = map[uint32]bool{0: true, 301: true, 302: true, 303: true, 307: true, 308: true}

// checkFilters checks each filter, and that a route rewrites and redirects
// at most once and never does both.
func checkFilters(r *routecastv1.Route) error {
	rewrite, redirect := -1, -1
	for i, f := range r.GetFilters() {
		field := indexField("filters", i)
		if err := checkFilter(field, f, r.GetMatch()); err != nil {
			return err
		}
		var err error
		switch {
		case f.GetUrlRewrite() != nil:
			rewrite, err = onlyOnce(field, rewrite, i)
		case f.GetRedirect() != nil:
			redirect, err = onlyOnce(field, redirect, i)
		}
		if err != nil {
			return err
		}
	}
	if rewrite >= 0 && redirect >= 0 {
		return fieldErrorf(indexField("filters", max(rewrite, redirect)),
			"a route cannot both rewrite and redirect")
	}
	return nil
}

// onlyOnce returns i as the index of the first filter of its kind, or an
// error for field when an earlier filter, at index first, has that kind.
func onlyOnce(field string, first, i int) (int, error) {
	if first >= 0 {
		return first, fieldErrorf(field, "a route may have only one filter of this kind (also %s)",
			indexField("filters", first))
	}
	return i, nil
}

func checkFilter(field string, f *routecastv1.RouteFilter, m *routecastv1.RouteMatch) error {
	switch k := f.GetKind().(type) {
	case *routecastv1.RouteFilter_UrlRewrite:
		return checkURLRewrite(field+".url_rewrite", k.UrlRewrite, m)
	case *routecastv1.RouteFilter_RequestHeaders:
		return checkHeaderModifier(field+".request_headers", k.RequestHeaders)
	case *routecastv1.RouteFilter_ResponseHeaders:
		return checkHeaderModifier(field+".response_headers", k.ResponseHeaders)
	case *routecastv1.RouteFilter_Redirect:
		return checkRedirect(field+".redirect", k.Redirect)
	}
	return fieldErrorf(field,
		"must set one of url_rewrite, request_headers, response_headers or redirect")
}

func checkURLRewrite(field string, rw *routecastv1.UrlRewrite, m *routecastv1.RouteMatch) error {
	if rw == nil {
		return fieldErrorf(field, "must be set")
	}
	if err := checkOptionalHostname(field+".hostname", rw.GetHostname()); err != nil {
		return err
	}
	switch p := rw.GetPath().(type) {
	case *routecastv1.UrlRewrite_ReplaceFullPath:
		return checkPath(field+".replace_full_path", p.ReplaceFullPath)
	case *routecastv1.UrlRewrite_ReplacePrefixMatch:
		f := field + ".replace_prefix_match"
		if _, ok := m.GetPath().GetKind().(*routecastv1.PathMatch_Prefix); !ok {
			return fieldErrorf(f, "requires a prefix path match")
		}
		return checkPath(f, p.ReplacePrefixMatch)
	}
	return nil
}

func checkOptionalHostname(field, host string) error {
	if host == "" || isDNSName(host) {
		return nil
	}
	return fieldErrorf(field, "%q is not a DNS name", host)
}

func checkHeaderModifier(field string, hm *routecastv1.HeaderModifier) error {
	if hm == nil {
		return fieldErrorf(field, "must be set")
	}
	for _, list := range []struct {
		field   string
		headers []*routecastv1.Header
	}{{field + ".set", hm.GetSet()}, {field + ".add", hm.GetAdd()}} {
		for i, h := range list.headers {
			if err := checkHeader(indexField(list.field, i), h); err != nil {
				return err
			}
		}
	}
	for i, name := range hm.GetRemove() {
		if !isToken(name) {
			return fieldErrorf(indexField(field+".remove", i), "%q is not a valid header name",
				name)
		}
	}
	return nil
}

// checkHeader checks a header to set or add, which has either a literal
// value or a secret reference.
func checkHeader(field string, h *routecastv1.Header) error {
	switch {
	case h == nil:
		return fieldErrorf(field, "must be set")
	case !isToken(h.GetName()):
		return fieldErrorf(field+".name", "%q is not a valid header name", h.GetName())
	case h.GetValue() != "" && h.GetSecretRef() != "":
		return fieldErrorf(field, "must set value or secret_ref, not both")
	case h.GetValue() == "" && h.GetSecretRef() == "":
		return fieldErrorf(field, "must set value or secret_ref")
	case strings.ContainsAny(h.GetValue(), "\r\n\x00"):
		return fieldErrorf(field+".value", "must not contain CR, LF or NUL")
	}
	return checkOptionalSecretRef(field+".secret_ref", h.GetSecretRef())
}

func checkRedirect(field string, rd *routecastv1.Redirect) error {
	if rd == nil {
		return fieldErrorf(field, "must be set")
	}
	switch s := rd.GetScheme(); {
	case s != "" && s != "http" && s != "https":
		return fieldErrorf(field+".scheme", "%q is not http or https", s)
	case rd.GetPort() > 65535:
		return fieldErrorf(field+".port", "%d is not a port number", rd.GetPort())
	case !redirectCodes[rd.GetStatusCode()]:
		return fieldErrorf(field+".status_code", "%d is not one of 301, 302, 303, 307 or 308",
			rd.GetStatusCode())
	}
	if err := checkOptionalHostname(field+".hostname", rd.GetHostname()); err != nil {
		return err
	}
	if rd.GetPath() == "" {
		return nil
	}
	return checkPath(field+".path", rd.GetPath())
}
