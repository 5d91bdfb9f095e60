package registry

import (
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/ratelimit/lockout"
)

func lockoutEnv(t *testing.T) *testEnv {
	return newEnv(t, config.RateLimit, func(o *Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		o.Limits = newClasses(1000, 1000, 10) // the default login limit
	})
}

func (e *testEnv) login(user, password, addr string) resp {
	e.t.Helper()
	return e.do("PUT", "/-/user/org.couchdb.user:"+user, "", map[string]string{"name": user, "password": password}, "X-Forwarded-For", addr)
}

// The attack: ten wrong passwords a minute from anywhere locked the
// owner out from every address.
func TestLoginLockoutPerAddress(t *testing.T) {
	e := lockoutEnv(t)
	for i := range lockout.DefaultPairFailures {
		if r := e.login("alice", "wrong", "192.0.2.1"); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d %s", i, r.status, r.body)
		}
		e.now = e.now.Add(5 * time.Second) // ten in a minute
	}
	// The failing address is locked out, even with the right password.
	if r := e.login("alice", "pw-alice", "192.0.2.1"); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("right password from the failing address: %d %s, want 429 with Retry-After", r.status, r.body)
	}
	// The owner elsewhere logs in.
	if r := e.login("alice", "pw-alice", "198.51.100.9"); r.status != http.StatusCreated {
		t.Errorf("right password from another address: %d %s, want 201", r.status, r.body)
	}
	// The lock ends with its window.
	e.now = e.now.Add(lockout.DefaultPairWindow)
	if r := e.login("alice", "pw-alice", "192.0.2.1"); r.status != http.StatusCreated {
		t.Errorf("after the window: %d %s", r.status, r.body)
	}
}

// Many addresses: the account budget, then one slow-lane guess per
// lockout.DefaultSlowLane; a clean address with the right password still gets in.
func TestLoginLockoutPerAccount(t *testing.T) {
	e := lockoutEnv(t)
	addr := 0
	next := func() string {
		addr++
		return "10." + strconv.Itoa(addr>>16&255) + "." + strconv.Itoa(addr>>8&255) + "." + strconv.Itoa(addr&255)
	}
	checked := 0 // attempts whose password was checked (401)
	start := e.now
	var failing string
	for e.now.Before(start.Add(time.Hour)) {
		a := next()
		r := e.login("alice", "guess", a)
		switch r.status {
		case http.StatusUnauthorized:
			checked++
			failing = a
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("guess: %d %s", r.status, r.body)
		}
		e.now = e.now.Add(time.Second)
	}
	// One account window and a slow lane attempt every 10 s.
	if max := lockout.DefaultAccountFailures + int(time.Hour/lockout.DefaultSlowLane); checked > max || checked < lockout.DefaultAccountFailures {
		t.Errorf("%d guesses checked in an hour from fresh addresses, want %d..%d", checked, lockout.DefaultAccountFailures, max)
	}
	// Past the budget, a failing address is refused; a clean one with the
	// right password gets in once the slow lane is free.
	// A new account window: the budget again, then the slow lane.
	for range lockout.DefaultAccountFailures {
		if r := e.login("alice", "guess", next()); r.status != http.StatusUnauthorized {
			t.Fatalf("guess in the new window: %d", r.status)
		}
		failing = "10." + strconv.Itoa(addr>>16&255) + "." + strconv.Itoa(addr>>8&255) + "." + strconv.Itoa(addr&255)
	}
	if r := e.login("alice", "pw-alice", failing); r.status != http.StatusTooManyRequests {
		t.Errorf("failing address past the account budget: %d", r.status)
	}
	if r := e.login("alice", "pw-alice", "203.0.113.50"); r.status != http.StatusCreated {
		t.Errorf("clean address with the right password: %d %s", r.status, r.body)
	}
}
