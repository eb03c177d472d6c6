package routes

import (
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The tests of this file check the fast paths of the guard against plain
// definitions: hints found with strings.Contains and containsFold, names
// folded with foldName and strings.ToLower, and URLs always parsed.

// containsFold reports whether s contains any of words, which are in
// lower case, without regard to case.
func containsFold(s string, words ...string) bool {
	for _, w := range words {
		for i := 0; i+len(w) <= len(s); i++ {
			if asciiLower(s[i]) == w[0] && strings.EqualFold(s[i:i+len(w)], w) {
				return true
			}
		}
	}
	return false
}

// containsAny reports whether s contains any of subs.
func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// plainHints returns what scanHints should: the bit of each token
// detector and check by context one of whose hints s contains.
func plainHints(s string) hintSet {
	var set hintSet
	for i, d := range tokenDetectors {
		if containsAny(s, d.hints) || containsFold(s, d.foldHints...) {
			set |= 1 << i
		}
	}
	if containsFold(s, "bearer", "basic", "token") {
		set |= authorizationHints
	}
	if containsFold(s, "passw", "secret") {
		set |= assignmentHints
	}
	if strings.ContainsAny(s, "=:") {
		set |= awsAssignmentHints
	}
	return set
}

// plainFindToken is findToken with each detector's hints looked for one
// by one.
func plainFindToken(s string) *finding {
	if len(s) < minTokenLen {
		return nil
	}
	for _, d := range tokenDetectors {
		if !containsAny(s, d.hints) && !containsFold(s, d.foldHints...) {
			continue
		}
		if f := d.find(s); f != nil {
			return f
		}
	}
	return nil
}

// plainFindText is findText with every hint looked for one by one and
// names folded by foldName.
func plainFindText(name, s string) *finding {
	if f := plainFindToken(s); f != nil {
		return f
	}
	if containsFold(s, "bearer", "basic", "token") {
		if f := findAuthorization(s); f != nil {
			return f
		}
	}
	if plainIsAWSSecretName(name) && awsSecretRE.MatchString(s) {
		return &finding{what: "an AWS secret access key"}
	}
	if strings.ContainsAny(s, "=:") && hasBase64Run(s, 40) {
		for _, m := range awsSecretAssignmentRE.FindAllStringSubmatch(s, -1) {
			if plainIsAWSSecretName(m[1]) {
				return &finding{what: "an AWS secret access key"}
			}
		}
	}
	if containsFold(s, "passw", "secret") {
		return findAssignment(s)
	}
	return nil
}

// plainIsAWSSecretName is isAWSSecretName on a name folded by foldName.
func plainIsAWSSecretName(name string) bool {
	n := foldName(name)
	return strings.Contains(n, "secretaccesskey") ||
		strings.Contains(n, "aws") && strings.Contains(n, "secret")
}

// plainURLCredentialsError is urlCredentialsError with every URL parsed.
func plainURLCredentialsError(raw string) *FieldError {
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

// tableValues are the values of the credential tests of guard_test.go,
// and others of the same shapes.
func tableValues() []string {
	return []string{
		"Bearer " + fakeAlnum, "Token " + fakeHex, "Basic " + fakeBasic, "basic " + fakeBasic,
		"letmein-please", "partner-key-7", "hunter2", "session=fake0", "sid=fake0", "opaque",
		fakeJWT, "/callback/" + fakeJWT, fakePrivateKey, "AK" + "IA" + fakeUpper,
		"AS" + "IA" + fakeUpper, fakeBase64, "ops aws_secret_access_key=" + fakeBase64,
		"gh" + "p_" + fakeAlnum[:36], "github" + "_pat_" + fakeAlnum,
		"^token " + "gh" + "o_" + fakeAlnum + "$", "gh" + "s_" + fakeAlnum,
		"gh" + "r_" + fakeAlnum, "gh" + "u_" + fakeAlnum, "/hooks/gl" + "pat-" + fakeAlnum + "/.*",
		"gl" + "pat-" + fakeAlnum, "xo" + "xb-0000-" + fakeAlnum, "xa" + "pp-1-" + fakeAlnum,
		"https://hooks." + "slack.com/services/T0FAKE/B0FAKE/" + fakeAlnum,
		"hooks." + "slack.com" + "/services/T0FAKE/B0FAKE/" + fakeAlnum,
		"sk" + "_live_" + fakeAlnum, "rk" + "_live_" + fakeAlnum,
		"https://maps.example.com/api?key=" + "AI" + "za" + fakeAlnum[:35],
		"sk" + "-proj-" + fakeAlnum, "ml-team sk" + "-" + fakeAlnum, "/npm" + "_" + fakeAlnum,
		"orders/npm" + "_" + fakeAlnum, "py" + "pi-AgEI" + fakeAlnum,
		"S" + "G." + fakeAlnum[:22] + "." + fakeAlnum, "S" + "K" + fakeHex, "ke" + "y-" + fakeHex,
		"DefaultEndpointsProtocol=https;AccountName=fake;Account" + "Key=" + fakeBase64 +
			"==;EndpointSuffix=core.windows.net",
		"host=db user=app pass" + "word=Fake0Fake0", "https://app:Fake0Fake0@orders.internal/v2",
		"https://fake0user@orders.internal/v2", "https://orders.internal/v2?access_token=Fake0Fake0",
		"https://bucket.example.com/o?X-Amz-Date=20260101&X-Amz-Signature=" + fakeHex,
		"/v2/orders?api_key=Fake0Fake0", "/download?sv=2026-01-01&sig=Fake0Fake0",
		"/v1/payments/{id}", "/api/v0", "/.well-known/jwks.json",
		"/blobs/sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"/commits/" + fake("a1b2c3d4", 40), "/oauth/token-exchange", "/account/password-reset",
		"/v2/secrets/{name}/versions", `^/v[0-9]+/.*`, "123e4567-e89b-12d3-a456-426614174000",
		"team-payments", "v1.2.3-rc.1", "dXNlcjE", "secret-store", "vault", "aws-region",
		"us-east-1", "sk-learn-pipeline-runner-v2", "Bearer",
		b64url(`{"kid":"fake"}`) + "." + b64url("{}") + ".x", "*.eu.payments.example.com",
		"Basic Plan Team <basic@example.com>", "Token Platform Team",
		"security+password-reset@example.com", "bearer", "https://api.example.com",
		"token-exchange", "payments:write", "openid", "gateway-error", "retriable-4xx",
		"https://payments.internal:8443/v2", "auth-token-service:8080", "payments/stripe-api-key",
		"Zm9vYmFy", "max-age=31536000; includeSubDomains", "default-src 'self'", "orders/token",
		`^Bearer .+$`, "application/json", "token_type", "refresh", "/docs/secrets-management",
	}
}

// routeStrings returns every string of m and of the messages in it, map
// keys included.
func routeStrings(m protoreflect.Message) []string {
	var out []string
	addValue := func(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
		switch {
		case fd.Kind() == protoreflect.StringKind:
			out = append(out, v.String())
		case fd.Message() != nil:
			out = append(out, routeStrings(v.Message())...)
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				addValue(fd, v.List().Get(i))
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				out = append(out, k.String())
				addValue(fd.MapValue(), mv)
				return true
			})
		default:
			addValue(fd, v)
		}
		return true
	})
	return out
}

// hintFragments are pieces of the random strings: every hint, the
// separators and characters that delimit tokens, runes that fold to
// ASCII letters (the long s and the Kelvin sign) and some bodies.
func hintFragments() []string {
	frags := []string{
		"=", ":", "?", "#", "&", "/", ".", "-", "_", " ", "@", "\u017f", "\u212a", "é", "\xff",
		fakeAlnum, fakeHex, fakeUpper, fakeBase64, fakeJWT, fakeBasic,
		"AccountKey=", "SharedAccessKey=", "aws_secret_access_key=", "password=", "Bearer ",
	}
	for _, d := range tokenDetectors {
		frags = append(frags, d.hints...)
		frags = append(frags, d.foldHints...)
	}
	for _, c := range contextHints {
		frags = append(frags, c.hints...)
	}
	return frags
}

// randomHintString returns a string of up to six fragments, each whole,
// cut short or with the case of its letters changed at random, or
// random letters and digits.
func randomHintString(r *rand.Rand, frags []string) string {
	var b strings.Builder
	for range r.IntN(7) {
		f := frags[r.IntN(len(frags))]
		switch r.IntN(5) {
		case 0:
			f = f[:r.IntN(len(f)+1)]
		case 1:
			f = randomCase(r, f)
		case 2:
			f = randomAlnum(r, r.IntN(45))
		}
		b.WriteString(f)
	}
	return b.String()
}

// randomAlnum returns n random letters and digits.
func randomAlnum(r *rand.Rand, n int) string {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return string(b)
}

// randomCase changes the case of each ASCII letter of s with even odds.
func randomCase(r *rand.Rand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if r.IntN(2) == 0 {
			b[i] = asciiUpper(c)
		} else {
			b[i] = asciiLower(c)
		}
	}
	return string(b)
}

// hintTestStrings returns the table values, the strings of the test
// routes, and n random strings built from the hints.
func hintTestStrings(n int) []string {
	out := tableValues()
	for _, r := range []proto.Message{validRoute(), redirectRoute()} {
		out = append(out, routeStrings(r.ProtoReflect())...)
	}
	r := rand.New(rand.NewPCG(1, 2))
	frags := hintFragments()
	for range n {
		out = append(out, randomHintString(r, frags))
	}
	return out
}

// hintTestNames are names that values belong to: none, AWS secret names
// in several spellings, and others.
var hintTestNames = []string{
	"", "aws-secret-access-key", "AWS_SECRET", "SecretAccessKey", "x-aws-\u017fecret",
	"Authorization", "team", "aw.s-secret",
}

// checkHints fails t unless scanHints and findText agree with their plain
// definitions on s.
func checkHints(t *testing.T, s string, withText bool) {
	t.Helper()
	if got, want := scanHints(s), plainHints(s); got != want {
		t.Fatalf("scanHints(%q) = %#x, want %#x", s, got, want)
	}
	if !withText {
		return
	}
	for _, name := range hintTestNames {
		got, want := findText(name, s), plainFindText(name, s)
		if (got == nil) != (want == nil) || got != nil && *got != *want {
			t.Fatalf("findText(%q, %q) = %v, want %v", name, s, got, want)
		}
	}
}

// TestScanHints checks scanHints and findText against their plain
// definitions on the test tables' values and on random strings made of
// hints, cut, joined and in mixed case.
func TestScanHints(t *testing.T) {
	n := 100000
	if testing.Short() {
		n = 10000
	}
	for i, s := range hintTestStrings(n) {
		checkHints(t, s, i%10 == 0)
	}
}

// TestScanHints_everyHint checks that each hint is found alone, at the
// start and at the end of a string, and in the other case if it folds.
func TestScanHints_everyHint(t *testing.T) {
	for _, h := range hintFragments() {
		for _, s := range []string{h, h + "~~", "~~" + h, strings.ToUpper(h), h[:len(h)-1]} {
			checkHints(t, s, true)
		}
	}
}

// TestFoldedNames checks the name folding that needs no allocation
// against foldName and strings.ToLower, on names with separators, both
// cases and runes whose lower case is an ASCII letter.
func TestFoldedNames(t *testing.T) {
	names := []string{"X-Api-Key", "x_api_key", "xapikey", "X-Amz-Security-Token",
		"x-api-\u212aey", "Coo\u212aie", "access.TOKEN", "\u017fig", "Passwörd", "",
		strings.Repeat("Long-Header-Name-", 8)}
	for k := range credentialHeaders {
		names = append(names, k, strings.ToUpper(k))
	}
	for k := range credentialParams {
		names = append(names, k, strings.ToUpper(k))
	}
	r := rand.New(rand.NewPCG(3, 4))
	frags := append(hintFragments(), names...)
	for range 20000 {
		names = append(names, randomHintString(r, frags))
	}
	for _, name := range names {
		if got, want := string(appendFoldName(nil, name)), foldName(name); got != want {
			t.Fatalf("appendFoldName(%q) = %q, want %q", name, got, want)
		}
		if got, want := isCredentialHeader(name), credentialHeaders[strings.ToLower(name)]; got != want {
			t.Fatalf("isCredentialHeader(%q) = %v, want %v", name, got, want)
		}
		if got, want := isCredentialParam(name), credentialParams[foldName(name)]; got != want {
			t.Fatalf("isCredentialParam(%q) = %v, want %v", name, got, want)
		}
		if got, want := isAWSSecretName(name), plainIsAWSSecretName(name); got != want {
			t.Fatalf("isAWSSecretName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestURLCredentialsError checks that skipping the parse of a URL
// without "@" changes no result.
func TestURLCredentialsError(t *testing.T) {
	urls := []string{"https://a.internal:8443/x", "https://u:p@h/x", "https://u@h", "//u@h/x",
		"http://h/p?access_token=x", "h@x", "https://h/p?x=1#sig=y", "https://h/p%zz?token=1",
		"mailto:user@example.com", "https://[::1]:80/?api_key=1", "http://h/a@b?sig=1"}
	r := rand.New(rand.NewPCG(5, 6))
	frags := append(hintFragments(), "https://", "//", "u:p@", "@", "?api_key=1", "#sig=2", "%")
	for range 20000 {
		urls = append(urls, randomHintString(r, frags))
	}
	for _, u := range urls {
		got, want := urlCredentialsError(u), plainURLCredentialsError(u)
		if (got == nil) != (want == nil) || got != nil && *got != *want {
			t.Fatalf("urlCredentialsError(%q) = %v, want %v", u, got, want)
		}
	}
}

// FuzzScanHints checks scanHints and findText against their plain
// definitions on arbitrary strings.
func FuzzScanHints(f *testing.F) {
	for _, s := range hintTestStrings(100) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkHints(t, s, true)
	})
}
