package auth

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bun13/bun13/impl/atomicfile"
)

// writeFile replaces path with data crash-safely (impl/atomicfile),
// creating its directory first.
func writeFile(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, data, perm)
}

// createFile is writeFile that fails with fs.ErrExist instead of replacing
// an existing file.
func createFile(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Create(path, data, perm)
}

// lockFile takes the exclusive flock on path+".lock" that the bun13 CLI
// takes too while the server runs (the data file itself is replaced on
// every write, and a lock on a replaced inode protects nothing).
func lockFile(path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	u, err := atomicfile.Lock(path)
	if err != nil {
		return nil, err
	}
	return func() { u() }, nil
}

// fileSig identifies one version of a file cheaply. Every write replaces
// the file through rename, so the inode alone changes with each version
// unless inode numbers are reused; size and mtime cover most of that, and
// the racy check in table.reload covers the rest.
type fileSig struct {
	exists bool
	ino    uint64
	size   int64
	mtime  int64
}

func sigOf(fi os.FileInfo) fileSig {
	s := fileSig{exists: true, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = uint64(st.Ino)
	}
	return s
}

// racyWindow is how close to the time it was read a file's mtime must be for
// an unchanged signature to prove nothing: file timestamps come from a
// coarse kernel clock, so a rewrite within the same tick that reuses the
// inode and keeps the size would look identical (git's "racily clean"
// problem).
const racyWindow = 2 * time.Second

// row is a table row; key is its unique key.
type row interface{ key() string }

// table is a JSON array of rows, keyed by row.key, shared between processes
// through a file. Readers get an immutable snapshot without locking;
// writers take an in-process mutex and the file lock, re-read the file,
// change it and replace it. An empty path keeps the table in memory only.
type table[X row] struct {
	path string

	cur  atomic.Pointer[snapshot[X]]
	next atomic.Int64 // UnixNano before which refresh skips the stat

	mu   sync.Mutex // serialises reloads and updates in this process
	sig  fileSig    // of the file cur was read from; guarded by mu
	racy bool       // sig too fresh to trust, see racyWindow; guarded by mu
	raw  []byte     // what cur was decoded from; guarded by mu
}

// snapshot is one published version of a table. Its identity changes only
// when the content does, so callers may cache results against it.
type snapshot[X row] struct {
	rows map[string]X // never modified once published
}

func (t *table[X]) snap() *snapshot[X] {
	if s := t.cur.Load(); s != nil {
		return s
	}
	s := &snapshot[X]{rows: map[string]X{}}
	if t.cur.CompareAndSwap(nil, s) {
		return s
	}
	return t.cur.Load()
}

// refresh reloads the file if it changed, statting it at most once per
// every (as measured by the caller's clock), so hot paths can call it on
// every request.
func (t *table[X]) refresh(now time.Time, every time.Duration) error {
	if t.path == "" {
		return nil
	}
	n := now.UnixNano()
	next := t.next.Load()
	if n < next || !t.next.CompareAndSwap(next, n+int64(every)) {
		return nil
	}
	return t.reload()
}

// reload stats the file and reads it if its signature changed.
func (t *table[X]) reload() error {
	if t.path == "" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur.Load() != nil && !t.racy {
		fi, err := os.Stat(t.path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if !t.sig.exists {
				return nil
			}
		case err != nil:
			return err
		case sigOf(fi) == t.sig:
			return nil
		}
	}
	_, err := t.read()
	return err
}

// read loads the file and publishes it, unless the bytes are the ones
// already published. The signature is taken from the open descriptor so
// that it describes exactly the bytes read. The caller holds t.mu.
func (t *table[X]) read() (*snapshot[X], error) {
	var (
		data []byte
		sig  fileSig
		racy bool
	)
	f, err := os.Open(t.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return nil, err
		}
		if data, err = io.ReadAll(f); err != nil {
			return nil, err
		}
		sig = sigOf(fi)
		// Compared with the real clock, not a caller's, because mtime
		// comes from the real clock.
		racy = time.Since(fi.ModTime()) < racyWindow
	}
	t.sig, t.racy = sig, racy
	if cur := t.cur.Load(); cur != nil && bytes.Equal(data, t.raw) {
		return cur, nil
	}
	var list []X
	if len(data) > 0 {
		if err := json.Unmarshal(data, &list); err != nil {
			t.sig = fileSig{} // retry next time
			return nil, fmt.Errorf("%s: %w", t.path, err)
		}
	}
	rows := make(map[string]X, len(list))
	for _, x := range list {
		rows[x.key()] = x
	}
	s := &snapshot[X]{rows: rows}
	t.raw = data
	t.cur.Store(s)
	return s, nil
}

// update applies fn to a private copy of the latest rows, under the file
// lock, and writes the result if fn succeeds. fn may modify rows freely.
func (t *table[X]) update(fn func(rows map[string]X) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.path == "" {
		rows := cloneMap(t.snap().rows)
		if err := fn(rows); err != nil {
			return err
		}
		t.cur.Store(&snapshot[X]{rows: rows})
		return nil
	}
	unlock, err := lockFile(t.path)
	if err != nil {
		return err
	}
	defer unlock()
	s, err := t.read()
	if err != nil {
		return err
	}
	rows := cloneMap(s.rows) // the published snapshot must stay unmodified
	if err := fn(rows); err != nil {
		return err
	}
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare)
	list := make([]X, len(keys))
	for i, k := range keys {
		list[i] = rows[k]
	}
	data, err := json.MarshalIndent(list, "", "\t")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if err := writeFile(t.path, data, 0o600); err != nil {
		return err
	}
	if fi, err := os.Stat(t.path); err == nil {
		t.sig = sigOf(fi)
	}
	t.racy, t.raw = true, data
	t.cur.Store(&snapshot[X]{rows: rows})
	return nil
}

func cloneMap[X any](m map[string]X) map[string]X {
	c := make(map[string]X, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
