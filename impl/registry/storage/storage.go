// Package storage keeps a registry's package documents and tarballs.
//
// [Backend] is the small interface the registry needs; [FS] implements it on
// local files. A networked backend only has to provide the same methods
// with the same guarantees: a successful Put is durable and atomic (a
// reader, or a restart after a crash at any instant, sees the old bytes or
// the new ones), and names reaching a backend have passed
// pkgname.Validate, which backends check again before building a path.
//
// The registry serializes writers per package itself; a backend needs no
// locking beyond making each single Put atomic.
package storage

import (
	"context"
	"errors"
	"io"
)

// ErrNotFound is returned for a package or tarball that is not stored.
var ErrNotFound = errors.New("not found")

// Backend stores one document and any number of tarballs per package.
type Backend interface {
	// GetDocument returns the stored document of package name, or
	// ErrNotFound.
	GetDocument(ctx context.Context, name string) ([]byte, error)
	// PutDocument replaces the document of package name, durably.
	PutDocument(ctx context.Context, name string, doc []byte) error

	// OpenTarball opens the tarball file of package name, or returns
	// ErrNotFound. The caller closes it.
	OpenTarball(ctx context.Context, name, file string) (Tarball, error)
	// PutTarball stores a tarball file of package name, durably.
	PutTarball(ctx context.Context, name, file string, data []byte) error
	// DeleteTarball removes a tarball file; a missing file is not an error.
	DeleteTarball(ctx context.Context, name, file string) error

	// List returns the names of all packages that have a document, in no
	// particular order.
	List(ctx context.Context) ([]string, error)
}

// Tarball is an open tarball.
type Tarball interface {
	io.ReadSeekCloser
	// Size is the tarball's length in bytes.
	Size() int64
}
