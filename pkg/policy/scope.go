package policy

import (
	"errors"
	"fmt"
	"strings"
)

// wildcard stands for any tenant or any environment in a scope pattern.
const wildcard = "*"

// pattern is a parsed scope pattern: "tenant/environment", "tenant/*", or
// "*", which is held as tenant and environment both wildcard.
type pattern struct {
	tenant, env string
}

// parsePattern parses and checks a scope pattern.
func parsePattern(s string) (pattern, error) {
	if s == wildcard {
		return pattern{tenant: wildcard, env: wildcard}, nil
	}
	tenant, env, ok := strings.Cut(s, "/")
	if !ok {
		return pattern{}, fmt.Errorf(`%w %q: want "tenant/environment", "tenant/*" or "*"`,
			ErrBadScope, s)
	}
	if err := checkLabel(tenant); err != nil {
		return pattern{}, fmt.Errorf("%w %q: tenant %w", ErrBadScope, s, err)
	}
	if env != wildcard {
		if err := checkLabel(env); err != nil {
			return pattern{}, fmt.Errorf("%w %q: environment %w", ErrBadScope, s, err)
		}
	}
	return pattern{tenant: tenant, env: env}, nil
}

// covers reports whether the pattern includes the scope tenant/env.
func (p pattern) covers(tenant, env string) bool {
	return (p.tenant == wildcard || p.tenant == tenant) && (p.env == wildcard || p.env == env)
}

// splitScope splits a concrete scope into its tenant and environment, and
// reports whether both are valid labels.
func splitScope(scope string) (tenant, env string, ok bool) {
	tenant, env, ok = strings.Cut(scope, "/")
	if !ok || checkLabel(tenant) != nil || checkLabel(env) != nil {
		return "", "", false
	}
	return tenant, env, true
}

// checkLabel checks that s is a lowercase DNS label (RFC 1123): 1 to 63
// lowercase letters, digits and hyphens, starting and ending with a letter
// or digit.
func checkLabel(s string) error {
	if s == "" || len(s) > 63 {
		return errors.New("must be 1 to 63 characters long")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return fmt.Errorf("%q is not a lowercase DNS label", s)
		}
	}
	return nil
}
