package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultProtectedPaths are local secret stores the agent never writes
// into, whatever --out says. A "~" prefix is the user's home directory.
var DefaultProtectedPaths = []string{
	"/etc/ssl/private",
	"/etc/pki",
	"/etc/kubernetes/pki",
	"/etc/shadow",
	"/etc/gshadow",
	"/etc/sudoers.d",
	"/run/secrets",
	"/var/run/secrets",
	"/run/spire",
	"/var/lib/kubelet/pods",
	"/root/.ssh",
	"~/.ssh",
	"~/.gnupg",
	"~/.aws",
	"~/.kube",
	"~/.docker",
	"~/.config/gcloud",
	"~/.azure",
	"~/.password-store",
	"~/.vault-token",
}

// ErrProtectedPath is returned when an output path resolves into a
// protected path.
var ErrProtectedPath = errors.New("agent: output path is inside a protected path")

// checkNotProtected fails when path, with symlinks resolved as far as it
// exists, is or lies under one of protected.
func checkNotProtected(path string, protected []string) error {
	real, err := resolve(path)
	if err != nil {
		return fmt.Errorf("agent: resolve %s: %w", path, err)
	}
	home, _ := os.UserHomeDir()
	for _, p := range protected {
		if rest, ok := strings.CutPrefix(p, "~"); ok {
			if home == "" {
				continue
			}
			p = filepath.Join(home, rest)
		}
		rp, err := resolve(p)
		if err != nil {
			continue
		}
		if within(real, rp) {
			return fmt.Errorf("%w: %s resolves to %s, inside %s", ErrProtectedPath, path, real, p)
		}
	}
	return nil
}

// resolve returns the absolute form of path with the symlinks of its
// longest existing prefix resolved.
func resolve(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	var rest []string
	for p := abs; ; p = filepath.Dir(p) {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(append([]string{real}, rest...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) || p == filepath.Dir(p) {
			return "", err
		}
		rest = append([]string{filepath.Base(p)}, rest...)
	}
}

// within reports whether path is dir or lies under it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
