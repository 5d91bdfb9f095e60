package lockout

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bun13/bun13/impl/ratelimit/redislimit"
)

var (
	//go:embed allow.lua
	allowSource string
	//go:embed fail.lua
	failSource string

	allowScript = redis.NewScript(allowSource)
	failScript  = redis.NewScript(failSource)
)

// DefaultPrefix starts the lockout's Redis keys: PREFIX p:ACCOUNT\0ADDR
// for a pair, PREFIX a:ACCOUNT for an account.
const DefaultPrefix = "bun13:lockout:"

// Redis is the Lockout shared by every process on one Redis: each check
// and each failure is one EVALSHA on the server's clock. While Redis is
// unreachable (a check's Timeout, then Backoff without trying) the
// decisions are Fallback's, which also sees every failure all along, so
// an outage leaves each replica with today's per-process lockout and no
// request ever fails because of Redis. Fields must be set before first
// use.
type Redis struct {
	// Client is the Redis connection (redislimit.NewClient: no retries,
	// short timeouts).
	Client redis.UniversalClient
	// Prefix starts every key; empty means DefaultPrefix.
	Prefix string
	Limits Limits
	// Timeout bounds one round trip; zero means redislimit.DefaultTimeout.
	Timeout time.Duration
	// Backoff is how long Redis is skipped after a failure; zero means
	// redislimit.DefaultBackoff.
	Backoff time.Duration
	// Fallback decides while Redis is away; nil means a Local with the
	// same Limits.
	Fallback *Local
	// Metrics counts failed round trips and local decisions
	// (bun_ratelimit_backend_errors_total and _fallbacks_total, shared
	// with the rate limiters); nil counts nothing.
	Metrics *redislimit.Metrics
	// Logger gets one line when Redis goes away and one when it is back.
	Logger *slog.Logger

	once      sync.Once
	downUntil atomic.Int64
	down      atomic.Bool
}

var _ Lockout = (*Redis)(nil)

func (r *Redis) init() {
	r.Limits = r.Limits.withDefaults()
	if r.Prefix == "" {
		r.Prefix = DefaultPrefix
	}
	if r.Timeout <= 0 {
		r.Timeout = redislimit.DefaultTimeout
	}
	if r.Backoff <= 0 {
		r.Backoff = redislimit.DefaultBackoff
	}
	if r.Fallback == nil {
		r.Fallback = &Local{Limits: r.Limits}
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
}

func (r *Redis) keys(account, addr string) []string {
	return []string{r.Prefix + "p:" + pairKey(account, addr), r.Prefix + "a:" + account}
}

// usable reports whether to try Redis now.
func (r *Redis) usable(now time.Time) bool { return now.UnixNano() >= r.downUntil.Load() }

func (r *Redis) failed(err error, now time.Time) {
	if r.Metrics != nil {
		r.Metrics.Errors.Inc()
	}
	r.downUntil.Store(now.Add(r.Backoff).UnixNano())
	if !r.down.Swap(true) {
		r.Logger.Warn("login lockout store unreachable; each replica counts failed logins alone until it is back", "err", err, "retry_in", r.Backoff)
	}
}

func (r *Redis) ok() {
	if r.down.Swap(false) {
		r.Logger.Info("login lockout store reachable again; failed logins are counted fleet-wide")
	}
}

func ms(d time.Duration) int64 { return max(1, d.Milliseconds()) }

// Allow implements Lockout.
func (r *Redis) Allow(ctx context.Context, account, addr string, now time.Time) (time.Duration, bool) {
	r.once.Do(r.init)
	if r.usable(now) {
		cctx, cancel := context.WithTimeout(ctx, r.Timeout)
		res, err := allowScript.Run(cctx, r.Client, r.keys(account, addr),
			r.Limits.PairFailures, r.Limits.AccountFailures, ms(r.Limits.SlowLane)).Int64Slice()
		cancel()
		if err == nil && len(res) != 2 {
			err = errors.New("lockout: script returned " + fmt.Sprint(res))
		}
		if err == nil {
			r.ok()
			return time.Duration(res[1]) * time.Millisecond, res[0] == 1
		}
		r.failed(err, now)
	}
	if r.Metrics != nil {
		r.Metrics.Fallbacks.Inc()
	}
	return r.Fallback.Allow(ctx, account, addr, now)
}

// Fail implements Lockout.
func (r *Redis) Fail(ctx context.Context, account, addr string, now time.Time) {
	r.once.Do(r.init)
	r.Fallback.Fail(ctx, account, addr, now)
	if !r.usable(now) {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	err := failScript.Run(cctx, r.Client, r.keys(account, addr), ms(r.Limits.PairWindow), ms(r.Limits.AccountWindow)).Err()
	if err != nil {
		r.failed(err, now)
		return
	}
	r.ok()
}

// Succeed implements Lockout.
func (r *Redis) Succeed(ctx context.Context, account, addr string) {
	r.once.Do(r.init)
	r.Fallback.Succeed(ctx, account, addr)
	if !r.usable(time.Now()) {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	if err := r.Client.Del(cctx, r.keys(account, addr)[0]).Err(); err != nil {
		r.failed(err, time.Now())
		return
	}
	r.ok()
}
