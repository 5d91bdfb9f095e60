// Package pgmigrate applies a package's embedded SQL migrations to a
// PostgreSQL database with golang-migrate (pgx/v5 driver), which holds a
// PostgreSQL advisory lock (keyed by database, schema and version table)
// while it reads and advances the schema version: any number of processes
// may call Up at once, each migration runs exactly once, the others wait
// and find nothing left to do. Each package keeps its own version table,
// so several share one database.
package pgmigrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// Up brings the database at url up to the last migration in dir of fsys
// (files NNNN_name.up.sql / .down.sql), keeping the version in table.
func Up(ctx context.Context, url string, fsys fs.FS, dir, table string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	drv, err := migratepgx.WithInstance(db, &migratepgx.Config{MigrationsTable: table})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	src, err := iofs.New(fsys, dir)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	m.LockTimeout = time.Minute
	err = m.Up()
	srcErr, dbErr := m.Close()
	if err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate: %w", err)
	}
	return errors.Join(srcErr, dbErr)
}

// Latest returns the version of the last migration in dir of fsys.
func Latest(fsys fs.FS, dir string) (uint, error) {
	src, err := iofs.New(fsys, dir)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	v, err := src.First()
	for err == nil {
		var next uint
		next, err = src.Next(v)
		if err == nil {
			v = next
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return v, err
}

// Open migrates the database at url with the migrations in dir of fsys
// (as Up) and opens a connection pool on it, of at most maxConns
// connections when maxConns is positive (else pgxpool's default or the
// URL's pool_max_conns). It returns the pool and the connection config,
// from which a store dials its dedicated LISTEN connection. Errors are
// prefixed with who (the store's package name).
func Open(ctx context.Context, who, url string, fsys fs.FS, dir, table string, maxConns int32) (*pgxpool.Pool, *pgx.ConnConfig, error) {
	if err := Up(ctx, url, fsys, dir, table); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", who, err)
	}
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", who, err)
	}
	if maxConns > 0 {
		pcfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", who, err)
	}
	return pool, pcfg.ConnConfig, nil
}
