package blobs

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bun13/bun13/impl/registry/pkgname"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob" // s3:// URLs
	"gocloud.dev/gcerrors"
)

// Bucket is a Store on a gocloud.dev/blob bucket, keys "NAME/FILE".
type Bucket struct {
	b *blob.Bucket
}

var _ Store = (*Bucket)(nil)

// OpenBucket opens a gocloud.dev/blob URL (s3://...) as a Store.
func OpenBucket(ctx context.Context, rawURL string) (*Bucket, error) {
	b, err := blob.OpenBucket(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	return &Bucket{b: b}, nil
}

// NewBucket wraps an open bucket; Close closes it.
func NewBucket(b *blob.Bucket) *Bucket { return &Bucket{b: b} }

// Open implements Store.
func (b *Bucket) Open(ctx context.Context, name, file string) (Blob, error) {
	k, err := key(name, file)
	if err != nil {
		return nil, err
	}
	r, err := b.b.NewReader(ctx, k, nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("blobs: open %s: %w", k, err)
	}
	return r, nil
}

// Put implements Store. The data's MD5 goes with it, so the server
// refuses a body damaged on the way; the write is acknowledged only once
// the server has it.
func (b *Bucket) Put(ctx context.Context, name, file string, data []byte) error {
	k, err := key(name, file)
	if err != nil {
		return err
	}
	sum := md5.Sum(data)
	err = b.b.WriteAll(ctx, k, data, &blob.WriterOptions{
		ContentType: "application/octet-stream",
		ContentMD5:  sum[:],
	})
	if err != nil {
		return fmt.Errorf("blobs: put %s: %w", k, err)
	}
	return nil
}

// Delete implements Store.
func (b *Bucket) Delete(ctx context.Context, name, file string) error {
	k, err := key(name, file)
	if err != nil {
		return err
	}
	err = b.b.Delete(ctx, k)
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("blobs: delete %s: %w", k, err)
	}
	return nil
}

// List implements Store.
func (b *Bucket) List(ctx context.Context, name string) ([]string, error) {
	if err := pkgname.Validate(name); err != nil {
		return nil, err
	}
	prefix := name + "/"
	it := b.b.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
	var files []string
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("blobs: list %s: %w", name, err)
		}
		if obj.IsDir {
			continue
		}
		files = append(files, strings.TrimPrefix(obj.Key, prefix))
	}
	slices.Sort(files)
	return files, nil
}

// Ping implements Store.
func (b *Bucket) Ping(ctx context.Context) error {
	ok, err := b.b.IsAccessible(ctx)
	if err != nil {
		return fmt.Errorf("blobs: %w", err)
	}
	if !ok {
		return errors.New("blobs: bucket not accessible")
	}
	return nil
}

// Close implements Store.
func (b *Bucket) Close() error { return b.b.Close() }
