// Package fleettest is the conformance suite every fleet.Store passes.
package fleettest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/store/fleet"
)

// New returns n stores on one fresh backing (n replicas' views of one
// fleet), cleaned up with t.
type New func(t *testing.T, n int) []fleet.Store

func cfg(b byte) (c [fleet.ConfigSize]byte) {
	for i := range c {
		c[i] = b + byte(i)
	}
	return c
}

// Run runs the suite.
func Run(t *testing.T, newStores New) {
	ctx := context.Background()
	t.Run("BeatList", func(t *testing.T) {
		ss := newStores(t, 3)
		started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		ids := []string{"replica-c", "replica-a", "replica-b"}
		for i, id := range ids {
			if err := ss[i].Beat(ctx, fleet.Replica{ID: id, Version: "v1", Config: cfg(1), Started: started}); err != nil {
				t.Fatal(err)
			}
		}
		// replica-b restarts with another config and binary.
		if err := ss[2].Beat(ctx, fleet.Replica{ID: "replica-b", Version: "v2", Config: cfg(9), Started: started.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		for i, s := range ss {
			rs, err := s.List(ctx, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 3 || rs[0].ID != "replica-a" || rs[1].ID != "replica-b" || rs[2].ID != "replica-c" {
				t.Fatalf("store %d lists %+v, want replicas a, b, c", i, rs)
			}
			b := rs[1]
			if b.Version != "v2" || b.Config != cfg(9) || !b.Started.Equal(started.Add(time.Hour)) || b.Seen.IsZero() {
				t.Fatalf("store %d: replica-b = %+v, want its latest heartbeat", i, b)
			}
			common, diff := fleet.Drift(rs)
			if common != cfg(1) || len(diff) != 1 || diff[0].ID != "replica-b" {
				t.Fatalf("store %d: drift %v %+v, want replica-b off the common config", i, common, diff)
			}
		}
	})
	t.Run("Stale", func(t *testing.T) {
		ss := newStores(t, 2)
		if err := ss[0].Beat(ctx, fleet.Replica{ID: "old", Config: cfg(1)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		if err := ss[1].Beat(ctx, fleet.Replica{ID: "new", Config: cfg(1)}); err != nil {
			t.Fatal(err)
		}
		rs, err := ss[1].List(ctx, time.Second)
		if err != nil || len(rs) != 1 || rs[0].ID != "new" {
			t.Fatalf("List(1s) = %+v, %v; want only the replica that just beat", rs, err)
		}
		if rs, err := ss[0].List(ctx, time.Hour); err != nil || len(rs) != 2 {
			t.Fatalf("List(1h) = %+v, %v; want both", rs, err)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		if err := newStores(t, 1)[0].Beat(ctx, fleet.Replica{}); !errors.Is(err, fleet.ErrInvalid) {
			t.Fatalf("Beat without an id: %v", err)
		}
	})
}
