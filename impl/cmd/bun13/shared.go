package main

// The distributed mode of bun13 registry serve: documents, search and
// (with impl/auth/pgauth) auth state in PostgreSQL, tarballs in a blob
// store (s3://...), rate limits in Redis. See impl/registry/README.md.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/dashboard"
	"github.com/bun13/bun13/impl/ratelimit"
	"github.com/bun13/bun13/impl/ratelimit/lockout"
	"github.com/bun13/bun13/impl/ratelimit/redislimit"
	"github.com/bun13/bun13/impl/registry"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs/pgdocs"
	"github.com/bun13/bun13/impl/store/fleet"
	"github.com/bun13/bun13/impl/store/fleet/heartbeat"
	"github.com/bun13/bun13/impl/store/fleet/pgfleet"
	"github.com/bun13/bun13/impl/store/search/pgsearch"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults of the distributed mode that differ from the single node's.
const (
	sharedCacheEntries = 2000
	sharedGCPercent    = 100
)

// sharedFlags are the flags of the distributed mode.
type sharedFlags struct {
	database, blobs, redis, replicaID string
	cacheTTL, storeTimeout            time.Duration
	dbConns                           int
}

func (e *env) sharedFlagsOn(fs interface {
	StringVar(*string, string, string, string)
	DurationVar(*time.Duration, string, time.Duration, string)
	IntVar(*int, string, int, string)
}) *sharedFlags {
	f := &sharedFlags{}
	host, _ := os.Hostname()
	fs.StringVar(&f.database, "database", e.envDefault("BUN13_REGISTRY_DATABASE", ""), "PostgreSQL URL (postgres://USER:PASS@HOST:PORT/DB?sslmode=disable) shared by every replica: documents, search, users, tokens, keys, heartbeats; needs --blobs")
	fs.StringVar(&f.blobs, "blobs", e.envDefault("BUN13_REGISTRY_BLOBS", ""), "tarball store shared by every replica: s3://BUCKET?endpoint=URL&region=R&use_path_style=true (credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) or file:///DIR; needs --database")
	fs.StringVar(&f.redis, "redis", e.envDefault("BUN13_REGISTRY_REDIS", ""), "Redis URL (redis://HOST:PORT/DB) for rate limits shared by every replica; without it each replica limits alone")
	fs.StringVar(&f.replicaID, "replica-id", e.envDefault("BUN13_REGISTRY_REPLICA_ID", host), "this replica's name in the fleet (heartbeats, dashboard)")
	fs.DurationVar(&f.cacheTTL, "cache-ttl", envDuration(e, "BUN13_REGISTRY_CACHE_TTL", 0), "with --database: how long a cached document is served before its revision is checked (the change feed drops it sooner); 0 means 2s")
	fs.DurationVar(&f.storeTimeout, "store-timeout", envDuration(e, "BUN13_REGISTRY_STORE_TIMEOUT", 0), "bound on each database or blob store call (503 past it); 0 means 5s")
	fs.IntVar(&f.dbConns, "database-conns", envInt(e, "BUN13_REGISTRY_DATABASE_CONNS", 0), "with --database: connection pool size (0: pgx's default, 4 x CPUs)")
	return f
}

// on reports whether the distributed mode was asked for, and checks the
// flags go together.
func (f *sharedFlags) on(cmd string) (bool, error) {
	switch {
	case f.database == "" && f.blobs == "":
		if f.redis != "" {
			return false, usagef("%s: --redis needs --database and --blobs", cmd)
		}
		return false, nil
	case f.database == "":
		return false, usagef("%s: --blobs needs --database", cmd)
	case f.blobs == "":
		return false, usagef("%s: --database needs --blobs", cmd)
	}
	return true, nil
}

// required is on for a command that works only on the shared stores.
func (f *sharedFlags) required(cmd string) error {
	on, err := f.on(cmd)
	if err == nil && !on {
		err = usagef("%s: --database and --blobs are required", cmd)
	}
	return err
}

// sharedStores are the open stores of the distributed mode.
type sharedStores struct {
	docs   pgsearch.Indexed
	blobs  blobs.Store
	search *pgsearch.Index
	fleet  *pgfleet.Store
}

func (s *sharedStores) Close() {
	if s.blobs != nil {
		s.blobs.Close()
	}
	if s.docs.Store != nil {
		s.docs.Close()
	}
}

// openShared opens the database (applying the embedded migrations under
// golang-migrate's advisory lock: replicas may start at once) and the
// blob store, failing fast with a message naming which one is wrong.
func openShared(ctx context.Context, f *sharedFlags, log *slog.Logger) (*sharedStores, error) {
	s := &sharedStores{}
	octx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	pg, err := pgdocs.Open(octx, f.database, pgdocs.Options{Logger: log, MaxConns: int32(f.dbConns)})
	if err != nil {
		return nil, fmt.Errorf("--database: %w", err)
	}
	s.docs = pgsearch.Indexed{Store: pg}
	if err := pgsearch.Migrate(octx, f.database); err != nil {
		s.Close()
		return nil, fmt.Errorf("--database: %w", err)
	}
	s.search = pgsearch.New(pg.Pool())
	if err := pgfleet.Migrate(octx, f.database); err != nil {
		s.Close()
		return nil, fmt.Errorf("--database: %w", err)
	}
	s.fleet = pgfleet.New(pg.Pool())
	if s.blobs, err = blobs.OpenURL(octx, f.blobs); err != nil {
		s.Close()
		return nil, fmt.Errorf("--blobs: %w", err)
	}
	if err := s.blobs.Ping(octx); err != nil {
		// Not fatal: the store may come up later; readiness reports it.
		log.Warn("blob store not reachable yet", "error", err)
	}
	return s, nil
}

// errSharedConflict: flags of the single-node mode that make no sense
// with shared stores.
var errSharedConflict = errors.New("--upstream is not supported with --database yet: its tarball cache is local to each replica")

// redactURL drops the password of a URL for logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// limits are the rate limits and the login lockout: in this process, or
// shared through Redis.
type limits struct {
	classes ratelimit.ClassLimits
	logins  lockout.Lockout
	redis   *redis.Client
}

func (l *limits) redisClient() redis.UniversalClient {
	if l.redis == nil {
		return nil // not a typed nil in the interface
	}
	return l.redis
}

func (l *limits) Close() {
	if l.redis != nil {
		l.redis.Close()
	}
}

// openLimits shares the limits through Redis when url is set. Redis
// being unreachable at start is not fatal: every check falls back to
// this replica's own limiter until it answers.
func openLimits(ctx context.Context, url string, classes *ratelimit.Classes, reg prometheus.Registerer, log *slog.Logger) (*limits, error) {
	if url == "" {
		return &limits{classes: classes, logins: &lockout.Local{}}, nil
	}
	m := redislimit.NewMetrics(reg)
	cc, client, err := redislimit.OpenClasses(ctx, url, classes, m, log)
	if err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	log.Info("rate limits and login lockout shared through Redis", "redis", redactURL(url))
	return &limits{classes: cc, logins: &lockout.Redis{Client: client, Metrics: m, Logger: log}, redis: client}, nil
}

// startFleet starts this replica's heartbeats: into PostgreSQL when the
// stores are shared (so every replica, the dashboard, status and top see
// the fleet and its config drift), into memory otherwise.
func startFleet(ctx context.Context, st *sharedStores, id string, store *config.Store, reg prometheus.Registerer, log *slog.Logger) *heartbeat.View {
	var fs fleet.Store = &fleet.Memory{}
	if st != nil {
		fs = st.fleet
	}
	v := readBuildVersion(debug.ReadBuildInfo())
	view := heartbeat.Start(ctx, heartbeat.Replica{
		Store:    fs,
		ID:       id,
		Version:  v.Version,
		Started:  time.Now(),
		Config:   func() [fleet.ConfigSize]byte { return store.Load().Bytes() },
		Logger:   log,
		Failures: heartbeat.NewErrorCounter(reg),
	})
	reg.MustRegister(heartbeat.Collector{View: view, Context: ctx})
	return view
}

// warnUnshared says, once the fleet has been seen, that replicas
// without Redis each apply the limits alone.
func warnUnshared(ctx context.Context, view *heartbeat.View, classes *ratelimit.Classes, log *slog.Logger) {
	go func() {
		t := time.NewTimer(2 * heartbeat.DefaultEvery)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := 1
		if snap, err := view.Fleet(ctx); err == nil && len(snap.Replicas) > 0 {
			n = len(snap.Replicas)
		}
		ratelimit.LogUnshared(log, n, classes)
	}()
}

// ticketKeys sign the dashboard's WebSocket tickets with this replica's
// signing key; any key of the set verifies them, so a ticket issued by
// one replica opens the WebSocket on another.
func (p *dataPaths) ticketKeys(au *registry.Auth) (dashboard.TicketKeys, error) {
	path := p.keyFile
	if path == "" {
		path = filepath.Join(p.data, auth.KeyFile)
	}
	priv, err := auth.LoadKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return dashboard.Ed25519Keys{Private: priv, Keys: au.Keys}, nil
}
