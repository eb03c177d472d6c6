package routes

import (
	"time"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Limits on policy values.
const (
	maxTimeout       = time.Hour
	maxRetryAttempts = 10
)

// authSchemes are the schemes an auth requirement may name.
var authSchemes = map[string]bool{
	"bearer": true, "oauth2": true, "api-key": true, "basic": true, "mtls": true, "jwt": true,
}

func checkPolicy(r *routecastv1.Route) error {
	p := r.GetPolicy()
	if p == nil {
		return nil
	}
	if err := checkTimeout("policy.timeout", p.GetTimeout()); err != nil {
		return err
	}
	if err := checkRetries("policy.retries", p.GetRetries()); err != nil {
		return err
	}
	if rl := p.GetRateLimit(); rl != nil && rl.GetRequestsPerSecond() == 0 {
		return fieldErrorf("policy.rate_limit.requests_per_second", "must be at least 1")
	}
	return checkAuth("policy.auth", p.GetAuth())
}

// checkTimeout checks an optional duration from zero to an hour.
func checkTimeout(field string, d *durationpb.Duration) error {
	if d == nil {
		return nil
	}
	if err := d.CheckValid(); err != nil {
		return fieldErrorf(field, "is not a valid duration")
	}
	switch v := d.AsDuration(); {
	case v < 0:
		return fieldErrorf(field, "%v must not be negative", v)
	case v > maxTimeout:
		return fieldErrorf(field, "%v is longer than the maximum of %v", v, maxTimeout)
	}
	return nil
}

func checkRetries(field string, rp *routecastv1.RetryPolicy) error {
	if rp == nil {
		return nil
	}
	if rp.GetAttempts() > maxRetryAttempts {
		return fieldErrorf(field+".attempts", "%d is more than the maximum of %d",
			rp.GetAttempts(), maxRetryAttempts)
	}
	if err := checkTimeout(field+".per_try_timeout", rp.GetPerTryTimeout()); err != nil {
		return err
	}
	return checkWords(field+".retry_on", rp.GetRetryOn())
}

func checkAuth(field string, a *routecastv1.AuthRequirement) error {
	if a == nil {
		return nil
	}
	if !authSchemes[a.GetScheme()] {
		return fieldErrorf(field+".scheme",
			"%q is not one of bearer, oauth2, api-key, basic, mtls or jwt", a.GetScheme())
	}
	if hasControl(a.GetAudience()) {
		return fieldErrorf(field+".audience", "must not contain control characters")
	}
	if err := checkWords(field+".scopes", a.GetScopes()); err != nil {
		return err
	}
	return checkOptionalSecretRef(field+".secret_ref", a.GetSecretRef())
}

// checkWords checks a list of non-empty strings without whitespace or
// control characters, such as retry conditions or OAuth2 scopes.
func checkWords(field string, words []string) error {
	for i, w := range words {
		if w == "" {
			return fieldErrorf(indexField(field, i), "must not be empty")
		}
		for _, c := range w {
			if c <= ' ' || c == 0x7f {
				return fieldErrorf(indexField(field, i),
					"%q must not contain whitespace or control characters", w)
			}
		}
	}
	return nil
}
