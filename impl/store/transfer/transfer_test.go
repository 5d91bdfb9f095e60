package transfer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"

	"strings"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/registry/pkgname"
	"github.com/bun13/bun13/impl/registry/registrytest"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
	"github.com/bun13/bun13/impl/store/docs/pgdocs"
	"github.com/bun13/bun13/impl/store/transfer"
	"github.com/bun13/bun13/impl/testenv"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
	"github.com/bun13/bun13/impl/testenv/s3temp"
)

type pkg struct {
	name     string
	versions []string
	// how each version's dist and tarball are spoiled: "" (not),
	// "nointegrity" (shasum only), "nohash", "corrupt", "missing"
	spoil string
}

// source writes a data directory as the single-node registry keeps it.
func source(t *testing.T, dir string, pkgs []pkg) transfer.Stores {
	t.Helper()
	ctx := context.Background()
	s := transfer.Stores{Docs: docs.NewFS(dir), Blobs: blobs.NewFS(dir)}
	for _, p := range pkgs {
		versions := map[string]any{}
		for _, v := range p.versions {
			tgz := registrytest.Tarball(p.name, v)
			integrity, shasum := registrytest.Integrity(tgz)
			dist := map[string]any{"integrity": integrity, "shasum": shasum}
			switch p.spoil {
			case "nointegrity":
				delete(dist, "integrity")
			case "nohash":
				dist = map[string]any{}
			case "corrupt":
				tgz = append(bytes.Clone(tgz), 0)
			}
			versions[v] = map[string]any{"name": p.name, "version": v, "dist": dist}
			if p.spoil != "missing" {
				if err := s.Blobs.Put(ctx, p.name, pkgname.TarballFile(p.name, v), tgz); err != nil {
					t.Fatal(err)
				}
			}
		}
		raw, _ := json.Marshal(map[string]any{"name": p.name, "dist-tags": map[string]string{"latest": p.versions[len(p.versions)-1]}, "versions": versions})
		if _, err := s.Docs.Put(ctx, p.name, raw, ""); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

var fixture = []pkg{
	{name: "alpha", versions: []string{"1.0.0", "1.1.0"}},
	{name: "@scope/beta", versions: []string{"2.0.0"}, spoil: "nointegrity"},
	{name: "broken", versions: []string{"1.0.0"}, spoil: "corrupt"},
	{name: "missing", versions: []string{"1.0.0"}, spoil: "missing"},
	{name: "nohash", versions: []string{"1.0.0"}, spoil: "nohash"},
}

func runCopy(t *testing.T, to transfer.Stores) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	from := source(t, dir, fixture)

	sum, err := transfer.Copy(ctx, from, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Packages != 2 || sum.Tarballs != 3 || sum.Skipped != 0 || len(sum.Failed) != 3 {
		t.Fatalf("first copy: %v %v; want 2 packages, 3 tarballs, 3 failed", sum, sum.Failed)
	}
	for name, want := range map[string]string{"broken": "sha512 does not match", "missing": "is missing", "nohash": "no integrity"} {
		if !strings.Contains(sum.Failed[name], want) {
			t.Errorf("%s failed with %q, want it to say %q", name, sum.Failed[name], want)
		}
	}
	for _, name := range []string{"alpha", "@scope/beta"} {
		want, _, _ := from.Docs.Get(ctx, name)
		got, _, err := to.Docs.Get(ctx, name)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: destination document %s, %v", name, got, err)
		}
	}
	b, err := to.Blobs.Open(ctx, "alpha", "alpha-1.1.0.tgz")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(b)
	b.Close()
	if !bytes.Equal(data, registrytest.Tarball("alpha", "1.1.0")) {
		t.Fatal("copied tarball differs")
	}
	for _, name := range []string{"broken", "missing", "nohash"} {
		if _, _, err := to.Docs.Get(ctx, name); !errors.Is(err, docs.ErrNotFound) {
			t.Errorf("%s: a document with a bad tarball was copied (%v)", name, err)
		}
	}
	if l, _ := to.Blobs.List(ctx, "broken"); len(l) != 0 {
		t.Errorf("the corrupt tarball was copied: %q", l)
	}

	again, err := transfer.Copy(ctx, from, to, nil)
	if err != nil || again.Packages != 0 || again.Skipped != 2 || len(again.Failed) != 3 {
		t.Fatalf("second copy: %v %v, %v; want nothing copied, 2 skipped", again, again.Failed, err)
	}

	// Repair the source and resume: only the repaired package moves.
	tgz := registrytest.Tarball("broken", "1.0.0")
	if err := from.Blobs.Put(ctx, "broken", "broken-1.0.0.tgz", tgz); err != nil {
		t.Fatal(err)
	}
	var seen []string
	third, err := transfer.Copy(ctx, from, to, func(name string, _ transfer.Summary) { seen = append(seen, name) })
	if err != nil || third.Packages != 1 || third.Skipped != 2 || len(third.Failed) != 2 {
		t.Fatalf("third copy: %v %v, %v; want broken copied", third, third.Failed, err)
	}
	if len(seen) != len(fixture) {
		t.Fatalf("progress called for %q", seen)
	}
}

func TestCopyToLocal(t *testing.T) {
	dir := t.TempDir()
	runCopy(t, transfer.Stores{Docs: docs.NewFS(dir), Blobs: blobs.NewFS(dir)})
}

// TestCopyToDistributed is `registry migrate`'s path: a data directory
// into PostgreSQL and S3.
func TestCopyToDistributed(t *testing.T) {
	s3 := testenv.Getenv(t, "BUN13_TEST_S3", "an S3 server", pgtemp.Install)
	url := pgtemp.New(t)
	ctx := context.Background()
	d, err := pgdocs.Open(ctx, url, pgdocs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b, err := blobs.OpenURL(ctx, s3temp.WithPrefix(t, s3, "transfer"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	runCopy(t, transfer.Stores{Docs: d, Blobs: b})
}
