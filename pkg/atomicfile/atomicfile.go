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
	info, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		info = nil
	case err != nil:
		return false, fmt.Errorf("atomicfile: %w", err)
	case info.Mode()&fs.ModeSymlink != 0:
		return false, fmt.Errorf("%w: %s", ErrSymlink, path)
	case !info.Mode().IsRegular():
		return false, fmt.Errorf("atomicfile: %s is not a regular file", path)
	default:
		if keepMode {
			mode = info.Mode().Perm() &^ 0o002
		}
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) && info.Mode().Perm() == mode {
			return false, nil
		}
	}
	if err := replace(path, data, mode, info); err != nil {
		return false, fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	return true, nil
}

func replace(path string, data []byte, mode fs.FileMode, old fs.FileInfo) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()

	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if old != nil {
		if err = keepOwner(f, old); err != nil {
			return err
		}
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
