// Package lockout bounds password guessing per account, the registry's
// login lockout (impl/registry/lockout.go) as a pluggable [Lockout]:
// [Local] keeps the counters in the process, as the registry does today;
// [Redis] keeps them in Redis, so that failures spread over every replica
// behind a load balancer count as if one process saw them all (30 wrong
// passwords for one account over three replicas lock it exactly as 30 on
// one would).
//
// The rules, with the default [Limits]: failures are charged to the
// (account, client address) pair first, so someone failing from one
// place does not lock the owner out everywhere:
//
//   - a pair may fail PairFailures (10) times per PairWindow (15 min);
//     past that the pair is refused until its window ends, whatever the
//     password;
//   - an account may fail AccountFailures (100) times per AccountWindow
//     (1 h) from all addresses together; past that, addresses that failed
//     for the account in their pair window are refused, and addresses
//     that did not may still try, one attempt per account every SlowLane
//     (10 s).
//
// Successful logins clear their pair. A window starts with its first
// failure (fixed, not sliding), in both implementations.
package lockout

import (
	"context"
	"sync"
	"time"
)

// Lockout is what the login handler asks before and tells after checking
// a password.
type Lockout interface {
	// Allow reports whether account may try a password from addr now;
	// when not, retry is how long to wait.
	Allow(ctx context.Context, account, addr string, now time.Time) (retry time.Duration, ok bool)
	// Fail charges a wrong password to the pair and the account.
	Fail(ctx context.Context, account, addr string, now time.Time)
	// Succeed clears the pair's failures.
	Succeed(ctx context.Context, account, addr string)
}

// Limits are the lockout's bounds; a zero field takes its default.
type Limits struct {
	PairFailures    int
	PairWindow      time.Duration
	AccountFailures int
	AccountWindow   time.Duration
	SlowLane        time.Duration
}

// The defaults: the registry's constants. Worst case per account and
// hour: 2*AccountFailures + 3600s/SlowLane = 560 guesses.
const (
	DefaultPairFailures    = 10
	DefaultPairWindow      = 15 * time.Minute
	DefaultAccountFailures = 100
	DefaultAccountWindow   = time.Hour
	DefaultSlowLane        = 10 * time.Second
	// MaxEntries bounds each of Local's tables; past it expired entries
	// go, then arbitrary ones (an attacker filling the table only
	// forgets state).
	MaxEntries = 1 << 16
)

func (l Limits) withDefaults() Limits {
	if l.PairFailures <= 0 {
		l.PairFailures = DefaultPairFailures
	}
	if l.PairWindow <= 0 {
		l.PairWindow = DefaultPairWindow
	}
	if l.AccountFailures <= 0 {
		l.AccountFailures = DefaultAccountFailures
	}
	if l.AccountWindow <= 0 {
		l.AccountWindow = DefaultAccountWindow
	}
	if l.SlowLane <= 0 {
		l.SlowLane = DefaultSlowLane
	}
	return l
}

type failWindow struct {
	start    time.Time
	count    int
	lastSlow time.Time // accounts: the last slow-lane attempt
}

// Local is the in-process Lockout, the registry's own algorithm. The
// zero value uses the default Limits; set Limits before first use.
type Local struct {
	Limits Limits

	once     sync.Once
	mu       sync.Mutex
	pairs    map[string]*failWindow
	accounts map[string]*failWindow
}

var _ Lockout = (*Local)(nil)

func (l *Local) init() {
	l.Limits = l.Limits.withDefaults()
	l.pairs = map[string]*failWindow{}
	l.accounts = map[string]*failWindow{}
}

func pairKey(account, addr string) string { return account + "\x00" + addr }

// live returns m[k] unless its window ended.
func live(m map[string]*failWindow, k string, window time.Duration, now time.Time) *failWindow {
	w := m[k]
	if w != nil && !now.Before(w.start.Add(window)) {
		delete(m, k)
		return nil
	}
	return w
}

// Allow implements Lockout.
func (l *Local) Allow(_ context.Context, account, addr string, now time.Time) (time.Duration, bool) {
	l.once.Do(l.init)
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.Limits
	p := live(l.pairs, pairKey(account, addr), lim.PairWindow, now)
	if p != nil && p.count >= lim.PairFailures {
		return p.start.Add(lim.PairWindow).Sub(now), false
	}
	a := live(l.accounts, account, lim.AccountWindow, now)
	if a == nil || a.count < lim.AccountFailures {
		return 0, true
	}
	if p != nil && p.count > 0 {
		return a.start.Add(lim.AccountWindow).Sub(now), false
	}
	if d := now.Sub(a.lastSlow); !a.lastSlow.IsZero() && d < lim.SlowLane {
		return lim.SlowLane - d, false
	}
	a.lastSlow = now
	return 0, true
}

// Fail implements Lockout.
func (l *Local) Fail(_ context.Context, account, addr string, now time.Time) {
	l.once.Do(l.init)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range []struct {
		m      map[string]*failWindow
		k      string
		window time.Duration
	}{{l.pairs, pairKey(account, addr), l.Limits.PairWindow}, {l.accounts, account, l.Limits.AccountWindow}} {
		w := live(t.m, t.k, t.window, now)
		if w == nil {
			if len(t.m) >= MaxEntries {
				shrink(t.m, t.window, now)
			}
			w = &failWindow{start: now}
			t.m[t.k] = w
		}
		w.count++
	}
}

// Succeed implements Lockout.
func (l *Local) Succeed(_ context.Context, account, addr string) {
	l.once.Do(l.init)
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.pairs, pairKey(account, addr))
}

func shrink(m map[string]*failWindow, window time.Duration, now time.Time) {
	for k, w := range m {
		if !now.Before(w.start.Add(window)) {
			delete(m, k)
		}
	}
	for k := range m {
		if len(m) < MaxEntries*3/4 {
			return
		}
		delete(m, k)
	}
}
