//go:build unix

package agent_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/routecast/routecast/agent"
	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/atomicfile"
	"github.com/routecast/routecast/pkg/identity"
	"github.com/routecast/routecast/pkg/routes"
	"github.com/routecast/routecast/server/servertest"
)

// boundaryWait bounds every wait of the boundary tests that is not an
// agent event (those are bounded by runningAgent.next).
const boundaryWait = 60 * time.Second

// statusPollInterval is how often waitStatus reads status.json. The agent
// reports connection changes only through that file (there is no event or
// callback for them), so a test can only poll it; a short interval keeps
// the tests fast, and boundaryWait bounds the loop.
const statusPollInterval = 10 * time.Millisecond

const (
	boundaryScope  = "payments/staging"
	templateOutput = "upstreams.txt"
	filesKept      = "kept as they are (last known good)"
	filesUpToDate  = "up to date"
)

// boundarySetup is a server, an operator client and the directories of one
// agent that writes routes.json and one template output.
type boundarySetup struct {
	e          *env
	adm        routecastv1.RouteAdminServiceClient
	base       string // holds out, state and the template source
	out, state string
	cfg        agent.Config
}

func newBoundarySetup(t *testing.T) *boundarySetup {
	t.Helper()
	e := newEnv(t)
	base := t.TempDir()
	s := &boundarySetup{
		e: e, adm: e.Admin("/operator/alice"), base: base,
		out: filepath.Join(base, "out"), state: filepath.Join(base, "state"),
	}
	tmpl := filepath.Join(base, "upstreams.tmpl")
	const text = "{{range .Routes}}{{.Name}} {{.GetUpstream.GetUrl}}\n{{end}}"
	if err := os.WriteFile(tmpl, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	s.cfg = agent.Config{
		Scope: boundaryScope, OutDir: s.out, StateDir: s.state,
		TLS: e.ClientTLS("/agent/payments/host-1"), Node: &routecastv1.Node{Id: "host-1"},
		Templates: []agent.Template{{Source: tmpl, Output: templateOutput}},
	}
	return s
}

// put stores routes in the agent's scope in one batch.
func (s *boundarySetup) put(t *testing.T, rs ...*routecastv1.Route) {
	t.Helper()
	s.apply(t, &routecastv1.ApplyRoutesRequest{Scope: boundaryScope, Puts: rs})
}

// remove deletes names from the agent's scope in one batch.
func (s *boundarySetup) remove(t *testing.T, names ...string) {
	t.Helper()
	s.apply(t, &routecastv1.ApplyRoutesRequest{Scope: boundaryScope, Deletes: names})
}

func (s *boundarySetup) apply(t *testing.T, req *routecastv1.ApplyRoutesRequest) {
	t.Helper()
	if _, err := s.adm.ApplyRoutes(context.Background(), req); err != nil {
		t.Fatal(err)
	}
}

// applied waits for the agent's next update and fails unless it was
// applied.
func applied(t *testing.T, a *runningAgent) agent.Event {
	t.Helper()
	ev := a.next(t)
	if ev.Err != nil {
		t.Fatalf("update at revision %d rejected: %v", ev.Revision, ev.Err)
	}
	return ev
}

// fileID is what changes when a file is replaced or rewritten.
type fileID struct {
	Ino     uint64
	ModTime time.Time
	Size    int64
}

func statID(t *testing.T, path string) fileID {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Fatalf("%s: no syscall.Stat_t", path)
	}
	return fileID{Ino: uint64(st.Ino), ModTime: fi.ModTime(), Size: fi.Size()}
}

// ownerOf returns the uid and gid of path.
func ownerOf(t *testing.T, path string) (uid, gid uint32) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}

func modeOf(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustWrite(t *testing.T, path, data string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// listDir returns the sorted names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// agentStatusFile is what the tests read back from status.json.
type agentStatusFile struct {
	State     string `json:"state"`
	Revision  uint64 `json:"revision"`
	Routes    int    `json:"routes"`
	LastError string `json:"last_error"`
	Files     string `json:"files"`
}

func readStatus(stateDir string) (agentStatusFile, error) {
	var st agentStatusFile
	data, err := os.ReadFile(filepath.Join(stateDir, "status.json"))
	if err != nil {
		return st, err
	}
	err = json.Unmarshal(data, &st)
	return st, err
}

// waitStatus polls <stateDir>/status.json until ok accepts it and returns
// it; see statusPollInterval for why it polls.
func waitStatus(t *testing.T, stateDir, what string, ok func(agentStatusFile) bool) agentStatusFile {
	t.Helper()
	deadline := time.NewTimer(boundaryWait)
	defer deadline.Stop()
	tick := time.NewTicker(statusPollInterval)
	defer tick.Stop()
	var last agentStatusFile
	var lastErr error
	for {
		st, err := readStatus(stateDir)
		if err == nil && ok(st) {
			return st
		}
		last, lastErr = st, err
		select {
		case <-deadline.C:
			t.Fatalf("status.json never showed %s; last read: %+v (err %v)", what, last, lastErr)
		case <-tick.C:
		}
	}
}

func isConnected(st agentStatusFile) bool { return st.State == "connected" }

func isNotConnected(st agentStatusFile) bool {
	return st.State == "disconnected" || st.State == "connecting"
}

// checkUntouched fails unless path still holds want, in the same inode
// with the same modification time.
func checkUntouched(t *testing.T, path, want string, wantID fileID) {
	t.Helper()
	if got := mustRead(t, path); got != want {
		t.Errorf("%s changed:\n%s", path, cmp.Diff(want, got))
	}
	if diff := cmp.Diff(wantID, statID(t, path)); diff != "" {
		t.Errorf("%s was rewritten (-before +after):\n%s", path, diff)
	}
}

// TestBoundary_New_RefusesProtectedPaths checks that New refuses an output
// or state directory that resolves, directly or through symlinks, into a
// protected path, with an error that wraps ErrProtectedPath and names both
// paths, and that it creates nothing there.
func TestBoundary_New_RefusesProtectedPaths(t *testing.T) {
	base := t.TempDir()
	secrets := filepath.Join(base, "secrets")
	mustWrite(t, filepath.Join(secrets, "key.pem"), "private\n", 0o600)
	free := filepath.Join(base, "free")
	if err := os.MkdirAll(free, 0o755); err != nil {
		t.Fatal(err)
	}
	link, hop1 := filepath.Join(base, "link"), filepath.Join(base, "hop1")
	mustSymlink(t, secrets, link)
	// hop1 -> hop2 -> secrets, the last hop relative.
	mustSymlink(t, filepath.Join(base, "hop2"), hop1)
	mustSymlink(t, "secrets", filepath.Join(base, "hop2"))
	protectedLink := filepath.Join(base, "protected-link")
	mustSymlink(t, secrets, protectedLink)

	freeOut, freeState := filepath.Join(free, "out"), filepath.Join(free, "state")
	tests := []struct {
		name      string
		path      string // OutDir, or StateDir when state is set
		state     bool
		protected string // the ProtectedPaths entry
	}{
		{"OutIsProtected", secrets, false, secrets},
		{"OutUnderProtected", filepath.Join(secrets, "a", "b"), false, secrets},
		{"OutDotDotIntoProtected", free + "/../secrets/out", false, secrets},
		{"OutIsSymlink", link, false, secrets},
		{"OutThroughSymlinkedParent", filepath.Join(link, "out"), false, secrets},
		{"OutThroughSymlinkChain", filepath.Join(hop1, "out"), false, secrets},
		{"ProtectedEntryIsSymlink", filepath.Join(secrets, "out"), false, protectedLink},
		{"StateUnderProtected", filepath.Join(secrets, "state"), true, secrets},
		{"StateThroughSymlinkedParent", filepath.Join(link, "state"), true, secrets},
		{"StateThroughSymlinkChain", filepath.Join(hop1, "state"), true, secrets},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, state := tt.path, freeState
			if tt.state {
				out, state = freeOut, tt.path
			}
			_, err := agent.New(offlineConfig(out, state, []string{tt.protected}))
			checkProtectedErr(t, err, tt.path, tt.protected)
			if diff := cmp.Diff([]string{"key.pem"}, listDir(t, secrets)); diff != "" {
				t.Errorf("New created something in the protected path (-want +got):\n%s", diff)
			}
		})
	}

	// Controls: a sibling whose name merely starts with the protected
	// path's, and a free directory, are accepted.
	for _, out := range []string{filepath.Join(base, "secrets-public", "out"), freeOut} {
		if _, err := agent.New(offlineConfig(out, freeState, []string{secrets})); err != nil {
			t.Errorf("New with --out %s: %v, want it accepted", out, err)
		}
	}
}

// TestBoundary_New_RefusesDefaultProtectedPaths checks the default list
// against a temporary home directory.
func TestBoundary_New_RefusesDefaultProtectedPaths(t *testing.T) {
	base := t.TempDir()
	home := filepath.Join(base, "home")
	ssh := filepath.Join(home, ".ssh")
	mustWrite(t, filepath.Join(ssh, "id_ed25519"), "private\n", 0o600)
	t.Setenv("HOME", home)
	mustSymlink(t, ssh, filepath.Join(base, "innocent"))
	gnupg := filepath.Join(home, ".gnupg")
	freeOut, freeState := filepath.Join(base, "out"), filepath.Join(base, "state")

	tests := []struct {
		name      string
		path      string // OutDir, or StateDir when state is set
		state     bool
		protected string // the protected path the error must name
	}{
		{"OutUnderSSH", filepath.Join(ssh, "x"), false, ssh},
		{"OutThroughSymlinkToSSH", filepath.Join(base, "innocent", "x"), false, ssh},
		{"StateUnderSSH", filepath.Join(ssh, "state"), true, ssh},
		// ~/.gnupg does not exist; it is protected all the same.
		{"OutUnderMissingGnuPG", filepath.Join(gnupg, "x"), false, gnupg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, state := tt.path, freeState
			if tt.state {
				out, state = freeOut, tt.path
			}
			// nil ProtectedPaths: the defaults.
			_, err := agent.New(offlineConfig(out, state, nil))
			checkProtectedErr(t, err, tt.path, tt.protected)
			if diff := cmp.Diff([]string{"id_ed25519"}, listDir(t, ssh)); diff != "" {
				t.Errorf("New created something in ~/.ssh (-want +got):\n%s", diff)
			}
		})
	}
	if !slices.Contains(agent.DefaultProtectedPaths, "~/.ssh") {
		t.Errorf("DefaultProtectedPaths = %v, want ~/.ssh among them", agent.DefaultProtectedPaths)
	}
}

// offlineConfig is a configuration New accepts without contacting a
// server.
func offlineConfig(out, state string, protected []string) agent.Config {
	return agent.Config{
		Servers: []string{"127.0.0.1:1"}, Scope: boundaryScope,
		OutDir: out, StateDir: state, TLS: &tls.Config{}, ProtectedPaths: protected,
	}
}

func checkProtectedErr(t *testing.T, err error, path, protected string) {
	t.Helper()
	if !errors.Is(err, agent.ErrProtectedPath) {
		t.Fatalf("New: err = %v, want ErrProtectedPath", err)
	}
	for _, p := range []string{path, protected} {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not name %s", err, p)
		}
	}
}

// TestBoundary_SymlinkInOutDir checks that the agent does not write through
// a symlink planted at one of its output names: the update is rejected
// with the reason, the victim and the other files are unchanged, and the
// server records the NACK.
func TestBoundary_SymlinkInOutDir(t *testing.T) {
	tests := []struct {
		name        string
		link        string
		beforeStart bool // plant the link before the agent's first start
	}{
		{"RoutesJSON", "routes.json", false},
		{"TemplateOutput", templateOutput, false},
		{"RoutesJSONBeforeFirstStart", "routes.json", true},
		{"TemplateOutputBeforeFirstStart", templateOutput, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newBoundarySetup(t)
			victim := filepath.Join(s.base, "victim")
			mustWrite(t, victim, "secret\n", 0o600)
			link := filepath.Join(s.out, tt.link)
			s.put(t, route("charges", "/charges", "https://charges.internal:8443"))

			// Each try stores a change that the agent must reject. The order
			// in which the agent writes its files is not fixed, so a partial
			// write of the other files may show only in some tries.
			change := func(try int) {
				url := fmt.Sprintf("https://charges-v%d.internal:8443", try+2)
				s.put(t, route("charges", "/charges", url))
			}
			var a *runningAgent
			var before map[string]string
			if tt.beforeStart {
				mustSymlink(t, victim, filepath.Join(mkdirAll(t, s.out), tt.link))
				before = outputs(t, s.out, tt.link)
				a = s.e.startAgent(s.cfg)
			} else {
				a = s.e.startAgent(s.cfg)
				applied(t, a)
				if err := os.Remove(link); err != nil {
					t.Fatal(err)
				}
				mustSymlink(t, victim, link)
				before = outputs(t, s.out, tt.link)
				change(0)
			}
			for try := range rejectTries {
				if try > 0 {
					change(try)
				}
				if !checkRejectedThroughLink(t, a.next(t), before, s.out, tt.link, victim) {
					t.Errorf("in try %d of %d", try+1, rejectTries)
					break
				}
			}

			// Once the link is gone the next update is applied; the server
			// sends it only after the NACK, so the NACK is on record.
			if err := os.Remove(link); err != nil {
				t.Fatal(err)
			}
			s.put(t, route("refunds", "/refunds", "https://refunds.internal:8443"))
			applied(t, a)
			nack := agentStatus(t, s.adm, "host-1").GetLastNack()
			if !strings.Contains(nack.GetErrorDetail().GetMessage(), "symbolic link") {
				t.Errorf("server's last_nack = %v, want the symlink refusal", nack)
			}
			if got := mustRead(t, victim); got != "secret\n" {
				t.Errorf("victim changed to %q", got)
			}
			if !modeOf(t, link).IsRegular() {
				t.Errorf("%s is %v after the link was removed, want a regular file", tt.link, modeOf(t, link))
			}
		})
	}
}

// rejectTries is how many updates TestBoundary_SymlinkInOutDir has the
// agent reject.
const rejectTries = 64

// checkRejectedThroughLink checks an update that had to go through the
// link planted at out/name: rejected with the reason, the victim and the
// link as they were, and no other output file changed from before. It
// reports whether everything held.
func checkRejectedThroughLink(t *testing.T, ev agent.Event, before map[string]string,
	out, name, victim string) bool {
	t.Helper()
	if !errors.Is(ev.Err, atomicfile.ErrSymlink) || !strings.Contains(fmt.Sprint(ev.Err), name) {
		t.Fatalf("update through a planted link: err = %v, want ErrSymlink naming %s", ev.Err, name)
	}
	ok := true
	if got := mustRead(t, victim); got != "secret\n" {
		t.Errorf("victim changed to %q", got)
		ok = false
	}
	if m := modeOf(t, victim); m != 0o600 {
		t.Errorf("victim mode = %v, want 0600", m)
		ok = false
	}
	link := filepath.Join(out, name)
	if target, err := os.Readlink(link); err != nil || target != victim {
		t.Errorf("planted link now %q (err %v), want it left pointing to the victim", target, err)
		ok = false
	}
	if len(ev.Written) != 0 {
		t.Errorf("rejected update at revision %d reports files written: %v", ev.Revision, ev.Written)
		ok = false
	}
	if diff := cmp.Diff(before, outputs(t, out, name)); diff != "" {
		t.Errorf("rejected update at revision %d changed other output files (-last good +now):\n%s",
			ev.Revision, diff)
		ok = false
	}
	return ok
}

func mkdirAll(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// outputs returns the content of every file in dir but skip, by name.
func outputs(t *testing.T, dir, skip string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	for _, name := range listDir(t, dir) {
		// Temporary files exist only while the agent writes; they are
		// not outputs.
		if name != skip && !(strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-")) {
			out[name] = mustRead(t, filepath.Join(dir, name))
		}
	}
	return out
}

// TestBoundary_RouteNamesAreNotPaths checks that route names, however
// path-like, never become file names: the directories hold only
// routes.json, the template output and the state files.
func TestBoundary_RouteNamesAreNotPaths(t *testing.T) {
	tests := []struct {
		name  string
		valid bool // what routes.ValidateName says
	}{
		{"..", false},
		{".", false},
		{".hidden", false},
		{"../escape", false},
		{"a/b", false},
		{`a\b`, false},
		{"trailing.", false},
		{"a..b", true},
		{"x..y..z", true},
		{"routes.json", true},
		{templateOutput, true},
		{"state.json", true},
		{"status.json", true},
		{"A-b_c.d", true},
		{strings.Repeat("n", 253), true},
	}
	s := newBoundarySetup(t)
	var puts []*routecastv1.Route
	var valid []string
	for i, tt := range tests {
		if got := routes.ValidateName(tt.name) == nil; got != tt.valid {
			t.Fatalf("routes.ValidateName(%q) accepts = %v, want %v", tt.name, got, tt.valid)
		}
		r := route(tt.name, fmt.Sprintf("/r%d", i), fmt.Sprintf("https://r%d.internal:8443", i))
		if !tt.valid {
			req := &routecastv1.PutRouteRequest{Scope: boundaryScope, Route: r}
			_, err := s.adm.PutRoute(context.Background(), req)
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("PutRoute named %q: %v, want InvalidArgument", tt.name, err)
			}
			continue
		}
		puts = append(puts, r)
		valid = append(valid, tt.name)
	}
	s.put(t, puts...)
	a := s.e.startAgent(s.cfg)
	if ev := applied(t, a); ev.Routes != len(valid) {
		t.Fatalf("agent holds %d routes, want %d", ev.Routes, len(valid))
	}
	f, _ := readRoutes(t, s.out)
	var got []string
	for _, r := range f.Routes {
		got = append(got, r.Name)
	}
	slices.Sort(valid)
	if diff := cmp.Diff(valid, got); diff != "" {
		t.Errorf("routes.json names (-want +got):\n%s", diff)
	}
	checkOnlyAgentFiles(t, s)

	// Removing them all creates nothing either.
	s.remove(t, valid...)
	if ev := applied(t, a); ev.Routes != 0 {
		t.Fatalf("agent holds %d routes after removing all, want 0", ev.Routes)
	}
	checkOnlyAgentFiles(t, s)
}

func checkOnlyAgentFiles(t *testing.T, s *boundarySetup) {
	t.Helper()
	for _, d := range []struct {
		dir  string
		want []string
	}{
		{s.base, []string{"out", "state", "upstreams.tmpl"}},
		{s.out, []string{"routes.json", templateOutput}},
		{s.state, []string{"state.json", "status.json"}},
	} {
		if diff := cmp.Diff(d.want, listDir(t, d.dir)); diff != "" {
			t.Errorf("%s holds (-want +got):\n%s", d.dir, diff)
		}
	}
}

// TestBoundary_NeverDeletesForeignFiles checks that files the agent did
// not create survive updates, route removals and restarts, in both the
// output and the state directory, even when named like a route or like the
// agent's own temporary files.
func TestBoundary_NeverDeletesForeignFiles(t *testing.T) {
	s := newBoundarySetup(t)
	foreign := map[string]string{
		filepath.Join(s.out, "README.txt"):                "operator notes\n",
		filepath.Join(s.out, "charges"):                   "named like a route\n",
		filepath.Join(s.out, "charges.json"):              "named like a route file\n",
		filepath.Join(s.out, ".routes.json.tmp-planted"):  "named like a temp file\n",
		filepath.Join(s.out, "sub", "keep.txt"):           "in a subdirectory\n",
		filepath.Join(s.state, "notes.txt"):               "state notes\n",
		filepath.Join(s.state, "state.json.bak"):          "a backup\n",
		filepath.Join(s.state, ".state.json.tmp-planted"): "named like a temp file\n",
	}
	for path, data := range foreign {
		mustWrite(t, path, data, 0o640)
	}
	check := func(step string) {
		t.Helper()
		for path, want := range foreign {
			got, err := os.ReadFile(path)
			if err != nil || string(got) != want {
				t.Errorf("after %s: %s = %q (err %v), want %q", step, path, got, err, want)
				continue
			}
			if m := modeOf(t, path); m != 0o640 {
				t.Errorf("after %s: %s mode = %v, want 0640", step, path, m)
			}
		}
	}

	s.put(t,
		route("charges", "/charges", "https://charges.internal:8443"),
		route("refunds", "/refunds", "https://refunds.internal:8443"),
		route("payouts", "/payouts", "https://payouts.internal:8443"))
	a := s.e.startAgent(s.cfg)
	applied(t, a)
	check("the initial sync")

	s.put(t, route("refunds", "/refunds", "https://refunds-v2.internal:8443"))
	applied(t, a)
	check("a change")

	s.remove(t, "charges")
	if ev := applied(t, a); ev.Removed != 1 {
		t.Fatalf("removal update = %+v, want 1 removal", ev)
	}
	check("removing the route charges")

	s.remove(t, "refunds", "payouts")
	if ev := applied(t, a); ev.Routes != 0 {
		t.Fatalf("update removing all = %+v, want no routes left", ev)
	}
	check("removing every route")

	a.stop(nil)
	check("stopping the agent")
	a = s.e.startAgent(s.cfg)
	applied(t, a)
	check("a restart")

	s.put(t, route("disputes", "/disputes", "https://disputes.internal:8443"))
	applied(t, a)
	check("a change after the restart")
}

// TestBoundary_KeepsModeAndOwner checks that rewritten output files keep
// their permission bits and, when the test can chown, their owner.
func TestBoundary_KeepsModeAndOwner(t *testing.T) {
	s := newBoundarySetup(t)
	s.put(t, route("charges", "/charges", "https://charges.internal:8443"))
	a := s.e.startAgent(s.cfg)
	applied(t, a)
	asRoot := os.Geteuid() == 0
	if !asRoot {
		t.Log("not root: owners are not changed or checked")
	}

	for i, mode := range []fs.FileMode{0o640, 0o600, 0o444, 0o660, 0o604} {
		t.Run(fmt.Sprintf("mode=%04o", mode), func(t *testing.T) {
			uid, gid := uint32(1234+i), uint32(2234+i)
			for _, name := range []string{"routes.json", templateOutput} {
				path := filepath.Join(s.out, name)
				if err := os.Chmod(path, mode); err != nil {
					t.Fatal(err)
				}
				if asRoot {
					if err := os.Chown(path, int(uid), int(gid)); err != nil {
						t.Fatal(err)
					}
				}
			}
			s.put(t, route("charges", "/charges", fmt.Sprintf("https://charges-%d.internal:8443", i)))
			ev := applied(t, a)
			slices.Sort(ev.Written)
			if diff := cmp.Diff([]string{"routes.json", templateOutput}, ev.Written); diff != "" {
				t.Fatalf("files written (-want +got):\n%s", diff)
			}
			for _, name := range ev.Written {
				path := filepath.Join(s.out, name)
				if got := modeOf(t, path).Perm(); got != mode {
					t.Errorf("%s mode = %04o after a rewrite, want %04o", name, got, mode)
				}
				if !asRoot {
					continue
				}
				if gotUID, gotGID := ownerOf(t, path); gotUID != uid || gotGID != gid {
					t.Errorf("%s owner = %d:%d after a rewrite, want %d:%d", name, gotUID, gotGID, uid, gid)
				}
			}
		})
	}
}

// TestBoundary_NoWorldWritableFiles checks that new output files are 0644
// and that a rewrite drops write permission for others.
func TestBoundary_NoWorldWritableFiles(t *testing.T) {
	s := newBoundarySetup(t)
	s.put(t, route("charges", "/charges", "https://charges.internal:8443"))
	a := s.e.startAgent(s.cfg)
	applied(t, a)
	for _, name := range []string{"routes.json", templateOutput} {
		if got := modeOf(t, filepath.Join(s.out, name)).Perm(); got != 0o644 {
			t.Errorf("new %s mode = %04o, want 0644", name, got)
		}
	}
	for _, dir := range []string{s.out, s.state} {
		for _, name := range listDir(t, dir) {
			if m := modeOf(t, filepath.Join(dir, name)); m&0o002 != 0 {
				t.Errorf("%s is world-writable: %v", filepath.Join(dir, name), m)
			}
		}
	}

	tests := []struct {
		mode, want fs.FileMode
	}{
		{0o666, 0o664},
		{0o646, 0o644},
		{0o777, 0o775},
		{0o602, 0o600},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("mode=%04o", tt.mode), func(t *testing.T) {
			for _, name := range []string{"routes.json", templateOutput} {
				if err := os.Chmod(filepath.Join(s.out, name), tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			s.put(t, route("charges", "/charges", fmt.Sprintf("https://charges-%d.internal:8443", i)))
			applied(t, a)
			for _, name := range []string{"routes.json", templateOutput} {
				if got := modeOf(t, filepath.Join(s.out, name)).Perm(); got != tt.want {
					t.Errorf("%s mode = %04o after a rewrite, want %04o", name, got, tt.want)
				}
			}
		})
	}
}

// TestBoundary_UnchangedContentNotRewritten checks that updates which
// change nothing for the output files leave them alone: same bytes, same
// inode, same modification time, and nothing in Event.Written.
func TestBoundary_UnchangedContentNotRewritten(t *testing.T) {
	s := newBoundarySetup(t)
	s.put(t,
		route("charges", "/charges", "https://charges.internal:8443"),
		route("refunds", "/refunds", "https://refunds.internal:8443"))
	proxy := servertest.NewProxy(t, s.e.Addr)
	a := s.e.startAgentAt(s.cfg, proxy.Addr())
	applied(t, a)

	tests := []struct {
		name    string
		trigger func(t *testing.T)
	}{
		{"Reconnect", func(*testing.T) { proxy.Break() }},
		{"AgentRestart", func(*testing.T) {
			a.stop(nil)
			a = s.e.startAgentAt(s.cfg, proxy.Addr())
		}},
		{"ServerRestart", func(*testing.T) { s.e.Restart() }},
		// A running agent gets nothing for another scope; the reconnect
		// makes the server send its resync.
		{"OtherScopeChangeThenReconnect", func(t *testing.T) {
			s.apply(t, &routecastv1.ApplyRoutesRequest{Scope: "payments/production", Puts: []*routecastv1.Route{
				route("charges", "/charges", "https://charges.prod.internal:8443")}})
			proxy.Break()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := make(map[string]string)
			wantID := make(map[string]fileID)
			for _, name := range []string{"routes.json", templateOutput} {
				path := filepath.Join(s.out, name)
				want[name], wantID[name] = mustRead(t, path), statID(t, path)
			}
			tt.trigger(t)
			ev := applied(t, a)
			if ev.Upserts != 0 || ev.Removed != 0 {
				t.Errorf("update = %+v, want no route changes", ev)
			}
			if len(ev.Written) != 0 {
				t.Errorf("Event.Written = %v, want nothing written", ev.Written)
			}
			for name := range want {
				checkUntouched(t, filepath.Join(s.out, name), want[name], wantID[name])
			}
		})
	}
}

// TestBoundary_LastKnownGood checks that while the server is down the agent
// keeps its files and says so in status.json, that a restart without a
// server leaves them untouched, and that it reconnects once the server is
// back.
func TestBoundary_LastKnownGood(t *testing.T) {
	s := newBoundarySetup(t)
	s.put(t,
		route("charges", "/charges", "https://charges.internal:8443"),
		route("refunds", "/refunds", "https://refunds.internal:8443"))
	a := s.e.startAgent(s.cfg)
	ev := applied(t, a)
	routesPath := filepath.Join(s.out, "routes.json")
	good, goodID := mustRead(t, routesPath), statID(t, routesPath)
	waitStatus(t, s.state, "connected", isConnected)

	checkKept := func(st agentStatusFile) {
		t.Helper()
		if st.Files != filesKept || st.Revision != ev.Revision || st.Routes != 2 {
			t.Errorf("status = %+v, want files %q at revision %d with 2 routes", st, filesKept, ev.Revision)
		}
		checkUntouched(t, routesPath, good, goodID)
	}

	// The server goes away.
	s.e.Stop(false)
	st := waitStatus(t, s.state, "disconnected or connecting", isNotConnected)
	checkKept(st)
	if st.LastError == "" {
		t.Errorf("status = %+v, want the stream error in last_error", st)
	}

	// The agent restarts while the server is still down: it has no data
	// from the server yet, and that must not overwrite the good files.
	a.stop(nil)
	if st, err := readStatus(s.state); err != nil || st.State != "stopped" {
		t.Fatalf("status after stopping the agent = %+v (err %v), want stopped", st, err)
	}
	a = s.e.startAgent(s.cfg)
	checkKept(waitStatus(t, s.state, "the restarted agent disconnected or connecting", isNotConnected))

	// The server comes back; the agent reconnects and writes nothing new.
	s.e.Reopen()
	if ev := applied(t, a); len(ev.Written) != 0 {
		t.Errorf("resync after the server came back wrote %v, want nothing", ev.Written)
	}
	st = waitStatus(t, s.state, "connected", isConnected)
	if st.Files != filesUpToDate || st.Revision != ev.Revision {
		t.Errorf("status = %+v, want files %q at revision %d", st, filesUpToDate, ev.Revision)
	}
	checkUntouched(t, routesPath, good, goodID)
}

// TestBoundary_ExpiredServerCertificate checks that when the server's
// certificate has expired the agent cannot connect, keeps its files and
// says why in status.json, and that it connects again once the server has
// a valid certificate.
func TestBoundary_ExpiredServerCertificate(t *testing.T) {
	tests := []struct {
		name     string
		viaProxy bool // reconnect through a broken proxy, else a server restart
	}{
		{"ProxyBreak", true},
		{"ServerRestart", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newBoundarySetup(t)
			s.put(t, route("charges", "/charges", "https://charges.internal:8443"))
			addr := s.e.Addr
			var proxy *servertest.Proxy
			if tt.viaProxy {
				proxy = servertest.NewProxy(t, s.e.Addr)
				addr = proxy.Addr()
			}
			a := s.e.startAgentAt(s.cfg, addr)
			ev := applied(t, a)
			routesPath := filepath.Join(s.out, "routes.json")
			good, goodID := mustRead(t, routesPath), statID(t, routesPath)
			waitStatus(t, s.state, "connected", isConnected)

			installServerCert(t, s.e, identity.IssueOptions{
				SPIFFEID: "spiffe://routecast.test/routecastd", Name: "expired-server",
				NotBefore: time.Now().Add(-2 * time.Hour), TTL: time.Hour,
			})
			if tt.viaProxy {
				proxy.Break()
			} else {
				s.e.Restart()
			}
			st := waitStatus(t, s.state, "an expired-certificate error", func(st agentStatusFile) bool {
				return isNotConnected(st) && strings.Contains(st.LastError, "expired")
			})
			t.Logf("status.json with the expired certificate: %+v", st)
			if st.Files != filesKept || st.Revision != ev.Revision {
				t.Errorf("status = %+v, want files %q at revision %d", st, filesKept, ev.Revision)
			}
			checkUntouched(t, routesPath, good, goodID)

			// With a valid certificate the agent connects again by itself.
			installServerCert(t, s.e, identity.IssueOptions{
				SPIFFEID: "spiffe://routecast.test/routecastd", Name: "fresh-server",
			})
			if ev := applied(t, a); len(ev.Written) != 0 {
				t.Errorf("resync with a valid certificate wrote %v, want nothing", ev.Written)
			}
			waitStatus(t, s.state, "connected", isConnected)
			checkUntouched(t, routesPath, good, goodID)
		})
	}
}

// installServerCert mints a server certificate with opts and moves it over
// the server's certificate and key, which the server reads on every
// handshake.
func installServerCert(t *testing.T, e *env, opts identity.IssueOptions) {
	t.Helper()
	cert, key, err := identity.Issue(e.CertDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, mv := range [][2]string{{key, "server-key.pem"}, {cert, "server.pem"}} {
		if err := os.Rename(mv[0], filepath.Join(e.CertDir, mv[1])); err != nil {
			t.Fatal(err)
		}
	}
}
