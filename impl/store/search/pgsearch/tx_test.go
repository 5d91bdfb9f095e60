package pgsearch_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/store/docs"
	"github.com/bun13/bun13/impl/store/docs/pgdocs"
	"github.com/bun13/bun13/impl/store/search"
	"github.com/bun13/bun13/impl/store/search/pgsearch"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
	"github.com/jackc/pgx/v5"
)

// TestIndexCommitsWithDocument writes a document and its search entry in
// one transaction (pgdocs.PutTx + pgsearch.UpdateIn): both land, or, when
// the transaction fails, neither does and no change is announced.
func TestIndexCommitsWithDocument(t *testing.T) {
	url := pgtemp.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := pgdocs.Open(ctx, url, pgdocs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := pgsearch.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	x := pgsearch.New(s.Pool())
	changes := make(chan docs.Change, 10)
	defer s.Subscribe(func(c docs.Change) { changes <- c })()

	doc := func(desc string) []byte {
		return []byte(`{"name":"txpkg","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"description":"` + desc + `"}}}`)
	}
	withEntry := func(d []byte, fail error) func(context.Context, pgx.Tx) error {
		return func(ctx context.Context, tx pgx.Tx) error {
			e, live, err := search.FromDocument(d)
			if err != nil || !live {
				t.Fatalf("FromDocument: %v live=%v", err, live)
			}
			if err := pgsearch.UpdateIn(ctx, tx, e); err != nil {
				return err
			}
			return fail
		}
	}
	rev, err := s.PutTx(ctx, "txpkg", doc("first"), "", withEntry(doc("first"), nil))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := x.Search(ctx, "first", 0, 10); err != nil || res.Total != 1 {
		t.Fatalf("entry after the commit: %+v, %v", res, err)
	}
	if c := <-changes; c.Name != "txpkg" || c.Rev != rev {
		t.Fatalf("change %+v, want txpkg at %s", c, rev)
	}

	boom := errors.New("boom")
	if _, err := s.PutTx(ctx, "txpkg", doc("second"), rev, withEntry(doc("second"), boom)); !errors.Is(err, boom) {
		t.Fatalf("PutTx with a failing also: %v, want boom", err)
	}
	if got, r, err := s.Get(ctx, "txpkg"); err != nil || r != rev || string(got) != string(doc("first")) {
		t.Fatalf("document after a rolled-back PutTx: %s %q %v", got, r, err)
	}
	if res, _ := x.Search(ctx, "second", 0, 10); res.Total != 0 {
		t.Fatal("the rolled-back entry is visible")
	}

	called := false
	if _, err := s.PutTx(ctx, "txpkg", doc("third"), "999", func(context.Context, pgx.Tx) error { called = true; return nil }); !errors.Is(err, docs.ErrConflict) || called {
		t.Fatalf("PutTx with a stale revision: %v, also called %v", err, called)
	}

	if _, err := s.Put(ctx, "marker", []byte(`{}`), ""); err != nil {
		t.Fatal(err)
	}
	if c := <-changes; c.Name != "marker" {
		t.Fatalf("change %+v before the marker: a rolled-back write was announced", c)
	}
}
