package ratelimit

import (
	"context"
	"time"
)

// Checker decides one event for a key. [Local] is the in-process
// limiter; redislimit.Limiter keeps the state in Redis so that several
// replicas share one limit. A Checker never fails: a limiter whose shared
// state is unreachable decides locally instead.
type Checker interface {
	// Allow records an event for key at now if the key is under its
	// limit, and reports the decision. Limiters keeping their state
	// elsewhere may use their store's clock rather than now.
	Allow(ctx context.Context, key string, now time.Time) Decision
}

// Local is the Checker of a Limiter in this process.
type Local struct{ L *Limiter }

var _ Checker = Local{}

// Allow implements Checker.
func (l Local) Allow(_ context.Context, key string, now time.Time) Decision {
	return l.L.Allow(key, now)
}
