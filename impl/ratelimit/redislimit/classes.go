package redislimit

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bun13/bun13/impl/ratelimit"
)

// ClassPrefix is the key prefix of a class's limiter: bun13:rl:CLASS:.
func ClassPrefix(class string) string { return DefaultPrefix + class + ":" }

// Classes returns the ClassCheckers that decide every class of c (nil:
// the defaults) in Redis through client: one Limiter per class with the
// class's Limit and Window, prefix ClassPrefix(class), falling back to
// the class's own local limiter (so a Redis outage leaves each replica
// with exactly today's per-process limits), all sharing m and log.
func Classes(client redis.UniversalClient, c *ratelimit.Classes, m *Metrics, log *slog.Logger) *ratelimit.ClassCheckers {
	if c == nil {
		c = &ratelimit.Classes{}
	}
	cc := &ratelimit.ClassCheckers{Classes: c, Checkers: map[string]ratelimit.Checker{}}
	for _, name := range ratelimit.ClassNames {
		l := c.Limiter(name)
		cc.Checkers[name] = &Limiter{
			Client:   client,
			Prefix:   ClassPrefix(name),
			Limit:    l.Limit,
			Window:   l.Window,
			Fallback: l,
			Metrics:  m,
			Logger:   log,
		}
	}
	return cc
}

// OpenClasses connects to the Redis at url (NewClient) and returns
// Classes on it counting into m (NewMetrics(reg), made once per process
// and shared with the login lockout), and the client, which the caller
// closes at shutdown. Only a malformed URL is an error: an unreachable
// Redis is logged (one PING, 1 s) and the checks fall back until it
// answers.
func OpenClasses(ctx context.Context, url string, c *ratelimit.Classes, m *Metrics, log *slog.Logger) (*ratelimit.ClassCheckers, *redis.Client, error) {
	client, err := NewClient(url)
	if err != nil {
		return nil, nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		log.Warn("rate-limit store not reachable at start; each replica applies the limits alone until it is", "err", err)
	}
	return Classes(client, c, m, log), client, nil
}
