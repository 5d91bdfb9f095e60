package redislimit_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/ratelimit"
	"github.com/bun13/bun13/impl/ratelimit/limittest"
	"github.com/bun13/bun13/impl/ratelimit/redislimit"
	"github.com/bun13/bun13/impl/testenv"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
)

const install = "source .ci/services (or .ci/services -- go test ...)"

func client(t *testing.T, url string) *redis.Client {
	t.Helper()
	c, err := redislimit.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestConformance runs the limiter suite with every instance on its own
// client (its own connections), as separate replicas would be.
func TestConformance(t *testing.T) {
	url := testenv.Getenv(t, "BUN13_TEST_REDIS", "Redis", install)
	m := redislimit.NewMetrics(nil)
	limittest.Run(t, func(t *testing.T, n, limit int, window time.Duration) []ratelimit.Checker {
		cs := make([]ratelimit.Checker, n)
		for i := range cs {
			cs[i] = &redislimit.Limiter{Client: client(t, url), Limit: limit, Window: window, Metrics: m, Timeout: 2 * time.Second}
		}
		return cs
	})
	if n := testutil.ToFloat64(m.Errors); n != 0 {
		t.Fatalf("%v backend errors against a healthy Redis", n)
	}
}

// server is a redis-server of the test's own, so the test can stop it.
type server struct {
	port int
	cmd  *exec.Cmd
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startRedis(t *testing.T, port int) *server {
	t.Helper()
	bin := testenv.LookPath(t, "redis-server", "apt-get install -y redis-server")
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{port: port, cmd: cmd}
	t.Cleanup(s.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			fmt.Fprint(c, "PING\r\n")
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on port %d does not answer", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) stop() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

func (s *server) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

// roundTrips counts what a client sends to the server.
type roundTrips struct{ n int }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n++
		return next(ctx, cmd)
	}
}
func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n++
		return next(ctx, cmds)
	}
}

// TestOneRoundTrip checks a check is one command sent (counted by a
// client hook) and that it is an EVALSHA of the script (the server's
// command statistics, which also count the commands the script runs).
func TestOneRoundTrip(t *testing.T) {
	srv := startRedis(t, freePort(t))
	c := client(t, srv.url())
	ctx := context.Background()
	l := &redislimit.Limiter{Client: c, Limit: 1000, Window: time.Minute, Timeout: 2 * time.Second}
	l.Allow(ctx, "warm", time.Now()) // loads the script (EVALSHA, then EVAL)
	admin := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", srv.port)})
	defer admin.Close()
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	const checks = 50
	var sent roundTrips
	c.AddHook(&sent)
	for i := range checks {
		if d := l.Allow(ctx, fmt.Sprint("k", i%5), time.Now()); !d.Allowed {
			t.Fatalf("check %d denied", i)
		}
	}
	stats, err := admin.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]string{}
	for _, line := range strings.Split(stats, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		v, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		calls[strings.TrimPrefix(name, "cmdstat_")] = v
	}
	if sent.n != checks {
		t.Fatalf("%d checks sent %d commands, want one each", checks, sent.n)
	}
	// Besides the script's own TIME, GET and SET, the server saw only the
	// EVALSHAs, the CONFIG RESETSTAT before them and the INFO after.
	if calls["evalsha"] != fmt.Sprint(checks) || calls["eval"] != "" {
		t.Fatalf("commands for %d checks: %v; want %d evalsha, no eval", checks, calls, checks)
	}
	for name := range calls {
		switch name {
		case "evalsha", "time", "get", "set", "info", "config|resetstat":
		default:
			t.Errorf("unexpected command %s during the checks", name)
		}
	}
}

// TestDeadRedisFallsBack points a limiter at a port nothing listens on:
// every check is decided locally, the limit still holds per process, and
// the errors are counted, not returned.
func TestDeadRedisFallsBack(t *testing.T) {
	port := freePort(t) // closed again: nothing listens there
	m := redislimit.NewMetrics(nil)
	l := &redislimit.Limiter{Client: client(t, fmt.Sprintf("redis://127.0.0.1:%d/0", port)), Limit: 5, Window: time.Hour, Metrics: m}
	ctx := context.Background()
	allowed := 0
	for range 20 {
		if l.Allow(ctx, "k", time.Now()).Allowed {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("with Redis down, %d of 20 allowed; want the local limit of 5", allowed)
	}
	if n := testutil.ToFloat64(m.Errors); n < 1 {
		t.Fatal("no backend error counted")
	}
	if n := testutil.ToFloat64(m.Fallbacks); n != 20 {
		t.Fatalf("%v fallback decisions, want 20", n)
	}
	// Within Backoff, checks do not try Redis again: one error for all.
	if n := testutil.ToFloat64(m.Errors); n != 1 {
		t.Fatalf("%v backend errors for 20 checks within the backoff, want 1", n)
	}
}

// TestRedisStoppedMidway kills the Redis server while a limiter uses it,
// then starts it again: decisions fall back to the local limiter while it
// is gone and return to Redis once it is back.
func TestRedisStoppedMidway(t *testing.T) {
	port := freePort(t)
	srv := startRedis(t, port)
	m := redislimit.NewMetrics(nil)
	l := &redislimit.Limiter{
		Client: client(t, srv.url()), Prefix: "midway:", Limit: 100, Window: time.Hour,
		Backoff: 200 * time.Millisecond, Metrics: m,
	}
	ctx := context.Background()
	probe := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1})
	defer probe.Close()
	for range 3 {
		if !l.Allow(ctx, "k", time.Now()).Allowed {
			t.Fatal("denied under the limit")
		}
	}
	if probe.Exists(ctx, "midway:k").Val() != 1 {
		t.Fatal("the limiter did not keep its state in Redis")
	}

	srv.stop()
	for i := range 10 {
		if d := l.Allow(ctx, "k", time.Now()); !d.Allowed {
			t.Fatalf("check %d with Redis stopped denied: %+v", i, d)
		}
	}
	if testutil.ToFloat64(m.Errors) < 1 || testutil.ToFloat64(m.Fallbacks) != 10 {
		t.Fatalf("errors %v fallbacks %v after Redis stopped; want >= 1 and 10",
			testutil.ToFloat64(m.Errors), testutil.ToFloat64(m.Fallbacks))
	}

	startRedis(t, port) // empty: its state was in memory only
	deadline := time.Now().Add(30 * time.Second)
	for probe.Exists(ctx, "midway:k").Val() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the limiter never went back to Redis")
		}
		time.Sleep(50 * time.Millisecond)
		l.Allow(ctx, "k", time.Now())
	}
}
