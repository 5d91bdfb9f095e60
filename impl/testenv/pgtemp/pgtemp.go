// Package pgtemp gives a test its own empty PostgreSQL database on the
// server that .ci/services starts ($BUN13_TEST_POSTGRES).
package pgtemp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/testenv"
	"github.com/jackc/pgx/v5"
)

// Env is the variable naming the server; Install says how to get one.
const (
	Env     = "BUN13_TEST_POSTGRES"
	Install = "source .ci/services (or .ci/services -- go test ...)"
)

// URL returns $BUN13_TEST_POSTGRES, or skips t (fails it under CI) when it
// is unset.
func URL(t testing.TB) string {
	t.Helper()
	return testenv.Getenv(t, Env, "PostgreSQL", Install)
}

// New creates an empty database on the server of $BUN13_TEST_POSTGRES,
// dropped when t ends, and returns its URL.
func New(t testing.TB) string {
	t.Helper()
	admin := URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtemp: connect to %s: %v", admin, err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "bun13_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtemp: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("pgtemp: drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtemp: drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("pgtemp: %s: %v", Env, err)
	}
	u.Path = "/" + name
	return u.String()
}
