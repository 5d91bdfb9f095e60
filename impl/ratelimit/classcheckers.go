package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// ClassNames are the request classes, in the order logs list them.
var ClassNames = []string{ClassRead, ClassPublish, ClassLogin}

// ClassLimits is what the registry asks of its rate limits: a decision per
// class and key, and the configured limit of a class. *Classes (one
// process) and *ClassCheckers (Redis, shared by the fleet) both are one.
type ClassLimits interface {
	// Allow decides one event of class for key; it panics on an unknown
	// class.
	Allow(class, key string, now time.Time) Decision
	// Limiter returns the class's configured limiter (its Limit and
	// Window), nil for an unknown class.
	Limiter(class string) *Limiter
}

var (
	_ ClassLimits = (*Classes)(nil)
	_ ClassLimits = (*ClassCheckers)(nil)
)

// ClassCheckers decides each class with its own Checker, behind the same
// Allow(class, key, now) as Classes, so the registry swaps one for the
// other. Build it with LocalCheckers (today's per-process limits,
// decision for decision) or redislimit.Classes (one Redis limiter per
// class). Fields must be set before first use.
type ClassCheckers struct {
	// Classes are the configured limits: Limiter answers from them, and
	// a class without a Checker is decided by them. Nil means the
	// defaults.
	Classes *Classes
	// Checkers decide, by class name.
	Checkers map[string]Checker
	// Context is passed to the checkers (a Redis check has its own
	// timeout). Nil means context.Background().
	Context context.Context
}

// LocalCheckers returns the ClassCheckers of c's own limiters: every
// decision is the one c.Allow makes (c nil: the defaults).
func LocalCheckers(c *Classes) *ClassCheckers {
	if c == nil {
		c = &Classes{}
	}
	cc := &ClassCheckers{Classes: c, Checkers: map[string]Checker{}}
	for _, name := range ClassNames {
		cc.Checkers[name] = Local{L: c.Limiter(name)}
	}
	return cc
}

// Limiter implements ClassLimits.
func (c *ClassCheckers) Limiter(class string) *Limiter {
	if c.Classes == nil {
		c.Classes = &Classes{}
	}
	return c.Classes.Limiter(class)
}

// Allow implements ClassLimits.
func (c *ClassCheckers) Allow(class, key string, now time.Time) Decision {
	l := c.Limiter(class)
	if l == nil {
		panic(fmt.Sprintf("ratelimit: unknown class %q", class))
	}
	ch, ok := c.Checkers[class]
	if !ok {
		return l.Allow(key, now)
	}
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	return ch.Allow(ctx, key, now)
}

// UnsharedMessage is the start-up warning of replicas that keep their
// limits alone (no Redis): replicas is how many the fleet holds (0 or 1
// when not known yet).
func UnsharedMessage(replicas int) string {
	if replicas >= 2 {
		return fmt.Sprintf("rate limits are kept per replica (no Redis configured): with %d replicas in the fleet the effective limit is %d times the configured one", replicas, replicas)
	}
	return "rate limits are kept per replica (no Redis configured): the effective limit is the configured one per replica, times the number of replicas behind the load balancer"
}

// LogUnshared logs UnsharedMessage at warning level with each class's
// configured and effective limit per window (the effective one only when
// replicas >= 2).
func LogUnshared(log *slog.Logger, replicas int, c ClassLimits) {
	attrs := []any{"replicas", replicas}
	for _, name := range ClassNames {
		l := c.Limiter(name)
		attrs = append(attrs, name+"_limit", l.Limit, name+"_window", l.Window.String())
		if replicas >= 2 {
			attrs = append(attrs, name+"_effective_limit", replicas*l.Limit)
		}
	}
	log.Warn(UnsharedMessage(replicas), attrs...)
}
