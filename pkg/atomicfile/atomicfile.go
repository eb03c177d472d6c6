// Package atomicfile writes files so that a reader sees either the old
// content or the new, never a part, and the new content survives a crash
// once Write returns.
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrSymlink is returned when the target is a symbolic link: writing
// through it would change a file outside the caller's control.
var ErrSymlink = errors.New("atomicfile: target is a symbolic link")

// Write replaces path with data. It writes a temporary file in the same
// directory, sets its mode (and, for an existing file, its owner), syncs
// it, renames it over path and syncs the directory. When path already holds
// exactly data, Write changes nothing and reports false.
//
// An existing file keeps its permission bits, less write permission for
// others; a new one gets mode. Write refuses to replace a symbolic link or
// anything that is not a regular file.
func Write(path string, data []byte, mode fs.FileMode) (changed bool, err error) {
	return write(path, data, mode, true)
}

// WriteMode is Write, except that the file gets exactly mode whether or not
// it existed: for private keys, whose mode must not be inherited.
func WriteMode(path string, data []byte, mode fs.FileMode) (changed bool, err error) {
	return write(path, data, mode, false)
}

func write(path string, data []byte, mode fs.FileMode, keepMode bool) (changed bool, err error) {
	p, err := prepare(path, data, mode, keepMode)
	if err != nil {
		return false, err
	}
	return p.changed, p.Commit()
}

// Pending is new content written and synced under a temporary name next to
// its target, waiting for Commit to replace the target. Preparing every
// file of a set before committing any lets a caller replace all or none:
// the checks and the writes that can fail happen in Prepare.
type Pending struct {
	path    string
	tmp     string // "" when the target already holds the content
	changed bool
}

// Prepare writes data for path as Write would, but leaves the target alone
// until Commit. Call Abort on a Pending that will not be committed.
func Prepare(path string, data []byte, mode fs.FileMode) (*Pending, error) {
	return prepare(path, data, mode, true)
}

func prepare(path string, data []byte, mode fs.FileMode, keepMode bool) (*Pending, error) {
	info, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		info = nil
	case err != nil:
		return nil, fmt.Errorf("atomicfile: %w", err)
	case info.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("%w: %s", ErrSymlink, path)
	case !info.Mode().IsRegular():
		return nil, fmt.Errorf("atomicfile: %s is not a regular file", path)
	default:
		if keepMode {
			mode = info.Mode().Perm() &^ 0o002
		}
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) && info.Mode().Perm() == mode {
			return &Pending{path: path}, nil
		}
	}
	tmp, err := writeTemp(path, data, mode, info)
	if err != nil {
		return nil, fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	return &Pending{path: path, tmp: tmp, changed: true}, nil
}

// Changed reports whether Commit replaces the target: false when it holds
// the content already.
func (p *Pending) Changed() bool { return p.changed }

// Commit renames the temporary file over the target and syncs the
// directory.
func (p *Pending) Commit() error {
	if p.tmp == "" {
		return nil
	}
	if err := os.Rename(p.tmp, p.path); err != nil {
		os.Remove(p.tmp)
		return fmt.Errorf("atomicfile: write %s: %w", p.path, err)
	}
	p.tmp = ""
	if err := syncDir(filepath.Dir(p.path)); err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", p.path, err)
	}
	return nil
}

// Abort removes the temporary file; the target stays as it was.
func (p *Pending) Abort() {
	if p.tmp != "" {
		os.Remove(p.tmp)
		p.tmp = ""
	}
}

// writeTemp writes data to a new temporary file beside path with mode (and
// old's owner), syncs and closes it, and returns its name.
func writeTemp(path string, data []byte, mode fs.FileMode, old fs.FileInfo) (tmp string, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()

	if _, err = f.Write(data); err != nil {
		return "", err
	}
	if err = f.Chmod(mode); err != nil {
		return "", err
	}
	if old != nil {
		if err = keepOwner(f, old); err != nil {
			return "", err
		}
	}
	if err = f.Sync(); err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
