package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/routecast/routecast/server/servertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// cli runs routecast commands as the operator against a test server.
type cli struct {
	t    *testing.T
	env  *servertest.Env
	conn []string
}

func newCLI(t *testing.T, identityPath string) *cli {
	env := servertest.Start(t, servertest.Config{})
	cert, key := env.Issue(identityPath)
	return &cli{t: t, env: env, conn: []string{"--server", env.Addr, "--cert", cert, "--key", key, "--ca", env.CAFile()}}
}

func (c *cli) run(args ...string) (string, error) {
	var out bytes.Buffer
	err := run(append(args, c.conn...), &out)
	return out.String(), err
}

func (c *cli) mustRun(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("routecast %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (c *cli) revision() uint64 {
	rev, err := c.env.Store.Revision(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	return rev
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCLI_ApplyListGetDeleteHistory runs the operator's everyday commands
// against the shipped example.
func TestCLI_ApplyListGetDeleteHistory(t *testing.T) {
	c := newCLI(t, "/operator/alice")
	out := c.mustRun("apply", "-f", "../../../examples/payments-routes.yaml", "--scope", "payments/staging")
	if !strings.Contains(out, "applied 7 routes to payments/staging at revision 1: 7 created") {
		t.Errorf("apply output:\n%s", out)
	}
	out = c.mustRun("apply", "-f", "../../../examples/payments-routes.yaml", "--scope", "payments/staging")
	if !strings.Contains(out, "at revision 1: 0 created, 0 updated, 0 deleted, 7 unchanged") {
		t.Errorf("second apply of the same file:\n%s", out)
	}
	out = c.mustRun("list", "--scope", "payments/staging")
	if !strings.Contains(out, "payments.payments-api.read.m0") || strings.Count(out, "\n") != 8 {
		t.Errorf("list output (want a header and 7 routes):\n%s", out)
	}
	out = c.mustRun("get", "payments.payments-api.create.m0", "--scope", "payments/staging")
	if !strings.Contains(out, `"exact": "/v1/payments"`) || !strings.Contains(out, `"timeout": "10s"`) {
		t.Errorf("get output:\n%s", out)
	}
	c.mustRun("delete", "payments.payments-legacy.r1.m0", "--scope", "payments/staging")
	out = c.mustRun("history", "--scope", "payments/staging")
	if !hasRow(out, "2", "*", "DELETE", "payments/staging", "payments.payments-legacy.r1.m0", "spiffe://routecast.test/operator/alice") {
		t.Errorf("history output (want the delete at revision 2):\n%s", out)
	}
	out = c.mustRun("status")
	if !hasRow(out, "payments/staging", "6", "2") {
		t.Errorf("status output (want 6 routes at revision 2):\n%s", out)
	}
	if _, err := c.run("get", "payments.payments-legacy.r1.m0", "--scope", "payments/staging"); err == nil ||
		!strings.Contains(err.Error(), "NotFound") {
		t.Errorf("get of a deleted route: err = %v, want NotFound", err)
	}
}

// TestCLI_ApplyBadFile checks that a bad file is refused with the document
// and line named, and that nothing is stored.
func TestCLI_ApplyBadFile(t *testing.T) {
	c := newCLI(t, "/operator/alice")
	c.mustRun("apply", "-f", "../../../examples/payments-routes.yaml", "--scope", "payments/staging")
	tests := []struct {
		name, text string
		want       []string
	}{
		{"UnknownField", `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: x
spec:
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /a
      method: GET
    backendRef:
    - name: a
      port: 80
`, []string{"document 1", "line 12", "backendRef"}},
		{"NotAnHTTPRoute", `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
`, []string{"document 1", "line 1", "ConfigMap"}},
		{"UnknownMethod", `apiVersion: routecast.dev/v1
kind: RouteSet
routes:
  - name: orders
    match:
      path: {prefix: /orders}
      methods: [GET, FETCH]
    upstream: {url: "https://orders.internal"}
`, []string{"document 1", "line 7", "FETCH"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.run("apply", "-f", writeFile(t, "bad.yaml", tt.text), "--scope", "payments/staging")
			if err == nil {
				t.Fatal("apply of a bad file succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if rev := c.revision(); rev != 1 {
				t.Errorf("store revision = %d after a refused file, want 1", rev)
			}
		})
	}
}

// TestCLI_RefusedToNonAdmin checks that a non-admin identity is refused
// with the reason, and the store is unchanged.
func TestCLI_RefusedToNonAdmin(t *testing.T) {
	c := newCLI(t, "/agent/payments/host-1")
	_, err := c.run("apply", "-f", "../../../examples/payments-routes.yaml", "--scope", "payments/staging")
	if err == nil || !strings.Contains(err.Error(), "PermissionDenied") ||
		!strings.Contains(err.Error(), `spiffe://routecast.test/agent/payments/host-1 may not change scope "payments/staging"`) {
		t.Fatalf("apply by an agent identity: err = %v, want PermissionDenied naming identity and scope", err)
	}
	if rev := c.revision(); rev != 0 {
		t.Errorf("store revision = %d, want 0", rev)
	}
}

// hasRow reports whether a line of a table has exactly these columns; "*"
// matches any one column.
func hasRow(table string, cols ...string) bool {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) != len(cols) {
			continue
		}
		ok := true
		for i, c := range cols {
			ok = ok && (c == "*" || f[i] == c)
		}
		if ok {
			return true
		}
	}
	return false
}

// TestCLI_RevokeListUnrevoke runs the revocation commands.
func TestCLI_RevokeListUnrevoke(t *testing.T) {
	c := newCLI(t, "/operator/alice")
	out := c.mustRun("revoke", "--spiffe-id", "spiffe://routecast.test/agent/payments/host-9", "--reason", "host retired")
	if !strings.Contains(out, "revoked spiffe://routecast.test/agent/payments/host-9; 0 open streams ended") {
		t.Errorf("revoke output: %s", out)
	}
	c.mustRun("revoke", "--serial", "0A:1B", "--reason", "key leaked")
	out = c.mustRun("revocations")
	if !hasRow(out, "spiffe://routecast.test/agent/payments/host-9", "*", "spiffe://routecast.test/operator/alice", "host", "retired") ||
		!hasRow(out, "serial", "a1b", "*", "spiffe://routecast.test/operator/alice", "key", "leaked") {
		t.Errorf("revocations output:\n%s", out)
	}
	c.mustRun("unrevoke", "--serial", "a1b")
	if out = c.mustRun("revocations"); strings.Contains(out, "a1b") {
		t.Errorf("revocations after unrevoke:\n%s", out)
	}
	if _, err := c.run("revoke", "--spiffe-id", "spiffe://routecast.test/x"); err == nil || !strings.Contains(err.Error(), "--reason") {
		t.Errorf("revoke without a reason: err = %v", err)
	}
	if rev := c.revision(); rev != 0 {
		t.Errorf("revocations changed the route revision to %d", rev)
	}
}
