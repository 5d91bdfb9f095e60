// Package dnscache is a TTL-bounded DNS cache with negative caching, serve-stale and a dialer that connects to the addresses it resolved.
//
// Go's resolver does not report the TTL of an answer, so the default
// lookup (net.DefaultResolver.LookupNetIP) answers with TTL 0, which means
// "use DefaultTTL" (60 s). A LookupFunc that knows real TTLs (a DNS client
// of its own) returns them and they are clamped to [MinTTL, MaxTTL].
//
// Answers are kept in a copy-on-write map read with one atomic load, and
// time comes from a coarse clock (an atomic updated every 100 ms by a
// goroutine the Resolver owns), so a hit takes no lock, reads no wall
// clock and allocates nothing. The clock's resolution bounds how late an
// entry may expire. Call Close to stop the clock goroutine.
//
// What is cached:
//   - an answer with addresses: for its TTL, clamped to [MinTTL, MaxTTL];
//   - "no such host" (a *net.DNSError with IsNotFound, or an empty answer):
//     for NegativeTTL, never longer than MaxTTL;
//   - any other failure (timeout, SERVFAIL, no network) is not cached: if an
//     expired answer is at most MaxStale old it is served instead (RFC 8767
//     serve-stale), and the resolver is asked again only after NegativeTTL,
//     so a dead resolver costs one lookup per NegativeTTL, not one per dial.
//
// Concurrent misses for one host share a single lookup (singleflight). The
// lookup runs detached from the callers' contexts, under LookupTimeout, so
// a caller giving up neither cancels it for the others nor loses the
// answer for the next caller.
package dnscache

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// LookupFunc resolves host to its addresses. ttl is how long the answer may
// be cached; 0 means unknown (DefaultTTL applies). "No such host" should be
// reported as a *net.DNSError with IsNotFound set (or as no addresses and a
// nil error) so that it is cached negatively.
type LookupFunc func(ctx context.Context, host string) (addrs []netip.Addr, ttl time.Duration, err error)

// DialFunc is the signature of net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Defaults of the zero Resolver's fields, as its field docs give them.
const (
	defaultTTL           = 60 * time.Second
	defaultMinTTL        = 5 * time.Second
	defaultMaxTTL        = 10 * time.Minute
	defaultNegativeTTL   = 5 * time.Second
	defaultMaxStale      = time.Hour
	defaultMaxEntries    = 1024
	defaultLookupTimeout = 10 * time.Second

	// clockTick is the coarse clock's resolution.
	clockTick = 100 * time.Millisecond
)

// Resolver caches answers of Lookup. The zero value is ready to use; its
// fields must not change after the first lookup, and it must not be copied.
type Resolver struct {
	// Lookup resolves a name. Nil means net.DefaultResolver.LookupNetIP
	// with network "ip" and TTL 0.
	Lookup LookupFunc

	// DefaultTTL applies when Lookup reports TTL 0. Zero means 60 s.
	DefaultTTL time.Duration
	// MinTTL and MaxTTL clamp every TTL. Zero means 5 s and 10 min.
	MinTTL, MaxTTL time.Duration
	// NegativeTTL is how long "no such host" is cached, and how long a
	// stale answer is served before the resolver is asked again. Zero
	// means 5 s; it is never longer than MaxTTL.
	NegativeTTL time.Duration
	// MaxStale is how long after its expiry an answer may still be served
	// when the resolver fails. Zero means 1 h; negative disables
	// serve-stale.
	MaxStale time.Duration
	// MaxEntries bounds the cache. When full, entries past their stale
	// window go first, then the least recently used one. Zero means 1024.
	MaxEntries int
	// LookupTimeout bounds one lookup. Zero means 10 s.
	LookupTimeout time.Duration

	// Now, when set, replaces the coarse clock (tests step it). It is
	// called on every lookup, hits included.
	Now func() time.Time
	// Logger receives serve-stale warnings. Nil means slog.Default().
	Logger *slog.Logger

	tbl atomic.Pointer[map[string]*entry] // copy-on-write; writers hold mu
	mu  sync.Mutex
	sf  singleflight.Group

	clockOnce sync.Once
	closeOnce sync.Once
	epoch     time.Time
	clock     atomic.Int64 // nanoseconds since epoch, every clockTick
	closed    atomic.Bool
	stop      chan struct{}
	stopped   chan struct{}

	hits, negHits, misses, lookups, stale, evictions counter
}

// counter sits on its own cache line so that hits counted on one core do
// not slow down the counters (and the table pointer) read on another.
type counter struct {
	atomic.Uint64
	_ [56]byte
}

// entry is one cached host. ans is replaced, never modified, so a reader
// holding an *answer sees a consistent one.
type entry struct {
	ans      atomic.Pointer[answer]
	lastUsed atomic.Int64
}

// answer times are on the Resolver's clock (see now).
type answer struct {
	addrs      []netip.Addr
	err        error // non-nil for a negative answer
	expires    int64
	staleUntil int64 // served stale (after a failed lookup) until then
	retryAt    int64 // after a failed lookup: serve stale without asking until then
}

// Stats counts what the Resolver did since it was created. Every lookup of
// a host name counts once in Hits, NegativeHits, StaleServed or Misses,
// except that a miss answered with a stale answer counts in both Misses
// and StaleServed. Hit ratio: Hits / (Hits + NegativeHits + Misses).
type Stats struct {
	Hits         uint64 // fresh answers from the cache
	NegativeHits uint64 // cached "no such host"
	Misses       uint64 // callers that waited for a lookup
	Lookups      uint64 // lookups made (Misses minus those sharing one)
	StaleServed  uint64 // expired answers served because the resolver failed
	Evictions    uint64 // entries dropped to keep MaxEntries
	Entries      int    // entries now held
}

// Stats returns the counters. Each is read atomically, the set is not a
// snapshot.
func (r *Resolver) Stats() Stats {
	s := Stats{
		Hits:         r.hits.Load(),
		NegativeHits: r.negHits.Load(),
		Misses:       r.misses.Load(),
		Lookups:      r.lookups.Load(),
		StaleServed:  r.stale.Load(),
		Evictions:    r.evictions.Load(),
	}
	if t := r.tbl.Load(); t != nil {
		s.Entries = len(*t)
	}
	return s
}

// Close stops the coarse clock. Lookups after Close still work, reading
// the monotonic clock each time.
func (r *Resolver) Close() error {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		r.clockOnce.Do(func() { r.epoch = time.Now() })
		if r.stop != nil {
			close(r.stop)
			<-r.stopped
		}
	})
	return nil
}

func (r *Resolver) startClock() {
	r.epoch = time.Now()
	r.stop = make(chan struct{})
	r.stopped = make(chan struct{})
	go func() {
		defer close(r.stopped)
		t := time.NewTicker(clockTick)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.clock.Store(int64(time.Since(r.epoch)))
			case <-r.stop:
				return
			}
		}
	}()
}

// now returns the time in nanoseconds: Now's Unix time when set, else the
// coarse monotonic clock.
func (r *Resolver) now() int64 {
	if r.Now != nil {
		return r.Now().UnixNano()
	}
	r.clockOnce.Do(r.startClock)
	if r.closed.Load() {
		return int64(time.Since(r.epoch))
	}
	return r.clock.Load()
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func (r *Resolver) minTTL() time.Duration { return orDefault(r.MinTTL, defaultMinTTL) }
func (r *Resolver) maxTTL() time.Duration { return orDefault(r.MaxTTL, defaultMaxTTL) }

func (r *Resolver) negativeTTL() time.Duration {
	return min(orDefault(r.NegativeTTL, defaultNegativeTTL), r.maxTTL())
}

func (r *Resolver) maxStale() time.Duration {
	return max(orDefault(r.MaxStale, defaultMaxStale), 0)
}

func (r *Resolver) maxEntries() int {
	if r.MaxEntries <= 0 {
		return defaultMaxEntries
	}
	return r.MaxEntries
}

func (r *Resolver) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}

// ttl clamps a TTL reported by Lookup.
func (r *Resolver) ttl(d time.Duration) time.Duration {
	if d <= 0 {
		d = orDefault(r.DefaultTTL, defaultTTL)
	}
	return min(max(d, r.minTTL()), r.maxTTL())
}

func defaultLookup(ctx context.Context, host string) ([]netip.Addr, time.Duration, error) {
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	return addrs, 0, err
}

// LookupNetIP returns the addresses of host, from the cache when it holds
// a fresh answer. An IP literal is returned as is, bypassing the cache.
// The returned slice is shared: the caller must not modify it.
func (r *Resolver) LookupNetIP(ctx context.Context, host string) ([]netip.Addr, error) {
	now := r.now()
	if t := r.tbl.Load(); t != nil {
		if e := (*t)[host]; e != nil {
			a := e.ans.Load()
			if now < a.expires {
				e.touch(now)
				if a.err != nil {
					r.negHits.Add(1)
					return nil, a.err
				}
				r.hits.Add(1)
				return a.addrs, nil
			}
			if a.err == nil && now < a.retryAt {
				e.touch(now)
				r.stale.Add(1)
				return a.addrs, nil
			}
		}
	}
	// Checked after the cache so that a hit never pays for the parse.
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	return r.miss(ctx, host)
}

// touch records a use for LRU eviction. The store is skipped while the
// coarse clock has not moved, so hits on one host from many cores do not
// keep writing its cache line.
func (e *entry) touch(now int64) {
	if e.lastUsed.Load() != now {
		e.lastUsed.Store(now)
	}
}

type result struct {
	addrs []netip.Addr
	err   error
	stale bool
}

func (r *Resolver) miss(ctx context.Context, host string) ([]netip.Addr, error) {
	r.misses.Add(1)
	ch := r.sf.DoChan(host, func() (any, error) {
		return r.refresh(context.WithoutCancel(ctx), host), nil
	})
	select {
	case v := <-ch:
		res := v.Val.(result)
		if res.stale {
			r.stale.Add(1)
		}
		return res.addrs, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// refresh asks Lookup about host and stores what it learns.
func (r *Resolver) refresh(ctx context.Context, host string) result {
	ctx, cancel := context.WithTimeout(ctx, orDefault(r.LookupTimeout, defaultLookupTimeout))
	defer cancel()
	r.lookups.Add(1)
	lookup := r.Lookup
	if lookup == nil {
		lookup = defaultLookup
	}
	addrs, ttl, err := lookup(ctx, host)
	now := r.now()
	if err == nil && len(addrs) == 0 {
		err = &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	if err == nil {
		exp := now + int64(r.ttl(ttl))
		// The caller's slice is copied: it is shared with every later hit.
		a := &answer{addrs: append([]netip.Addr(nil), addrs...), expires: exp, staleUntil: exp + int64(r.maxStale())}
		r.put(host, a, now)
		return result{addrs: a.addrs}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		r.put(host, &answer{err: err, expires: now + int64(r.negativeTTL())}, now)
		return result{err: err}
	}
	if t := r.tbl.Load(); t != nil {
		if e := (*t)[host]; e != nil {
			old := e.ans.Load()
			if old.err == nil && now < old.staleUntil {
				a := *old
				a.retryAt = min(now+int64(r.negativeTTL()), old.staleUntil)
				e.ans.Store(&a)
				r.logger().Warn("dnscache: lookup failed, serving stale answer",
					"host", host, "err", err, "expired", time.Duration(now-old.expires))
				return result{addrs: a.addrs, stale: true}
			}
		}
	}
	return result{err: err}
}

// put stores a for host, copying the table when host is new.
func (r *Resolver) put(host string, a *answer, now int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var old map[string]*entry
	if t := r.tbl.Load(); t != nil {
		old = *t
	}
	if e := old[host]; e != nil {
		e.ans.Store(a)
		e.lastUsed.Store(now)
		return
	}
	m := make(map[string]*entry, len(old)+1)
	for k, e := range old {
		m[k] = e
	}
	if len(m) >= r.maxEntries() {
		r.evict(m, now)
	}
	e := &entry{}
	e.ans.Store(a)
	e.lastUsed.Store(now)
	m[host] = e
	r.tbl.Store(&m)
}

// evict makes room for one entry in m: entries nothing can serve any more
// go first, else the least recently used one. The scan is O(len(m)), paid
// only by a miss that already waited for a DNS lookup.
func (r *Resolver) evict(m map[string]*entry, now int64) {
	var lru string
	lruUsed := int64(0)
	for k, e := range m {
		a := e.ans.Load()
		if now >= a.expires && now >= a.staleUntil {
			delete(m, k)
			r.evictions.Add(1)
			continue
		}
		if u := e.lastUsed.Load(); lru == "" || u < lruUsed {
			lru, lruUsed = k, u
		}
	}
	if len(m) >= r.maxEntries() && lru != "" {
		delete(m, lru)
		r.evictions.Add(1)
	}
}
