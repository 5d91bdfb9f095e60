// Package pgauth keeps the registry's auth state in PostgreSQL, shared by
// every replica: users, token records, revocations, scopes and their
// members, and the public keys of every replica's signing key. Its types
// implement the interfaces of package auth (auth.UserStore,
// auth.TokenStore, auth.RevocationStore, auth.ScopeStore), so the
// registry and the bun13 CLI use them exactly as the file-backed ones.
//
// # Reads and the feed
//
// Users, revocations, scopes and signing keys are read from an in-memory
// snapshot, so a Verify of a cached token never touches the network (the
// auth.Verifier fast path is a pointer compare against the published
// revocation set). Each of those tables has a version counter
// (auth_versions) that a statement trigger bumps and announces with
// NOTIFY bun13_auth 'TABLE VERSION', whoever writes: this package, psql,
// a migration tool. A Store LISTENs on one dedicated connection and
// reloads a table when a notification names a version newer than its
// copy. When that connection drops it reconnects with backoff and then
// reloads everything (notifications sent in between are gone). Every
// Options.Interval (1 s by default, so even a notification lost on a
// connection that failed silently is made good within the 1 s)
// it also compares the versions with one query and reloads what moved,
// and every HeartbeatInterval it stamps its signing key's heartbeat.
//
// A write goes to the database and, once committed, the table is
// reloaded before the call returns, so the replica that made a change
// (a revocation, a removed or demoted user) enforces it at once; the
// others within one NOTIFY round trip plus one reload (measured by
// BenchmarkPropagation).
//
// Token records are not on the Verify path (only the npm token API reads
// them) and may be many, so they are not cached: Get and List query the
// database.
//
// # Schema
//
// The embedded migrations are applied by Open through store/pgmigrate
// (golang-migrate, advisory lock, version table bun13_auth_schema_migrations),
// safely from any number of replicas starting at once. Tables are
// prefixed auth_.
package pgauth

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/store/pgmigrate"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Channel is the NOTIFY channel announcing changes of the cached tables.
const Channel = "bun13_auth"

// MigrationsTable keeps this schema's version.
const MigrationsTable = "bun13_auth_schema_migrations"

// Defaults for zero Options fields.
const (
	DefaultInterval = time.Second
	// HeartbeatInterval is how often a replica stamps its key
	// registration (at most; at least every Interval).
	HeartbeatInterval = 5 * time.Second
	DefaultTimeout    = 5 * time.Second
	// LiveFor is how recent a replica's key heartbeat must be for the
	// replica to count as live (RetireKey refuses to retire its key).
	LiveFor = 30 * time.Second
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// Logger receives feed reconnections and reload failures; nil
	// discards them.
	Logger *slog.Logger
	// Keys, if set, is kept equal to the non-retired signing keys of the
	// database. If it has a signing key, Open first registers that key's
	// public half under its kid as Replica's (see RegisterKey) and the
	// Store stamps the registration every Interval.
	Keys *auth.KeySet
	// Replica names this process in the key registrations (bun13 key
	// list); empty means HOSTNAME:PID.
	Replica string
	// Cost is the bcrypt cost of new passwords; zero means
	// bcrypt.DefaultCost.
	Cost int
	// Interval is the backstop: how often versions are compared with the
	// database besides the feed (the key heartbeat rides on it, every
	// HeartbeatInterval). Zero means DefaultInterval; negative disables
	// both (tests, CLI runs).
	Interval time.Duration
	// Timeout bounds each database call of the methods that take no
	// context. Zero means DefaultTimeout.
	Timeout time.Duration
	// ReconnectDelay is the first wait before reconnecting the feed,
	// doubled up to 5 s; zero means 100 ms.
	ReconnectDelay time.Duration
	// MaxConns bounds the pool; zero keeps pgxpool's default or the URL's
	// pool_max_conns.
	MaxConns int32
}

// group is a set of tables cached and reloaded together.
type group int

const (
	gUsers group = iota
	gRevocations
	gScopes
	gKeys
	nGroups
)

var groupTables = [nGroups][]string{
	gUsers:       {"auth_users"},
	gRevocations: {"auth_revocations"},
	gScopes:      {"auth_scopes", "auth_scope_members"},
	gKeys:        {"auth_signing_keys"},
}

func groupOf(table string) (group, int, bool) {
	for g, ts := range groupTables {
		for i, t := range ts {
			if t == table {
				return group(g), i, true
			}
		}
	}
	return 0, 0, false
}

// cached is one group's copy: the versions it was read at.
type cached struct {
	mu       sync.Mutex // serialises reloads, so a later read is published later
	versions []int64    // guarded by mu; seen is read without it
	seen     []atomic.Int64
}

// Store is the auth state of one database.
type Store struct {
	pool    *pgxpool.Pool
	cfg     *pgx.ConnConfig
	log     *slog.Logger
	o       Options
	replica string
	timeout time.Duration
	cache   [nGroups]cached
	users   atomic.Pointer[map[string]auth.User]
	revs    atomic.Pointer[auth.RevocationSet]
	scopes  atomic.Pointer[map[string]auth.Scope]
	keyList atomic.Pointer[[]string] // non-retired kids
	signer  string                   // kid registered at Open, "" if none
	feedPID atomic.Uint32
	reloads atomic.Int64
	lost    atomic.Int64
	cancel  context.CancelFunc
	done    sync.WaitGroup
	closed  atomic.Bool
	dummy   string // bcrypt hash compared against for unknown users
	dummyMu sync.Once

	// The tables, as the auth interfaces (set by Open).
	Users       *Users
	Tokens      *Tokens
	Revocations *Revocations
	Scopes      *Scopes
}

// Migrate brings the schema of the database at url up to date, safely
// alongside other processes doing the same.
func Migrate(ctx context.Context, url string) error {
	if err := pgmigrate.Up(ctx, url, migrations, "migrations", MigrationsTable); err != nil {
		return fmt.Errorf("pgauth: %w", err)
	}
	return nil
}

// SchemaVersion returns the version of the embedded migrations.
func SchemaVersion() (uint, error) { return pgmigrate.Latest(migrations, "migrations") }

// Open migrates the database at url, registers the signing key of o.Keys
// (if any), loads every cached table and returns a Store whose feed is
// listening.
func Open(ctx context.Context, url string, o Options) (*Store, error) {
	pool, connCfg, err := pgmigrate.Open(ctx, "pgauth", url, migrations, "migrations", MigrationsTable, o.MaxConns)
	if err != nil {
		return nil, err
	}
	s := &Store{pool: pool, cfg: connCfg, log: o.Logger, o: o, replica: o.Replica, timeout: o.Timeout}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.replica == "" {
		host, _ := os.Hostname()
		s.replica = host + ":" + strconv.Itoa(os.Getpid())
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.o.ReconnectDelay <= 0 {
		s.o.ReconnectDelay = 100 * time.Millisecond
	}
	for g := range s.cache {
		s.cache[g].versions = make([]int64, len(groupTables[g]))
		s.cache[g].seen = make([]atomic.Int64, len(groupTables[g]))
	}
	s.Users = &Users{s: s}
	s.Tokens = &Tokens{s: s}
	s.Revocations = &Revocations{s: s}
	s.Scopes = &Scopes{s: s}
	fail := func(err error) (*Store, error) {
		pool.Close()
		return nil, err
	}
	if ks := o.Keys; ks != nil && ks.Signer() != "" {
		pub, _ := ks.Key(ks.Signer())
		if _, err := s.RegisterKey(ctx, pub, s.replica); err != nil {
			return fail(err)
		}
		s.signer = ks.Signer()
	}
	// LISTEN before the first load, so no change falls between them.
	conn, err := s.listenConn(ctx)
	if err != nil {
		return fail(err)
	}
	if err := s.load(ctx); err != nil {
		conn.Close(ctx)
		return fail(err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done.Add(1)
	go s.listen(lctx, conn)
	if iv := s.interval(); iv > 0 {
		s.done.Add(1)
		go s.backstop(lctx, iv)
	}
	return s, nil
}

func (s *Store) interval() time.Duration {
	switch {
	case s.o.Interval < 0:
		return 0
	case s.o.Interval == 0:
		return DefaultInterval
	}
	return s.o.Interval
}

// Close stops the feed, removes this process's key heartbeat (so its key
// may be retired without --force) and closes the pool.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.cancel()
	s.done.Wait()
	var err error
	if s.signer != "" {
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		_, err = s.pool.Exec(ctx, "DELETE FROM auth_key_replicas WHERE kid = $1 AND replica = $2", s.signer, s.replica)
		cancel()
	}
	s.pool.Close()
	return err
}

// Ping checks the database answers, for a readiness endpoint.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Pool returns the connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Replica is the name this Store registers its signing key under.
func (s *Store) Replica() string { return s.replica }

// FeedPID is the backend PID of the LISTEN connection (0 while
// reconnecting), for operators and tests.
func (s *Store) FeedPID() uint32 { return s.feedPID.Load() }

// Stats are counters for metrics.
type Stats struct {
	Reloads int64 // table reloads that published a new copy
	Lost    int64 // feed reconnections (each followed by a full reload)
}

// Stats returns the counters.
func (s *Store) Stats() Stats { return Stats{Reloads: s.reloads.Load(), Lost: s.lost.Load()} }

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

// Sync reloads every cached table that changed since it was read: one
// query for the versions, then one reload per table that moved.
func (s *Store) Sync(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, "SELECT name, version FROM auth_versions")
	if err != nil {
		return fmt.Errorf("pgauth: versions: %w", err)
	}
	var stale [nGroups]bool
	var name string
	var v int64
	_, err = pgx.ForEachRow(rows, []any{&name, &v}, func() error {
		if g, i, ok := groupOf(name); ok && v != s.cache[g].seen[i].Load() {
			stale[g] = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgauth: versions: %w", err)
	}
	var errs []error
	for g := range nGroups {
		if stale[g] {
			errs = append(errs, s.reload(ctx, g, false))
		}
	}
	return errors.Join(errs...)
}

// load reads every cached table.
func (s *Store) load(ctx context.Context) error {
	var errs []error
	for g := range nGroups {
		errs = append(errs, s.reload(ctx, g, true))
	}
	return errors.Join(errs...)
}

// after is called once a write to g committed: the change is published
// here before the write returns. A failed reload is logged, not
// returned, since the write itself succeeded; the feed or the backstop
// catch up.
func (s *Store) after(ctx context.Context, g group) {
	if err := s.reload(ctx, g, false); err != nil {
		s.log.Warn("auth: reload after a write failed; the feed will catch up", "tables", groupTables[g], "err", err)
	}
}

// reload reads g's tables and versions in one snapshot and publishes
// them, unless (force unset) the versions are the ones already published.
func (s *Store) reload(ctx context.Context, g group, force bool) error {
	c := &s.cache[g]
	c.mu.Lock()
	defer c.mu.Unlock()
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("pgauth: reload: %w", err)
	}
	defer tx.Rollback(ctx)
	versions := make([]int64, len(groupTables[g]))
	for i, t := range groupTables[g] {
		if err := tx.QueryRow(ctx, "SELECT version FROM auth_versions WHERE name = $1", t).Scan(&versions[i]); err != nil {
			return fmt.Errorf("pgauth: reload %s: %w", t, err)
		}
	}
	if !force && c.loaded() && slicesEqual(versions, c.versions) {
		return tx.Commit(ctx)
	}
	switch g {
	case gUsers:
		err = s.loadUsers(ctx, tx)
	case gRevocations:
		// Only what changed since the copy, unless this is the first
		// load or a forced one.
		if force || !c.loaded() {
			err = s.loadRevocations(ctx, tx)
		} else {
			err = s.loadRevocationsSince(ctx, tx, c.versions[0])
		}
	case gScopes:
		err = s.loadScopes(ctx, tx)
	case gKeys:
		err = s.loadKeys(ctx, tx)
	}
	if err != nil {
		return err
	}
	copy(c.versions, versions)
	for i, v := range versions {
		c.seen[i].Store(v)
	}
	s.reloads.Add(1)
	return tx.Commit(ctx)
}

func (c *cached) loaded() bool { return len(c.seen) > 0 && c.seen[0].Load() != 0 }

func slicesEqual(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (s *Store) listenConn(ctx context.Context) (*pgx.Conn, error) {
	cfg := s.cfg.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = "bun13-auth-feed"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgauth: feed: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("pgauth: feed: %w", err)
	}
	s.feedPID.Store(conn.PgConn().PID())
	return conn, nil
}

// listen applies notifications until ctx ends, reconnecting as needed.
func (s *Store) listen(ctx context.Context, conn *pgx.Conn) {
	defer s.done.Done()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err == nil {
			s.notified(ctx, n.Payload)
			continue
		}
		s.feedPID.Store(0)
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(closeCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("auth feed lost its connection; reconnecting", "err", err)
		delay := s.o.ReconnectDelay
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			conn, err = s.listenConn(cctx)
			cancel()
			if err == nil {
				break
			}
			s.log.Warn("auth feed reconnect failed", "err", err, "retry_in", delay)
			delay = min(2*delay, 5*time.Second)
		}
		s.lost.Add(1)
		// Notifications sent while disconnected are gone: reload all.
		for g := range nGroups {
			rctx, cancel := context.WithTimeout(ctx, s.timeout)
			if err := s.reload(rctx, g, true); err != nil {
				s.log.Warn("auth reload after reconnecting failed; the backstop retries", "tables", groupTables[g], "err", err)
			}
			cancel()
		}
		s.log.Info("auth feed reconnected; every table reloaded")
	}
}

// notified handles a "TABLE VERSION" payload.
func (s *Store) notified(ctx context.Context, payload string) {
	table, v, _ := strings.Cut(payload, " ")
	g, i, ok := groupOf(table)
	if !ok {
		return
	}
	if ver, err := strconv.ParseInt(v, 10, 64); err == nil && ver <= s.cache[g].seen[i].Load() {
		return // already read (this replica's own write, or a later reload)
	}
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.reload(rctx, g, false); err != nil {
		s.log.Warn("auth reload failed; the backstop retries", "tables", groupTables[g], "err", err)
	}
}

// backstop compares versions every iv and stamps the key heartbeat.
func (s *Store) backstop(ctx context.Context, iv time.Duration) {
	defer s.done.Done()
	t := time.NewTicker(iv)
	defer t.Stop()
	beat := time.Now() // Open registered the key
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, s.timeout)
		if err := s.Sync(rctx); err != nil && ctx.Err() == nil {
			s.log.Warn("auth backstop reload failed", "err", err)
		}
		if s.signer != "" && time.Since(beat) >= HeartbeatInterval-iv/2 {
			if err := s.heartbeat(rctx); err != nil && ctx.Err() == nil {
				s.log.Warn("auth key heartbeat failed", "kid", s.signer, "err", err)
			} else {
				beat = time.Now()
			}
		}
		cancel()
	}
}

// timeOrZero turns a nullable timestamp into a time (zero for NULL).
func timeOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullTime is the inverse of timeOrZero.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := ceilMicro(t.UTC())
	return &u
}

// ceilMicro rounds t up to PostgreSQL's microsecond resolution, so a time
// stored and read back is never earlier than the one given (the password
// change cut relies on that).
func ceilMicro(t time.Time) time.Time {
	r := t.Truncate(time.Microsecond)
	if r.Before(t) {
		r = r.Add(time.Microsecond)
	}
	return r
}
