package routes

import (
	"cmp"
	"slices"
	"strings"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"google.golang.org/protobuf/proto"
)

// Normalize puts r in canonical form, in place: hosts and host names in
// lower case, methods in upper case, an unspecified match type made exact,
// and the lists whose order has no meaning (hosts, methods, header and
// query conditions, backends, retry conditions, auth scopes) sorted with
// duplicates removed. Filters keep their order. Nothing is cleared. Two
// routes that mean the same thing are Equal after Normalize.
func Normalize(r *routecastv1.Route) {
	if r == nil {
		return
	}
	normalizeMatch(r.GetMatch())
	if u := r.GetUpstream(); u != nil {
		slices.SortStableFunc(u.Backends, func(a, b *routecastv1.Backend) int {
			return strings.Compare(a.GetCluster(), b.GetCluster())
		})
	}
	for _, f := range r.GetFilters() {
		if rw := f.GetUrlRewrite(); rw != nil {
			rw.Hostname = strings.ToLower(rw.Hostname)
		}
		if rd := f.GetRedirect(); rd != nil {
			rd.Hostname = strings.ToLower(rd.Hostname)
		}
	}
	if rp := r.GetPolicy().GetRetries(); rp != nil {
		rp.RetryOn = sortedSet(rp.RetryOn, nil)
	}
	if a := r.GetPolicy().GetAuth(); a != nil {
		a.Scopes = sortedSet(a.Scopes, nil)
	}
}

func normalizeMatch(m *routecastv1.RouteMatch) {
	if m == nil {
		return
	}
	m.Hosts = sortedSet(m.Hosts, strings.ToLower)
	m.Methods = sortedSet(m.Methods, strings.ToUpper)
	m.Headers = sortedMatches(m.Headers)
	m.QueryParams = sortedMatches(m.QueryParams)
}

// sortedSet maps each string through fold, if fold is not nil, then sorts
// the strings and removes duplicates.
func sortedSet(s []string, fold func(string) string) []string {
	if fold != nil {
		for i := range s {
			s[i] = fold(s[i])
		}
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// sortedMatches makes unspecified match types exact, then sorts the
// conditions by name, type and value and removes duplicates.
func sortedMatches(kvs []*routecastv1.KeyValueMatch) []*routecastv1.KeyValueMatch {
	for _, kv := range kvs {
		if kv != nil && kv.Type == routecastv1.MatchType_MATCH_TYPE_UNSPECIFIED {
			kv.Type = routecastv1.MatchType_MATCH_TYPE_EXACT
		}
	}
	slices.SortStableFunc(kvs, compareMatches)
	return slices.CompactFunc(kvs, func(a, b *routecastv1.KeyValueMatch) bool {
		return compareMatches(a, b) == 0
	})
}

func compareMatches(a, b *routecastv1.KeyValueMatch) int {
	return cmp.Or(
		strings.Compare(a.GetName(), b.GetName()),
		cmp.Compare(a.GetType(), b.GetType()),
		strings.Compare(a.GetValue(), b.GetValue()),
	)
}

// Equal reports whether a and b have the same content, ignoring the scope
// and version fields that the server sets. Compare normalized routes to
// compare meaning rather than spelling.
func Equal(a, b *routecastv1.Route) bool {
	if a == nil || b == nil {
		return a == b
	}
	return proto.Equal(withoutServerFields(a), withoutServerFields(b))
}

func withoutServerFields(r *routecastv1.Route) *routecastv1.Route {
	c := proto.Clone(r).(*routecastv1.Route)
	c.Scope = ""
	c.Version = 0
	return c
}
