package registry

import (
	"sync"
	"time"
)

// Password guessing is bounded per account, but failures are charged to
// the (account, client address) pair first, so that someone failing from
// one place does not lock the owner out everywhere:
//
//   - a pair may fail pairFailures times per pairWindow; past that the
//     pair is refused (429) until its window ends, whatever the password;
//   - an account may fail accountFailures times per accountWindow from
//     all addresses together; past that, addresses that failed for the
//     account in their pair window are refused, and addresses that did
//     not may still try, one attempt per account every slowLane (the
//     owner on a new address waits at most slowLane, an attacker with
//     unlimited addresses gets one guess per slowLane).
//
// Worst case per account and hour: accountFailures + 3600s/slowLane
// guesses in one account window, so at most 2*accountFailures +
// 3600s/slowLane = 560 in any 60 minutes with the defaults. Successful
// logins reset their pair. Failures for names that do not exist are
// counted the same, so the answers tell nothing about which names exist.
const (
	pairFailures    = 10
	pairWindow      = 15 * time.Minute
	accountFailures = 100
	accountWindow   = time.Hour
	slowLane        = 10 * time.Second
	// lockoutEntries bounds each table; past it expired entries go, then
	// arbitrary ones (an attacker filling the table only forgets state).
	lockoutEntries = 1 << 16
)

type failWindow struct {
	start    time.Time
	count    int
	lastSlow time.Time // accounts: the last slow-lane attempt
}

type lockout struct {
	mu       sync.Mutex
	pairs    map[string]*failWindow
	accounts map[string]*failWindow
}

func newLockout() *lockout {
	return &lockout{pairs: map[string]*failWindow{}, accounts: map[string]*failWindow{}}
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

// allow reports whether account may try a password from addr now; when
// not, retry is how long to wait.
func (l *lockout) allow(account, addr string, now time.Time) (retry time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := live(l.pairs, pairKey(account, addr), pairWindow, now)
	if p != nil && p.count >= pairFailures {
		return p.start.Add(pairWindow).Sub(now), false
	}
	a := live(l.accounts, account, accountWindow, now)
	if a == nil || a.count < accountFailures {
		return 0, true
	}
	if p != nil && p.count > 0 {
		return a.start.Add(accountWindow).Sub(now), false
	}
	if d := now.Sub(a.lastSlow); !a.lastSlow.IsZero() && d < slowLane {
		return slowLane - d, false
	}
	a.lastSlow = now
	return 0, true
}

// fail charges a failed password to the pair and the account.
func (l *lockout) fail(account, addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range []struct {
		m      map[string]*failWindow
		k      string
		window time.Duration
	}{{l.pairs, pairKey(account, addr), pairWindow}, {l.accounts, account, accountWindow}} {
		w := live(t.m, t.k, t.window, now)
		if w == nil {
			if len(t.m) >= lockoutEntries {
				shrink(t.m, t.window, now)
			}
			w = &failWindow{start: now}
			t.m[t.k] = w
		}
		w.count++
	}
}

// succeed clears the pair's failures.
func (l *lockout) succeed(account, addr string) {
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
		if len(m) < lockoutEntries*3/4 {
			return
		}
		delete(m, k)
	}
}
