package routes

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
)

// The fake credentials of these tests are put together from pieces, so
// that no literal in this file has the shape of a real token.

// fake returns n characters that cycle through pattern.
func fake(pattern string, n int) string {
	return strings.Repeat(pattern, n/len(pattern)+1)[:n]
}

// Bodies of fake tokens: letters of both cases and digits, hex digits,
// upper-case letters and digits, and base64 characters.
var (
	fakeAlnum  = fake("Fake0", 40)
	fakeHex    = fake("0f", 32)
	fakeUpper  = fake("FAKE0", 16)
	fakeBase64 = fake("Fake0/+", 40)
)

// b64url encodes s as base64url without padding, like a JWT part.
func b64url(s string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// fakeJWT is a JWT with a fake signature.
var fakeJWT = b64url(`{"alg":"HS256","typ":"JWT"}`) + "." + b64url(`{"sub":"fake"}`) + "." +
	fakeAlnum

// fakePrivateKey is the first line of a PEM private key block.
var fakePrivateKey = strings.Repeat("-", 5) + "BEGIN RSA " + "PRIVATE KEY" + strings.Repeat("-", 5)

// fakeBasic is HTTP Basic credentials for a fake user.
var fakeBasic = base64.StdEncoding.EncodeToString([]byte("fake-user:Fake0Fake0"))

// addRequestHeader makes the request header filter of validRoute set one
// more header, at set[1].
func addRequestHeader(r *route, name, value string) {
	hm := r.Filters[1].GetRequestHeaders()
	hm.Set = append(hm.Set, &routecastv1.Header{Name: name, Value: value})
}

// addQueryParam adds an exact query parameter condition, at
// query_params[1] of validRoute.
func addQueryParam(r *route, name, value string) {
	r.Match.QueryParams = append(r.Match.QueryParams,
		&routecastv1.KeyValueMatch{Name: name, Value: value})
}

// TestValidate_credentials checks that a credential anywhere in a route is
// rejected with an error that names the field and the kind of credential,
// asks for secret_ref, and does not quote the secret.
func TestValidate_credentials(t *testing.T) {
	tests := []struct {
		name   string
		secret string // the part of the value that must not be quoted
		edit   func(r *route, secret string)
		field  string
		found  string // a phrase the reason must contain
	}{
		{"bearer-header-value", fakeAlnum, func(r *route, s string) {
			addRequestHeader(r, "X-Upstream-Auth", "Bearer "+s)
		}, "filters[1].request_headers.set[1].value", "Authorization header value"},
		{"token-scheme-header-value", fakeHex, func(r *route, s string) {
			addRequestHeader(r, "X-Forwarded-Auth", "Token "+s)
		}, "filters[1].request_headers.set[1].value", "Authorization header value"},
		{"basic-authorization", fakeBasic, func(r *route, s string) {
			addRequestHeader(r, "Authorization", "Basic "+s)
		}, "filters[1].request_headers.set[1].value", "HTTP Basic credentials"},
		{"literal-authorization", "letmein-please", func(r *route, s string) {
			addRequestHeader(r, "Authorization", s)
		}, "filters[1].request_headers.set[1].value", "Authorization header"},
		{"literal-api-key", "partner-key-7", func(r *route, s string) {
			r.Filters[1].GetRequestHeaders().Set[0] = &routecastv1.Header{
				Name: "X-Api-Key", Value: s}
		}, "filters[1].request_headers.set[0].value", "X-Api-Key header"},
		{"literal-proxy-authorization", "hunter2", func(r *route, s string) {
			hm := r.Filters[1].GetRequestHeaders()
			hm.Add = append(hm.Add, &routecastv1.Header{Name: "proxy-authorization", Value: s})
		}, "filters[1].request_headers.add[1].value", "proxy-authorization header"},
		{"literal-cookie", "session=fake0", func(r *route, s string) {
			addRequestHeader(r, "Cookie", s)
		}, "filters[1].request_headers.set[1].value", "Cookie header"},
		{"literal-set-cookie", "sid=fake0", func(r *route, s string) {
			hm := r.Filters[2].GetResponseHeaders()
			hm.Set = []*routecastv1.Header{{Name: "Set-Cookie", Value: s}}
		}, "filters[2].response_headers.set[0].value", "Set-Cookie header"},
		{"literal-auth-token", "opaque", func(r *route, s string) {
			addRequestHeader(r, "x-auth-token", s)
		}, "filters[1].request_headers.set[1].value", "x-auth-token header"},
		{"jwt-label", fakeJWT, func(r *route, s string) { r.Labels["token"] = s },
			`labels["token"]`, "JSON Web Token"},
		{"jwt-audience", fakeJWT, func(r *route, s string) { r.Policy.Auth.Audience = s },
			"policy.auth.audience", "JSON Web Token"},
		{"jwt-path", fakeJWT, func(r *route, s string) { r.Match.Path = prefix("/callback/" + s) },
			"match.path.prefix", "JSON Web Token"},
		{"private-key-owner", "PRIVATE KEY", func(r *route, s string) { r.Owner = fakePrivateKey },
			"owner", "PEM private key"},
		{"aws-key-id-match-header", fakeUpper, func(r *route, s string) {
			r.Match.Headers[0].Value = "AK" + "IA" + s
		}, "match.headers[0].value", "AWS access key ID"},
		{"aws-temporary-key-id", fakeUpper, func(r *route, s string) {
			r.Labels["creds"] = "AS" + "IA" + s
		}, `labels["creds"]`, "AWS temporary access key ID"},
		{"aws-secret-label", fakeBase64, func(r *route, s string) {
			r.Labels["aws-secret-access-key"] = s
		}, `labels["aws-secret-access-key"]`, "AWS secret access key"},
		{"aws-secret-assignment", fakeBase64, func(r *route, s string) {
			r.Owner = "ops aws_secret_access_key=" + s
		}, "owner", "AWS secret access key"},
		{"github-pat-match-header", fakeAlnum, func(r *route, s string) {
			r.Match.Headers[0].Value = "gh" + "p_" + s[:36]
		}, "match.headers[0].value", "GitHub personal access token"},
		{"github-fine-grained", fakeAlnum, func(r *route, s string) {
			r.Filters[1].GetRequestHeaders().Add[0].Value = "github" + "_pat_" + s
		}, "filters[1].request_headers.add[0].value", "GitHub fine-grained"},
		{"github-oauth-in-regex", fakeAlnum, func(r *route, s string) {
			r.Match.Headers[1].Value = "^token " + "gh" + "o_" + s + "$"
		}, "match.headers[1].value", "GitHub OAuth access token"},
		{"github-token-as-secret-ref", fakeAlnum, func(r *route, s string) {
			r.Upstream.TlsSecretRef = "gh" + "s_" + s
		}, "upstream.tls_secret_ref", "GitHub installation access token"},
		{"github-token-label-key", fakeAlnum, func(r *route, s string) {
			r.Labels["gh"+"r_"+s] = "x"
		}, `labels["gh` + `r_…"]`, "key looks like a GitHub refresh token"},
		{"gitlab-in-path-regex", fakeAlnum, func(r *route, s string) {
			r.Match.Path, r.Filters = regex("/hooks/gl"+"pat-"+s+"/.*"), nil
		}, "match.path.regex", "GitLab personal access token"},
		{"slack-bot-token-label", fakeAlnum, func(r *route, s string) {
			r.Labels["notify"] = "xo" + "xb-0000-" + s
		}, `labels["notify"]`, "Slack bot token"},
		{"slack-app-token-retry-on", fakeAlnum, func(r *route, s string) {
			r.Policy.Retries.RetryOn[1] = "xa" + "pp-1-" + s
		}, "policy.retries.retry_on[1]", "Slack app-level token"},
		{"slack-webhook-upstream", fakeAlnum, func(r *route, s string) {
			r.Upstream = &routecastv1.Upstream{
				Url: "https://hooks." + "slack.com/services/T0FAKE/B0FAKE/" + s}
		}, "upstream.url", "Slack incoming webhook URL"},
		{"slack-webhook-redirect", fakeAlnum, func(r *route, s string) {
			replace(r, redirectRoute())
			r.Filters[0].GetRedirect().Hostname = "hooks." + "slack.com"
			r.Filters[0].GetRedirect().Path = "/services/T0FAKE/B0FAKE/" + s
		}, "filters[0].redirect.path", "Slack incoming webhook URL"},
		{"stripe-live-query-param", fakeAlnum, func(r *route, s string) {
			addQueryParam(r, "page", "1")
			addQueryParam(r, "key", "sk"+"_live_"+s)
		}, "match.query_params[2].value", "Stripe live secret key"},
		{"stripe-restricted-scope", fakeAlnum, func(r *route, s string) {
			r.Policy.Auth.Scopes = []string{"rk" + "_live_" + s}
		}, "policy.auth.scopes[0]", "Stripe live restricted key"},
		{"google-key-in-url-query", fakeAlnum, func(r *route, s string) {
			r.Upstream = &routecastv1.Upstream{
				Url: "https://maps.example.com/api?key=" + "AI" + "za" + s[:35]}
		}, "upstream.url", "Google API key"},
		{"openai-project-key", fakeAlnum, func(r *route, s string) {
			hm := r.Filters[2].GetResponseHeaders()
			hm.Add = []*routecastv1.Header{{Name: "X-Debug", Value: "sk" + "-proj-" + s}}
		}, "filters[2].response_headers.add[0].value", "OpenAI-style API key"},
		{"openai-key-owner", fakeAlnum, func(r *route, s string) {
			r.Owner = "ml-team sk" + "-" + s
		}, "owner", "OpenAI-style API key"},
		{"npm-token-rewrite-path", fakeAlnum, func(r *route, s string) {
			r.Match.Path = exact("/a")
			r.Filters = []*routecastv1.RouteFilter{rewrite(&routecastv1.UrlRewrite{
				Path: &routecastv1.UrlRewrite_ReplaceFullPath{ReplaceFullPath: "/npm" + "_" + s},
			})}
		}, "filters[0].url_rewrite.replace_full_path", "npm access token"},
		{"pypi-token-label", fakeAlnum, func(r *route, s string) {
			r.Labels["publish"] = "py" + "pi-AgEI" + s
		}, `labels["publish"]`, "PyPI API token"},
		{"sendgrid-key-header", fakeAlnum, func(r *route, s string) {
			addRequestHeader(r, "X-Mail-Key", "S"+"G."+s[:22]+"."+s)
		}, "filters[1].request_headers.set[1].value", "SendGrid API key"},
		{"twilio-key-scope", fakeHex, func(r *route, s string) {
			r.Policy.Auth.Scopes = []string{"orders.read", "S" + "K" + s}
		}, "policy.auth.scopes[1]", "Twilio API key"},
		{"mailgun-key-retry-on", fakeHex, func(r *route, s string) {
			r.Policy.Retries.RetryOn[0] = "ke" + "y-" + s
		}, "policy.retries.retry_on[0]", "Mailgun API key"},
		{"azure-connection-string", fakeBase64, func(r *route, s string) {
			r.Labels["storage"] = "DefaultEndpointsProtocol=https;AccountName=fake;Account" +
				"Key=" + s + "==;EndpointSuffix=core.windows.net"
		}, `labels["storage"]`, "Azure connection string key"},
		{"password-assignment", "Fake0Fake0", func(r *route, s string) {
			r.Labels["db"] = "host=db user=app pass" + "word=" + s
		}, `labels["db"]`, "password or secret assignment"},
		{"url-userinfo-password", "Fake0Fake0", func(r *route, s string) {
			r.Upstream = &routecastv1.Upstream{Url: "https://app:" + s + "@orders.internal/v2"}
		}, "upstream.url", "password in its user information"},
		{"url-userinfo", "fake0user", func(r *route, s string) {
			r.Upstream = &routecastv1.Upstream{Url: "https://" + s + "@orders.internal/v2"}
		}, "upstream.url", "has user information"},
		{"url-access-token", "Fake0Fake0", func(r *route, s string) {
			r.Upstream = &routecastv1.Upstream{Url: "https://orders.internal/v2?access_token=" + s}
		}, "upstream.url", `"access_token" query parameter`},
		{"url-amz-signature", fakeHex, func(r *route, s string) {
			r.Upstream = &routecastv1.Upstream{
				Url: "https://bucket.example.com/o?X-Amz-Date=20260101&X-Amz-Signature=" + s}
		}, "upstream.url", `"X-Amz-Signature" query parameter`},
		{"path-query-api-key", "Fake0Fake0", func(r *route, s string) {
			r.Match.Path = prefix("/v2/orders?api_key=" + s)
		}, "match.path.prefix", `"api_key" query parameter`},
		{"redirect-path-sas-signature", "Fake0Fake0", func(r *route, s string) {
			replace(r, redirectRoute())
			r.Filters[0].GetRedirect().Path = "/download?sv=2026-01-01&sig=" + s
		}, "filters[0].redirect.path", `"sig" query parameter`},
		{"match-query-api-key", "Fake0Fake0", func(r *route, s string) {
			addQueryParam(r, "api_key", s)
		}, "match.query_params[1].value", `"api_key" query parameter`},
		{"match-header-bearer", fakeAlnum, func(r *route, s string) {
			r.Match.Headers[0] = &routecastv1.KeyValueMatch{
				Name: "Authorization", Value: "Bearer " + s}
		}, "match.headers[0].value", "Authorization header value"},
		{"match-header-literal-api-key", "partner-key-7", func(r *route, s string) {
			r.Match.Headers[0] = &routecastv1.KeyValueMatch{Name: "X-Api-Key", Value: s}
		}, "match.headers[0].value", "X-Api-Key header"},
		{"token-redirect-hostname", fakeAlnum, func(r *route, s string) {
			replace(r, redirectRoute())
			r.Filters[0].GetRedirect().Hostname = "gh" + "p_" + s
		}, "filters[0].redirect.hostname", "GitHub personal access token"},
		{"token-route-name", fakeAlnum, func(r *route, s string) { r.Name = "gl" + "pat-" + s },
			"name", "GitLab personal access token"},
		{"token-scope", fakeAlnum, func(r *route, s string) { r.Scope = "orders/npm" + "_" + s },
			"scope", "npm access token"},
		{"token-backend-cluster", fakeAlnum, func(r *route, s string) {
			r.Upstream.Backends[1].Cluster = "gh" + "u_" + s
		}, "upstream.backends[1].cluster", "GitHub user access token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRoute()
			tt.edit(r, tt.secret)
			err := Validate(r)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a *FieldError for field %q", err, tt.field)
			}
			if fe.Field != tt.field {
				t.Errorf("Validate() field = %q, want %q (%v)", fe.Field, tt.field, err)
			}
			if !strings.Contains(fe.Reason, tt.found) ||
				!strings.Contains(fe.Reason, "secret_ref") {
				t.Errorf("Validate() reason = %q, want it to say %q and secret_ref",
					fe.Reason, tt.found)
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Errorf("Validate() = %q, which quotes the secret", err)
			}
		})
	}
}

// TestValidate_notCredentials checks that ordinary values that share
// words, characters or shapes with credentials pass.
func TestValidate_notCredentials(t *testing.T) {
	tests := []struct {
		name string
		edit func(r *route)
	}{
		{"path-template", func(r *route) {
			r.Match.Path, r.Filters = template("/v1/payments/{id}"), nil
		}},
		{"version-prefix", func(r *route) { r.Match.Path = prefix("/api/v0") }},
		{"well-known-jwks", func(r *route) {
			r.Match.Path, r.Filters = exact("/.well-known/jwks.json"), nil
		}},
		{"sha256-digest", func(r *route) {
			r.Match.Path = prefix(
				"/blobs/sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
		}},
		{"git-sha", func(r *route) {
			r.Match.Path, r.Filters = exact("/commits/"+fake("a1b2c3d4", 40)), nil
		}},
		{"token-exchange-segment", func(r *route) {
			r.Match.Path = prefix("/oauth/token-exchange")
		}},
		{"password-reset-segment", func(r *route) {
			r.Match.Path = prefix("/account/password-reset")
		}},
		{"secrets-template", func(r *route) {
			r.Match.Path, r.Filters = template("/v2/secrets/{name}/versions"), nil
		}},
		{"path-regex", func(r *route) { r.Match.Path, r.Filters = regex(`^/v[0-9]+/.*`), nil }},
		{"uuid-label", func(r *route) {
			r.Labels["request-id"] = "123e4567-e89b-12d3-a456-426614174000"
		}},
		{"team-label", func(r *route) { r.Labels["team"] = "team-payments" }},
		{"version-label", func(r *route) { r.Labels["version"] = "v1.2.3-rc.1" }},
		{"short-base64-label", func(r *route) { r.Labels["id"] = "dXNlcjE" }},
		{"secret-store-label", func(r *route) { r.Labels["secret-store"] = "vault" }},
		{"aws-region-label", func(r *route) { r.Labels["aws-region"] = "us-east-1" }},
		{"base64-without-aws-name", func(r *route) { r.Labels["build"] = fakeBase64 }},
		{"sk-name-label", func(r *route) { r.Labels["pipeline"] = "sk-learn-pipeline-runner-v2" }},
		{"bearer-word-label", func(r *route) { r.Labels["auth"] = "Bearer" }},
		{"not-a-jwt-header", func(r *route) {
			r.Labels["ref"] = b64url(`{"kid":"fake"}`) + "." + b64url("{}") + ".x"
		}},
		{"dotted-hosts", func(r *route) {
			r.Match.Hosts = []string{"api.payments.example.com", "*.eu.payments.example.com"}
		}},
		{"basic-plan-owner", func(r *route) { r.Owner = "Basic Plan Team <basic@example.com>" }},
		{"token-team-owner", func(r *route) { r.Owner = "Token Platform Team" }},
		{"password-reset-owner", func(r *route) {
			r.Owner = "security+password-reset@example.com"
		}},
		{"bearer-scheme", func(r *route) { r.Policy.Auth.Scheme = "bearer" }},
		{"url-audience", func(r *route) { r.Policy.Auth.Audience = "https://api.example.com" }},
		{"token-exchange-audience", func(r *route) { r.Policy.Auth.Audience = "token-exchange" }},
		{"scopes", func(r *route) { r.Policy.Auth.Scopes = []string{"payments:write", "openid"} }},
		{"retry-on", func(r *route) {
			r.Policy.Retries.RetryOn = []string{"gateway-error", "retriable-4xx"}
		}},
		{"url-upstream", func(r *route) {
			r.Upstream = &routecastv1.Upstream{Url: "https://payments.internal:8443/v2"}
		}},
		{"auth-cluster", func(r *route) {
			r.Upstream.Backends[0].Cluster = "auth-token-service:8080"
		}},
		{"secret-ref", func(r *route) { r.Upstream.TlsSecretRef = "payments/stripe-api-key" }},
		{"request-id-header", func(r *route) { addRequestHeader(r, "X-Request-Id", "Zm9vYmFy") }},
		{"hsts-header", func(r *route) {
			addRequestHeader(r, "Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}},
		{"csp-header", func(r *route) {
			addRequestHeader(r, "Content-Security-Policy", "default-src 'self'")
		}},
		{"authorization-secret-ref", func(r *route) {
			hm := r.Filters[1].GetRequestHeaders()
			hm.Set = append(hm.Set,
				&routecastv1.Header{Name: "Authorization", SecretRef: "orders/token"})
		}},
		{"remove-authorization", func(r *route) {
			r.Filters[2].GetResponseHeaders().Remove = []string{"Authorization", "Set-Cookie"}
		}},
		{"authorization-regex", func(r *route) {
			r.Match.Headers[1] = &routecastv1.KeyValueMatch{Name: "Authorization",
				Value: `^Bearer .+$`, Type: routecastv1.MatchType_MATCH_TYPE_REGEX}
		}},
		{"accept-header", func(r *route) { r.Match.Headers[0].Value = "application/json" }},
		{"token-type-param", func(r *route) { addQueryParam(r, "token_type", "refresh") }},
		{"page-param", func(r *route) { addQueryParam(r, "page", "2") }},
		{"redirect-docs", func(r *route) {
			replace(r, redirectRoute())
			r.Filters[0].GetRedirect().Path = "/docs/secrets-management"
		}},
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

// TestCheckCredentials_message checks the whole error for one credential,
// and that a batch names the route.
func TestCheckCredentials_message(t *testing.T) {
	r := validRoute()
	addRequestHeader(r, "X-Upstream-Token", "gh"+"p_"+fake("Fake0", 36))
	want := &FieldError{
		Field: "filters[1].request_headers.set[1].value",
		Reason: "looks like a GitHub personal access token (ghp_…); " +
			"put credentials in a secret and name it with secret_ref",
	}
	var got *FieldError
	if !errors.As(CheckCredentials(r), &got) {
		t.Fatalf("CheckCredentials() returned no *FieldError")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CheckCredentials() mismatch (-want +got):\n%s", diff)
	}

	err := ValidateBatch([]*routecastv1.Route{validRoute(), r}, nil)
	if !errors.As(err, &got) || got.Field != "puts[1]."+want.Field {
		t.Errorf("ValidateBatch() = %v, want field puts[1].%s", err, want.Field)
	}
	if err := CheckCredentials(nil); err != nil {
		t.Errorf("CheckCredentials(nil) = %v, want nil", err)
	}
}
