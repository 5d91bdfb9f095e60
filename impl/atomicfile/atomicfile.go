// Package atomicfile replaces files crash-safely and locks them across processes.
//
// Write follows the only sequence POSIX makes durable: write a temporary
// file in the target's directory, fsync it, rename it over the target, then
// fsync the directory so the rename itself survives a crash. A reader, or a
// process killed at any instant, sees the old file or the new one, never a
// mix, and a failed Write leaves the old file untouched and no temp behind.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
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

func put(path string, data []byte, perm os.FileMode, place func(old, new string) error) (err error) {
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
