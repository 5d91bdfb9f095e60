package lockout_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/bun13/bun13/impl/ratelimit/lockout"
	"github.com/bun13/bun13/impl/ratelimit/redislimit"
	"github.com/bun13/bun13/impl/testenv"
)

// Short windows so the suite sees them end in real time (the Redis
// lockout runs on the server's clock), long enough that a loaded machine
// makes its 30 attempts well inside one.
var testLimits = lockout.Limits{
	PairFailures:    10,
	PairWindow:      1500 * time.Millisecond,
	AccountFailures: 20,
	AccountWindow:   time.Minute,
	SlowLane:        time.Second,
}

// replicas makes n lockouts of one deployment: one Local shared (one
// process) or n Redis lockouts on their own clients (n processes).
type replicas func(t *testing.T, n int) []lockout.Lockout

func account(t *testing.T) string { return "acct-" + rand.Text()[:10] }

// login is what the registry's handler does: ask, then on a wrong
// password charge it. It reports whether the password was checked.
func login(ctx context.Context, l lockout.Lockout, acct, addr string, right bool) (checked bool, retry time.Duration) {
	now := time.Now()
	retry, ok := l.Allow(ctx, acct, addr, now)
	if !ok {
		return false, retry
	}
	if right {
		l.Succeed(ctx, acct, addr)
	} else {
		l.Fail(ctx, acct, addr, now)
	}
	return true, 0
}

func suite(t *testing.T, mk replicas) {
	ctx := context.Background()
	t.Run("PairSpreadOverReplicas", func(t *testing.T) {
		// 30 wrong passwords for one account from one address, round
		// robin over three replicas: limited as if by one.
		ls, acct := mk(t, 3), account(t)
		checked := 0
		for i := range 30 {
			if ok, _ := login(ctx, ls[i%3], acct, "192.0.2.1", false); ok {
				checked++
			}
		}
		if checked != testLimits.PairFailures {
			t.Errorf("%d of 30 wrong passwords checked over three replicas, want %d", checked, testLimits.PairFailures)
		}
		ok, retry := login(ctx, ls[1], acct, "192.0.2.1", true)
		if ok || retry <= 0 || retry > testLimits.PairWindow {
			t.Errorf("right password from the locked pair: checked %v, retry %v", ok, retry)
		}
		if ok, _ := login(ctx, ls[2], acct, "198.51.100.9", true); !ok {
			t.Error("the owner on another address was locked out")
		}
		time.Sleep(testLimits.PairWindow + 50*time.Millisecond)
		if ok, _ := login(ctx, ls[0], acct, "192.0.2.1", true); !ok {
			t.Error("the pair is still locked after its window")
		}
	})
	t.Run("SucceedClearsPair", func(t *testing.T) {
		ls, acct := mk(t, 2), account(t)
		for i := range testLimits.PairFailures - 1 {
			login(ctx, ls[i%2], acct, "192.0.2.2", false)
		}
		login(ctx, ls[0], acct, "192.0.2.2", true) // on another replica than some failures
		checked := 0
		for i := range testLimits.PairFailures + 3 {
			if ok, _ := login(ctx, ls[(i+1)%2], acct, "192.0.2.2", false); ok {
				checked++
			}
		}
		if checked != testLimits.PairFailures {
			t.Errorf("after a success %d failures checked, want %d", checked, testLimits.PairFailures)
		}
	})
	t.Run("AccountSpreadOverReplicas", func(t *testing.T) {
		// The account budget over many addresses and replicas, then the
		// slow lane: one attempt per SlowLane fleet-wide.
		ls, acct := mk(t, 3), account(t)
		var last string
		for i := range testLimits.AccountFailures {
			last = "10.0.0." + strconv.Itoa(i)
			if ok, _ := login(ctx, ls[i%3], acct, last, false); !ok {
				t.Fatalf("guess %d refused inside the account budget", i)
			}
		}
		if ok, retry := login(ctx, ls[0], acct, last, true); ok || retry <= 0 {
			t.Errorf("an address that failed, past the account budget: checked %v retry %v", ok, retry)
		}
		if ok, _ := login(ctx, ls[1], acct, "203.0.113.1", false); !ok {
			t.Error("the slow lane's first attempt was refused")
		}
		ok, retry := login(ctx, ls[2], acct, "203.0.113.2", true)
		if ok || retry <= 0 || retry > testLimits.SlowLane {
			t.Errorf("a second slow-lane attempt at once, on another replica: checked %v retry %v", ok, retry)
		}
		time.Sleep(testLimits.SlowLane + 50*time.Millisecond)
		if ok, _ := login(ctx, ls[2], acct, "203.0.113.2", true); !ok {
			t.Error("the slow lane stayed shut past SlowLane")
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		// 60 goroutines over three replicas: no more checked than the
		// pair budget.
		ls, acct := mk(t, 3), account(t)
		var mu sync.Mutex
		checked := 0
		var wg sync.WaitGroup
		for i := range 60 {
			wg.Go(func() {
				l := ls[i%3]
				now := time.Now()
				if _, ok := l.Allow(ctx, acct, "192.0.2.3", now); ok {
					l.Fail(ctx, acct, "192.0.2.3", now)
					mu.Lock()
					checked++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		// Allow and Fail are two steps: racing attempts may all pass
		// Allow before any Fail lands, in one process as in many. The
		// count after the burst is what must be bounded.
		if ok, _ := login(ctx, ls[0], acct, "192.0.2.3", true); ok {
			t.Errorf("pair not locked after %d checked failures", checked)
		}
	})
}

func TestLocal(t *testing.T) {
	suite(t, func(t *testing.T, n int) []lockout.Lockout {
		l := &lockout.Local{Limits: testLimits}
		out := make([]lockout.Lockout, n)
		for i := range out {
			out[i] = l
		}
		return out
	})
}

func redisURL(t testing.TB) string {
	return testenv.Getenv(t, "BUN13_TEST_REDIS", "Redis", "source .ci/services (or .ci/services -- go test ...)")
}

// tlog sends a logger's lines to the test's log.
type tlog struct{ t *testing.T }

func (w tlog) Write(p []byte) (int, error) { w.t.Log(strings.TrimSpace(string(p))); return len(p), nil }

func TestRedis(t *testing.T) {
	url := redisURL(t)
	m := redislimit.NewMetrics(nil)
	suite(t, func(t *testing.T, n int) []lockout.Lockout {
		out := make([]lockout.Lockout, n)
		for i := range out {
			// Generous timeouts: on a loaded machine a round trip past
			// redislimit's 100 ms would fall back (as it should) and
			// this suite tests the shared state, not the fallback.
			opt, err := redis.ParseURL(url)
			if err != nil {
				t.Fatal(err)
			}
			opt.MaxRetries, opt.ReadTimeout, opt.WriteTimeout = -1, 5*time.Second, 5*time.Second
			c := redis.NewClient(opt)
			t.Cleanup(func() { c.Close() })
			out[i] = &lockout.Redis{Client: c, Limits: testLimits, Metrics: m, Timeout: 5 * time.Second,
				Logger: slog.New(slog.NewTextHandler(tlog{t}, nil))}
		}
		return out
	})
	if n := testutil.ToFloat64(m.Errors); n != 0 {
		t.Errorf("%v backend errors against a healthy Redis", n)
	}
}

// Per process, three replicas let three times the failures through: what
// the Redis lockout fixes.
func TestLocalPerReplicaIsNotShared(t *testing.T) {
	ls := []lockout.Lockout{&lockout.Local{}, &lockout.Local{}, &lockout.Local{}}
	checked := 0
	for i := range 30 {
		if ok, _ := login(context.Background(), ls[i%3], "alice", "192.0.2.1", false); ok {
			checked++
		}
	}
	if checked != 30 {
		t.Errorf("three separate processes checked %d of 30", checked)
	}
}

func TestRedisDown(t *testing.T) {
	c, err := redislimit.NewClient("redis://127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var logs bytes.Buffer
	m := redislimit.NewMetrics(nil)
	l := &lockout.Redis{Client: c, Metrics: m, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Backoff: time.Hour}
	checked := 0
	for range 15 {
		if ok, _ := login(context.Background(), l, "bob", "192.0.2.1", false); ok {
			checked++
		}
	}
	if checked != lockout.DefaultPairFailures {
		t.Errorf("with Redis down %d checked, want the local %d", checked, lockout.DefaultPairFailures)
	}
	if e := testutil.ToFloat64(m.Errors); e != 1 {
		t.Errorf("%v round trips failed, want 1 (then the backoff skips Redis)", e)
	}
	if f := testutil.ToFloat64(m.Fallbacks); f != 15 {
		t.Errorf("%v fallback decisions, want 15", f)
	}
	if n := strings.Count(logs.String(), "unreachable"); n != 1 {
		t.Errorf("%d outage lines:\n%s", n, logs.String())
	}
}
