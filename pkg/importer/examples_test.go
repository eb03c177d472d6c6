package importer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/routecast/routecast/pkg/routes"
)

// parseExample parses a file of the project's examples folder.
func parseExample(t *testing.T, name string) *Result {
	t.Helper()
	path := filepath.Join("..", "..", "examples", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading example: %v", err)
	}
	res, err := Parse(name, data, Options{})
	if err != nil {
		t.Fatalf("Parse(%s) = %v", name, err)
	}
	if len(res.Skipped) != 0 {
		t.Errorf("Parse(%s) skipped %v, want nothing skipped", name, res.Skipped)
	}
	for _, r := range res.Routes {
		if err := routes.Validate(r); err != nil {
			t.Errorf("route %s: %v", r.GetName(), err)
		}
	}
	return res
}

func routeNames(res *Result) []string {
	var names []string
	for _, r := range res.Routes {
		names = append(names, r.GetName())
	}
	return names
}

// TestExamples checks that the shipped example files import, and the names
// their routes get.
func TestExamples(t *testing.T) {
	tests := []struct {
		file  string
		names []string
	}{
		{"payments-routes.yaml", []string{
			"payments.payments-api.health.m0",
			"payments.payments-api.create.m0",
			"payments.payments-api.read.m0",
			"payments.payments-api.refunds.m0",
			"payments.payments-api.refunds.m1",
			"payments.payments-legacy.r0.m0",
			"payments.payments-legacy.r1.m0",
		}},
		{"routeset.yaml", []string{"ledger-read", "ledger-write", "ledger-reports"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res := parseExample(t, tt.file)
			if diff := cmp.Diff(tt.names, routeNames(res)); diff != "" {
				t.Errorf("route names mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
