package ratelimit

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// epoch is a window-aligned instant (a multiple of every window used here).
var epoch = time.Unix(1_700_006_400, 0)

func TestAllowUntilLimit(t *testing.T) {
	l := &Limiter{Limit: 3, Window: 10 * time.Second}
	now := epoch.Add(4 * time.Second)
	var got []Decision
	for range 4 {
		got = append(got, l.Allow("alice", now))
	}
	want := []Decision{
		{Allowed: true, Limit: 3, Remaining: 2, Reset: 16 * time.Second},
		{Allowed: true, Limit: 3, Remaining: 1, Reset: 16 * time.Second},
		{Allowed: true, Limit: 3, Remaining: 0, Reset: 16 * time.Second},
		// The next window starts in 6s and charges all 3 events at its
		// very start, so the first free instant is 1ns later.
		{Allowed: false, Limit: 3, Remaining: 0, RetryAfter: 6*time.Second + 1, Reset: 16 * time.Second},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("decisions mismatch (-want +got):\n%s", d)
	}
	// Other keys have their own budget.
	if d := l.Allow("bob", now); !d.Allowed {
		t.Errorf("bob denied: %+v", d)
	}
}

func TestPreviousWindowIsWeighted(t *testing.T) {
	l := &Limiter{Limit: 10, Window: time.Second}
	for range 10 {
		l.Allow("k", epoch.Add(999*time.Millisecond))
	}
	// Halfway through the next window half of the previous window's 10
	// events still count, so exactly 5 more fit.
	now := epoch.Add(1500 * time.Millisecond)
	n := 0
	for l.Allow("k", now).Allowed {
		n++
	}
	if n != 5 {
		t.Errorf("admitted %d at half window, want 5", n)
	}
	// Two windows later nothing of the burst is left.
	now = epoch.Add(3 * time.Second)
	if d := l.Allow("k", now); d.Remaining != 9 {
		t.Errorf("after two idle windows Remaining = %d, want 9", d.Remaining)
	}
}

// TestDecisionIsExact checks Remaining and RetryAfter against what the
// limiter then actually does, over random schedules: Remaining more events
// fit right now, and the first admitted instant is exactly RetryAfter away.
func TestDecisionIsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		limit := 1 + r.IntN(20)
		w := time.Duration(1+r.IntN(1000)) * time.Millisecond
		l := &Limiter{Limit: limit, Window: w}
		now := epoch.Add(time.Duration(r.Int64N(int64(3 * w))))
		for range 50 {
			now = now.Add(time.Duration(r.Int64N(int64(w))))
			d := l.Allow("k", now)
			if d.Allowed {
				// Remaining counts admissions at this instant; probe with a
				// twin limiter so the probe does not disturb l.
				twin := clone(l)
				n := 0
				for twin.Allow("k", now).Allowed {
					n++
				}
				if n != d.Remaining {
					t.Fatalf("trial %d: Remaining = %d, but %d more were admitted", trial, d.Remaining, n)
				}
				continue
			}
			if d.RetryAfter <= 0 {
				t.Fatalf("trial %d: denied with RetryAfter %v", trial, d.RetryAfter)
			}
			// A denied call changes nothing, so probing l directly is fine.
			if l.Allow("k", now.Add(d.RetryAfter-1)).Allowed {
				t.Fatalf("trial %d: admitted 1ns before RetryAfter %v", trial, d.RetryAfter)
			}
			if !l.Allow("k", now.Add(d.RetryAfter)).Allowed {
				t.Fatalf("trial %d: denied at RetryAfter %v", trial, d.RetryAfter)
			}
			now = now.Add(d.RetryAfter)
		}
	}
}

// clone copies a limiter's state into a fresh limiter.
func clone(l *Limiter) *Limiter {
	c := &Limiter{Limit: l.Limit, Window: l.Window, MaxKeys: l.MaxKeys, Shards: l.Shards}
	c.once.Do(c.init)
	c.seed = l.seed
	for i := range l.shards {
		from, to := &l.shards[i], &c.shards[i]
		to.swept.Store(from.swept.Load())
		copySlots := func(m map[string]*slot) {
			for key, x := range m {
				if !x.dead {
					to.pending[key] = &slot{win: x.win, prev: x.prev, curr: x.curr}
					to.live++
				}
			}
		}
		copySlots(*from.read.Load())
		copySlots(from.pending)
	}
	return c
}

// maxInWindow returns the most admitted events in any half-open interval of
// length w. The maximum is always reached by an interval starting at an
// event, so only those are tried.
func maxInWindow(times []int64, w int64) int {
	best, j := 0, 0
	for i := range times {
		for j < len(times) && times[j] < times[i]+w {
			j++
		}
		best = max(best, j-i)
	}
	return best
}

// checkBound asserts the package's stated bound on an admitted timeline:
// every fixed window holds at most limit, and an interval starting at offset
// g of window k-1, which admitted c events, holds at most
// limit + ceil(c*g/w) <= 2*limit.
func checkBound(t *testing.T, times []int64, limit, w int64) {
	t.Helper()
	perWindow := map[int64]int64{}
	for _, x := range times {
		perWindow[x/w]++
	}
	for k, c := range perWindow {
		if c > limit {
			t.Fatalf("fixed window %d admitted %d > limit %d", k, c, limit)
		}
	}
	j := 0
	for i, s := range times {
		for j < len(times) && times[j] < s+w {
			j++
		}
		got := int64(j - i)
		g := s % w
		c := perWindow[s/w]
		bound := limit + (c*g+w-1)/w
		if got > bound || got > 2*limit {
			t.Fatalf("interval at %d (offset %d) admitted %d > bound %d (limit %d, window %d)", s, g, got, bound, limit, w)
		}
	}
}

func TestAdversarialBound(t *testing.T) {
	t.Run("tight", func(t *testing.T) {
		// The schedule from the package doc: a burst at the end of one
		// window, then each event at the first instant the limiter allows
		// (found through RetryAfter). It must reach exactly 2L.
		for _, limit := range []int{1, 2, 10, 100, 1000} {
			w := time.Second
			l := &Limiter{Limit: limit, Window: w}
			start := epoch.Add(w - time.Nanosecond)
			times := admitGreedy(l, start, start.Add(3*w), 0)
			if got := maxInWindow(times, int64(w)); got != 2*limit {
				t.Errorf("limit %d: max in a window = %d, want exactly %d", limit, got, 2*limit)
			}
			checkBound(t, times, int64(limit), int64(w))
		}
	})
	t.Run("random", func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for trial := range 300 {
			limit := 1 + r.IntN(50)
			w := time.Duration(1+r.IntN(100)) * time.Millisecond
			l := &Limiter{Limit: limit, Window: w}
			var times []int64
			now := epoch
			for range 40 {
				// Jump near a window edge, then burst or pace greedily.
				k := now.UnixNano()/int64(w) + 1 + int64(r.IntN(2))
				edge := time.Unix(0, k*int64(w))
				if next := edge.Add(time.Duration(r.Int64N(int64(w)/10+1) - int64(w)/20)); next.After(now) {
					now = next
				}
				if r.IntN(2) == 0 {
					for range r.IntN(2 * limit) {
						if l.Allow("k", now).Allowed {
							times = append(times, now.UnixNano())
						}
					}
				} else {
					times = append(times, admitGreedy(l, now, now.Add(w), time.Duration(r.Int64N(int64(w)/50+1)))...)
				}
				now = now.Add(time.Duration(r.Int64N(int64(w))))
			}
			if !slices.IsSorted(times) {
				t.Fatalf("trial %d: timeline not sorted", trial)
			}
			checkBound(t, times, int64(limit), int64(w))
		}
	})
}

// admitGreedy sends events from start until end, each at the earliest
// instant the limiter admits it plus jitter, and returns the admitted times.
func admitGreedy(l *Limiter, start, end time.Time, jitter time.Duration) []int64 {
	var times []int64
	for now := start; now.Before(end); {
		d := l.Allow("k", now)
		if d.Allowed {
			times = append(times, now.UnixNano())
			continue
		}
		now = now.Add(d.RetryAfter + jitter)
	}
	return times
}

func TestSteadyTrafficIsNeverDenied(t *testing.T) {
	// A client pacing itself at 90% of the limit must never be refused,
	// whatever the phase against window boundaries.
	const limit = 100
	w := time.Minute
	for _, phase := range []time.Duration{0, time.Millisecond, 17 * time.Second, w - time.Nanosecond} {
		l := &Limiter{Limit: limit, Window: w}
		step := w / (limit * 9 / 10)
		now := epoch.Add(phase)
		for i := range 1000 {
			if d := l.Allow("ci", now); !d.Allowed {
				t.Fatalf("phase %v: event %d denied: %+v", phase, i, d)
			}
			now = now.Add(step)
		}
	}
}

func TestClockSteppingBack(t *testing.T) {
	l := &Limiter{Limit: 2, Window: time.Second}
	now := epoch.Add(5 * time.Second)
	l.Allow("k", now)
	l.Allow("k", now)
	// Going back a whole window must not hand out a fresh budget.
	if d := l.Allow("k", now.Add(-time.Second)); d.Allowed {
		t.Errorf("admitted after clock stepped back: %+v", d)
	}
}

func TestIdleKeysAreSwept(t *testing.T) {
	l := &Limiter{Limit: 5, Window: time.Second, Shards: 1}
	for i := range 100 {
		l.Allow(fmt.Sprint("ip:10.0.0.", i), epoch)
	}
	l.Allow("recent", epoch.Add(time.Second))
	if got := l.Len(); got != 101 {
		t.Fatalf("Len = %d, want 101", got)
	}
	// Two windows after their last event the 100 keys carry no state.
	l.Allow("recent", epoch.Add(2*time.Second))
	if got := l.Len(); got != 1 {
		t.Errorf("Len after idle sweep = %d, want 1", got)
	}
}

func TestMaxKeysBoundsMemory(t *testing.T) {
	l := &Limiter{Limit: 5, Window: time.Minute, MaxKeys: 100, Shards: 8}
	for i := range 10_000 {
		l.Allow(fmt.Sprint("ip:", i), epoch.Add(time.Duration(i)*time.Millisecond))
		if n := l.Len(); n > 100 {
			t.Fatalf("after %d keys Len = %d > MaxKeys 100", i+1, n)
		}
	}
	// Evicted slots linger in the lock-free maps until the next publish,
	// which comes after a bounded amount of churn.
	var entries int
	for i := range l.shards {
		entries += len(*l.shards[i].read.Load()) + len(l.shards[i].pending)
	}
	if entries > 2*100+16*8 {
		t.Errorf("%d map entries for MaxKeys 100", entries)
	}
}

func TestConcurrentCountsAreExact(t *testing.T) {
	// Under contention every admission must be counted: for each key
	// exactly Limit events get through within one window.
	const limit, keys, workers = 50, 16, 8
	l := &Limiter{Limit: limit, Window: time.Hour, Shards: 4}
	var admitted [keys]atomic.Int64
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range 40 * limit {
				k := (i + g) % keys
				if l.Allow(fmt.Sprint("k", k), epoch.Add(time.Duration(i))).Allowed {
					admitted[k].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for k := range admitted {
		if got := admitted[k].Load(); got != limit {
			t.Errorf("key %d admitted %d, want %d", k, got, limit)
		}
	}
}

func TestZeroValueDefaults(t *testing.T) {
	var l Limiter
	d := l.Allow("k", epoch)
	want := Decision{Allowed: true, Limit: DefaultLimit, Remaining: DefaultLimit - 1, Reset: 2 * DefaultWindow}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("decision mismatch (-want +got):\n%s", diff)
	}
}

func TestClasses(t *testing.T) {
	var c Classes
	now := epoch
	for i := range DefaultLoginPerMinute {
		if d := c.Allow(ClassLogin, "ip:192.0.2.1", now); !d.Allowed {
			t.Fatalf("login %d denied", i)
		}
	}
	if d := c.Allow(ClassLogin, "ip:192.0.2.1", now); d.Allowed {
		t.Errorf("login %d admitted", DefaultLoginPerMinute+1)
	}
	// Logins being exhausted does not touch reads or publishes.
	for _, class := range []string{ClassRead, ClassPublish} {
		if d := c.Allow(class, "ip:192.0.2.1", now); !d.Allowed {
			t.Errorf("%s denied after logins ran out", class)
		}
	}
	got := map[string]int{}
	for _, class := range []string{ClassRead, ClassPublish, ClassLogin} {
		got[class] = c.Limiter(class).Allow("other", now).Limit
	}
	want := map[string]int{ClassRead: DefaultReadPerMinute, ClassPublish: DefaultPublishPerMinute, ClassLogin: DefaultLoginPerMinute}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("class limits mismatch (-want +got):\n%s", d)
	}
	if c.Limiter("bogus") != nil {
		t.Errorf("Limiter(bogus) != nil")
	}
}

func TestClassesCustomLimitKept(t *testing.T) {
	c := Classes{Login: Limiter{Limit: 3}}
	if got := c.Allow(ClassLogin, "k", epoch).Limit; got != 3 {
		t.Errorf("login limit = %d, want 3", got)
	}
	if got := c.Login.Window; got != time.Minute {
		t.Errorf("login window = %v, want 1m default", got)
	}
}

// TestConcurrentChurn runs checks, inserts, evictions, publishes and idle
// sweeps against each other (for the race detector) and checks the bounds
// still hold.
func TestConcurrentChurn(t *testing.T) {
	l := &Limiter{Limit: 5, Window: time.Millisecond, MaxKeys: 64, Shards: 4}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for i := range 3000 {
				now := epoch.Add(time.Duration(i) * 10 * time.Microsecond)
				d := l.Allow(fmt.Sprint("k", r.IntN(500)), now)
				if d.Remaining < 0 || d.Remaining >= 5 || d.Allowed == (d.RetryAfter > 0) {
					t.Errorf("bad decision %+v", d)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := l.Len(); n > 64 {
		t.Errorf("Len = %d > MaxKeys", n)
	}
}
