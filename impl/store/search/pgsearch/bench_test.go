package pgsearch_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/store/search"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
)

var benchWords = []string{"react", "dom", "util", "pad", "string", "fast", "tiny", "vue", "core", "cli", "test", "parser", "http", "stream", "color", "date", "config", "logger", "router", "schema"}

// benchEntries returns n entries whose names and descriptions draw on
// benchWords, each name unique.
func benchEntries(n int) []search.Entry {
	r := rand.New(rand.NewPCG(1, 1))
	out := make([]search.Entry, n)
	for i := range out {
		w := func() string { return benchWords[r.IntN(len(benchWords))] }
		out[i] = search.Entry{
			Name:        fmt.Sprintf("%s-%s-%d", w(), w(), i),
			Version:     "1.0.0",
			Description: fmt.Sprintf("a %s %s for %s", w(), w(), w()),
			Keywords:    []string{w(), w()},
			Date:        "2026-01-01T00:00:00.000Z",
			Publisher:   search.Person{Name: fmt.Sprint("user", i%100)},
			Maintainers: []search.Person{{Name: fmt.Sprint("user", i%100)}},
			Links:       map[string]string{},
		}
	}
	return out
}

var benchQueries = []string{"react", "parser stream", "keywords:http", "maintainer:user7 date", "router-core", "tiny-cli-12345", "zzz-no-match"}

func benchSearch(b *testing.B, x search.Index) {
	ctx := context.Background()
	for _, q := range benchQueries {
		b.Run("q="+q, func(b *testing.B) {
			b.ReportAllocs()
			var l []time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := x.Search(ctx, q, 0, 20); err != nil {
					b.Fatal(err)
				}
				l = append(l, time.Since(t0))
			}
			slices.Sort(l)
			b.ReportMetric(float64(l[len(l)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(l[len(l)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}

// BenchmarkSearch runs the same queries over the same entries
// ($BUN13_BENCH_PACKAGES, default 100,000) in PostgreSQL and, as the peer,
// in the in-memory index the registry uses today.
func BenchmarkSearch(b *testing.B) {
	if os.Getenv(pgtemp.Env) == "" {
		b.Skip("needs PostgreSQL ($" + pgtemp.Env + "; " + pgtemp.Install + ")")
	}
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("BUN13_BENCH_PACKAGES")); err == nil && v > 0 {
		n = v
	}
	entries := benchEntries(n)
	b.Run(fmt.Sprintf("postgres/packages=%d", n), func(b *testing.B) {
		x := newIndex(b)
		t0 := time.Now()
		if err := x.UpdateAll(context.Background(), entries); err != nil {
			b.Fatal(err)
		}
		b.Logf("indexed %d entries in %v", n, time.Since(t0).Round(time.Millisecond))
		if _, err := x.Pool().Exec(context.Background(), "VACUUM ANALYZE search_entries"); err != nil {
			b.Fatal(err)
		}
		benchSearch(b, x)
	})
	b.Run(fmt.Sprintf("memory/packages=%d", n), func(b *testing.B) {
		x := &search.Memory{}
		for _, e := range entries {
			x.Update(context.Background(), e)
		}
		benchSearch(b, x)
	})
}
