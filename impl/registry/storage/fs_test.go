package storage

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestFS(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fs := NewFS(filepath.Join(dir, "packages"))
	if names, err := fs.List(ctx); err != nil || len(names) != 0 {
		t.Fatalf("empty List: %v %v", names, err)
	}
	if _, err := fs.GetDocument(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing document: %v", err)
	}
	for _, n := range []string{"a", "@s/b"} {
		if err := fs.PutDocument(ctx, n, []byte(`{"name":"`+n+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.PutTarball(ctx, "@s/b", "b-1.0.0.tgz", []byte("tgz")); err != nil {
		t.Fatal(err)
	}
	names, _ := fs.List(ctx)
	slices.Sort(names)
	if !slices.Equal(names, []string{"@s/b", "a"}) {
		t.Errorf("List = %v", names)
	}
	tb, err := fs.OpenTarball(ctx, "@s/b", "b-1.0.0.tgz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(tb)
	tb.Close()
	if string(b) != "tgz" || tb.Size() != 3 {
		t.Errorf("tarball %q size %d", b, tb.Size())
	}
	if err := fs.DeleteTarball(ctx, "@s/b", "b-1.0.0.tgz"); err != nil {
		t.Fatal(err)
	}
	if err := fs.DeleteTarball(ctx, "@s/b", "b-1.0.0.tgz"); err != nil {
		t.Errorf("second delete: %v", err)
	}
	if _, err := fs.OpenTarball(ctx, "@s/b", "b-1.0.0.tgz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted tarball: %v", err)
	}
	// No temp files are left behind.
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if info != nil && !info.IsDir() && filepath.Base(p)[0] == '.' {
			t.Errorf("leftover %s", p)
		}
		return nil
	})
}

func TestFSRefusesPaths(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fs := NewFS(filepath.Join(dir, "packages"))
	for _, name := range []string{"..", "../x", "@s/..", "a/b", ".x", "", "a*"} {
		if err := fs.PutDocument(ctx, name, []byte("x")); err == nil {
			t.Errorf("PutDocument(%q) accepted", name)
		}
	}
	for _, file := range []string{"../a-1.0.0.tgz", "package.json", "a-1.0.0.tgz/../../x", "b-1.0.0.tgz", "a-*.tgz"} {
		if err := fs.PutTarball(ctx, "a", file, []byte("x")); err == nil {
			t.Errorf("PutTarball(a, %q) accepted", file)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "packages" {
			t.Errorf("wrote outside packages/: %s", e.Name())
		}
	}
}
