// Package limittest is the conformance suite every ratelimit.Checker
// passes: the in-process limiter and the Redis one run the same tests.
package limittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/ratelimit"
)

// New returns n checkers that share one limit of limit events per window
// (n instances of the same limiter, as n replicas would have), cleaned up
// with t.
type New func(t *testing.T, n, limit int, window time.Duration) []ratelimit.Checker

// Run runs the suite.
func Run(t *testing.T, newCheckers New) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, New)
	}{
		{"Limit", testLimit},
		{"KeysIndependent", testKeys},
		{"SharedLimit", testShared},
		{"Refill", testRefill},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newCheckers) })
	}
}

// key returns a key no other test run uses, for stores that outlive the
// test (a shared Redis).
func key(what string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return what + ":" + hex.EncodeToString(b[:])
}

// day is a window long enough that nothing refills during a test.
const day = 24 * time.Hour

func testLimit(t *testing.T, n New) {
	const limit = 7
	c := n(t, 1, limit, day)[0]
	k := key("limit")
	ctx := context.Background()
	for i := range limit {
		d := c.Allow(ctx, k, time.Now())
		if !d.Allowed {
			t.Fatalf("event %d of %d denied: %+v", i+1, limit, d)
		}
		if d.Limit != limit || d.Remaining != limit-1-i {
			t.Fatalf("event %d: Limit %d Remaining %d, want %d and %d", i+1, d.Limit, d.Remaining, limit, limit-1-i)
		}
		if d.RetryAfter != 0 {
			t.Fatalf("event %d allowed with RetryAfter %v", i+1, d.RetryAfter)
		}
	}
	for i := range 5 {
		d := c.Allow(ctx, k, time.Now())
		if d.Allowed {
			t.Fatalf("event %d over the limit allowed: %+v", limit+i+1, d)
		}
		if d.Remaining != 0 || d.RetryAfter <= 0 || d.RetryAfter > 2*day || d.Reset <= 0 {
			t.Fatalf("denial %+v: want Remaining 0, 0 < RetryAfter <= 2 windows, Reset > 0", d)
		}
	}
}

func testKeys(t *testing.T, n New) {
	c := n(t, 1, 3, day)[0]
	ctx := context.Background()
	a, b := key("a"), key("b")
	for range 5 {
		c.Allow(ctx, a, time.Now())
	}
	for i := range 3 {
		if d := c.Allow(ctx, b, time.Now()); !d.Allowed {
			t.Fatalf("key b event %d denied after key a was exhausted: %+v", i+1, d)
		}
	}
}

// testShared is 30 clients guessing one account's password through three
// replicas: together they get the limit of one, not three.
func testShared(t *testing.T, n New) {
	const (
		limit   = 10
		clients = 30
		tries   = 4
	)
	cs := n(t, 3, limit, day)
	k := key("login:alice")
	var (
		allowed atomic.Int64
		wg      sync.WaitGroup
	)
	for i := range clients {
		wg.Go(func() {
			c := cs[i%len(cs)]
			for range tries {
				if c.Allow(context.Background(), k, time.Now()).Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != limit {
		t.Fatalf("%d clients x %d tries over %d instances: %d allowed, want exactly %d (one shared limit)", clients, tries, len(cs), got, limit)
	}
}

func testRefill(t *testing.T, n New) {
	const limit = 4
	c := n(t, 1, limit, 2*time.Second)[0]
	k := key("refill")
	ctx := context.Background()
	var d ratelimit.Decision
	for i := 0; ; i++ {
		if i > 100*limit {
			t.Fatal("never denied")
		}
		if d = c.Allow(ctx, k, time.Now()); !d.Allowed {
			break
		}
	}
	// Waiting as long as the denial says must be enough (plus slack for
	// a loaded machine and the store's clock granularity).
	time.Sleep(d.RetryAfter + 50*time.Millisecond)
	if d2 := c.Allow(ctx, k, time.Now()); !d2.Allowed {
		t.Fatalf("still denied %v after RetryAfter %v: %+v", d.RetryAfter+50*time.Millisecond, d.RetryAfter, d2)
	}
}
