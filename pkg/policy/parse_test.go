package policy_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/routecast/routecast/pkg/policy"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// TestParse_errors checks that mistakes are refused with the line and the
// field at fault.
func TestParse_errors(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		wantIs  error  // nil when the error comes from the YAML decoder
		wantMsg string // a part of the message, naming line and field
	}{
		{
			name:    "unknown_rule_field",
			doc:     "rules:\n  - id: spiffe://t/a\n    admn: true\n",
			wantMsg: "line 3: field admn not found",
		},
		{
			name:    "unknown_top_field",
			doc:     "rule:\n  - id: spiffe://t/a\n",
			wantMsg: "line 1: field rule not found",
		},
		{
			name:    "duplicate_key",
			doc:     "rules:\n  - id: spiffe://t/a\n    id: spiffe://t/b\n    admin: true\n",
			wantMsg: `line 3: mapping key "id" already defined`,
		},
		{
			name:    "wrong_type",
			doc:     "rules:\n  - id: spiffe://t/a\n    read: payments/dev\n",
			wantMsg: "line 3: cannot unmarshal",
		},
		{
			name:    "syntax",
			doc:     "rules: [\n",
			wantMsg: "line 1:",
		},
		{
			name:    "id_and_prefix",
			doc:     "rules:\n  - id: spiffe://t/a\n    id_prefix: spiffe://t\n    admin: true\n",
			wantIs:  policy.ErrRuleID,
			wantMsg: "line 3: rules[0]: ",
		},
		{
			name:    "neither_id_nor_prefix",
			doc:     "rules:\n  - id: spiffe://t/a\n    admin: true\n  - read: [a/b]\n",
			wantIs:  policy.ErrRuleID,
			wantMsg: "line 4: rules[1]: ",
		},
		{
			name:    "id_not_spiffe",
			doc:     "rules:\n  - id: https://t/a\n    admin: true\n",
			wantIs:  policy.ErrBadID,
			wantMsg: `line 2: rules[0].id: invalid SPIFFE ID "https://t/a"`,
		},
		{
			name:    "id_uppercase_trust_domain",
			doc:     "rules:\n  - admin: true\n    id: spiffe://Routecast.test/a\n",
			wantIs:  policy.ErrBadID,
			wantMsg: "line 3: rules[0].id: ",
		},
		{
			name:    "id_bare_trust_domain",
			doc:     "rules:\n  - id: spiffe://t\n    admin: true\n",
			wantIs:  policy.ErrBadID,
			wantMsg: "line 2: rules[0].id: ",
		},
		{
			name:    "prefix_trailing_slash",
			doc:     "rules:\n  - id_prefix: spiffe://t/ns/\n    admin: true\n",
			wantIs:  policy.ErrBadID,
			wantMsg: "line 2: rules[0].id_prefix: ",
		},
		{
			name: "scope_uppercase",
			doc: "rules:\n  - id: spiffe://t/a\n    read:\n" +
				"      - payments/dev\n      - Payments/dev\n",
			wantIs:  policy.ErrBadScope,
			wantMsg: `line 5: rules[0].read[1]: invalid scope pattern "Payments/dev"`,
		},
		{
			name:    "scope_without_environment",
			doc:     "rules:\n  - id: spiffe://t/a\n    read: [payments]\n",
			wantIs:  policy.ErrBadScope,
			wantMsg: "line 3: rules[0].read[0]: ",
		},
		{
			name:    "scope_wildcard_tenant",
			doc:     "rules:\n  - id: spiffe://t/a\n    write: [\"*/prod\"]\n",
			wantIs:  policy.ErrBadScope,
			wantMsg: "line 3: rules[0].write[0]: ",
		},
		{
			name:    "scope_three_parts",
			doc:     "rules:\n  - id: spiffe://t/a\n    write: [a/b, a/b/c]\n",
			wantIs:  policy.ErrBadScope,
			wantMsg: "line 3: rules[0].write[1]: ",
		},
		{
			name:    "scope_leading_hyphen",
			doc:     "rules:\n  - id: spiffe://t/a\n    read: [-pay/dev]\n",
			wantIs:  policy.ErrBadScope,
			wantMsg: "rules[0].read[0]: ",
		},
		{
			name:    "scope_empty",
			doc:     "rules:\n  - id: spiffe://t/a\n    read: [\"\"]\n",
			wantIs:  policy.ErrBadScope,
			wantMsg: "line 3: rules[0].read[0]: ",
		},
		{
			name:    "grants_nothing",
			doc:     "rules:\n  - id: spiffe://t/a\n    admin: false\n",
			wantIs:  policy.ErrNoGrant,
			wantMsg: "line 2: rules[0]: ",
		},
		{
			name:    "two_documents",
			doc:     "rules: []\n---\nrules: []\n",
			wantIs:  policy.ErrExtraDocument,
			wantMsg: "line 2: ", // the "---" that starts the second one
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := policy.Parse([]byte(tt.doc))
			checkErr(t, err, tt.wantIs, tt.wantMsg)
			if tt.wantIs == nil {
				return
			}
			var perr *policy.ParseError
			if !errors.As(err, &perr) {
				t.Errorf("err = %v, want a *ParseError", err)
			}
		})
	}
}

// checkErr fails t unless err is non-nil, wraps wantIs if that is set, and
// contains wantMsg.
func checkErr(t *testing.T, err, wantIs error, wantMsg string) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatal("err = nil, want an error")
	case wantIs != nil && !errors.Is(err, wantIs):
		t.Errorf("err = %v, want one wrapping %v", err, wantIs)
	case !strings.Contains(err.Error(), wantMsg):
		t.Errorf("err = %v, want it to contain %q", err, wantMsg)
	case strings.Contains(err.Error(), "\n"):
		t.Errorf("err = %q, want one line", err)
	}
}

// TestLoad checks that Load reads a file and that its errors name it.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	missing := filepath.Join(dir, "missing.yaml")
	writeFile(t, good, testPolicy)
	writeFile(t, bad, "rules:\n  - id: spiffe://t/a\n    read: [Payments/dev]\n")

	p, err := policy.Load(good)
	if err != nil {
		t.Fatalf("Load(%s): %v", good, err)
	}
	if !p.IsAdmin(spiffeid.RequireFromString("spiffe://routecast.test/operator/alice")) {
		t.Error("the loaded policy does not make alice admin")
	}

	_, err = policy.Load(bad)
	checkErr(t, err, policy.ErrBadScope, bad+": line 3: rules[0].read[0]")
	_, err = policy.Load(missing)
	checkErr(t, err, os.ErrNotExist, missing)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
