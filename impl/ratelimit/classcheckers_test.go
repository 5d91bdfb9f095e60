package ratelimit_test

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/ratelimit"
)

// LocalCheckers decides exactly as Classes: the same decision, remaining
// count, retry and reset for every event of a random schedule over every
// class, keys and window edges included.
func TestLocalCheckersSameAsClasses(t *testing.T) {
	cfg := func() *ratelimit.Classes {
		return &ratelimit.Classes{
			Read:  ratelimit.Limiter{Limit: 20, Window: time.Second},
			Login: ratelimit.Limiter{Limit: 3, Window: 500 * time.Millisecond},
			// Publish: the default, left zero.
		}
	}
	want, got := cfg(), ratelimit.LocalCheckers(cfg())
	var _ ratelimit.ClassLimits = want
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Unix(1_700_000_000, 0)
	for i := range 20_000 {
		now = now.Add(time.Duration(rng.IntN(int(30 * time.Millisecond))))
		class := ratelimit.ClassNames[rng.IntN(3)]
		key := "k" + string(rune('a'+rng.IntN(4)))
		if a, b := want.Allow(class, key, now), got.Allow(class, key, now); a != b {
			t.Fatalf("event %d (%s %s): Classes %+v, LocalCheckers %+v", i, class, key, a, b)
		}
	}
	for _, name := range ratelimit.ClassNames {
		if want.Limiter(name).Limit != got.Limiter(name).Limit || want.Limiter(name).Window != got.Limiter(name).Window {
			t.Errorf("%s: limits differ", name)
		}
	}
}

// A class without a checker falls to its configured limiter; an unknown
// class panics, as with Classes.
func TestClassCheckersDefaults(t *testing.T) {
	cc := &ratelimit.ClassCheckers{Checkers: map[string]ratelimit.Checker{}}
	now := time.Unix(1_700_000_000, 0)
	n := 0
	for range ratelimit.DefaultLoginPerMinute + 5 {
		if cc.Allow(ratelimit.ClassLogin, "x", now).Allowed {
			n++
		}
	}
	if n != ratelimit.DefaultLoginPerMinute {
		t.Errorf("%d logins allowed, want %d", n, ratelimit.DefaultLoginPerMinute)
	}
	defer func() {
		if recover() == nil {
			t.Error("an unknown class did not panic")
		}
	}()
	cc.Allow("nope", "x", now)
}

type countingChecker struct{ n int }

func (c *countingChecker) Allow(context.Context, string, time.Time) ratelimit.Decision {
	c.n++
	return ratelimit.Decision{Allowed: c.n%2 == 1, Limit: 7}
}

func TestClassCheckersRoutesByClass(t *testing.T) {
	r, p := &countingChecker{}, &countingChecker{}
	cc := &ratelimit.ClassCheckers{Checkers: map[string]ratelimit.Checker{ratelimit.ClassRead: r, ratelimit.ClassPublish: p}}
	now := time.Now()
	cc.Allow(ratelimit.ClassRead, "a", now)
	cc.Allow(ratelimit.ClassRead, "a", now)
	if d := cc.Allow(ratelimit.ClassPublish, "a", now); !d.Allowed || d.Limit != 7 {
		t.Errorf("publish decision %+v", d)
	}
	if r.n != 2 || p.n != 1 {
		t.Errorf("read checked %d times, publish %d", r.n, p.n)
	}
}

func TestUnsharedMessage(t *testing.T) {
	if m := ratelimit.UnsharedMessage(3); !strings.Contains(m, "effective limit is 3 times the configured one") {
		t.Errorf("3 replicas: %q", m)
	}
	if m := ratelimit.UnsharedMessage(1); !strings.Contains(m, "per replica") || strings.Contains(m, "1 times") {
		t.Errorf("1 replica: %q", m)
	}
	var buf bytes.Buffer
	ratelimit.LogUnshared(slog.New(slog.NewJSONHandler(&buf, nil)), 3, &ratelimit.Classes{})
	for _, want := range []string{`"level":"WARN"`, `"replicas":3`, `"login_limit":10`, `"login_effective_limit":30`, `"read_effective_limit":60000`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log line lacks %s: %s", want, buf.String())
		}
	}
}
