package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain lets the test binary serve as the floor server, which the
// benchmark starts by re-executing itself.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == floorServerCommand {
		os.Exit(floorServerMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// buildRoutecastd builds routecastd into a temporary directory.
func buildRoutecastd(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to build routecastd with: %v", err)
	}
	out := filepath.Join(t.TempDir(), "routecastd")
	const pkg = "github.com/routecast/routecast/server/cmd/routecastd"
	if b, err := exec.Command(goBin, "build", "-o", out, pkg).CombinedOutput(); err != nil {
		t.Fatalf("build routecastd: %v\n%s", err, b)
	}
	return out
}

// TestRun runs a small benchmark against a freshly built routecastd and
// checks the figures of the report's JSON line.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	got := runSmall(t, buildRoutecastd(t))

	for _, key := range []string{"agents", "routes", "streams_per_conn", "initial_sync_s",
		"k1_p50_ms", "k1_p99_ms", "k100_p99_ms", "server_rss_per_stream_kib",
		"apply_routes_per_s", "put_route_p99_ms", "date", "go", "cpus"} {
		if _, ok := got[key]; !ok {
			t.Errorf("JSON line has no %q", key)
		}
	}
	checks := []struct {
		key  string
		ok   func(float64) bool
		want string
	}{
		{"agents", func(v float64) bool { return v == 20 }, "20"},
		{"not_converged_count", func(v float64) bool { return v == 0 }, "0"},
		{"resume_routes_resent", func(v float64) bool { return v == 0 }, "0"},
		{"resume_streams", func(v float64) bool { return v == 10 }, "10"},
		{"bytes_per_agent_k1", func(v float64) bool { return v > 0 && v < 1024 }, "in (0, 1024)"},
		{"initial_sync_floor_s", nonZero, "non-zero"},
		{"k1_p99_floor_ms", nonZero, "non-zero"},
		{"k100_p99_floor_ms", nonZero, "non-zero"},
		{"rss_per_stream_floor_kib", nonZero, "non-zero"},
	}
	for _, tt := range checks {
		if v, ok := got[tt.key].(float64); !ok || !tt.ok(v) {
			t.Errorf("%s = %v, want %s", tt.key, got[tt.key], tt.want)
		}
	}
}

// runSmall runs the benchmark with 20 streams and 50 routes against
// routecastd and returns the JSON line, decoded.
func runSmall(t *testing.T, routecastd string) map[string]any {
	t.Helper()
	cfg, err := parseFlags([]string{
		"-routecastd", routecastd,
		"-agents", "20", "-routes", "50", "-rounds", "1",
		"-apply-batches", "2", "-puts", "50", "-resume", "10",
		"-rss-settle", "2s", "-timeout", "60s",
	}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout bytes.Buffer
	if _, err := run(ctx, cfg, &stdout, testWriter{t}); err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.Bytes())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, stdout.Bytes())
	}
	return got
}

func nonZero(v float64) bool { return v != 0 }

// testWriter sends the benchmark's progress to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
