package heartbeat_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/store/fleet"
	"github.com/bun13/bun13/impl/store/fleet/heartbeat"
	"github.com/bun13/bun13/impl/store/fleet/pgfleet"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
)

func cfgBytes(c config.Config) [fleet.ConfigSize]byte { return [fleet.ConfigSize]byte(c.Bytes()) }

// flaky is a store whose Beat fails while down is set, counting calls.
type flaky struct {
	fleet.Memory
	down  atomic.Bool
	beats atomic.Int64
	lists atomic.Int64
}

func (f *flaky) Beat(ctx context.Context, r fleet.Replica) error {
	f.beats.Add(1)
	if f.down.Load() {
		return errors.New("store unreachable")
	}
	return f.Memory.Beat(ctx, r)
}

func (f *flaky) List(ctx context.Context, maxAge time.Duration) ([]fleet.Replica, error) {
	f.lists.Add(1)
	if f.down.Load() {
		return nil, errors.New("store unreachable")
	}
	return f.Memory.List(ctx, maxAge)
}

// syncBuf is a log sink safe for the beat goroutine and the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// The first beat is written at once (an hour-long interval proves it does
// not wait for a tick), failures are counted and logged once per outage,
// and the loop ends with its context.
func TestRunBeatsAtOnceAndSurvivesOutages(t *testing.T) {
	st := &flaky{}
	var cfg atomic.Pointer[config.Config]
	c0 := config.Default()
	cfg.Store(&c0)
	started := time.Now().Truncate(time.Second)
	self := func() fleet.Replica {
		return fleet.Replica{ID: "r1", Version: "v1.2.3", Config: cfgBytes(*cfg.Load()), Started: started}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		heartbeat.Run(ctx, st, self, time.Hour, nil, nil)
	}()
	waitFor(t, "the first beat", func() bool { rs, _ := st.Memory.List(ctx, time.Hour); return len(rs) == 1 })
	rs, _ := st.Memory.List(ctx, time.Hour)
	if r := rs[0]; r.ID != "r1" || r.Version != "v1.2.3" || r.Config != cfgBytes(c0) || !r.Started.Equal(started) {
		t.Errorf("beat %+v", r)
	}
	cancel()
	<-done

	// Fast beats through an outage and back.
	logs := &syncBuf{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	errs := heartbeat.NewErrorCounter(nil)
	st2 := &flaky{}
	st2.down.Store(true)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	done = make(chan struct{})
	go func() {
		defer close(done)
		heartbeat.Run(ctx, st2, self, time.Millisecond, log, errs)
	}()
	waitFor(t, "five failed beats", func() bool { return testutil.ToFloat64(errs) >= 5 })
	if n := strings.Count(logs.String(), "fleet heartbeat failed"); n != 1 {
		t.Errorf("%d failure lines for one outage, want 1:\n%s", n, logs)
	}
	c1 := c0
	c1.Rows = 99
	cfg.Store(&c1) // the next beats carry the new config
	st2.down.Store(false)
	waitFor(t, "a beat after the outage", func() bool {
		rs, _ := st2.Memory.List(ctx, time.Hour)
		return len(rs) == 1 && rs[0].Config == cfgBytes(c1)
	})
	waitFor(t, "the recovery line", func() bool { return strings.Contains(logs.String(), "fleet heartbeat written again") })
	st2.down.Store(true)
	waitFor(t, "a second outage", func() bool { return strings.Count(logs.String(), "fleet heartbeat failed") == 2 })
	cancel()
	<-done
}

func TestViewDriftAndCache(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := &flaky{Memory: fleet.Memory{Now: clock}}
	a, b := config.Default(), config.Default()
	b.FeatureFlags ^= config.Metrics
	ctx := context.Background()
	for _, r := range []fleet.Replica{
		{ID: "r1", Version: "v1", Config: cfgBytes(a), Started: now.Add(-time.Hour)},
		{ID: "r2", Version: "v1", Config: cfgBytes(a), Started: now.Add(-time.Hour)},
		{ID: "r3", Version: "v2", Config: cfgBytes(b), Started: now.Add(-time.Minute)},
	} {
		if err := st.Beat(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	v := &heartbeat.View{Store: st, Self: "r2", Now: clock}
	s, err := v.Fleet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ab := a.Bytes()
	if len(s.Replicas) != 3 || s.Drifting != 1 || s.Self != "r2" || s.Common != hex.EncodeToString(ab[:]) {
		t.Fatalf("snapshot %+v", s)
	}
	for _, m := range s.Replicas {
		if m.Drift != (m.ID == "r3") || m.Self != (m.ID == "r2") || m.Config == nil || m.ConfigError != "" {
			t.Errorf("member %+v", m)
		}
	}
	if s.Replicas[2].Config.Rows != b.Rows || s.Replicas[2].Version != "v2" {
		t.Errorf("r3 decoded %+v", s.Replicas[2])
	}
	// Within the TTL: no second query, however many callers.
	for range 50 {
		v.Fleet(ctx)
		v.Peek(ctx)
	}
	if n := st.lists.Load(); n != 1 {
		t.Errorf("%d listings within the TTL, want 1", n)
	}
	// Past it, the store is asked again; when it fails the last good
	// listing comes back with the error.
	now = now.Add(heartbeat.DefaultTTL)
	st.down.Store(true)
	s, err = v.Fleet(ctx)
	if err == nil || s.Error == "" || len(s.Replicas) != 3 {
		t.Errorf("store down: err %v, snapshot %+v", err, s)
	}
	st.down.Store(false)
	// A heartbeat older than MaxAge drops out.
	now = now.Add(heartbeat.DefaultMaxAge)
	st.Beat(ctx, fleet.Replica{ID: "r1", Config: cfgBytes(a)})
	if s, _ = v.Fleet(ctx); len(s.Replicas) != 1 || s.Drifting != 0 {
		t.Errorf("after MaxAge: %+v", s)
	}
}

func TestDescribeInvalidConfig(t *testing.T) {
	var bad [fleet.ConfigSize]byte // version 0 is not a valid config
	s := heartbeat.Describe([]fleet.Replica{{ID: "x", Config: bad}}, "x", time.Now())
	if m := s.Replicas[0]; m.Config != nil || m.ConfigError == "" || m.Hex != strings.Repeat("00", 13) {
		t.Errorf("%+v", m)
	}
	if s := heartbeat.Describe(nil, "x", time.Now()); s.Replicas == nil || s.Common != "" {
		t.Errorf("empty fleet %+v (replicas must encode as [], not null)", s)
	}
}

// Three replicas beating into one PostgreSQL database, each on its own
// pool, one with another config: every replica's view sees all three and
// names the same one drifting.
func TestPostgresFleet(t *testing.T) {
	url := pgtemp.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pgfleet.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	a := config.Default()
	b := a
	b.Cols = 200
	var views []*heartbeat.View
	for i, c := range []config.Config{a, b, a} {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		st := pgfleet.New(pool)
		id := "replica-" + string(rune('a'+i))
		rctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			heartbeat.Run(rctx, st, func() fleet.Replica {
				return fleet.Replica{ID: id, Version: "test", Config: cfgBytes(c), Started: time.Now()}
			}, 50*time.Millisecond, nil, nil)
		}()
		t.Cleanup(func() { stop(); <-done })
		views = append(views, &heartbeat.View{Store: st, Self: id, TTL: time.Nanosecond})
	}
	for _, v := range views {
		waitFor(t, v.Self+" sees three replicas", func() bool {
			s, err := v.Fleet(ctx)
			return err == nil && len(s.Replicas) == 3
		})
		s, _ := v.Fleet(ctx)
		if s.Drifting != 1 || !s.Replicas[1].Drift || s.Replicas[1].ID != "replica-b" {
			t.Errorf("%s: %+v", v.Self, s)
		}
	}
}

// Start on a Memory: a single node's fleet of one, the live config read at
// every beat.
func TestStartSingleNode(t *testing.T) {
	var cfg atomic.Pointer[config.Config]
	c := config.Default()
	cfg.Store(&c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v := heartbeat.Start(ctx, heartbeat.Replica{
		Store: &fleet.Memory{}, Version: "v9", Started: time.Now(), Every: 5 * time.Millisecond,
		Config: func() [fleet.ConfigSize]byte { return cfgBytes(*cfg.Load()) },
	})
	if v.Self != heartbeat.DefaultID() || v.Self == "" {
		t.Errorf("self %q", v.Self)
	}
	var s heartbeat.Snapshot
	waitFor(t, "the first beat", func() bool { s, _ = v.Fleet(ctx); return len(s.Replicas) == 1 })
	if m := s.Replicas[0]; !m.Self || m.Version != "v9" || m.Drift || m.Config == nil || *m.Config != c {
		t.Errorf("member %+v", m)
	}
	c2 := c
	c2.Rows = 50
	cfg.Store(&c2)
	waitFor(t, "the new config", func() bool {
		s, _ = v.Fleet(ctx)
		return len(s.Replicas) == 1 && s.Replicas[0].Config != nil && s.Replicas[0].Config.Rows == 50
	})
}

func TestCollector(t *testing.T) {
	st := &fleet.Memory{}
	a, b := config.Default(), config.Default()
	b.Cols = 120
	ctx := context.Background()
	for i, c := range []config.Config{a, a, b} {
		st.Beat(ctx, fleet.Replica{ID: "r" + string(rune('1'+i)), Config: cfgBytes(c)})
	}
	v := &heartbeat.View{Store: st, Self: "r1"}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(heartbeat.Collector{View: v})
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Errorf("before the first listing: %d series, %v", n, err)
	}
	v.Fleet(ctx)
	want := `
# HELP bun_fleet_drifting_replicas Replicas of the fleet whose 13-byte config differs from the one most replicas run.
# TYPE bun_fleet_drifting_replicas gauge
bun_fleet_drifting_replicas 1
# HELP bun_fleet_replicas Replicas heartbeating into the fleet store, as this replica's latest listing saw them.
# TYPE bun_fleet_replicas gauge
bun_fleet_replicas 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
