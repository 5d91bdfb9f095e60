package redislimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/bun13/bun13/impl/ratelimit"
	"github.com/bun13/bun13/impl/ratelimit/redislimit"
	"github.com/bun13/bun13/impl/testenv"
)

// patientClient is a client whose timeouts a loaded machine does not
// reach (NewClient's are 100 ms, for production).
func patientClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries, opt.ReadTimeout, opt.WriteTimeout = -1, 5*time.Second, 5*time.Second
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// Three replicas, each with its own client, share each class's limit:
// 10 logins a minute for one key in all, whichever replica takes them;
// the classes do not share budgets; the keys are bun13:rl:CLASS:KEY.
func TestClassesShared(t *testing.T) {
	url := testenv.Getenv(t, "BUN13_TEST_REDIS", "Redis", install)
	reg := prometheus.NewRegistry()
	m := redislimit.NewMetrics(reg)
	key := "test-classes-" + time.Now().Format("150405.000000000")
	var reps []ratelimit.ClassLimits
	for range 3 {
		cc := redislimit.Classes(patientClient(t, url), &ratelimit.Classes{}, m, nil)
		// The fallback is tested below; here a slow round trip on a
		// loaded machine must not be taken for an outage.
		for _, ch := range cc.Checkers {
			ch.(*redislimit.Limiter).Timeout = 5 * time.Second
		}
		reps = append(reps, cc)
	}
	now := time.Now()
	allowed := 0
	for i := range 30 {
		if reps[i%3].Allow(ratelimit.ClassLogin, key, now).Allowed {
			allowed++
		}
	}
	if allowed != ratelimit.DefaultLoginPerMinute {
		t.Errorf("%d of 30 logins over three replicas allowed, want %d", allowed, ratelimit.DefaultLoginPerMinute)
	}
	if d := reps[1].Allow(ratelimit.ClassPublish, key, now); !d.Allowed || d.Limit != ratelimit.DefaultPublishPerMinute {
		t.Errorf("publish after the logins ran out: %+v", d)
	}
	if reps[0].Limiter(ratelimit.ClassRead).Limit != ratelimit.DefaultReadPerMinute {
		t.Error("configured read limit")
	}
	c := client(t, url)
	if n, err := c.Exists(context.Background(), redislimit.ClassPrefix(ratelimit.ClassLogin)+key, "bun13:rl:publish:"+key).Result(); err != nil || n != 2 {
		t.Errorf("class keys: %d %v", n, err)
	}
	if n := testutil.ToFloat64(m.Errors); n != 0 {
		t.Errorf("%v backend errors", n)
	}
	if n, _ := testutil.GatherAndCount(reg, "bun_ratelimit_backend_errors_total", "bun_ratelimit_backend_fallbacks_total"); n != 2 {
		t.Errorf("%d metric families registered, want 2", n)
	}
}

// Redis unreachable from the start: OpenClasses still returns, and each
// class is decided by its configured local limiter, counted.
func TestOpenClassesRedisDown(t *testing.T) {
	m := redislimit.NewMetrics(nil)
	cc, c, err := redislimit.OpenClasses(context.Background(), "redis://127.0.0.1:1/0", &ratelimit.Classes{Login: ratelimit.Limiter{Limit: 2, Window: time.Minute}}, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	now := time.Now()
	var got []bool
	for range 3 {
		got = append(got, cc.Allow(ratelimit.ClassLogin, "k", now).Allowed)
	}
	if !got[0] || !got[1] || got[2] {
		t.Errorf("fallback decisions %v, want the local limit of 2", got)
	}
	if n := testutil.ToFloat64(m.Fallbacks); n != 3 {
		t.Errorf("%v fallbacks counted, want 3", n)
	}
	if _, _, err := redislimit.OpenClasses(context.Background(), "http://nope", nil, nil, nil); err == nil {
		t.Error("a non-redis URL was accepted")
	}
}
