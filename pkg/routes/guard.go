package routes

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
)

// credentialAdvice ends the reason of every error about a credential.
const credentialAdvice = "put credentials in a secret and name it with secret_ref"

// CheckCredentials reports the first string of r that holds a credential
// rather than a reference to one: a token, key or password in a header
// value, label, owner, match condition, URL, path or any other free-form
// field. The error is a *FieldError that names the field and the kind of
// credential. It quotes at most a public prefix, such as "ghp_" or
// "password=", never the secret itself. Validate calls CheckCredentials
// before any other check, so that no later error quotes a credential
// either.
func CheckCredentials(r *routecastv1.Route) error {
	w := &walker{}
	w.route(r)
	return w.err
}

// valueKind says how a guarded string is checked.
type valueKind int

const (
	textValue   valueKind = iota // free-form text
	regexValue                   // a regular expression: literal tokens only
	pathValue                    // a path, which may carry a query
	urlValue                     // a URL, which may carry user information
	headerValue                  // a literal value of the header named name
	paramValue                   // a literal value of the query parameter named name
	labelKey                     // a label key, which is part of its field path
)

// fieldRef is the path of a guarded string in parts: base, then "[index]"
// unless index is negative, then `["key"]` for a label, then suffix. Most
// strings hold no credential, so the path is put together only for an
// error.
type fieldRef struct {
	base   string
	index  int
	label  bool
	key    string
	suffix string
}

// plainField refers to the field at path.
func plainField(path string) fieldRef {
	return fieldRef{base: path, index: -1}
}

// elemField refers to suffix of element i of the list at base, such as
// "match.headers[2].value".
func elemField(base string, i int, suffix string) fieldRef {
	return fieldRef{base: base, index: i, suffix: suffix}
}

// labelField refers to the label with the given key.
func labelField(key string) fieldRef {
	return fieldRef{base: "labels", index: -1, label: true, key: key}
}

// String returns the path, such as `labels["team"]` or "match.hosts[0]".
func (f fieldRef) String() string {
	s := f.base
	if f.index >= 0 {
		s = indexField(s, f.index)
	}
	if f.label {
		s += fmt.Sprintf("[%q]", f.key)
	}
	return s + f.suffix
}

// checkValue looks for a credential in value, a string of the given kind
// that belongs to the key, header or parameter name, if any. It returns
// the credential found by its shape or in the text, or else an error for
// one found by its context, whose field the caller sets; nil and nil if
// value holds none.
func checkValue(kind valueKind, name, value string) (*finding, *FieldError) {
	if kind == regexValue {
		return findToken(value, scanHints(value)), nil
	}
	if f := findText(name, value); f != nil {
		return f, nil
	}
	switch kind {
	case pathValue:
		return nil, queryCredentialsError(afterQueryMark(value))
	case urlValue:
		return nil, urlCredentialsError(value)
	case headerValue:
		return nil, credentialHeaderError(name)
	case paramValue:
		return nil, credentialParamError(name)
	}
	return nil, nil
}

// findingError returns the error for finding f in a string of the given
// kind at field. A label key is part of the field path, so a key that is
// a credential is named by its redacted prefix.
func findingError(kind valueKind, field fieldRef, f *finding) *FieldError {
	if kind == labelKey {
		return fieldErrorf(fmt.Sprintf("labels[%q]", f.prefix+"…"), "key %s; %s",
			f.describe(), credentialAdvice)
	}
	return fieldErrorf(field.String(), "%s; %s", f.describe(), credentialAdvice)
}

// walker checks the strings of a route that may hold a credential, in
// field order, and keeps the error for the first credential. Once it has
// one it checks nothing more.
type walker struct {
	err error
}

// route checks every string of r that may hold a credential.
func (w *walker) route(r *routecastv1.Route) {
	w.add(textValue, plainField("name"), "", r.GetName())
	w.add(textValue, plainField("scope"), "", r.GetScope())
	w.labels(r.GetLabels())
	w.add(textValue, plainField("owner"), "", r.GetOwner())
	w.match(r.GetMatch())
	w.upstream(r.GetUpstream())
	for i, f := range r.GetFilters() {
		w.filter(i, f)
	}
	w.policy(r.GetPolicy())
}

// add checks value, a string of the given kind at field, unless it is
// empty or a credential was found before. Its name is the key, header or
// parameter the value belongs to, if any.
func (w *walker) add(kind valueKind, field fieldRef, name, value string) {
	if w.err != nil || value == "" {
		return
	}
	f, err := checkValue(kind, name, value)
	switch {
	case f != nil:
		w.err = findingError(kind, field, f)
	case err != nil:
		err.Field = field.String()
		w.err = err
	}
}

// texts checks each string of a list of free-form text.
func (w *walker) texts(field string, values []string) {
	for i, v := range values {
		w.add(textValue, elemField(field, i, ""), "", v)
	}
}

// labels checks label keys and values, and reports the first credential
// in key order, as checkLabels reports errors. Labels seldom hold one, so
// they are checked in map order first, which needs no sorting; only if
// some label holds a credential are they checked again in key order. The
// checks depend on nothing but the label, so both orders find a
// credential or neither does.
func (w *walker) labels(labels map[string]string) {
	if w.err != nil {
		return
	}
	for k, v := range labels {
		w.label(k, v)
	}
	if w.err == nil {
		return
	}
	w.err = nil
	for _, k := range sortedKeys(labels) {
		w.label(k, labels[k])
	}
}

// label checks one label key and its value.
func (w *walker) label(key, value string) {
	w.add(labelKey, labelField(key), "", key)
	w.add(textValue, labelField(key), key, value)
}

func (w *walker) match(m *routecastv1.RouteMatch) {
	w.texts("match.hosts", m.GetHosts())
	switch k := m.GetPath().GetKind().(type) {
	case *routecastv1.PathMatch_Exact:
		w.add(pathValue, plainField("match.path.exact"), "", k.Exact)
	case *routecastv1.PathMatch_Prefix:
		w.add(pathValue, plainField("match.path.prefix"), "", k.Prefix)
	case *routecastv1.PathMatch_Template:
		w.add(pathValue, plainField("match.path.template"), "", k.Template)
	case *routecastv1.PathMatch_Regex:
		w.add(regexValue, plainField("match.path.regex"), "", k.Regex)
	}
	w.texts("match.methods", m.GetMethods())
	w.keyValues("match.headers", m.GetHeaders(), headerValue)
	w.keyValues("match.query_params", m.GetQueryParams(), paramValue)
}

// keyValues checks header or query parameter conditions. A literal value
// to compare with has the given kind; a regular expression is checked
// only for literal tokens.
func (w *walker) keyValues(field string, kvs []*routecastv1.KeyValueMatch, kind valueKind) {
	for i, kv := range kvs {
		k := kind
		if kv.GetType() == routecastv1.MatchType_MATCH_TYPE_REGEX {
			k = regexValue
		}
		w.add(textValue, elemField(field, i, ".name"), "", kv.GetName())
		w.add(k, elemField(field, i, ".value"), kv.GetName(), kv.GetValue())
	}
}

func (w *walker) upstream(u *routecastv1.Upstream) {
	w.add(urlValue, plainField("upstream.url"), "", u.GetUrl())
	for i, b := range u.GetBackends() {
		w.add(textValue, elemField("upstream.backends", i, ".cluster"), "", b.GetCluster())
	}
	w.add(textValue, plainField("upstream.tls_secret_ref"), "", u.GetTlsSecretRef())
}

// filter checks filter i. Its field paths are built as it is walked:
// routes have few filters, so it costs little.
func (w *walker) filter(i int, f *routecastv1.RouteFilter) {
	if w.err != nil {
		return
	}
	field := indexField("filters", i)
	switch k := f.GetKind().(type) {
	case *routecastv1.RouteFilter_UrlRewrite:
		w.urlRewrite(field+".url_rewrite", k.UrlRewrite)
	case *routecastv1.RouteFilter_RequestHeaders:
		w.headers(field+".request_headers", k.RequestHeaders)
	case *routecastv1.RouteFilter_ResponseHeaders:
		w.headers(field+".response_headers", k.ResponseHeaders)
	case *routecastv1.RouteFilter_Redirect:
		w.redirect(field+".redirect", k.Redirect)
	}
}

func (w *walker) urlRewrite(field string, rw *routecastv1.UrlRewrite) {
	w.add(textValue, plainField(field+".hostname"), "", rw.GetHostname())
	switch p := rw.GetPath().(type) {
	case *routecastv1.UrlRewrite_ReplaceFullPath:
		w.location(rw.GetHostname(), field+".replace_full_path", p.ReplaceFullPath)
	case *routecastv1.UrlRewrite_ReplacePrefixMatch:
		w.location(rw.GetHostname(), field+".replace_prefix_match", p.ReplacePrefixMatch)
	}
}

func (w *walker) redirect(field string, rd *routecastv1.Redirect) {
	w.add(textValue, plainField(field+".scheme"), "", rd.GetScheme())
	w.add(textValue, plainField(field+".hostname"), "", rd.GetHostname())
	w.location(rd.GetHostname(), field+".path", rd.GetPath())
}

// location checks a rewritten or redirected path, and the path behind its
// host name too, since some credentials, such as webhook URLs, are a host
// and a path together. The hostname itself is checked by the caller.
func (w *walker) location(host, pathField, path string) {
	w.add(pathValue, plainField(pathField), "", path)
	if w.err == nil && host != "" && path != "" {
		w.add(textValue, plainField(pathField), "", host+path)
	}
}

// headers checks the headers a filter sets, adds and removes. A value
// that has a secret reference beside it is checked as text, not against
// its header name; Validate rejects it later for setting both.
func (w *walker) headers(field string, hm *routecastv1.HeaderModifier) {
	for _, list := range []struct {
		field   string
		headers []*routecastv1.Header
	}{{field + ".set", hm.GetSet()}, {field + ".add", hm.GetAdd()}} {
		for i, h := range list.headers {
			kind := headerValue
			if h.GetSecretRef() != "" {
				kind = textValue
			}
			w.add(textValue, elemField(list.field, i, ".name"), "", h.GetName())
			w.add(kind, elemField(list.field, i, ".value"), h.GetName(), h.GetValue())
			w.add(textValue, elemField(list.field, i, ".secret_ref"), "", h.GetSecretRef())
		}
	}
	w.texts(field+".remove", hm.GetRemove())
}

func (w *walker) policy(p *routecastv1.RoutePolicy) {
	w.texts("policy.retries.retry_on", p.GetRetries().GetRetryOn())
	a := p.GetAuth()
	w.add(textValue, plainField("policy.auth.scheme"), "", a.GetScheme())
	w.add(textValue, plainField("policy.auth.audience"), "", a.GetAudience())
	w.texts("policy.auth.scopes", a.GetScopes())
	w.add(textValue, plainField("policy.auth.secret_ref"), "", a.GetSecretRef())
}

// credentialHeaders are the headers, in lower case, whose values are
// credentials.
var credentialHeaders = map[string]bool{
	"authorization": true, "proxy-authorization": true, "cookie": true, "set-cookie": true,
	"x-api-key": true, "api-key": true, "x-auth-token": true, "x-goog-api-key": true,
	"x-amz-security-token": true, "private-token": true,
}

// credentialHeaderError rejects a literal value of the header name, if
// its values are credentials. The caller sets the field of the error.
func credentialHeaderError(name string) *FieldError {
	if !isCredentialHeader(name) {
		return nil
	}
	return fieldErrorf("", "is a literal value of the %s header, which carries credentials; %s",
		name, credentialAdvice)
}

// isCredentialHeader reports whether the values of the header name are
// credentials, without regard to case. An ASCII name is put in lower case
// on the stack; others take strings.ToLower, which also maps runes such
// as the Kelvin sign to ASCII letters.
func isCredentialHeader(name string) bool {
	if !isASCII(name) {
		return credentialHeaders[strings.ToLower(name)]
	}
	var buf [32]byte
	lower := buf[:0]
	for i := 0; i < len(name); i++ {
		lower = append(lower, asciiLower(name[i]))
	}
	return credentialHeaders[string(lower)]
}

// credentialParams are the query parameters whose values are credentials,
// in lower case and without '-', '_' or '.'.
var credentialParams = map[string]bool{
	"accesstoken": true, "apikey": true, "authtoken": true, "clientsecret": true,
	"idtoken": true, "passwd": true, "password": true, "refreshtoken": true, "secret": true,
	"sessiontoken": true, "sig": true, "signature": true, "token": true,
	"xamzsecuritytoken": true, "xamzsignature": true,
}

// isCredentialParam reports whether the query parameter name carries
// credentials. Case and the separators '-', '_' and '.' do not matter.
func isCredentialParam(name string) bool {
	var buf [32]byte
	return credentialParams[string(appendFoldName(buf[:0], name))]
}

// credentialParamError rejects a literal value of the query parameter
// name, if it carries credentials. The caller sets the field of the
// error.
func credentialParamError(name string) *FieldError {
	if !isCredentialParam(name) {
		return nil
	}
	return fieldErrorf("",
		"is a literal value of the %q query parameter, which carries credentials; %s",
		name, credentialAdvice)
}

// afterQueryMark returns what follows the first "?" or "#" of a path or
// URL, or "" if it has neither.
func afterQueryMark(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return s[i+1:]
	}
	return ""
}

// queryCredentialsError rejects a query or fragment that gives a value to
// a parameter that carries credentials, such as access_token. The caller
// sets the field of the error.
func queryCredentialsError(query string) *FieldError {
	if query == "" {
		return nil
	}
	separator := func(r rune) bool { return strings.ContainsRune("&;?#", r) }
	for _, p := range strings.FieldsFunc(query, separator) {
		key, value, _ := strings.Cut(p, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if value != "" && isCredentialParam(key) {
			return fieldErrorf("",
				"has a value for the %q query parameter, which carries credentials; %s",
				key, credentialAdvice)
		}
	}
	return nil
}

// urlCredentialsError rejects a URL with user information or with a query
// parameter that carries credentials. The caller sets the field of the
// error. Only a URL with an "@" can have user information, so no other is
// parsed.
func urlCredentialsError(raw string) *FieldError {
	if !strings.Contains(raw, "@") {
		return queryCredentialsError(afterQueryMark(raw))
	}
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return fieldErrorf("", "has a password in its user information; %s",
				credentialAdvice)
		}
		return fieldErrorf("", "has user information, which carries credentials; %s",
			credentialAdvice)
	}
	return queryCredentialsError(afterQueryMark(raw))
}

// A finding is a credential found in a string. It holds only what is safe
// to show: the kind of credential and the fixed prefix of its format,
// never a character of the secret itself.
type finding struct {
	what   string // such as "a GitHub personal access token"
	prefix string // such as "ghp_"; empty when the format has none
}

// describe says what f looks like, as the start of an error reason.
func (f *finding) describe() string {
	if f.prefix == "" {
		return "looks like " + f.what
	}
	return fmt.Sprintf("looks like %s (%s…)", f.what, f.prefix)
}

// A tokenDetector finds credentials by a shape of their own, a fixed
// prefix or a structure, so it applies to any string, even a regular
// expression. It runs only on strings that hold one of its hints: fixed
// substrings of every token it finds, matched as they are (hints) or
// without regard to ASCII case (foldHints, in lower case). Most strings
// of a route hold none, and looking for hints costs far less than the
// detectors' patterns.
type tokenDetector struct {
	hints     []string
	foldHints []string
	find      func(string) *finding
}

// tokenDetectors are tried in order; the first finding is reported.
var tokenDetectors = []tokenDetector{
	{hints: []string{"-----BEGIN"}, find: findPrivateKey},
	{hints: []string{"ey", "ew"}, find: findJWT}, // "{" in base64url
	{hints: []string{"AKIA", "ASIA"}, find: findAWSKeyID},
	{hints: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}, find: findGitHub},
	{hints: []string{"glpat-"}, find: findGitLab},
	{hints: []string{"xox", "xapp-", "hooks.slack.com"}, find: findSlack},
	{hints: []string{"_live_", "_test_"}, find: findStripe},
	{hints: []string{"AIza", "ya29."}, find: findGoogle},
	{hints: []string{"sk-"}, find: findOpenAI},
	{hints: []string{"npm_"}, find: findNPM},
	{hints: []string{"pypi-"}, find: findPyPI},
	{hints: []string{"SG."}, find: findSendGrid},
	{hints: []string{"SK"}, find: findTwilio},
	{hints: []string{"key-"}, find: findMailgun},
	{foldHints: []string{"key="}, find: findAzureKey}, // "AccountKey=" in any case
}

// findToken returns the first credential that a token detector finds in
// s, or nil. It runs the detectors whose bits are in hints, which
// scanHints returns for s.
func findToken(s string, hints hintSet) *finding {
	if len(s) < minTokenLen || hints&tokenHints == 0 {
		return nil
	}
	for i, d := range tokenDetectors {
		if hints&(1<<i) == 0 {
			continue
		}
		if f := d.find(s); f != nil {
			return f
		}
	}
	return nil
}

// hasBase64Run reports whether s holds n characters of the standard
// base64 alphabet in a row.
func hasBase64Run(s string, n int) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlnum(c) || c == '/' || c == '+' {
			if run++; run >= n {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// minTokenLen is the length of the shortest token a detector finds (a
// JWT of tiny parts); shorter strings hold none.
const minTokenLen = 11

// findText returns the first credential in the literal text s, or nil.
// Beyond tokens it finds credentials by their context: an authorization
// scheme, an assignment, or name, the key or header s is the value of.
func findText(name, s string) *finding {
	hints := scanHints(s)
	if f := findToken(s, hints); f != nil {
		return f
	}
	if hints&authorizationHints != 0 {
		if f := findAuthorization(s); f != nil {
			return f
		}
	}
	if f := findAWSSecret(name, s, hints); f != nil {
		return f
	}
	if hints&assignmentHints != 0 {
		return findAssignment(s)
	}
	return nil
}

// firstToken returns the prefix of the first match of re in s that is
// neither preceded nor followed by a letter or digit and whose prefix and
// body pass valid, if valid is not nil. The first group of re is the
// token's fixed prefix, the second its body.
func firstToken(re *regexp.Regexp, s string, valid func(prefix, body string) bool) (string, bool) {
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		start, end := m[0], m[1]
		if start > 0 && isAlnum(s[start-1]) || end < len(s) && isAlnum(s[end]) {
			continue
		}
		prefix, body := s[m[2]:m[3]], s[m[4]:m[5]]
		if valid == nil || valid(prefix, body) {
			return prefix, true
		}
	}
	return "", false
}

// isMixed reports whether s has a lowercase letter, an uppercase letter
// and a digit, as random tokens of some length almost always do and words
// and names seldom do.
func isMixed(s string) bool {
	var lower, upper, digit bool
	for i := 0; i < len(s); i++ {
		lower = lower || isLower(s[i])
		upper = upper || isUpper(s[i])
		digit = digit || isDigit(s[i])
	}
	return lower && upper && digit
}

var privateKeyRE = regexp.MustCompile(`-----BEGIN[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)?-----`)

// findPrivateKey finds the header of a PEM or PGP private key block.
func findPrivateKey(s string) *finding {
	if privateKeyRE.MatchString(s) {
		return &finding{what: "a PEM private key"}
	}
	return nil
}

// findJWT finds a JSON Web Token: three or more base64url parts joined by
// dots, the first of which decodes to a JSON object with an "alg" member.
func findJWT(s string) *finding {
	words := strings.FieldsFunc(s, func(r rune) bool {
		return r >= utf8.RuneSelf || !isAlnum(byte(r)) && r != '-' && r != '_' && r != '.'
	})
	for _, w := range words {
		parts := strings.Split(w, ".")
		for i := 0; i+2 < len(parts); i++ {
			if parts[i+1] != "" && isJOSEHeader(parts[i]) {
				return &finding{what: "a JSON Web Token"}
			}
		}
	}
	return nil
}

// isJOSEHeader reports whether part is the base64url encoding of a JSON
// object with an "alg" member, the header of a JWT.
func isJOSEHeader(part string) bool {
	if len(part) < 8 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return false
	}
	var header map[string]json.RawMessage
	if json.Unmarshal(b, &header) != nil {
		return false
	}
	_, ok := header["alg"]
	return ok
}

var awsKeyIDRE = regexp.MustCompile(`(AKIA|ASIA)([A-Z0-9]{16})`)

// findAWSKeyID finds an AWS access key ID, long-term (AKIA) or temporary
// (ASIA).
func findAWSKeyID(s string) *finding {
	prefix, ok := firstToken(awsKeyIDRE, s, nil)
	switch {
	case !ok:
		return nil
	case prefix == "ASIA":
		return &finding{what: "an AWS temporary access key ID", prefix: prefix}
	}
	return &finding{what: "an AWS access key ID", prefix: prefix}
}

var (
	awsSecretRE           = regexp.MustCompile(`^[A-Za-z0-9/+]{40}$`)
	awsSecretAssignmentRE = regexp.MustCompile(
		`([A-Za-z0-9_.-]+)["']?\s*[=:]\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`)
)

// findAWSSecret finds an AWS secret access key: 40 base64 characters,
// which alone could be anything, as the value of an AWS secret key name,
// either name itself or one assigned to in s. The assignment is looked
// for only if hints, which scanHints returns for s, has
// awsAssignmentHints: s holds an "=" or ":".
func findAWSSecret(name, s string, hints hintSet) *finding {
	if isAWSSecretName(name) && awsSecretRE.MatchString(s) ||
		hints&awsAssignmentHints != 0 && hasAWSSecretAssignment(s) {
		return &finding{what: "an AWS secret access key"}
	}
	return nil
}

// hasAWSSecretAssignment reports whether s assigns 40 base64 characters
// to an AWS secret key name.
func hasAWSSecretAssignment(s string) bool {
	if !hasBase64Run(s, 40) {
		return false
	}
	for _, m := range awsSecretAssignmentRE.FindAllStringSubmatch(s, -1) {
		if isAWSSecretName(m[1]) {
			return true
		}
	}
	return false
}

// isAWSSecretName reports whether name, such as aws_secret_access_key or
// SecretAccessKey, names an AWS secret access key.
func isAWSSecretName(name string) bool {
	if name == "" {
		return false
	}
	var buf [64]byte
	n := appendFoldName(buf[:0], name)
	return bytes.Contains(n, []byte("secretaccesskey")) ||
		bytes.Contains(n, []byte("aws")) && bytes.Contains(n, []byte("secret"))
}

// foldName returns name in lower case without the separators '-', '_'
// and '.', so that "X-Api-Key", "x_api_key" and "xapikey" compare equal.
func foldName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' {
			return -1
		}
		return r
	}, strings.ToLower(name))
}

// appendFoldName appends foldName(name) to b. An ASCII name is folded
// byte by byte, which needs no string of its own; any other takes
// foldName, whose lower-casing maps every rune.
func appendFoldName(b []byte, name string) []byte {
	if !isASCII(name) {
		return append(b, foldName(name)...)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c != '-' && c != '_' && c != '.' {
			b = append(b, asciiLower(c))
		}
	}
	return b
}

// isASCII reports whether s has only ASCII characters.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

var (
	githubRE    = regexp.MustCompile(`(gh[pousr]_)([A-Za-z0-9]{36,})`)
	githubPATRE = regexp.MustCompile(`(github_pat_)([A-Za-z0-9_]{22,})`)
)

// githubTokens describes the GitHub tokens by prefix.
var githubTokens = map[string]string{
	"ghp_":        "a GitHub personal access token",
	"gho_":        "a GitHub OAuth access token",
	"ghu_":        "a GitHub user access token",
	"ghs_":        "a GitHub installation access token",
	"ghr_":        "a GitHub refresh token",
	"github_pat_": "a GitHub fine-grained personal access token",
}

// findGitHub finds a GitHub token of any kind.
func findGitHub(s string) *finding {
	for _, re := range []*regexp.Regexp{githubPATRE, githubRE} {
		if prefix, ok := firstToken(re, s, nil); ok {
			return &finding{what: githubTokens[prefix], prefix: prefix}
		}
	}
	return nil
}

var gitlabRE = regexp.MustCompile(`(glpat-)([A-Za-z0-9_-]{20,})`)

// findGitLab finds a GitLab personal access token.
func findGitLab(s string) *finding {
	if prefix, ok := firstToken(gitlabRE, s, nil); ok {
		return &finding{what: "a GitLab personal access token", prefix: prefix}
	}
	return nil
}

var (
	slackRE     = regexp.MustCompile(`(xox[abeoprs]-|xapp-)([A-Za-z0-9-]{10,})`)
	slackHookRE = regexp.MustCompile(`(hooks\.slack\.com/services/)([A-Za-z0-9_/-]{8,})`)
)

// slackTokens describes the Slack tokens by prefix.
var slackTokens = map[string]string{
	"xoxb-": "a Slack bot token",
	"xoxp-": "a Slack user token",
	"xapp-": "a Slack app-level token",
}

// findSlack finds a Slack token or incoming webhook URL.
func findSlack(s string) *finding {
	if prefix, ok := firstToken(slackRE, s, nil); ok {
		what := slackTokens[prefix]
		if what == "" {
			what = "a Slack token"
		}
		return &finding{what: what, prefix: prefix}
	}
	if prefix, ok := firstToken(slackHookRE, s, nil); ok {
		return &finding{what: "a Slack incoming webhook URL", prefix: prefix}
	}
	return nil
}

var stripeRE = regexp.MustCompile(`((?:sk|rk)_(?:live|test)_)([A-Za-z0-9]{10,})`)

// stripeKeys describes the Stripe keys by prefix.
var stripeKeys = map[string]string{
	"sk_live_": "a Stripe live secret key",
	"sk_test_": "a Stripe test secret key",
	"rk_live_": "a Stripe live restricted key",
	"rk_test_": "a Stripe test restricted key",
}

// findStripe finds a Stripe secret or restricted key.
func findStripe(s string) *finding {
	if prefix, ok := firstToken(stripeRE, s, nil); ok {
		return &finding{what: stripeKeys[prefix], prefix: prefix}
	}
	return nil
}

var (
	googleKeyRE   = regexp.MustCompile(`(AIza)([A-Za-z0-9_-]{35})`)
	googleOAuthRE = regexp.MustCompile(`(ya29\.)([A-Za-z0-9_-]{20,})`)
)

// findGoogle finds a Google API key or OAuth access token.
func findGoogle(s string) *finding {
	if prefix, ok := firstToken(googleKeyRE, s, nil); ok {
		return &finding{what: "a Google API key", prefix: prefix}
	}
	if prefix, ok := firstToken(googleOAuthRE, s, nil); ok {
		return &finding{what: "a Google OAuth access token", prefix: prefix}
	}
	return nil
}

var openAIRE = regexp.MustCompile(`(sk-(?:proj-|svcacct-|admin-)?)([A-Za-z0-9_-]{20,})`)

// findOpenAI finds an OpenAI-style API key, "sk-" and a random body. A
// body without both cases and a digit is taken for a name such as
// "sk-learn-pipeline".
func findOpenAI(s string) *finding {
	random := func(_, body string) bool { return isMixed(body) }
	if prefix, ok := firstToken(openAIRE, s, random); ok {
		return &finding{what: "an OpenAI-style API key", prefix: prefix}
	}
	return nil
}

var npmRE = regexp.MustCompile(`(npm_)([A-Za-z0-9]{36,})`)

// findNPM finds an npm access token.
func findNPM(s string) *finding {
	if prefix, ok := firstToken(npmRE, s, nil); ok {
		return &finding{what: "an npm access token", prefix: prefix}
	}
	return nil
}

var pypiRE = regexp.MustCompile(`(pypi-)(AgEI[A-Za-z0-9_-]{20,})`)

// findPyPI finds a PyPI API token, whose body is a macaroon that always
// starts with "AgEI".
func findPyPI(s string) *finding {
	if prefix, ok := firstToken(pypiRE, s, nil); ok {
		return &finding{what: "a PyPI API token", prefix: prefix}
	}
	return nil
}

var sendGridRE = regexp.MustCompile(`(SG\.)([A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,})`)

// findSendGrid finds a SendGrid API key, "SG." and two dotted parts.
func findSendGrid(s string) *finding {
	if prefix, ok := firstToken(sendGridRE, s, nil); ok {
		return &finding{what: "a SendGrid API key", prefix: prefix}
	}
	return nil
}

var twilioRE = regexp.MustCompile(`(SK)([0-9a-fA-F]{32})`)

// findTwilio finds a Twilio API key SID, "SK" and 32 hex digits.
func findTwilio(s string) *finding {
	if prefix, ok := firstToken(twilioRE, s, nil); ok {
		return &finding{what: "a Twilio API key", prefix: prefix}
	}
	return nil
}

var mailgunRE = regexp.MustCompile(`(key-)([0-9a-f]{32})`)

// findMailgun finds a Mailgun API key, "key-" and 32 hex digits.
func findMailgun(s string) *finding {
	if prefix, ok := firstToken(mailgunRE, s, nil); ok {
		return &finding{what: "a Mailgun API key", prefix: prefix}
	}
	return nil
}

var azureKeyRE = regexp.MustCompile(`(?i)((?:Account|SharedAccess)Key=)([A-Za-z0-9+/]{20,}={0,2})`)

// findAzureKey finds the key of an Azure connection string, such as the
// AccountKey of a storage account.
func findAzureKey(s string) *finding {
	if prefix, ok := firstToken(azureKeyRE, s, nil); ok {
		return &finding{what: "an Azure connection string key", prefix: prefix}
	}
	return nil
}

var authorizationRE = regexp.MustCompile(`(?i)((?:bearer|basic|token)\s+)([A-Za-z0-9._~+/-]+=*)`)

// findAuthorization finds the value of an Authorization header: a bearer
// or token scheme with a body of 16 or more characters that has letters
// and digits, or the Basic scheme with a base64 "user:password". The
// scheme names alone, as in "bearer", are fine. findText calls it only
// for a string that holds a scheme name, in any case.
func findAuthorization(s string) *finding {
	prefix, ok := firstToken(authorizationRE, s, isAuthorization)
	if !ok {
		return nil
	}
	scheme := strings.TrimSpace(prefix)
	if strings.EqualFold(scheme, "basic") {
		return &finding{what: "HTTP Basic credentials", prefix: scheme + " "}
	}
	return &finding{what: "an Authorization header value", prefix: scheme + " "}
}

// isAuthorization reports whether body, after the scheme prefix, is
// credentials of that scheme.
func isAuthorization(prefix, body string) bool {
	if strings.EqualFold(strings.TrimSpace(prefix), "basic") {
		return isBasicCredentials(body)
	}
	var letter, digit bool
	for i := 0; i < len(body); i++ {
		letter = letter || isLower(body[i]) || isUpper(body[i])
		digit = digit || isDigit(body[i])
	}
	return len(body) >= 16 && letter && digit
}

// isBasicCredentials reports whether s is the base64 encoding of
// "user:password", with or without padding.
func isBasicCredentials(s string) bool {
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	return err == nil && utf8.Valid(b) && strings.Contains(string(b), ":")
}

var assignmentRE = regexp.MustCompile(
	`(?i)([A-Za-z0-9_-]*(?:password|passwd|secret))\s*=\s*([^\s&;,]+)`)

// findAssignment finds a password or secret assigned in text, such as
// "password=..." or "client_secret=...". findText calls it only for a
// string that holds "passw" or "secret", in any case.
func findAssignment(s string) *finding {
	m := assignmentRE.FindStringSubmatch(s)
	if m == nil {
		return nil
	}
	return &finding{what: "a password or secret assignment", prefix: m[1] + "="}
}
