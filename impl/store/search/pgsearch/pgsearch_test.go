package pgsearch_test

import (
	"context"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/store/search"
	"github.com/bun13/bun13/impl/store/search/pgsearch"
	"github.com/bun13/bun13/impl/store/search/searchtest"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
	"github.com/jackc/pgx/v5/pgxpool"
)

func newIndex(t testing.TB) *pgsearch.Index {
	t.Helper()
	url := pgtemp.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pgsearch.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pgsearch.New(pool)
}

func TestConformance(t *testing.T) {
	pgtemp.URL(t)
	searchtest.Run(t, func(t *testing.T) search.Index { return newIndex(t) })
}

// TestDifferential answers random queries over a random corpus exactly as
// the in-memory index.
func TestDifferential(t *testing.T) {
	searchtest.Differential(t, newIndex(t), 300, 300)
}

func TestNUL(t *testing.T) {
	x := newIndex(t)
	ctx := context.Background()
	e := search.Entry{Name: "nul", Version: "1.0.0", Description: "a\x00b", Keywords: []string{"k\x00"}, Links: map[string]string{}}
	if err := x.Update(ctx, e); err != nil {
		t.Fatal(err)
	}
	res, err := x.Search(ctx, "ab", 0, 10)
	if err != nil || res.Total != 1 || res.Hits[0].Description != "ab" {
		t.Fatalf("stored without NUL: %+v, %v", res, err)
	}
	if res, err := x.Search(ctx, "a\x00b", 0, 10); err != nil || res.Total != 0 {
		t.Fatalf("a word with a NUL: %+v, %v", res, err)
	}
}
