package ratelimit

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults used for zero-valued [Limiter] fields.
const (
	DefaultLimit   = 600
	DefaultWindow  = time.Minute
	DefaultMaxKeys = 100_000
	DefaultShards  = 64
)

// sampleSize is how many slots are looked at to pick a victim when a shard
// is full of active keys; sampling keeps eviction O(1) under a flood of new
// keys, where an exact least-recently-used scan would be O(keys).
const sampleSize = 8

// Limiter admits at most Limit events per Window for each key, using the
// sliding-window counter described in the package documentation.
//
// The zero value is ready to use with the defaults above. Fields must not be
// changed after the first call to Allow. A Limiter must not be copied after
// first use.
type Limiter struct {
	// Limit is the number of events admitted per Window. Zero or negative
	// means DefaultLimit.
	Limit int
	// Window is the length of the sliding window. Zero or negative means
	// DefaultWindow.
	Window time.Duration
	// MaxKeys bounds the number of keys tracked at once. When a shard is
	// full, keys idle for two windows go first (they carry no state), then
	// the stalest of a small random sample. Evicting an active key forgets
	// its count, so a flood of new keys can only make the limiter more
	// lenient to old ones, never lock anyone out. Zero or negative means
	// DefaultMaxKeys.
	MaxKeys int
	// Shards is the number of partitions of the key space. Each has its
	// own lock for adding and evicting keys; checks on known keys lock
	// only the key's own slot. Zero or negative means DefaultShards.
	Shards int

	once   sync.Once
	seed   maphash.Seed
	shards []shard
	mask   uint64 // len(shards)-1 when a power of two, else 0
	limit  int64
	window int64
	perCap int // slots per shard
}

// Decision is the outcome of one Allow call.
type Decision struct {
	// Allowed reports whether the event was admitted (and counted).
	Allowed bool
	// Limit is the limiter's Limit, for the RateLimit-Limit header.
	Limit int
	// Remaining is how many more events would be admitted right now.
	Remaining int
	// RetryAfter is how long until the next event would be admitted; zero
	// when Allowed.
	RetryAfter time.Duration
	// Reset is an upper bound on how long until the key has its whole Limit
	// again if it sends nothing more.
	Reset time.Duration
}

// slot is one key's state, alone on its cache line so that cores
// updating different keys never write to the same line.
type slot struct {
	mu   sync.Mutex
	dead bool  // evicted; written holding both shard.mu and mu
	win  int64 // index of the window curr counts
	prev int64
	curr int64
	_    [64 - 40]byte
}

// shard is one partition of the key space. Established keys are found in
// read, an immutable map swapped atomically, so a check takes no shard
// lock and writes only its own slot. New keys go to pending under mu and
// are folded into a fresh read map once enough slow-path work has piled up
// (as sync.Map does), which keeps the copying amortized O(1) per call.
type shard struct {
	read  atomic.Pointer[map[string]*slot]
	swept atomic.Int64 // window index of the last idle sweep
	_     [64 - 16]byte

	mu      sync.Mutex
	pending map[string]*slot // new keys not yet in read
	live    int              // slots not dead, in read or pending
	churn   int              // slow-path calls and evictions since the last publish
	_       [64 - 32]byte
}

func (l *Limiter) init() {
	l.limit = int64(l.Limit)
	if l.limit <= 0 {
		l.limit = DefaultLimit
	}
	l.window = int64(l.Window)
	if l.window <= 0 {
		l.window = int64(DefaultWindow)
	}
	n := l.Shards
	if n <= 0 {
		n = DefaultShards
	}
	maxKeys := l.MaxKeys
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	if n > maxKeys {
		n = maxKeys
	}
	l.perCap = maxKeys / n // so that the total never exceeds MaxKeys
	l.seed = maphash.MakeSeed()
	l.shards = make([]shard, n)
	for i := range l.shards {
		s := &l.shards[i]
		s.read.Store(&map[string]*slot{})
		s.pending = map[string]*slot{}
	}
	if n&(n-1) == 0 {
		l.mask = uint64(n - 1)
	}
}

func (l *Limiter) shardFor(key string) *shard {
	h := maphash.String(l.seed, key)
	if l.mask != 0 || len(l.shards) == 1 {
		return &l.shards[h&l.mask]
	}
	return &l.shards[h%uint64(len(l.shards))]
}

// Allow records an event for key at now if the key is under its limit, and
// reports the decision. It is safe for concurrent use. Only a key's first
// event allocates (its slot, plus an amortized share of republishing its
// shard's map). The limiter keeps a reference to key while it tracks it,
// so key should not be a slice of a large buffer.
func (l *Limiter) Allow(key string, now time.Time) Decision {
	l.once.Do(l.init)
	t := now.UnixNano()
	w := l.window
	k := t / w
	if t%w < 0 {
		k-- // floor division for times before 1970
	}
	e := t - k*w

	s := l.shardFor(key)
	if k > s.swept.Load() {
		s.sweep(k)
	}
	c := (*s.read.Load())[key]
	for {
		if c == nil {
			c = s.slow(key, k, l.perCap)
		}
		c.mu.Lock()
		if !c.dead {
			break
		}
		c.mu.Unlock()
		c = nil // evicted since we found it: look again
	}
	switch {
	case k == c.win:
	case k == c.win+1:
		c.prev, c.curr, c.win = c.curr, 0, k
	case k > c.win+1:
		c.prev, c.curr, c.win = 0, 0, k
	default:
		// The clock stepped back past this key's window: charge the
		// previous window in full rather than forget events.
		e = 0
	}
	prev, curr := c.prev, c.curr
	weighted := weight(prev, w-e, w)
	d := Decision{Limit: int(l.limit)}
	if curr+weighted < l.limit {
		c.curr++
		c.mu.Unlock()
		d.Allowed = true
		d.Remaining = int(l.limit - curr - 1 - weighted)
		d.Reset = time.Duration(2*w - e)
		return d
	}
	c.mu.Unlock()
	d.RetryAfter = time.Duration(retryAfter(prev, curr, l.limit, e, w))
	if curr > 0 {
		d.Reset = time.Duration(2*w - e)
	} else {
		d.Reset = time.Duration(w - e)
	}
	return d
}

// weight is floor(prev*overlap/w): the share of the previous window's
// events still inside the sliding window. The product can exceed 64 bits
// for large limits and long windows, hence the 128-bit arithmetic.
func weight(prev, overlap, w int64) int64 {
	if prev == 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(prev), uint64(overlap))
	if hi == 0 {
		return int64(lo / uint64(w))
	}
	q, _ := bits.Div64(hi, lo, uint64(w)) // q <= prev, so no overflow
	return int64(q)
}

// retryAfter returns the time from offset e until the first instant an
// event would be admitted, given the key's counts after a denial at e.
func retryAfter(prev, curr, limit, e, w int64) int64 {
	if curr >= limit {
		// Nothing more this window; next window the current count becomes
		// prev = limit, which admits from offset 1 on.
		return w - e + retryAfter(curr, 0, limit, 0, w)
	}
	// Admitted once prev*(w-x) < (limit-curr)*w, i.e. from
	// x = w - ceil((limit-curr)*w/prev) + 1 on. The quotient is at most
	// w-e because the event at e was denied.
	hi, lo := bits.Mul64(uint64(limit-curr), uint64(w))
	q, r := bits.Div64(hi, lo, uint64(prev))
	if r != 0 {
		q++
	}
	x := w - int64(q) + 1
	if x >= w {
		return w - e // next window: prev becomes curr < limit, admitted at 0
	}
	return x - e
}

// slow finds or creates key's slot under the shard lock.
func (s *shard) slow(key string, k int64, capacity int) *slot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.churn++
	defer s.maybePublish()
	if c := (*s.read.Load())[key]; c != nil && !c.dead {
		return c // published since the caller looked
	}
	if c := s.pending[key]; c != nil {
		return c
	}
	if s.live >= capacity {
		// Idle keys already went in this window's sweep, so every key
		// here is active: evict the stalest of a sample.
		s.evict()
	}
	c := &slot{win: k}
	s.pending[key] = c
	s.live++
	return c
}

// maybePublish folds pending into read (dropping dead slots) once the
// slow path has done about a quarter of read's size in work since the last
// time. The caller holds s.mu.
func (s *shard) maybePublish() {
	if s.churn >= len(*s.read.Load())/4+8 {
		s.publish()
	}
}

func (s *shard) publish() {
	old := *s.read.Load()
	m := make(map[string]*slot, s.live)
	for k, c := range old {
		if !c.dead {
			m[k] = c
		}
	}
	for k, c := range s.pending {
		m[k] = c
	}
	s.read.Store(&m)
	clear(s.pending)
	s.churn = 0
}

// sweep drops keys with no event in the current or previous window; their
// counts are zero from here on, so forgetting them loses nothing. Running
// once per window per shard keeps its cost amortized O(1) per call.
func (s *shard) sweep(k int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k <= s.swept.Load() {
		return // another caller got here first
	}
	kill := func(c *slot) {
		c.mu.Lock()
		if !c.dead && c.win < k-1 {
			c.dead = true
			s.live--
		}
		c.mu.Unlock()
	}
	for _, c := range *s.read.Load() {
		kill(c)
	}
	for key, c := range s.pending {
		kill(c)
		if c.dead {
			delete(s.pending, key)
		}
	}
	s.publish()
	s.swept.Store(k)
}

// evict marks the stalest of a few slots dead; map iteration order is
// random, which makes this a random sample. The caller holds s.mu.
func (s *shard) evict() {
	var (
		victim    *slot
		victimKey string
		vwin      int64
		vcount    int64
		n         int
	)
	consider := func(key string, c *slot) bool {
		c.mu.Lock()
		if !c.dead && (victim == nil || c.win < vwin || c.win == vwin && c.prev+c.curr < vcount) {
			victim, victimKey, vwin, vcount = c, key, c.win, c.prev+c.curr
		}
		c.mu.Unlock()
		n++
		return n < sampleSize
	}
	for key, c := range s.pending {
		if !consider(key, c) {
			break
		}
	}
	if n < sampleSize {
		for key, c := range *s.read.Load() {
			if !consider(key, c) {
				break
			}
		}
	}
	if victim == nil {
		return
	}
	victim.mu.Lock()
	victim.dead = true
	victim.mu.Unlock()
	s.live--
	s.churn++ // its map entry lingers until the next publish
	if s.pending[victimKey] == victim {
		delete(s.pending, victimKey)
	}
}

// Len reports the number of keys currently tracked, for metrics and tests.
func (l *Limiter) Len() int {
	l.once.Do(l.init)
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += s.live
		s.mu.Unlock()
	}
	return n
}
