package dashboard

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/store/fleet"
	"github.com/bun13/bun13/impl/store/fleet/heartbeat"
	"github.com/bun13/bun13/impl/store/fleet/pgfleet"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
)

// Three replicas as registryServe will run them: each its own pool on
// one PostgreSQL database, its own live config, its heartbeat, its
// dashboard; a round-robin balancer in front. Whichever replica answers
// api/fleet, the answer lists all three; an admin changing one
// replica's config makes it drift within a beat, on every replica's
// answer, and putting it back ends the drift.
func TestFleetOverPostgres(t *testing.T) {
	url := pgtemp.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pgfleet.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	keys := replicaKeys(t, 3)
	var envs []*testEnv
	for i, id := range []string{"replica-a", "replica-b", "replica-c"} {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		store, err := config.NewStore(config.Default())
		if err != nil {
			t.Fatal(err)
		}
		rctx, stop := context.WithCancel(context.Background())
		t.Cleanup(stop)
		view := heartbeat.Start(rctx, heartbeat.Replica{
			Store: pgfleet.New(pool), ID: id, Version: "test", Started: time.Now(),
			Config: func() [fleet.ConfigSize]byte { return store.Load().Bytes() },
			Every:  200 * time.Millisecond, // listed while seen within 600 ms
		})
		view.TTL = 10 * time.Millisecond
		envs = append(envs, newEnv(t, Options{Store: store, Fleet: view, TicketKeys: keys[i]}))
	}
	lb := roundRobin(t, envs...)
	get := func() heartbeat.Snapshot {
		t.Helper()
		resp, err := lb.Client().Get(lb.URL + Prefix + "/api/fleet")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var s heartbeat.Snapshot
		if resp.StatusCode != 200 || json.Unmarshal(b, &s) != nil {
			t.Fatalf("api/fleet through the balancer: %d %s", resp.StatusCode, b)
		}
		return s
	}
	// until waits for every replica's answer (three in a row, round
	// robin) to satisfy ok.
	until := func(what string, ok func(heartbeat.Snapshot) bool) {
		t.Helper()
		good := 0
		seen := map[string]bool{}
		for deadline := time.Now().Add(10 * time.Second); good < 3; {
			if s := get(); ok(s) {
				good++
				seen[s.Self] = true
			} else {
				good = 0
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if len(seen) != 3 {
			t.Errorf("%s: answered by %v, want all three replicas", what, seen)
		}
	}
	until("three agreeing replicas", func(s heartbeat.Snapshot) bool { return len(s.Replicas) == 3 && s.Drifting == 0 })

	// An admin turns DEBUG on at replica-c alone.
	post := func(body string) {
		resp, out := envs[2].do("POST", Prefix+"/api/config", adminToken, body)
		if resp.StatusCode != 200 {
			t.Fatalf("POST api/config: %d %s", resp.StatusCode, out)
		}
	}
	post(`{"featureFlags":"` + (config.Default().FeatureFlags | config.Debug).Hex() + `"}`)
	until("replica-c drifting", func(s heartbeat.Snapshot) bool {
		return len(s.Replicas) == 3 && s.Drifting == 1 && s.Replicas[2].Drift && strings.Contains(s.Replicas[2].Config.FeatureFlags.String(), "DEBUG")
	})
	post(`{"featureFlags":"` + config.Default().FeatureFlags.Hex() + `"}`)
	until("the drift over", func(s heartbeat.Snapshot) bool { return len(s.Replicas) == 3 && s.Drifting == 0 })
}
