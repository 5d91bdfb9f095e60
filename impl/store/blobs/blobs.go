// Package blobs keeps tarballs, keyed by package name and tarball file.
//
// [Store] has two implementations that pass one conformance suite
// (package blobstest):
//
//   - [FS], the embedded default: the registry's data directory as it is
//     today (DIR/NAME/NAME-VERSION.tgz), every write atomic and fsynced.
//   - [Bucket], any gocloud.dev/blob bucket; [OpenURL] opens
//     s3://BUCKET?endpoint=...&region=...&use_path_style=true (AWS S3 or
//     any S3-compatible server: MinIO, Ceph, R2, versitygw), with
//     credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
//
// file:///DIR URLs open an [FS] rather than gocloud's fileblob, which
// neither fsyncs nor keeps the data directory's layout; a Bucket on
// fileblob still passes the suite and is what the tests use to prove the
// adapter is not S3-specific.
//
// A Put is durable when it returns: a publish acknowledges only after
// its tarball's Put did, so a crash leaves at most an unreferenced blob.
package blobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/bun13/bun13/impl/registry/pkgname"
)

// ErrNotFound is returned by Open for a tarball that is not stored.
var ErrNotFound = errors.New("blobs: not found")

// Store keeps any number of tarballs per package. Names and files reaching
// a store are checked again (pkgname.Validate, pkgname.ParseTarballFile)
// before they become a path or a key.
type Store interface {
	// Open opens tarball file of package name, or returns ErrNotFound.
	// The caller closes it.
	Open(ctx context.Context, name, file string) (Blob, error)
	// Put stores data as tarball file of package name, durably and
	// atomically (readers see the old bytes or the new ones).
	Put(ctx context.Context, name, file string, data []byte) error
	// Delete removes a tarball; a missing one is not an error.
	Delete(ctx context.Context, name, file string) error
	// List returns the tarball files of package name in byte order (none
	// for an unknown package), for sweeping blobs no document refers to.
	List(ctx context.Context, name string) ([]string, error)
	// Ping reports whether the store can be used, for readiness checks.
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error
}

// Blob is an open tarball.
type Blob interface {
	io.ReadSeekCloser
	// Size is the tarball's length in bytes.
	Size() int64
}

// key checks name and file and returns the blob key "NAME/FILE".
func key(name, file string) (string, error) {
	if err := pkgname.Validate(name); err != nil {
		return "", err
	}
	if _, err := pkgname.ParseTarballFile(name, file); err != nil {
		return "", err
	}
	return name + "/" + file, nil
}

// OpenURL opens the store a URL names: file:///DIR (an FS on DIR) or a
// gocloud.dev/blob URL whose driver is linked in (s3://).
func OpenURL(ctx context.Context, rawURL string) (Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	if u.Scheme == "file" {
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("blobs: %s: a file URL names a local directory: file:///DIR", rawURL)
		}
		if u.Path == "" || u.RawQuery != "" {
			return nil, fmt.Errorf("blobs: %s: want file:///DIR with an absolute directory and no query", rawURL)
		}
		return NewFS(u.Path), nil
	}
	return OpenBucket(ctx, rawURL)
}
