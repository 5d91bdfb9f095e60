package blobs

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bun13/bun13/impl/registry/pkgname"
	"github.com/bun13/bun13/impl/registry/storage"
)

// FS stores tarballs as the registry's data directory does, through
// storage.FS: DIR/NAME/FILE, written to a temp file, fsynced and renamed.
type FS struct {
	dir string
	fs  *storage.FS
}

var _ Store = (*FS)(nil)

// NewFS returns the store of the tarballs under dir.
func NewFS(dir string) *FS { return &FS{dir: dir, fs: storage.NewFS(dir)} }

// Open implements Store.
func (f *FS) Open(ctx context.Context, name, file string) (Blob, error) {
	t, err := f.fs.OpenTarball(ctx, name, file)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Put implements Store.
func (f *FS) Put(ctx context.Context, name, file string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.fs.PutTarball(ctx, name, file, data)
}

// Delete implements Store.
func (f *FS) Delete(ctx context.Context, name, file string) error {
	err := f.fs.DeleteTarball(ctx, name, file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // the package directory itself does not exist
	}
	return err
}

// List implements Store.
func (f *FS) List(_ context.Context, name string) ([]string, error) {
	if err := pkgname.Validate(name); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(filepath.Join(f.dir, filepath.FromSlash(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(n, ".tgz") {
			if _, err := pkgname.ParseTarballFile(name, n); err == nil {
				files = append(files, n)
			}
		}
	}
	slices.Sort(files)
	return files, nil
}

// Ping implements Store with the data directory's readiness check
// (storage.FS.Ping): the directory exists, or is created, and is a
// writable directory.
func (f *FS) Ping(ctx context.Context) error { return f.fs.Ping(ctx) }

// Close implements Store.
func (f *FS) Close() error { return nil }
