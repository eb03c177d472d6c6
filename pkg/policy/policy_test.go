package policy_test

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/routecast/routecast/pkg/policy"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"go.uber.org/goleak"
)

const testPolicy = `
# who may do what
rules:
  - id: spiffe://routecast.test/operator/alice      # exact SPIFFE ID
    admin: true
  - id_prefix: spiffe://routecast.test/agent/payments
    read: [payments/staging, payments/canary]
  - id_prefix: spiffe://routecast.test/ci
    write: ["payments/*"]
  - id_prefix: spiffe://routecast.test/ns/team1
    read: ["team1/*"]
  - id_prefix: spiffe://partner.test
    read: ["*"]
`

func mustParse(t *testing.T, doc string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

// access is what a policy allows one identity on one scope.
type access struct {
	Read, Write, Admin bool
}

func accessOf(p *policy.Policy, id spiffeid.ID, scope string) access {
	return access{Read: p.CanRead(id, scope), Write: p.CanWrite(id, scope), Admin: p.IsAdmin(id)}
}

// TestPolicy_matching checks which identities get which access, including
// prefixes that end mid-segment, a bare trust domain prefix, foreign trust
// domains and malformed scopes.
func TestPolicy_matching(t *testing.T) {
	p := mustParse(t, testPolicy)
	const rc = "spiffe://routecast.test"
	var (
		none  = access{}
		read  = access{Read: true}
		write = access{Read: true, Write: true}
		admin = access{Read: true, Write: true, Admin: true}
	)
	tests := []struct {
		name  string
		id    string // empty means the zero ID
		scope string
		want  access
	}{
		{"admin_any_scope", rc + "/operator/alice", "payments/production", admin},
		{"admin_other_tenant", rc + "/operator/alice", "billing/dev", admin},
		{"admin_bad_scope", rc + "/operator/alice", "payments", access{Admin: true}},
		{"exact_id_not_children", rc + "/operator/alice/laptop", "payments/dev", none},
		{"exact_id_other", rc + "/operator/bob", "payments/dev", none},
		{"prefix_itself", rc + "/agent/payments", "payments/staging", read},
		{"prefix_child", rc + "/agent/payments/host-1", "payments/canary", read},
		{"prefix_unlisted_scope", rc + "/agent/payments/host-1", "payments/production", none},
		{"prefix_mid_segment", rc + "/agent/payments-eu/host-1", "payments/staging", none},
		{"prefix_longer_segment", rc + "/agent/paymentsx", "payments/staging", none},
		{"prefix_parent", rc + "/agent", "payments/staging", none},
		{"write_implies_read", rc + "/ci", "payments/production", write},
		{"write_child", rc + "/ci/runner-7", "payments/staging", write},
		{"write_other_tenant", rc + "/ci", "billing/production", none},
		{"write_pattern_is_no_scope", rc + "/ci", "payments/*", none},
		{"team1", rc + "/ns/team1", "team1/dev", read},
		{"team1_child", rc + "/ns/team1/x", "team1/dev", read},
		{"team10", rc + "/ns/team10", "team1/dev", none},
		{"bare_trust_domain", "spiffe://partner.test/anything/at/all", "billing/production", read},
		{"bare_trust_domain_no_write", "spiffe://partner.test/ci", "payments/production", read},
		{"foreign_admin_path", "spiffe://evil.test/operator/alice", "payments/production", none},
		{"foreign_prefix_path", "spiffe://evil.test/ci", "payments/production", none},
		{"foreign_bare_domain", "spiffe://partner.test.evil/x", "billing/production", none},
		{"zero_id", "", "payments/production", none},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var id spiffeid.ID
			if tt.id != "" {
				id = spiffeid.RequireFromString(tt.id)
			}
			if diff := cmp.Diff(tt.want, accessOf(p, id, tt.scope)); diff != "" {
				t.Errorf("%s on %q (-want +got):\n%s", tt.id, tt.scope, diff)
			}
		})
	}
}

// TestPolicy_denyByDefault checks that empty and missing policies deny.
func TestPolicy_denyByDefault(t *testing.T) {
	alice := spiffeid.RequireFromString("spiffe://routecast.test/operator/alice")
	tests := []struct {
		name string
		p    *policy.Policy
	}{
		{name: "nil", p: nil},
		{name: "empty_document", p: mustParse(t, "")},
		{name: "comments_only", p: mustParse(t, "# nothing yet\n")},
		{name: "no_rules", p: mustParse(t, "rules: []\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := accessOf(tt.p, alice, "payments/production"); got != (access{}) {
				t.Errorf("access = %+v, want none", got)
			}
		})
	}
}

// TestHolder checks that a Holder hands out what was stored last, also to
// readers on other goroutines.
func TestHolder(t *testing.T) {
	defer goleak.VerifyNone(t)
	alice := spiffeid.RequireFromString("spiffe://routecast.test/operator/alice")
	first := mustParse(t, testPolicy)
	second := mustParse(t, "rules: []\n")

	var zero policy.Holder
	if zero.Load() != nil || zero.Load().IsAdmin(alice) {
		t.Error("the zero Holder holds a policy that grants admin")
	}

	h := policy.NewHolder(first)
	if h.Load() != first {
		t.Fatal("Load does not return the policy given to NewHolder")
	}

	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				h.Load().IsAdmin(alice)
			}
		}()
	}
	h.Store(second)
	wg.Wait()

	if h.Load() != second {
		t.Fatal("Load does not return the stored policy")
	}
	if h.Load().IsAdmin(alice) {
		t.Error("alice is still admin after the policy was replaced")
	}
}
