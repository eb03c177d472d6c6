// Package policy decides what a caller may do once package identity has said
// who it is: which scopes it may read (stream and list), which it may change,
// and whether it may use the admin API.
//
// A policy is a list of rules read from YAML. Each rule matches SPIFFE IDs,
// either one exactly (id) or every ID under a path (id_prefix), and grants
// admin, read or write on scope patterns. Whatever no rule grants is denied.
//
//	rules:
//	  - id: spiffe://routecast.test/operator/alice
//	    admin: true
//	  - id_prefix: spiffe://routecast.test/agent/payments
//	    read: [payments/staging, payments/canary]
//	  - id_prefix: spiffe://routecast.test/ci
//	    write: ["payments/*"]
package policy

import (
	"strings"
	"sync/atomic"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Policy is a parsed set of rules. It is immutable, so one Policy may be
// shared by any number of goroutines. A nil *Policy denies everything.
type Policy struct {
	grants []grant
}

// grant is one compiled rule.
type grant struct {
	who   idMatcher
	admin bool
	read  []pattern // also holds the write patterns, since write implies read
	write []pattern
}

// idMatcher matches SPIFFE IDs: exactly id, or with prefix set every ID in
// the same trust domain whose path equals id's path or continues it by whole
// segments.
type idMatcher struct {
	id     spiffeid.ID
	prefix bool
}

func (m idMatcher) matches(id spiffeid.ID) bool {
	if !m.prefix {
		return id == m.id
	}
	if !id.MemberOf(m.id.TrustDomain()) {
		return false
	}
	want, got := m.id.Path(), id.Path()
	return want == "" || got == want || strings.HasPrefix(got, want+"/")
}

// CanRead reports whether id may stream and read the routes of scope, a
// concrete "tenant/environment". Read, write and admin all grant it.
func (p *Policy) CanRead(id spiffeid.ID, scope string) bool {
	return p.allows(id, scope, func(g *grant) []pattern { return g.read })
}

// CanWrite reports whether id may change the routes of scope, a concrete
// "tenant/environment". Write and admin grant it.
func (p *Policy) CanWrite(id spiffeid.ID, scope string) bool {
	return p.allows(id, scope, func(g *grant) []pattern { return g.write })
}

// IsAdmin reports whether id may use the admin API, on every scope.
func (p *Policy) IsAdmin(id spiffeid.ID) bool {
	if p == nil {
		return false
	}
	for i := range p.grants {
		if g := &p.grants[i]; g.admin && g.who.matches(id) {
			return true
		}
	}
	return false
}

// allows reports whether a grant that matches id is admin or has a pattern,
// of those that patterns picks, that covers scope.
func (p *Policy) allows(id spiffeid.ID, scope string, patterns func(*grant) []pattern) bool {
	if p == nil {
		return false
	}
	tenant, env, ok := splitScope(scope)
	if !ok {
		return false
	}
	for i := range p.grants {
		g := &p.grants[i]
		if !g.who.matches(id) {
			continue
		}
		if g.admin {
			return true
		}
		for _, pat := range patterns(g) {
			if pat.covers(tenant, env) {
				return true
			}
		}
	}
	return false
}

// Holder holds the policy in force for readers on many goroutines, and lets
// a reloader replace it. The zero Holder holds no policy, which denies
// everything.
type Holder struct {
	p atomic.Pointer[Policy]
}

// NewHolder returns a Holder that holds p.
func NewHolder(p *Policy) *Holder {
	h := &Holder{}
	h.Store(p)
	return h
}

// Load returns the policy in force, or nil if none was stored.
func (h *Holder) Load() *Policy {
	return h.p.Load()
}

// Store makes p the policy in force for every later Load.
func (h *Holder) Store(p *Policy) {
	h.p.Store(p)
}
