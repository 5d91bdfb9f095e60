package lockout_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bun13/bun13/impl/ratelimit/lockout"
	"github.com/bun13/bun13/impl/ratelimit/redislimit"
)

// BenchmarkLockoutAllow is the check before a password is verified:
// Local, Redis (one EVALSHA on loopback) and the floor of a PING on the
// same client. (A bcrypt/argon password check costs tens of ms, so
// either is small beside the login it guards.)
//
//	.ci/services -- go test -run '^$' -bench LockoutAllow -benchtime 20000x ./impl/ratelimit/lockout/
func BenchmarkLockoutAllow(b *testing.B) {
	url := redisURL(b)
	ctx := context.Background()
	c, err := redislimit.NewClient(url)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	accts := make([]string, 1000)
	for i := range accts {
		accts[i] = "bench-" + strconv.Itoa(i)
	}
	run := func(b *testing.B, f func(i int)) {
		f(0)
		d := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			t0 := time.Now()
			f(i)
			d = append(d, time.Since(t0))
		}
		b.StopTimer()
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(d[min(len(d)-1, len(d)*99/100)].Nanoseconds()), "p99-ns")
	}
	now := time.Now()
	b.Run("local", func(b *testing.B) {
		l := &lockout.Local{}
		run(b, func(i int) { l.Allow(ctx, accts[i%len(accts)], "192.0.2.1", now) })
	})
	b.Run("redis", func(b *testing.B) {
		m := redislimit.NewMetrics(nil)
		l := &lockout.Redis{Client: c, Metrics: m}
		run(b, func(i int) { l.Allow(ctx, accts[i%len(accts)], "192.0.2.1", now) })
		if n := testutil.ToFloat64(m.Errors); n != 0 {
			b.Fatalf("%v checks did not reach Redis", n)
		}
	})
	b.Run("redis-ping-floor", func(b *testing.B) {
		run(b, func(int) { c.Ping(ctx) })
	})
}
