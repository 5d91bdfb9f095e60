package pgdocs_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/store/docs"
	"github.com/bun13/bun13/impl/store/docs/pgdocs"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
)

// packumentJSON returns a realistic package document of about 3 KB: three
// versions with their dist records, dist-tags, times and maintainers.
func packumentJSON(name string) []byte {
	doc := fmt.Sprintf(`{"_id":%q,"name":%q,"description":"the %s package, generated for the bulk-load benchmark","dist-tags":{"latest":"1.2.0"},"maintainers":[{"name":"bench","email":"bench@example.test"}],"time":{"created":"2026-01-01T00:00:00.000Z","modified":"2026-03-01T00:00:00.000Z","1.0.0":"2026-01-01T00:00:00.000Z","1.1.0":"2026-02-01T00:00:00.000Z","1.2.0":"2026-03-01T00:00:00.000Z"},"versions":{`, name, name, name)
	for i, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		if i > 0 {
			doc += ","
		}
		doc += fmt.Sprintf(`%q:{"name":%q,"version":%q,"description":"the %s package","main":"index.js","keywords":["bench","bulk","k%d"],"license":"MIT","repository":{"type":"git","url":"git+https://example.test/%s.git"},"dependencies":{"left-pad":"^1.3.0","lodash":"^4.17.21"},"_npmUser":{"name":"bench","email":"bench@example.test"},"dist":{"tarball":"http://127.0.0.1:4873/%s/-/%s-%s.tgz","shasum":"0123456789abcdef0123456789abcdef01234567","integrity":"sha512-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==","fileCount":4,"unpackedSize":12345}}`,
			v, name, v, name, i, name, name, name, v)
	}
	return []byte(doc + "}}")
}

func benchName(i int) string { return fmt.Sprintf("bench-pkg-%06d", i) }

// latencies records one duration per op and reports p50 and p99.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	b.ReportMetric(float64(l[len(l)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(l[len(l)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkPostgres bulk-loads packages into a fresh database (1,000 and
// $BUN13_BENCH_PACKAGES, default 100,000), then measures opening a store
// on it (migrations included: start time must not grow with the count),
// Get and Revision of random packages, and beside them the floor of one
// round trip through the same pool (SELECT 1).
func BenchmarkPostgres(b *testing.B) {
	if os.Getenv(pgtemp.Env) == "" {
		b.Skip("needs PostgreSQL ($" + pgtemp.Env + "; " + pgtemp.Install + ")")
	}
	big := 100_000
	if v, err := strconv.Atoi(os.Getenv("BUN13_BENCH_PACKAGES")); err == nil && v > 0 {
		big = v
	}
	for _, n := range []int{1000, big} {
		b.Run(fmt.Sprintf("packages=%d", n), func(b *testing.B) {
			url := pgtemp.New(b)
			ctx := context.Background()
			s, err := pgdocs.Open(ctx, url, pgdocs.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			start := time.Now()
			const chunk = 5000
			for i := 0; i < n; i += chunk {
				batch := make([]pgdocs.Doc, 0, chunk)
				for j := i; j < min(n, i+chunk); j++ {
					batch = append(batch, pgdocs.Doc{Name: benchName(j), Doc: packumentJSON(benchName(j))})
				}
				if _, err := s.Load(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			load := time.Since(start)
			if _, err := s.Pool().Exec(ctx, "VACUUM ANALYZE documents"); err != nil {
				b.Fatal(err)
			}
			b.Logf("loaded %d packages (%d bytes each) in %v: %.0f packages/s", n, len(packumentJSON(benchName(0))), load.Round(time.Millisecond), float64(n)/load.Seconds())

			b.Run("Open", func(b *testing.B) {
				b.ReportAllocs()
				var l latencies
				for b.Loop() {
					t0 := time.Now()
					s2, err := pgdocs.Open(ctx, url, pgdocs.Options{})
					if err != nil {
						b.Fatal(err)
					}
					l = append(l, time.Since(t0))
					s2.Close()
				}
				l.report(b)
			})
			get := func(b *testing.B, fn func(name string) error) {
				b.ReportAllocs()
				r := rand.New(rand.NewPCG(1, 2))
				var l latencies
				for b.Loop() {
					name := benchName(r.IntN(n))
					t0 := time.Now()
					if err := fn(name); err != nil {
						b.Fatal(err)
					}
					l = append(l, time.Since(t0))
				}
				l.report(b)
			}
			b.Run("Get", func(b *testing.B) {
				get(b, func(name string) error { _, _, err := s.Get(ctx, name); return err })
			})
			b.Run("Revision", func(b *testing.B) {
				get(b, func(name string) error { _, err := s.Revision(ctx, name); return err })
			})
			b.Run("SelectOne", func(b *testing.B) {
				get(b, func(string) error {
					var one int
					return s.Pool().QueryRow(ctx, "SELECT 1").Scan(&one)
				})
			})
		})
	}
}

// BenchmarkFS is the peer: the local store's Get on 1,000 packages of the
// same documents.
func BenchmarkFS(b *testing.B) {
	s := docs.NewFS(b.TempDir())
	ctx := context.Background()
	const n = 1000
	for i := range n {
		if _, err := s.Put(ctx, benchName(i), packumentJSON(benchName(i)), ""); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Get", func(b *testing.B) {
		b.ReportAllocs()
		r := rand.New(rand.NewPCG(1, 2))
		var l latencies
		for b.Loop() {
			name := benchName(r.IntN(n))
			t0 := time.Now()
			if _, _, err := s.Get(ctx, name); err != nil {
				b.Fatal(err)
			}
			l = append(l, time.Since(t0))
		}
		l.report(b)
	})
}

// BenchmarkFeed measures how long a write committed through one store
// takes to reach a subscriber of another store on the same database (two
// replicas): Put returns, then the time until the subscriber sees that
// revision, beside the Put itself.
func BenchmarkFeed(b *testing.B) {
	if os.Getenv(pgtemp.Env) == "" {
		b.Skip("needs PostgreSQL ($" + pgtemp.Env + "; " + pgtemp.Install + ")")
	}
	url := pgtemp.New(b)
	ctx := context.Background()
	w, err := pgdocs.Open(ctx, url, pgdocs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	r, err := pgdocs.Open(ctx, url, pgdocs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	seen := make(chan docs.Change, 16)
	defer r.Subscribe(func(c docs.Change) { seen <- c })()
	rev, err := w.Put(ctx, "fed", []byte(`{"n":0}`), "")
	if err != nil {
		b.Fatal(err)
	}
	<-seen
	var puts, feed latencies
	for b.Loop() {
		t0 := time.Now()
		rev, err = w.Put(ctx, "fed", []byte(`{"n":1}`), rev)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		for c := range seen {
			if c.Rev == rev {
				break
			}
		}
		t2 := time.Now()
		puts = append(puts, t1.Sub(t0))
		feed = append(feed, t2.Sub(t1))
	}
	feed.report(b)
	slices.Sort(puts)
	b.ReportMetric(float64(puts[len(puts)/2].Nanoseconds()), "put-p50-ns")
	b.ReportMetric(float64(puts[len(puts)*99/100].Nanoseconds()), "put-p99-ns")
}
