package ratelimit

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAllow measures one check. The limit is high enough that every
// event is admitted, so the common path (existing key, allowed) is what is
// timed; keys=1 is one hot key shared by every goroutine.
func BenchmarkAllow(b *testing.B) {
	for _, nkeys := range []int{1, 10_000} {
		keys := make([]string, nkeys)
		for i := range keys {
			keys[i] = fmt.Sprintf("ip:10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		}
		newLimiter := func() *Limiter {
			l := &Limiter{Limit: 1 << 40, Window: time.Minute}
			// Enough passes for every key to be published to the
			// lock-free map, as established clients are.
			for range 64 {
				for _, k := range keys {
					l.Allow(k, epoch)
				}
			}
			return l
		}
		b.Run(fmt.Sprintf("serial/keys=%d", nkeys), func(b *testing.B) {
			l := newLimiter()
			b.ReportAllocs()
			r := rand.New(rand.NewPCG(0, 0))
			i := 0
			for b.Loop() {
				l.Allow(keys[r.IntN(nkeys)], epoch.Add(time.Duration(i)))
				i++
			}
		})
		b.Run(fmt.Sprintf("parallel/keys=%d", nkeys), func(b *testing.B) {
			l := newLimiter()
			var seq atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				// Each goroutine picks keys at random, like requests from
				// independent clients landing on any core.
				r := rand.New(rand.NewPCG(seq.Add(1), 0))
				i := 0
				for pb.Next() {
					l.Allow(keys[r.IntN(nkeys)], epoch.Add(time.Duration(i)))
					i++
				}
			})
		})
		if nkeys == 1 {
			continue
		}
		b.Run(fmt.Sprintf("parallel/keys=%d/clients=disjoint", nkeys), func(b *testing.B) {
			l := newLimiter()
			var seq atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				// Each goroutine serves its own clients, as a keep-alive
				// connection keeps a client on one goroutine (and mostly
				// one core): no slot is written from two cores.
				g := seq.Add(1)
				r := rand.New(rand.NewPCG(g, 0))
				part := nkeys / 16
				lo := int(g%16) * part
				i := 0
				for pb.Next() {
					l.Allow(keys[lo+r.IntN(part)], epoch.Add(time.Duration(i)))
					i++
				}
			})
		})
	}
}

// BenchmarkAllowDenied times the refusal path, which also computes
// RetryAfter.
func BenchmarkAllowDenied(b *testing.B) {
	l := &Limiter{Limit: 10, Window: time.Minute}
	now := epoch.Add(30 * time.Second)
	for range 10 {
		l.Allow("k", now)
	}
	b.ReportAllocs()
	for b.Loop() {
		if l.Allow("k", now).Allowed {
			b.Fatal("admitted")
		}
	}
}

// BenchmarkAllowNewKeys times a flood of distinct keys against a full
// limiter, where each call inserts and evicts.
func BenchmarkAllowNewKeys(b *testing.B) {
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprint("ip:", i)
	}
	l := &Limiter{Limit: 10, Window: time.Minute, MaxKeys: 1024}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(keys[i%len(keys)], epoch)
		i++
	}
}
