package docs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bun13/bun13/impl/registry/storage"
	"github.com/bun13/bun13/impl/store/docs"
	"github.com/bun13/bun13/impl/store/docs/docstest"
)

func TestFSConformance(t *testing.T) {
	docstest.Run(t, docstest.Backing{
		New: func(t *testing.T) func(*testing.T) docs.Store {
			dir := t.TempDir()
			return func(*testing.T) docs.Store { return docs.NewFS(dir) }
		},
	})
}

// TestFSReadsExistingDataDir checks the local store works on a data
// directory written by the registry's storage.FS, unchanged.
func TestFSReadsExistingDataDir(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	old := storage.NewFS(dir)
	if err := old.PutDocument(ctx, "@s/p", []byte(`{"name":"@s/p"}`)); err != nil {
		t.Fatal(err)
	}
	if err := old.PutTarball(ctx, "@s/p", "p-1.0.0.tgz", []byte("tgz")); err != nil {
		t.Fatal(err)
	}
	s := docs.NewFS(dir)
	doc, rev, err := s.Get(ctx, "@s/p")
	if err != nil || string(doc) != `{"name":"@s/p"}` {
		t.Fatalf("Get = %s, %v", doc, err)
	}
	if _, err := s.Put(ctx, "@s/p", []byte(`{"name":"@s/p","v":2}`), rev); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "@s", "p", "package.json"))
	if err != nil || string(b) != `{"name":"@s/p","v":2}` {
		t.Fatalf("file = %s, %v", b, err)
	}
	if got, err := old.GetDocument(ctx, "@s/p"); err != nil || string(got) != string(b) {
		t.Fatalf("storage.FS reads %s, %v", got, err)
	}
	if _, err := s.Put(ctx, "@s/p", []byte(`{}`), rev); !errors.Is(err, docs.ErrConflict) {
		t.Fatalf("stale write: %v", err)
	}
}
