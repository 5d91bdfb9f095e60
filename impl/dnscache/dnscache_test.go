package dnscache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeClock is stepped by tests; nothing sleeps.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(1e18)
	return c
}
func (c *fakeClock) Now() time.Time       { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Step(d time.Duration) { c.ns.Add(int64(d)) }

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// fakeDNS answers from a table and counts lookups per host.
type fakeDNS struct {
	mu    sync.Mutex
	ans   map[string]fakeAnswer
	calls map[string]int
}

type fakeAnswer struct {
	addrs []netip.Addr
	ttl   time.Duration
	err   error
}

func newDNS() *fakeDNS {
	return &fakeDNS{ans: map[string]fakeAnswer{}, calls: map[string]int{}}
}

func (f *fakeDNS) set(host string, a fakeAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ans[host] = a
}

func (f *fakeDNS) count(host string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[host]
}

func (f *fakeDNS) Lookup(_ context.Context, host string) ([]netip.Addr, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[host]++
	a, ok := f.ans[host]
	if !ok {
		return nil, 0, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return a.addrs, a.ttl, a.err
}

func newResolver(dns *fakeDNS, clk *fakeClock) *Resolver {
	return &Resolver{Lookup: dns.Lookup, Now: clk.Now, Logger: discard()}
}

// lookup fails the test on an unexpected error.
func lookup(t *testing.T, r *Resolver, host string) []netip.Addr {
	t.Helper()
	got, err := r.LookupNetIP(context.Background(), host)
	if err != nil {
		t.Fatalf("LookupNetIP(%q): %v", host, err)
	}
	return got
}

func TestTTLExpiry(t *testing.T) {
	dns, clk := newDNS(), newClock()
	dns.set("a.test", fakeAnswer{addrs: addrs("192.0.2.1"), ttl: 30 * time.Second})
	r := newResolver(dns, clk)

	want := addrs("192.0.2.1")
	for _, step := range []struct {
		advance     time.Duration
		wantLookups int
	}{
		{0, 1},                         // miss
		{29 * time.Second, 1},          // hit
		{time.Second - 1, 1},           // last nanosecond of the TTL
		{1, 2},                         // expired: asked again
		{29 * time.Second, 2},          // the new answer is fresh
		{time.Second + time.Minute, 3}, // and expires too
	} {
		clk.Step(step.advance)
		if d := cmp.Diff(want, lookup(t, r, "a.test"), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
			t.Fatalf("addrs mismatch (-want +got):\n%s", d)
		}
		if got := dns.count("a.test"); got != step.wantLookups {
			t.Fatalf("after +%v: %d lookups, want %d", step.advance, got, step.wantLookups)
		}
	}
	s := r.Stats()
	if s.Hits != 3 || s.Misses != 3 || s.Lookups != 3 || s.Entries != 1 {
		t.Errorf("stats = %+v, want 3 hits, 3 misses, 3 lookups, 1 entry", s)
	}
}

func TestTTLClamp(t *testing.T) {
	for _, tc := range []struct {
		name    string
		r       *Resolver
		ttl     time.Duration
		wantTTL time.Duration
	}{
		{"below min", &Resolver{}, time.Second, defaultMinTTL},
		{"above max", &Resolver{}, 24 * time.Hour, defaultMaxTTL},
		{"unknown uses default", &Resolver{}, 0, defaultTTL},
		{"in range", &Resolver{}, 42 * time.Second, 42 * time.Second},
		{"custom min", &Resolver{MinTTL: time.Minute}, 10 * time.Second, time.Minute},
		{"custom max", &Resolver{MaxTTL: 20 * time.Second}, time.Minute, 20 * time.Second},
		{"default clamped", &Resolver{DefaultTTL: time.Hour}, 0, defaultMaxTTL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dns, clk := newDNS(), newClock()
			dns.set("a.test", fakeAnswer{addrs: addrs("192.0.2.1"), ttl: tc.ttl})
			r := tc.r
			r.Lookup, r.Now, r.Logger = dns.Lookup, clk.Now, discard()
			lookup(t, r, "a.test")
			clk.Step(tc.wantTTL - 1)
			lookup(t, r, "a.test")
			if n := dns.count("a.test"); n != 1 {
				t.Fatalf("before %v: %d lookups, want 1", tc.wantTTL, n)
			}
			clk.Step(1)
			lookup(t, r, "a.test")
			if n := dns.count("a.test"); n != 2 {
				t.Fatalf("at %v: %d lookups, want 2", tc.wantTTL, n)
			}
		})
	}
}

func TestNegativeCache(t *testing.T) {
	for _, tc := range []struct {
		name    string
		r       *Resolver
		answer  fakeAnswer
		wantTTL time.Duration
	}{
		{"not found", &Resolver{}, fakeAnswer{err: &net.DNSError{Err: "no such host", IsNotFound: true}}, defaultNegativeTTL},
		{"empty answer", &Resolver{}, fakeAnswer{}, defaultNegativeTTL},
		{"custom", &Resolver{NegativeTTL: time.Minute}, fakeAnswer{}, time.Minute},
		{"bounded by max TTL", &Resolver{NegativeTTL: time.Hour, MaxTTL: 30 * time.Second}, fakeAnswer{}, 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dns, clk := newDNS(), newClock()
			dns.set("gone.test", tc.answer)
			r := tc.r
			r.Lookup, r.Now, r.Logger = dns.Lookup, clk.Now, discard()
			for range 2 {
				_, err := r.LookupNetIP(context.Background(), "gone.test")
				var de *net.DNSError
				if !errors.As(err, &de) || !de.IsNotFound {
					t.Fatalf("err = %v, want a not-found *net.DNSError", err)
				}
			}
			clk.Step(tc.wantTTL - 1)
			r.LookupNetIP(context.Background(), "gone.test")
			if n := dns.count("gone.test"); n != 1 {
				t.Fatalf("within negative TTL: %d lookups, want 1", n)
			}
			if s := r.Stats(); s.NegativeHits != 2 {
				t.Errorf("NegativeHits = %d, want 2", s.NegativeHits)
			}
			clk.Step(1)
			r.LookupNetIP(context.Background(), "gone.test")
			if n := dns.count("gone.test"); n != 2 {
				t.Fatalf("after negative TTL: %d lookups, want 2", n)
			}
		})
	}
}

func TestServeStale(t *testing.T) {
	dns, clk := newDNS(), newClock()
	want := addrs("192.0.2.7")
	dns.set("s.test", fakeAnswer{addrs: want, ttl: 10 * time.Second})
	r := &Resolver{Lookup: dns.Lookup, Now: clk.Now, Logger: discard(), MaxStale: time.Minute, NegativeTTL: 5 * time.Second}
	lookup(t, r, "s.test")

	down := errors.New("resolver unreachable")
	dns.set("s.test", fakeAnswer{err: down})
	clk.Step(10 * time.Second) // expired: the failing lookup is covered by the stale answer
	if got := lookup(t, r, "s.test"); got[0] != want[0] {
		t.Fatalf("stale answer = %v, want %v", got, want)
	}
	if n := dns.count("s.test"); n != 2 {
		t.Fatalf("%d lookups, want 2", n)
	}
	clk.Step(4 * time.Second) // within NegativeTTL of the failure: not asked again
	lookup(t, r, "s.test")
	if n := dns.count("s.test"); n != 2 {
		t.Fatalf("during retry backoff: %d lookups, want 2", n)
	}
	clk.Step(time.Second) // backoff over: asked again, still stale
	lookup(t, r, "s.test")
	if n := dns.count("s.test"); n != 3 {
		t.Fatalf("after backoff: %d lookups, want 3", n)
	}
	if s := r.Stats(); s.StaleServed != 3 {
		t.Errorf("StaleServed = %d, want 3", s.StaleServed)
	}

	clk.Step(time.Minute - 5*time.Second) // expiry + MaxStale: too old to serve
	if _, err := r.LookupNetIP(context.Background(), "s.test"); !errors.Is(err, down) {
		t.Fatalf("past MaxStale: err = %v, want %v", err, down)
	}

	// The resolver recovers: a fresh answer replaces the stale one.
	dns.set("s.test", fakeAnswer{addrs: addrs("192.0.2.8"), ttl: 10 * time.Second})
	if got := lookup(t, r, "s.test"); got[0] != netip.MustParseAddr("192.0.2.8") {
		t.Fatalf("after recovery = %v", got)
	}
}

func TestServeStaleDisabled(t *testing.T) {
	dns, clk := newDNS(), newClock()
	dns.set("s.test", fakeAnswer{addrs: addrs("192.0.2.7"), ttl: 10 * time.Second})
	r := &Resolver{Lookup: dns.Lookup, Now: clk.Now, Logger: discard(), MaxStale: -1}
	lookup(t, r, "s.test")
	down := errors.New("resolver unreachable")
	dns.set("s.test", fakeAnswer{err: down})
	clk.Step(10 * time.Second)
	if _, err := r.LookupNetIP(context.Background(), "s.test"); !errors.Is(err, down) {
		t.Fatalf("err = %v, want %v", err, down)
	}
}

func TestSingleflight(t *testing.T) {
	const n = 50
	release := make(chan struct{})
	var calls atomic.Int32
	r := &Resolver{
		Lookup: func(ctx context.Context, host string) ([]netip.Addr, time.Duration, error) {
			calls.Add(1)
			<-release
			return addrs("192.0.2.9"), time.Minute, nil
		},
		Now:    newClock().Now,
		Logger: discard(),
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			got, err := r.LookupNetIP(context.Background(), "sf.test")
			if err == nil && (len(got) != 1 || got[0] != netip.MustParseAddr("192.0.2.9")) {
				err = fmt.Errorf("got %v", got)
			}
			errs <- err
		})
	}
	// Release only once every caller is waiting on the one lookup.
	deadline := time.Now().Add(10 * time.Second)
	for r.Stats().Misses < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d callers arrived", r.Stats().Misses, n)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if c := calls.Load(); c != 1 {
		t.Errorf("%d lookups for %d concurrent misses, want 1", c, n)
	}
	if s := r.Stats(); s.Lookups != 1 || s.Misses != n {
		t.Errorf("stats = %+v", s)
	}
}

func TestCallerCancelDoesNotCancelLookup(t *testing.T) {
	release := make(chan struct{})
	r := &Resolver{
		Lookup: func(ctx context.Context, host string) ([]netip.Addr, time.Duration, error) {
			<-release
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
			return addrs("192.0.2.10"), time.Minute, nil
		},
		Now:    newClock().Now,
		Logger: discard(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.LookupNetIP(ctx, "c.test"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(release)
	// The abandoned lookup still completes and fills the cache.
	if got := lookup(t, r, "c.test"); got[0] != netip.MustParseAddr("192.0.2.10") {
		t.Fatalf("got %v", got)
	}
}

func TestEviction(t *testing.T) {
	dns, clk := newDNS(), newClock()
	r := &Resolver{Lookup: dns.Lookup, Now: clk.Now, Logger: discard(), MaxEntries: 4}
	host := func(i int) string { return fmt.Sprintf("h%d.test", i) }
	for i := range 10 {
		dns.set(host(i), fakeAnswer{addrs: addrs("192.0.2.1"), ttl: time.Hour})
	}
	for i := range 4 {
		clk.Step(time.Second)
		lookup(t, r, host(i))
	}
	clk.Step(time.Second)
	lookup(t, r, host(0)) // h0 is now the most recently used; h1 the least
	clk.Step(time.Second)
	lookup(t, r, host(4))
	if s := r.Stats(); s.Entries != 4 || s.Evictions != 1 {
		t.Fatalf("stats = %+v, want 4 entries, 1 eviction", s)
	}
	lookup(t, r, host(0))
	if n := dns.count(host(0)); n != 1 {
		t.Errorf("recently used h0 was evicted (%d lookups)", n)
	}
	lookup(t, r, host(1))
	if n := dns.count(host(1)); n != 2 {
		t.Errorf("least recently used h1 was kept (%d lookups)", n)
	}
	for i := 5; i < 10; i++ {
		clk.Step(time.Second)
		lookup(t, r, host(i))
		if e := r.Stats().Entries; e > 4 {
			t.Fatalf("%d entries, bound is 4", e)
		}
	}
	if s := r.Stats(); s.Evictions != 7 {
		t.Errorf("Evictions = %d, want 7", s.Evictions)
	}
}

func TestEvictionPrefersDeadEntries(t *testing.T) {
	dns, clk := newDNS(), newClock()
	r := &Resolver{Lookup: dns.Lookup, Now: clk.Now, Logger: discard(), MaxEntries: 2, MaxStale: -1}
	dns.set("short.test", fakeAnswer{addrs: addrs("192.0.2.1"), ttl: 5 * time.Second})
	dns.set("long.test", fakeAnswer{addrs: addrs("192.0.2.2"), ttl: time.Hour})
	dns.set("new.test", fakeAnswer{addrs: addrs("192.0.2.3"), ttl: time.Hour})
	lookup(t, r, "long.test")
	clk.Step(time.Second)
	lookup(t, r, "short.test") // more recently used, but will be dead
	clk.Step(10 * time.Second)
	lookup(t, r, "new.test")
	lookup(t, r, "long.test")
	if n := dns.count("long.test"); n != 1 {
		t.Errorf("live LRU entry evicted before a dead one (%d lookups)", n)
	}
}

func TestIPLiteralBypassesCache(t *testing.T) {
	dns := newDNS()
	r := newResolver(dns, newClock())
	for _, lit := range []string{"127.0.0.1", "::1", "192.0.2.4"} {
		got := lookup(t, r, lit)
		if len(got) != 1 || got[0] != netip.MustParseAddr(lit) {
			t.Errorf("LookupNetIP(%q) = %v", lit, got)
		}
	}
	if s := r.Stats(); s.Lookups != 0 || s.Misses != 0 || s.Entries != 0 {
		t.Errorf("literals touched the cache: %+v", s)
	}
}

func TestLocalhostResolvesNormally(t *testing.T) {
	dns := newDNS()
	dns.set("localhost", fakeAnswer{addrs: addrs("127.0.0.1"), ttl: time.Minute})
	r := newResolver(dns, newClock())
	lookup(t, r, "localhost")
	lookup(t, r, "localhost")
	if n := dns.count("localhost"); n != 1 {
		t.Errorf("localhost: %d lookups, want 1 (resolved and cached like any name)", n)
	}
}

func TestDialUsesResolvedAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	accepted := make(chan net.Addr, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		accepted <- c.LocalAddr()
		c.Close()
	}()

	dns := newDNS()
	// 127.0.0.2 has nothing listening on port: refused, so the next is tried.
	dns.set("registry.test", fakeAnswer{addrs: addrs("127.0.0.2", "127.0.0.1"), ttl: time.Minute})
	r := newResolver(dns, newClock())
	var mu sync.Mutex
	var tried []string
	var d net.Dialer
	dial := r.Dialer(func(ctx context.Context, network, address string) (net.Conn, error) {
		mu.Lock()
		tried = append(tried, address)
		mu.Unlock()
		return d.DialContext(ctx, network, address)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dial(ctx, "tcp", net.JoinHostPort("registry.test", fmt.Sprint(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, want := c.RemoteAddr().String(), ln.Addr().String(); got != want {
		t.Errorf("connected to %s, want %s", got, want)
	}
	wantTried := []string{fmt.Sprintf("127.0.0.2:%d", port), fmt.Sprintf("127.0.0.1:%d", port)}
	if d := cmp.Diff(wantTried, tried); d != "" {
		t.Errorf("dial order mismatch (-want +got):\n%s", d)
	}
	select {
	case <-accepted:
	case <-ctx.Done():
		t.Fatal("listener saw no connection")
	}

	// An IP literal goes straight to the dialer, and tcp6 skips IPv4 answers.
	tried = nil
	if c, err := dial(ctx, "tcp", ln.Addr().String()); err == nil {
		c.Close()
	}
	if s := r.Stats(); s.Lookups != 1 {
		t.Errorf("IP literal dial looked up a name: %+v", s)
	}
	if _, err := dial(ctx, "tcp6", net.JoinHostPort("registry.test", fmt.Sprint(port))); err == nil {
		t.Error("tcp6 dial to IPv4-only name succeeded")
	}
}

func TestDialLookupError(t *testing.T) {
	r := newResolver(newDNS(), newClock())
	_, err := r.DialContext(context.Background(), "tcp", "nowhere.test:80")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("err = %v, want a not-found *net.DNSError", err)
	}
}

func TestCoarseClock(t *testing.T) {
	dns := newDNS()
	dns.set("a.test", fakeAnswer{addrs: addrs("192.0.2.1"), ttl: time.Minute})
	r := &Resolver{Lookup: dns.Lookup, Logger: discard()}
	lookup(t, r, "a.test")
	lookup(t, r, "a.test")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r.Close() // idempotent
	lookup(t, r, "a.test")
	if s := r.Stats(); s.Hits != 2 || s.Lookups != 1 {
		t.Errorf("stats = %+v, want 2 hits, 1 lookup", s)
	}
	// Closing a Resolver that never started its clock is fine too.
	var unused Resolver
	unused.Close()
}

func TestHitDoesNotAllocate(t *testing.T) {
	dns := newDNS()
	dns.set("a.test", fakeAnswer{addrs: addrs("192.0.2.1"), ttl: time.Minute})
	r := &Resolver{Lookup: dns.Lookup, Logger: discard()}
	defer r.Close()
	ctx := context.Background()
	lookup(t, r, "a.test")
	if n := testing.AllocsPerRun(1000, func() { r.LookupNetIP(ctx, "a.test") }); n != 0 {
		t.Errorf("a hit allocates %v times", n)
	}
}

// primed returns a Resolver holding a fresh answer for registry.npmjs.org
// and running its coarse clock, as in production.
func primed(b *testing.B) *Resolver {
	dns := newDNS()
	dns.set("registry.npmjs.org", fakeAnswer{addrs: addrs("104.16.0.34", "104.16.1.34"), ttl: time.Minute})
	r := &Resolver{Lookup: dns.Lookup, Logger: discard()}
	b.Cleanup(func() { r.Close() })
	if _, err := r.LookupNetIP(context.Background(), "registry.npmjs.org"); err != nil {
		b.Fatal(err)
	}
	return r
}

func BenchmarkHit(b *testing.B) {
	r, ctx := primed(b), context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r.LookupNetIP(ctx, "registry.npmjs.org")
	}
}

func BenchmarkHitParallel(b *testing.B) {
	r, ctx := primed(b), context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.LookupNetIP(ctx, "registry.npmjs.org")
		}
	})
}
