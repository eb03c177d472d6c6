package routes

import (
	"regexp"
	"strings"
	"sync"
	"unicode"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
)

// methods are the HTTP methods a route may match.
var methods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
	"DELETE": true, "OPTIONS": true, "CONNECT": true, "TRACE": true,
}

func checkMatch(r *routecastv1.Route) error {
	m := r.GetMatch()
	if m == nil {
		return fieldErrorf("match", "must be set")
	}
	if err := checkHosts("match.hosts", m.GetHosts()); err != nil {
		return err
	}
	if err := checkPathMatch("match.path", m.GetPath()); err != nil {
		return err
	}
	if err := checkMethods("match.methods", m.GetMethods()); err != nil {
		return err
	}
	if err := checkKeyValues("match.headers", m.GetHeaders(), true); err != nil {
		return err
	}
	return checkKeyValues("match.query_params", m.GetQueryParams(), false)
}

// checkHosts checks the hosts at field. The path of an element is built
// only for an error.
func checkHosts(field string, hosts []string) error {
	seen := make(map[string]int, len(hosts))
	for i, h := range hosts {
		if err := checkHost("", h); err != nil {
			return withPrefix(indexField(field, i), err)
		}
		key := strings.ToLower(h)
		if j, ok := seen[key]; ok {
			return fieldErrorf(indexField(field, i), "duplicate host %q (also %s)",
				h, indexField(field, j))
		}
		seen[key] = i
	}
	return nil
}

// checkHost checks a host to match: a DNS name, optionally with a leading
// "*." wildcard label.
func checkHost(field, host string) error {
	name := strings.TrimPrefix(host, "*.")
	switch {
	case host == "":
		return fieldErrorf(field, "must not be empty")
	case strings.Contains(host, ":"):
		return fieldErrorf(field, "%q must not have a port", host)
	case !isDNSName(name):
		return fieldErrorf(field, "%q is not a DNS name or a wildcard such as *.example.com", host)
	}
	return nil
}

func checkPathMatch(field string, p *routecastv1.PathMatch) error {
	switch k := p.GetKind().(type) {
	case *routecastv1.PathMatch_Exact:
		return checkPath(field+".exact", k.Exact)
	case *routecastv1.PathMatch_Prefix:
		return checkPath(field+".prefix", k.Prefix)
	case *routecastv1.PathMatch_Template:
		return checkTemplate(field+".template", k.Template)
	case *routecastv1.PathMatch_Regex:
		return checkRegex(field+".regex", k.Regex)
	}
	return fieldErrorf(field, "must set one of exact, prefix, template or regex")
}

// checkPath checks a literal request path: it starts with "/", has no empty
// segment, no query or fragment, no whitespace or control characters, and
// its percent-escapes are complete.
func checkPath(field, p string) error {
	if !strings.HasPrefix(p, "/") {
		return fieldErrorf(field, "%q must start with \"/\"", p)
	}
	if strings.Contains(p, "//") {
		return fieldErrorf(field, "%q must not contain an empty segment (\"//\")", p)
	}
	for i, c := range p {
		switch {
		case unicode.IsSpace(c):
			return fieldErrorf(field, "%q must not contain whitespace", p)
		case unicode.IsControl(c):
			return fieldErrorf(field, "%q must not contain control characters", p)
		case c == '?' || c == '#':
			return fieldErrorf(field, "%q must not contain %q; a path has no query or fragment",
				p, c)
		case c == '%' && !isEscape(p[i:]):
			return fieldErrorf(field, "%q has an invalid percent-escape", p)
		}
	}
	return nil
}

// isEscape reports whether s starts with "%" and two hex digits.
func isEscape(s string) bool {
	return len(s) >= 3 && isHex(s[1]) && isHex(s[2])
}

func isHex(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// checkTemplate checks a path template: a literal path whose segments may
// instead be variables "{name}", each name used once.
func checkTemplate(field, t string) error {
	if err := checkPath(field, t); err != nil {
		return err
	}
	vars := make(map[string]bool)
	for seg := range strings.SplitSeq(t[1:], "/") {
		if !strings.ContainsAny(seg, "{}") {
			continue
		}
		name, ok := strings.CutPrefix(seg, "{")
		name, ok2 := strings.CutSuffix(name, "}")
		switch {
		case !ok || !ok2 || strings.ContainsAny(name, "{}"):
			return fieldErrorf(field,
				"segment %q: a variable must be a whole segment \"{name}\"", seg)
		case !isIdentifier(name):
			return fieldErrorf(field, "segment %q: variable name %q is not an identifier",
				seg, name)
		case vars[name]:
			return fieldErrorf(field, "variable %q appears twice", name)
		}
		vars[name] = true
	}
	return nil
}

func checkRegex(field, expr string) error {
	if expr == "" {
		return fieldErrorf(field, "must not be empty")
	}
	if err := compiles(expr); err != nil {
		return fieldErrorf(field, "does not compile: %v", err)
	}
	return nil
}

// compiledOK remembers expressions known to compile: routes of a batch
// often share a pattern, and compiling costs more than the rest of a
// route's validation. It is cleared when full, so it stays small.
var compiledOK struct {
	sync.Mutex
	set map[string]bool
}

// maxCompiledOK bounds compiledOK.
const maxCompiledOK = 1024

// compiles reports why expr is not an RE2 expression, or nil.
func compiles(expr string) error {
	compiledOK.Lock()
	ok := compiledOK.set[expr]
	compiledOK.Unlock()
	if ok {
		return nil
	}
	if _, err := regexp.Compile(expr); err != nil {
		return err
	}
	compiledOK.Lock()
	defer compiledOK.Unlock()
	if compiledOK.set == nil || len(compiledOK.set) >= maxCompiledOK {
		compiledOK.set = make(map[string]bool)
	}
	compiledOK.set[expr] = true
	return nil
}

// checkMethods checks the methods at field. The path of an element is
// built only for an error.
func checkMethods(field string, ms []string) error {
	seen := make(map[string]int, len(ms))
	for i, m := range ms {
		upper := strings.ToUpper(m)
		if !methods[upper] {
			return fieldErrorf(indexField(field, i), "unknown method %q", m)
		}
		if j, ok := seen[upper]; ok {
			return fieldErrorf(indexField(field, i), "duplicate method %q (also %s)",
				m, indexField(field, j))
		}
		seen[upper] = i
	}
	return nil
}

// checkKeyValues checks header or query parameter conditions. Header names
// must be HTTP tokens; query parameter names only non-empty. The path of
// an element is built only for an error.
func checkKeyValues(field string, kvs []*routecastv1.KeyValueMatch, header bool) error {
	for i, kv := range kvs {
		if kv == nil {
			return fieldErrorf(indexField(field, i), "must be set")
		}
		if err := checkKeyValue("", kv, header); err != nil {
			return withPrefix(indexField(field, i), err)
		}
	}
	return nil
}

// checkKeyValue checks one condition at field, which may be empty for
// the caller to prefix the error with the condition's own path.
func checkKeyValue(field string, kv *routecastv1.KeyValueMatch, header bool) error {
	switch {
	case kv.GetName() == "":
		return fieldErrorf(joinField(field, "name"), "must not be empty")
	case header && !isToken(kv.GetName()):
		return fieldErrorf(joinField(field, "name"), "%q is not a valid header name", kv.GetName())
	case hasControl(kv.GetName()):
		return fieldErrorf(joinField(field, "name"), "must not contain control characters")
	}
	switch kv.GetType() {
	case routecastv1.MatchType_MATCH_TYPE_UNSPECIFIED, routecastv1.MatchType_MATCH_TYPE_EXACT:
		if header && strings.ContainsAny(kv.GetValue(), "\r\n\x00") {
			return fieldErrorf(joinField(field, "value"), "must not contain CR, LF or NUL")
		}
		return nil
	case routecastv1.MatchType_MATCH_TYPE_REGEX:
		return checkRegex(joinField(field, "value"), kv.GetValue())
	}
	return fieldErrorf(joinField(field, "type"), "unknown match type %d", kv.GetType())
}
