// Package atomicfile replaces files crash-safely and locks them across processes.
//
// Write follows the only sequence POSIX makes durable: write a temporary
// file in the target's directory, fsync it, rename it over the target, then
// fsync the directory so the rename itself survives a crash. A reader, or a
// process killed at any instant, sees the old file or the new one, never a
// mix, and a failed Write leaves the old file untouched and no temp behind.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Write replaces path with data, crash-safely. perm applies to a new file;
// an existing file's mode is kept.
func Write(path string, data []byte, perm os.FileMode) error {
	if st, err := os.Stat(path); err == nil {
		perm = st.Mode().Perm()
	}
	return put(path, data, perm, os.Rename)
}

// Create writes a new file at path crash-safely, and fails with
// fs.ErrExist if one is there: the temp file is linked into place, and
// link(2) refuses an existing target atomically, so of two racing
// creators exactly one wins (a signing key is never overwritten).
func Create(path string, data []byte, perm os.FileMode) error {
	return put(path, data, perm, os.Link)
}

// tempPrefix is how the temp files of target path begin; os.CreateTemp
// puts decimal digits after it.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// isTemp reports whether name (a base name) is a temp file of some
// target: "." + target + ".tmp-" + digits.
func isTemp(name string) bool {
	i := strings.LastIndex(name, ".tmp-")
	if i < 1 || name[0] != '.' {
		return false
	}
	return allDigits(name[i+len(".tmp-"):])
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// RemoveTemps removes the temp files a killed writer of path left behind
// and returns how many it removed. Call it only while holding path's Lock
// (and only for files every writer writes under that lock): then no live
// writer owns a temp of path, so every one found is a dead writer's.
func RemoveTemps(path string) (int, error) {
	dir := filepath.Dir(path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	prefix := tempPrefix(path)
	n := 0
	var errs []error
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, prefix) || !allDigits(name[len(prefix):]) || !e.Type().IsRegular() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// SweepTemps removes, under dir and its subdirectories, every temp file
// Write or Create left behind that was last modified before now-minAge.
// A server calls it at start on directories it alone writes, so that
// writers killed in an earlier run leave nothing behind for good. It
// returns the paths removed.
func SweepTemps(dir string, minAge time.Duration) ([]string, error) {
	cutoff := time.Now().Add(-minAge)
	var removed []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() || !isTemp(d.Name()) {
			return nil
		}
		if minAge > 0 {
			info, err := d.Info()
			if err != nil || info.ModTime().After(cutoff) {
				return nil
			}
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		removed = append(removed, p)
		return nil
	})
	return removed, err
}

func put(path string, data []byte, perm os.FileMode, place func(old, new string) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPrefix(path)+"*")
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
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = place(tmp, path); err != nil {
		return err
	}
	os.Remove(tmp) // after Link; a no-op after Rename
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, making renames and creations in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// Lock takes an exclusive flock on path+".lock", creating it, and blocks
// until it is held. flock locks belong to the open file, so two Locks in
// one process exclude each other as well as two processes do. The lock
// file is left in place: removing it would let a waiter lock a deleted
// inode while a newcomer locks a fresh one.
func Lock(path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() error {
		// Closing the file releases the lock.
		return f.Close()
	}, nil
}
