package policy

import "errors"

// The errors below reach callers wrapped in a *ParseError, which says where
// in the document the mistake is; Parse and Load add the package prefix, so
// the texts here have none.
var (
	// ErrRuleID is wrapped when a rule sets neither or both of id and
	// id_prefix.
	ErrRuleID = errors.New("a rule needs exactly one of id and id_prefix")

	// ErrBadID is wrapped when id or id_prefix is not a valid SPIFFE ID, or
	// an exact id names a bare trust domain.
	ErrBadID = errors.New("invalid SPIFFE ID")

	// ErrBadScope is wrapped when a scope pattern is not "tenant/environment",
	// "tenant/*" or "*" with lowercase DNS labels for tenant and environment.
	ErrBadScope = errors.New("invalid scope pattern")

	// ErrNoGrant is wrapped when a rule grants neither admin, read nor
	// write.
	ErrNoGrant = errors.New("rule grants nothing: set admin, read or write")

	// ErrExtraDocument is wrapped when the data holds more than one YAML
	// document.
	ErrExtraDocument = errors.New("more than one YAML document")
)
