package docs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/maphash"
	"slices"
	"sync"

	"github.com/bun13/bun13/impl/registry/storage"
)

// FS is the embedded store: the documents of a registry data directory,
// laid out and written exactly as storage.FS does (DIR/NAME/package.json,
// atomic and fsynced), so the single-node registry's files stay as they
// are. It is for one process: compare-and-swap is enforced by locks inside
// it, and its feed sees only its own writes.
//
// A revision is a hash of the document's bytes, so nothing beside the
// documents is stored and a directory written by older versions works
// unchanged. Writing back the exact bytes that were there before gives the
// same revision back; that is harmless for compare-and-swap, whose
// question is "is the document still the one I read".
//
// List and Count scan the directory; they are meant for tools and tests,
// not for the request path.
type FS struct {
	fs    *storage.FS
	seed  maphash.Seed
	locks [64]sync.Mutex
	feed  Feed
}

// NewFS returns the store of the documents under dir.
func NewFS(dir string) *FS {
	return &FS{fs: storage.NewFS(dir), seed: maphash.MakeSeed()}
}

// revOf returns the revision of a stored document.
func revOf(doc []byte) Rev {
	h := sha256.Sum256(doc)
	return Rev(hex.EncodeToString(h[:16]))
}

func (f *FS) lock(name string) *sync.Mutex {
	return &f.locks[maphash.String(f.seed, name)%uint64(len(f.locks))]
}

// Get implements Store.
func (f *FS) Get(ctx context.Context, name string) ([]byte, Rev, error) {
	b, err := f.fs.GetDocument(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, "", ErrNotFound
	}
	if err != nil {
		return nil, "", err
	}
	return b, revOf(b), nil
}

// Revision implements Store.
func (f *FS) Revision(ctx context.Context, name string) (Rev, error) {
	_, rev, err := f.Get(ctx, name)
	return rev, err
}

// Put implements Store.
func (f *FS) Put(ctx context.Context, name string, doc []byte, expected Rev) (Rev, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	mu := f.lock(name)
	mu.Lock()
	defer mu.Unlock()
	cur, err := f.fs.GetDocument(ctx, name)
	var curRev Rev
	switch {
	case err == nil:
		curRev = revOf(cur)
	case !errors.Is(err, storage.ErrNotFound):
		return "", err
	}
	if curRev != expected {
		return "", ErrConflict
	}
	if err := f.fs.PutDocument(ctx, name, doc); err != nil {
		return "", err
	}
	rev := revOf(doc)
	f.feed.Publish(Change{Name: name, Rev: rev})
	return rev, nil
}

// List implements Store.
func (f *FS) List(ctx context.Context, after string, limit int) ([]string, error) {
	names, err := f.fs.List(ctx)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	i, found := slices.BinarySearch(names, after)
	if found {
		i++
	}
	names = names[i:]
	if limit > 0 && len(names) > limit {
		names = names[:limit]
	}
	return slices.Clip(names), nil
}

// Count implements Store.
func (f *FS) Count(ctx context.Context) (int64, error) {
	names, err := f.fs.List(ctx)
	return int64(len(names)), err
}

// Subscribe implements Store. Changes are delivered from the writing
// goroutine while it still holds the name's lock, so calls for one name
// come in commit order.
func (f *FS) Subscribe(fn func(Change)) func() { return f.feed.Subscribe(fn) }

// Close implements Store; an FS holds nothing open.
func (f *FS) Close() error { return nil }
