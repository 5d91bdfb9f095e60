// Package pgfleet is the PostgreSQL fleet.Store: one row per replica in
// table replicas, upserted by each heartbeat and stamped with the
// database's clock. Its schema is applied by [Migrate] (package
// pgmigrate, its own version table).
package pgfleet

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/bun13/bun13/impl/store/fleet"
	"github.com/bun13/bun13/impl/store/pgmigrate"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// MigrationsTable keeps this schema's version.
const MigrationsTable = "bun13_fleet_schema_migrations"

// Migrate brings the fleet schema of the database at url up to date,
// safely alongside other processes doing the same.
func Migrate(ctx context.Context, url string) error {
	if err := pgmigrate.Up(ctx, url, migrations, "migrations", MigrationsTable); err != nil {
		return fmt.Errorf("pgfleet: %w", err)
	}
	return nil
}

// Store is a fleet.Store on a pool whose database Migrate has prepared.
type Store struct{ pool *pgxpool.Pool }

var _ fleet.Store = (*Store)(nil)

// New returns the store on pool (pgdocs.Store.Pool, say).
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Beat implements fleet.Store.
func (s *Store) Beat(ctx context.Context, r fleet.Replica) error {
	if r.ID == "" {
		return fleet.ErrInvalid
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO replicas (id, version, config, started, seen) VALUES ($1, $2, $3, $4, now())
		ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, config = EXCLUDED.config,
			started = EXCLUDED.started, seen = now()`,
		r.ID, r.Version, r.Config[:], r.Started)
	if err != nil {
		return fmt.Errorf("pgfleet: beat %s: %w", r.ID, err)
	}
	return nil
}

// List implements fleet.Store.
func (s *Store) List(ctx context.Context, maxAge time.Duration) ([]fleet.Replica, error) {
	rows, err := s.pool.Query(ctx,
		"SELECT id, version, config, started, seen FROM replicas WHERE seen > now() - $1::interval ORDER BY id",
		maxAge)
	if err != nil {
		return nil, fmt.Errorf("pgfleet: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (fleet.Replica, error) {
		var (
			r   fleet.Replica
			cfg []byte
		)
		if err := row.Scan(&r.ID, &r.Version, &cfg, &r.Started, &r.Seen); err != nil {
			return r, err
		}
		if len(cfg) != fleet.ConfigSize {
			return r, fmt.Errorf("replica %s: config of %d bytes", r.ID, len(cfg))
		}
		copy(r.Config[:], cfg)
		return r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgfleet: list: %w", err)
	}
	return out, nil
}
