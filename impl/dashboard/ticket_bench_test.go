package dashboard

import (
	"context"
	"crypto/ed25519"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bun13/bun13/impl/testenv"
)

// BenchmarkTicket is one ticket issued and redeemed (once per dashboard
// connection): signed tickets checked per process, against the floor of
// one Ed25519 signature and verification of a message of the same size,
// and with the fleet-wide SET NX, against the floor of a Redis PING.
//
//	.ci/services -- go test -run '^$' -bench Ticket -benchtime 5000x ./impl/dashboard/
func BenchmarkTicket(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
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
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(d[min(len(d)-1, len(d)*99/100)].Nanoseconds()), "p99-ns")
	}
	b.Run("signed-local", func(b *testing.B) {
		tk := newTickets(replicaKeys(b, 1)[0], nil, nil)
		run(b, func() {
			k, _ := tk.issue("root", true, "192.0.2.1", now)
			if _, ok := tk.redeem(ctx, k, "192.0.2.1", now); !ok {
				b.Fatal("refused")
			}
		})
	})
	b.Run("ed25519-floor", func(b *testing.B) {
		keys := replicaKeys(b, 1)[0].(Ed25519Keys)
		pub := keys.Private.Public().(ed25519.PublicKey)
		msg := make([]byte, len(ticketDomain)+90)
		run(b, func() {
			_, sig, _ := keys.Sign(msg)
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("bad signature")
			}
		})
	})
	url := testenv.Getenv(b, "BUN13_TEST_REDIS", "Redis", "source .ci/services")
	opt, err := redis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	b.Run("signed-redis", func(b *testing.B) {
		tk := newTickets(replicaKeys(b, 1)[0], rdb, nil)
		run(b, func() {
			k, _ := tk.issue("root", true, "192.0.2.1", now)
			if _, ok := tk.redeem(ctx, k, "192.0.2.1", now); !ok {
				b.Fatal("refused")
			}
		})
	})
	b.Run("redis-ping-floor", func(b *testing.B) {
		run(b, func() { rdb.Ping(ctx) })
	})
}
