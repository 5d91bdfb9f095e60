package pgfleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/store/fleet"
	"github.com/bun13/bun13/impl/store/fleet/fleettest"
	"github.com/bun13/bun13/impl/store/fleet/pgfleet"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestConformance gives each replica its own pool on one database.
func TestConformance(t *testing.T) {
	pgtemp.URL(t)
	fleettest.Run(t, func(t *testing.T, n int) []fleet.Store {
		url := pgtemp.New(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := pgfleet.Migrate(ctx, url); err != nil {
			t.Fatal(err)
		}
		out := make([]fleet.Store, n)
		for i := range out {
			pool, err := pgxpool.New(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			out[i] = pgfleet.New(pool)
		}
		return out
	})
}
