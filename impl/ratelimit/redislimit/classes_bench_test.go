package redislimit_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bun13/bun13/impl/ratelimit"
	"github.com/bun13/bun13/impl/ratelimit/redislimit"
	"github.com/bun13/bun13/impl/testenv"
)

// reportQuantiles adds p50 and p99 of the per-op durations to b's output.
func reportQuantiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	q := func(p float64) float64 { return float64(d[min(len(d)-1, int(p*float64(len(d))))].Nanoseconds()) }
	b.ReportMetric(q(0.50), "p50-ns")
	b.ReportMetric(q(0.99), "p99-ns")
}

// BenchmarkClassCheck is one read-class check as the registry makes it:
// through Classes (today), through LocalCheckers (the swap, local), and
// through redislimit.Classes (one EVALSHA on loopback), against the
// floor of a Redis PING on the same client.
//
//	.ci/services -- go test -run '^$' -bench ClassCheck -benchtime 20000x ./impl/ratelimit/redislimit/
func BenchmarkClassCheck(b *testing.B) {
	url := testenv.Getenv(b, "BUN13_TEST_REDIS", "Redis", install)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "bench-" + strconv.Itoa(i)
	}
	c, err := redislimit.NewClient(url)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	run := func(b *testing.B, check func(i int)) {
		check(0) // warm: script cached, connection open
		d := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			t0 := time.Now()
			check(i)
			d = append(d, time.Since(t0))
		}
		b.StopTimer()
		reportQuantiles(b, d)
	}
	now := time.Now()
	b.Run("classes-local", func(b *testing.B) {
		cl := &ratelimit.Classes{}
		run(b, func(i int) { cl.Allow(ratelimit.ClassRead, keys[i%len(keys)], now) })
	})
	b.Run("checkers-local", func(b *testing.B) {
		cl := ratelimit.LocalCheckers(&ratelimit.Classes{})
		run(b, func(i int) { cl.Allow(ratelimit.ClassRead, keys[i%len(keys)], now) })
	})
	b.Run("checkers-redis", func(b *testing.B) {
		m := redislimit.NewMetrics(nil)
		cl := redislimit.Classes(c, &ratelimit.Classes{}, m, nil)
		run(b, func(i int) { cl.Allow(ratelimit.ClassRead, keys[i%len(keys)], now) })
		if n := testutil.ToFloat64(m.Errors); n != 0 {
			b.Fatalf("%v checks did not reach Redis", n)
		}
	})
	b.Run("redis-ping-floor", func(b *testing.B) {
		ctx := context.Background()
		run(b, func(int) { c.Ping(ctx) })
	})
}
