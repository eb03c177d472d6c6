package atomicfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/routecast/routecast/pkg/atomicfile"
)

// TestWrite_CreateReplaceUnchanged checks the three outcomes of Write.
func TestWrite_CreateReplaceUnchanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.json")
	for _, tt := range []struct {
		name        string
		data        string
		wantChanged bool
	}{
		{"Create", "one", true},
		{"Unchanged", "one", false},
		{"Replace", "two", true},
	} {
		changed, err := atomicfile.Write(path, []byte(tt.data), 0o644)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if changed != tt.wantChanged {
			t.Errorf("%s: changed = %v, want %v", tt.name, changed, tt.wantChanged)
		}
		if got, _ := os.ReadFile(path); string(got) != tt.data {
			t.Errorf("%s: content = %q, want %q", tt.name, got, tt.data)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the target (temp files left behind?)", len(entries))
	}
}

// TestWrite_KeepsMode checks that a rewritten file keeps its permissions.
func TestWrite_KeepsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("a"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := atomicfile.Write(path, []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640", info.Mode().Perm())
	}
}

// TestWrite_RefusesSymlink checks that a planted link is not written through.
func TestWrite_RefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "routes.json")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	_, err := atomicfile.Write(link, []byte("x"), 0o644)
	if !errors.Is(err, atomicfile.ErrSymlink) {
		t.Fatalf("Write through a symlink: err = %v, want ErrSymlink", err)
	}
	if got, _ := os.ReadFile(victim); string(got) != "secret" {
		t.Errorf("victim changed to %q", got)
	}
}
