package heartbeat_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/store/fleet"
	"github.com/bun13/bun13/impl/store/fleet/heartbeat"
	"github.com/bun13/bun13/impl/store/fleet/pgfleet"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
)

func quantiles(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(d[min(len(d)-1, len(d)*99/100)].Nanoseconds()), "p99-ns")
}

// BenchmarkPostgres is what the fleet costs PostgreSQL: one heartbeat
// (every replica, every 5 s), one uncached View listing (at most once per
// TTL per replica) of 3 and of 100 replicas, against the floor of a
// SELECT 1 on the same pool.
//
//	.ci/services -- go test -run '^$' -bench Postgres -benchtime 2000x ./impl/store/fleet/heartbeat/
func BenchmarkPostgres(b *testing.B) {
	url := pgtemp.New(b)
	ctx := context.Background()
	if err := pgfleet.Migrate(ctx, url); err != nil {
		b.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	st := pgfleet.New(pool)
	cfg := [fleet.ConfigSize]byte(config.Default().Bytes())
	run := func(b *testing.B, f func()) {
		f()
		d := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			t0 := time.Now()
			f()
			d = append(d, time.Since(t0))
		}
		b.StopTimer()
		quantiles(b, d)
	}
	b.Run("beat", func(b *testing.B) {
		r := fleet.Replica{ID: "bench-self", Version: "bench", Config: cfg, Started: time.Now()}
		run(b, func() {
			if err := st.Beat(ctx, r); err != nil {
				b.Fatal(err)
			}
		})
	})
	for _, n := range []int{3, 100} {
		b.Run("list-"+strconv.Itoa(n), func(b *testing.B) {
			for i := range n {
				st.Beat(ctx, fleet.Replica{ID: "bench-" + strconv.Itoa(i), Version: "bench", Config: cfg, Started: time.Now()})
			}
			v := &heartbeat.View{Store: st, Self: "bench-0", TTL: time.Nanosecond}
			run(b, func() {
				if _, err := v.Fleet(ctx); err != nil {
					b.Fatal(err)
				}
			})
			pool.Exec(ctx, "DELETE FROM replicas")
		})
	}
	b.Run("select-1-floor", func(b *testing.B) {
		run(b, func() {
			var one int
			if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
				b.Fatal(err)
			}
		})
	})
}
