package blobs_test

import (
	"context"
	"testing"

	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/blobs/blobstest"
	"github.com/bun13/bun13/impl/testenv"
	"github.com/bun13/bun13/impl/testenv/s3temp"
	"gocloud.dev/blob/fileblob"
)

func TestFSConformance(t *testing.T) {
	blobstest.Run(t, func(t *testing.T) func(*testing.T) blobs.Store {
		dir := t.TempDir()
		return func(*testing.T) blobs.Store { return blobs.NewFS(dir) }
	}, nil)
}

// TestFileblobConformance runs the gocloud adapter on gocloud's own file
// driver: the adapter is not S3-specific. fileblob fails AtomicOverwrite
// (a reader opening a blob while it is replaced gets EOF), one reason
// file:// URLs open an FS instead.
func TestFileblobConformance(t *testing.T) {
	blobstest.Run(t, func(t *testing.T) func(*testing.T) blobs.Store {
		dir := t.TempDir()
		return func(t *testing.T) blobs.Store {
			b, err := fileblob.OpenBucket(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			return blobs.NewBucket(b)
		}
	}, map[string]string{"AtomicOverwrite": "gocloud fileblob: Open during an overwrite returns EOF"})
}

// TestS3Conformance runs the suite on the S3 server of $BUN13_TEST_S3
// (versitygw in CI), each test under its own key prefix.
func TestS3Conformance(t *testing.T) {
	base := testenv.Getenv(t, "BUN13_TEST_S3", "an S3 server", "source .ci/services (or .ci/services -- go test ...)")
	blobstest.Run(t, func(t *testing.T) func(*testing.T) blobs.Store {
		u := s3temp.WithPrefix(t, base, t.Name())
		return func(t *testing.T) blobs.Store {
			s, err := blobs.OpenURL(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := s.(*blobs.Bucket); !ok {
				t.Fatalf("OpenURL(%s) = %T, want *blobs.Bucket", u, s)
			}
			return s
		}
	}, nil)
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := blobs.OpenURL(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*blobs.FS); !ok {
		t.Fatalf("file URL opened %T, want *blobs.FS", s)
	}
	if err := s.Put(ctx, "p", "p-1.0.0.tgz", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := blobs.NewFS(dir).Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"file://host/dir", "file:///dir?x=1", "nosuch://bucket", "::not a url"} {
		if _, err := blobs.OpenURL(ctx, bad); err == nil {
			t.Errorf("OpenURL(%q) succeeded", bad)
		}
	}
}
