// Package redislimit is a ratelimit.Checker whose state lives in Redis,
// so that every replica of the registry applies one shared limit.
//
// # Algorithm
//
// GCRA (the generic cell rate algorithm, as in go-redis/redis_rate), run
// as one server-side Lua script: a check is one EVALSHA round trip that
// reads the key's theoretical arrival time (TAT), decides, and writes it
// back atomically, using the Redis server's clock (TIME) so replicas with
// skewed clocks agree. With Limit L per Window W the emission interval is
// T = W/L and the burst B (default L): a key may spend B events at once,
// then one every T.
//
// # Over-admission bound
//
// Every admission moves TAT forward by T and is allowed only while
// TAT - B*T <= now; TAT is never behind the start s of an interval. So
// the k-th admission inside [s, s+t] needs s + k*T - B*T <= s + t: at most
// B + floor(t/T) events in any interval of length t. For one window
// (t = W) and the default burst that is L + L = 2L, the same worst case as
// the local sliding-window limiter (package ratelimit), reached only by a
// full burst followed by pacing at exactly the refill rate; sustained
// traffic is held to L per W.
//
// # Redis unreachable
//
// A check that cannot reach Redis within Timeout is decided by the local
// Fallback limiter instead, counted in bun_ratelimit_backend_errors_total,
// logged once when Redis goes away and once when it is back; requests
// never fail because of it. For Backoff after a failure checks go straight
// to the fallback (bun_ratelimit_backend_fallbacks_total counts every
// decision made locally) so that a dead Redis costs no latency; then the
// next check tries Redis again. While Redis is away each replica applies
// the limit alone: the effective limit is N times the configured one.
package redislimit

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bun13/bun13/impl/ratelimit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

//go:embed gcra.lua
var gcraSource string

var gcra = redis.NewScript(gcraSource)

// Defaults for zero-valued Limiter fields.
const (
	DefaultTimeout = 100 * time.Millisecond
	DefaultBackoff = time.Second
	DefaultPrefix  = "bun13:rl:"
)

// Metrics are the counters every Limiter of a process shares.
type Metrics struct {
	// Errors counts checks that failed to reach Redis.
	Errors prometheus.Counter
	// Fallbacks counts decisions made by the local fallback limiter.
	Fallbacks prometheus.Counter
}

// NewMetrics makes the counters and registers them on reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bun_ratelimit_backend_errors_total",
			Help: "Rate-limit checks that could not reach the shared store (Redis) and were decided by the per-replica limiter.",
		}),
		Fallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bun_ratelimit_backend_fallbacks_total",
			Help: "Rate-limit decisions made by the per-replica limiter because the shared store (Redis) was unreachable.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Errors, m.Fallbacks)
	}
	return m
}

// Limiter admits at most Limit events per Window per key across every
// process sharing its Redis and Prefix. Fields must be set before the
// first Allow and not changed afterwards.
type Limiter struct {
	// Client is the Redis connection; see NewClient for suitable options.
	Client redis.UniversalClient
	// Prefix starts every Redis key; use one per limit (class), e.g.
	// "bun13:rl:login:". Empty means DefaultPrefix.
	Prefix string
	// Limit events per Window, as ratelimit.Limiter; zero or negative
	// means ratelimit.DefaultLimit and ratelimit.DefaultWindow.
	Limit  int
	Window time.Duration
	// Burst is how many events a key may spend at once; zero means Limit.
	Burst int
	// Timeout bounds one check's round trip; zero means DefaultTimeout.
	Timeout time.Duration
	// Backoff is how long checks skip Redis after a failure; zero means
	// DefaultBackoff.
	Backoff time.Duration
	// Fallback decides while Redis is unreachable; nil means a
	// ratelimit.Limiter with the same Limit and Window.
	Fallback *ratelimit.Limiter
	// Metrics counts errors and fallbacks; nil counts nothing.
	Metrics *Metrics
	// Logger receives the down and back-up messages; nil discards them.
	Logger *slog.Logger

	once      sync.Once
	emission  int64 // T in microseconds
	burst     int64
	downUntil atomic.Int64 // unix nanos; checks before it use the fallback
	down      atomic.Bool  // for logging transitions once
}

var _ ratelimit.Checker = (*Limiter)(nil)

// NewClient returns a Redis client for a limiter from a redis:// URL:
// no client-side retries (a failed check falls back at once instead of
// retrying), and dial, read and write timeouts of DefaultTimeout, which a
// check's own Timeout bounds further.
func NewClient(url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redislimit: %w", err)
	}
	opt.MaxRetries = -1
	opt.DialTimeout = DefaultTimeout
	opt.ReadTimeout = DefaultTimeout
	opt.WriteTimeout = DefaultTimeout
	opt.ContextTimeoutEnabled = true
	return redis.NewClient(opt), nil
}

func (l *Limiter) init() {
	if l.Limit <= 0 {
		l.Limit = ratelimit.DefaultLimit
	}
	if l.Window <= 0 {
		l.Window = ratelimit.DefaultWindow
	}
	if l.Burst <= 0 {
		l.Burst = l.Limit
	}
	if l.Prefix == "" {
		l.Prefix = DefaultPrefix
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.Backoff <= 0 {
		l.Backoff = DefaultBackoff
	}
	if l.Fallback == nil {
		l.Fallback = &ratelimit.Limiter{Limit: l.Limit, Window: l.Window}
	}
	if l.Logger == nil {
		l.Logger = slog.New(slog.DiscardHandler)
	}
	l.emission = max(1, l.Window.Microseconds()/int64(l.Limit))
	l.burst = int64(l.Burst)
}

// Allow implements ratelimit.Checker. now is used only by the fallback:
// Redis decides on its own clock.
func (l *Limiter) Allow(ctx context.Context, key string, now time.Time) ratelimit.Decision {
	l.once.Do(l.init)
	if now.UnixNano() < l.downUntil.Load() {
		return l.fallback(key, now)
	}
	d, err := l.check(ctx, key)
	if err != nil {
		if l.Metrics != nil {
			l.Metrics.Errors.Inc()
		}
		l.downUntil.Store(now.Add(l.Backoff).UnixNano())
		if !l.down.Swap(true) {
			l.Logger.Warn("rate-limit store unreachable; each replica applies the limits alone until it is back",
				"err", err, "prefix", l.Prefix, "retry_in", l.Backoff)
		}
		return l.fallback(key, now)
	}
	if l.down.Swap(false) {
		l.Logger.Info("rate-limit store reachable again; limits are shared", "prefix", l.Prefix)
	}
	return d
}

func (l *Limiter) fallback(key string, now time.Time) ratelimit.Decision {
	if l.Metrics != nil {
		l.Metrics.Fallbacks.Inc()
	}
	return l.Fallback.Allow(key, now)
}

// check runs the script: one EVALSHA (EVAL once, when the server does not
// have the script cached yet).
func (l *Limiter) check(ctx context.Context, key string) (ratelimit.Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, l.Timeout)
	defer cancel()
	res, err := gcra.Run(ctx, l.Client, []string{l.Prefix + key}, l.emission, l.burst).Int64Slice()
	if err != nil {
		return ratelimit.Decision{}, err
	}
	if len(res) != 4 {
		return ratelimit.Decision{}, errors.New("redislimit: script returned " + fmt.Sprint(res))
	}
	us := func(v int64) time.Duration {
		if v > math.MaxInt64/int64(time.Microsecond) {
			return math.MaxInt64
		}
		return time.Duration(v) * time.Microsecond
	}
	return ratelimit.Decision{
		Allowed:    res[0] == 1,
		Limit:      l.Limit,
		Remaining:  int(res[1]),
		RetryAfter: us(res[2]),
		Reset:      us(res[3]),
	}, nil
}
