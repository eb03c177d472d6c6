package importer

import (
	"slices"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
)

// filters converts the filters of a rule, keeping their order.
func (c *httpRouteConverter) filters(rp string, fs []httpRouteFilter,
	fields fieldMap) ([]*routecastv1.RouteFilter, error) {
	var out []*routecastv1.RouteFilter
	for i := range fs {
		f, err := c.filter(indexPath(rp+".filters", i), &fs[i], fields, indexPath("filters", i))
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// filter converts the filter at document field fp, which becomes route
// field rf.
func (c *httpRouteConverter) filter(fp string, f *httpRouteFilter,
	fields fieldMap, rf string) (*routecastv1.RouteFilter, error) {
	if err := c.checkFilterType(fp, f); err != nil {
		return nil, err
	}
	fields[rf] = fp
	switch f.Type {
	case filterRequestHeaders:
		fields[rf+".request_headers"] = fp + ".requestHeaderModifier"
		return &routecastv1.RouteFilter{Kind: &routecastv1.RouteFilter_RequestHeaders{
			RequestHeaders: headerModifier(f.RequestHeaderModifier),
		}}, nil
	case filterResponseHeaders:
		fields[rf+".response_headers"] = fp + ".responseHeaderModifier"
		return &routecastv1.RouteFilter{Kind: &routecastv1.RouteFilter_ResponseHeaders{
			ResponseHeaders: headerModifier(f.ResponseHeaderModifier),
		}}, nil
	case filterRewrite:
		rw, err := c.urlRewrite(fp+".urlRewrite", f.URLRewrite, fields, rf+".url_rewrite")
		if err != nil {
			return nil, err
		}
		return &routecastv1.RouteFilter{Kind: &routecastv1.RouteFilter_UrlRewrite{
			UrlRewrite: rw,
		}}, nil
	}
	rd, err := c.redirect(fp+".requestRedirect", f.RequestRedirect, fields, rf+".redirect")
	if err != nil {
		return nil, err
	}
	return &routecastv1.RouteFilter{Kind: &routecastv1.RouteFilter_Redirect{Redirect: rd}}, nil
}

// filterConfig is the field that configures one filter type.
type filterConfig struct {
	typ, field string
	set        bool
}

// checkFilterType checks that the filter type is one routecast supports,
// that the field for that type is set, and that no other type's is.
func (c *httpRouteConverter) checkFilterType(fp string, f *httpRouteFilter) error {
	configs := []filterConfig{
		{filterRequestHeaders, "requestHeaderModifier", f.RequestHeaderModifier != nil},
		{filterResponseHeaders, "responseHeaderModifier", f.ResponseHeaderModifier != nil},
		{filterRewrite, "urlRewrite", f.URLRewrite != nil},
		{filterRedirect, "requestRedirect", f.RequestRedirect != nil},
		{filterMirror, "requestMirror", f.RequestMirror != nil},
		{filterExtension, "extensionRef", f.ExtensionRef != nil},
		{filterCORS, "cors", f.CORS != nil},
		{filterExternalAuth, "externalAuth", f.ExternalAuth != nil},
	}
	known := slices.ContainsFunc(configs, func(cfg filterConfig) bool { return cfg.typ == f.Type })
	switch {
	case f.Type == "":
		return c.errorf(fp+".type", "must be set")
	case !known:
		return c.errorf(fp+".type", "unknown value %q", f.Type)
	case unsupportedFilters[f.Type]:
		return c.errorf(fp+".type", "filter type %q is not supported", f.Type)
	}
	for _, cfg := range configs {
		switch {
		case cfg.typ == f.Type && !cfg.set:
			return c.errorf(fp+"."+cfg.field, "must be set for filter type %s", f.Type)
		case cfg.typ != f.Type && cfg.set:
			return c.errorf(fp+"."+cfg.field, "must not be set for filter type %s", f.Type)
		}
	}
	return nil
}

func headerModifier(h *httpHeaderFilter) *routecastv1.HeaderModifier {
	return &routecastv1.HeaderModifier{
		Set:    headers(h.Set),
		Add:    headers(h.Add),
		Remove: slices.Clone(h.Remove),
	}
}

func headers(hs []httpHeader) []*routecastv1.Header {
	var out []*routecastv1.Header
	for _, h := range hs {
		out = append(out, &routecastv1.Header{Name: h.Name, Value: h.Value})
	}
	return out
}

func (c *httpRouteConverter) urlRewrite(up string, u *httpURLRewrite,
	fields fieldMap, rf string) (*routecastv1.UrlRewrite, error) {
	out := &routecastv1.UrlRewrite{Hostname: u.Hostname}
	fields[rf] = up
	if u.Path == nil {
		return out, nil
	}
	full, value, err := c.pathModifier(up+".path", u.Path)
	if err != nil {
		return nil, err
	}
	if full {
		out.Path = &routecastv1.UrlRewrite_ReplaceFullPath{ReplaceFullPath: value}
		fields[rf+".replace_full_path"] = up + ".path.replaceFullPath"
	} else {
		out.Path = &routecastv1.UrlRewrite_ReplacePrefixMatch{ReplacePrefixMatch: value}
		fields[rf+".replace_prefix_match"] = up + ".path.replacePrefixMatch"
	}
	return out, nil
}

// pathModifier reads a path modifier: whether it replaces the full path,
// and the replacement.
func (c *httpRouteConverter) pathModifier(pp string,
	pm *httpPathModifier) (full bool, value string, err error) {
	configs := []struct {
		typ, field string
		value      *string
	}{
		{"ReplaceFullPath", "replaceFullPath", pm.ReplaceFullPath},
		{"ReplacePrefixMatch", "replacePrefixMatch", pm.ReplacePrefixMatch},
	}
	switch pm.Type {
	case "":
		return false, "", c.errorf(pp+".type", "must be set")
	case configs[0].typ, configs[1].typ:
	default:
		return false, "", c.errorf(pp+".type",
			"unknown value %q (want ReplaceFullPath or ReplacePrefixMatch)", pm.Type)
	}
	for _, cfg := range configs {
		switch {
		case cfg.typ == pm.Type && cfg.value == nil:
			return false, "", c.errorf(pp+"."+cfg.field, "must be set for path type %s", pm.Type)
		case cfg.typ != pm.Type && cfg.value != nil:
			return false, "", c.errorf(pp+"."+cfg.field, "must not be set for path type %s",
				pm.Type)
		case cfg.typ == pm.Type:
			value = *cfg.value
		}
	}
	return pm.Type == configs[0].typ, value, nil
}

// redirect converts a RequestRedirect. routecast redirects to a full path
// only, so ReplacePrefixMatch is not supported.
func (c *httpRouteConverter) redirect(rp string, rd *httpRequestRedirect,
	fields fieldMap, rf string) (*routecastv1.Redirect, error) {
	out := &routecastv1.Redirect{Scheme: rd.Scheme, Hostname: rd.Hostname}
	fields[rf] = rp
	fields[rf+".status_code"] = rp + ".statusCode"
	if rd.Port != nil {
		if *rd.Port < 1 || *rd.Port > 65535 {
			return nil, c.errorf(rp+".port", "%d is not a port number", *rd.Port)
		}
		out.Port = uint32(*rd.Port)
	}
	if rd.StatusCode != nil {
		if *rd.StatusCode < 0 {
			return nil, c.errorf(rp+".statusCode", "%d is not a redirect status code",
				*rd.StatusCode)
		}
		out.StatusCode = uint32(*rd.StatusCode)
	}
	if rd.Path == nil {
		return out, nil
	}
	full, value, err := c.pathModifier(rp+".path", rd.Path)
	if err != nil {
		return nil, err
	}
	if !full {
		return nil, c.errorf(rp+".path.type", "%s redirects are not supported; use ReplaceFullPath",
			rd.Path.Type)
	}
	out.Path = value
	fields[rf+".path"] = rp + ".path.replaceFullPath"
	return out, nil
}
