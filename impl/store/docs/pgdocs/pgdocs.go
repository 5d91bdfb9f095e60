// Package pgdocs is the PostgreSQL docs.Store, shared by any number of
// registry replicas.
//
// Schema migrations (migrations/*.sql, embedded) are applied by [Open]
// with golang-migrate, which holds a PostgreSQL advisory lock while it
// reads and advances the schema version: several replicas starting at
// once on one database apply each migration exactly once, the others
// wait and find nothing left to do.
//
// Writes are one statement each: an INSERT ... ON CONFLICT DO NOTHING to
// create, an UPDATE ... WHERE rev = expected to replace, so the database
// row is the only point of serialization between writers, wherever they
// run. A trigger announces every committed write with NOTIFY; each Store
// LISTENs on one dedicated connection and fans the notifications out to
// its subscribers (docs.Store.Subscribe). When that connection drops, the
// Store reconnects with backoff and then delivers a Change with Lost set,
// since notifications sent in between are gone.
//
// Opening a Store reads no documents: its start time does not depend on
// how many packages are stored.
package pgdocs

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/bun13/bun13/impl/registry/pkgname"
	"github.com/bun13/bun13/impl/store/docs"
	"github.com/bun13/bun13/impl/store/pgmigrate"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Channel is the NOTIFY channel announcing document writes.
const Channel = "bun13_documents"

// MigrationsTable is the table golang-migrate keeps the schema version in.
const MigrationsTable = "bun13_schema_migrations"

// Options configure a Store. The zero value is usable.
type Options struct {
	// Logger receives feed reconnections; nil discards them.
	Logger *slog.Logger
	// MaxConns bounds the connection pool (besides the one feed
	// connection); zero keeps pgxpool's default or the URL's
	// pool_max_conns.
	MaxConns int32
	// ReconnectDelay is the first wait before reconnecting the feed,
	// doubled up to 5 s; zero means 100 ms.
	ReconnectDelay time.Duration
}

// Store is a docs.Store on PostgreSQL.
type Store struct {
	pool   *pgxpool.Pool
	cfg    *pgx.ConnConfig
	log    *slog.Logger
	delay  time.Duration
	feed   docs.Feed
	cancel context.CancelFunc
	done   chan struct{}
}

var _ docs.Store = (*Store)(nil)

// Migrate brings the schema of the database at url up to date, safely
// alongside other processes doing the same.
func Migrate(ctx context.Context, url string) error {
	if err := pgmigrate.Up(ctx, url, migrations, "migrations", MigrationsTable); err != nil {
		return fmt.Errorf("pgdocs: %w", err)
	}
	return nil
}

// SchemaVersion returns the schema version of the embedded migrations,
// which Migrate brings a database to.
func SchemaVersion() (uint, error) { return pgmigrate.Latest(migrations, "migrations") }

// Open migrates the database at url (a postgres:// URL) and returns a
// Store on it whose feed is listening when Open returns.
func Open(ctx context.Context, url string, o Options) (*Store, error) {
	pool, connCfg, err := pgmigrate.Open(ctx, "pgdocs", url, migrations, "migrations", MigrationsTable, o.MaxConns)
	if err != nil {
		return nil, err
	}
	s := &Store{
		pool:  pool,
		cfg:   connCfg,
		log:   o.Logger,
		delay: o.ReconnectDelay,
		done:  make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.delay <= 0 {
		s.delay = 100 * time.Millisecond
	}
	conn, err := s.listenConn(ctx)
	if err != nil {
		pool.Close()
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.listen(lctx, conn)
	return s, nil
}

func (s *Store) listenConn(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		return nil, fmt.Errorf("pgdocs: feed: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("pgdocs: feed: %w", err)
	}
	return conn, nil
}

// listen delivers notifications until ctx ends, reconnecting as needed.
func (s *Store) listen(ctx context.Context, conn *pgx.Conn) {
	defer close(s.done)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err == nil {
			rev, name, ok := strings.Cut(n.Payload, " ")
			if ok {
				s.feed.Publish(docs.Change{Name: name, Rev: docs.Rev(rev)})
			}
			continue
		}
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(closeCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("document feed lost its connection; reconnecting", "err", err)
		delay := s.delay
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
			s.log.Warn("document feed reconnect failed", "err", err, "retry_in", delay)
			delay = min(2*delay, 5*time.Second)
		}
		s.log.Info("document feed reconnected; caches revalidate")
		s.feed.Publish(docs.Change{Lost: true})
	}
}

// Close implements docs.Store.
func (s *Store) Close() error {
	s.cancel()
	<-s.done
	s.pool.Close()
	return nil
}

// Ping checks the database answers, for a readiness endpoint.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Pool returns the connection pool, for packages that keep their own
// tables in the same database (search, auth).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

func formatRev(r int64) docs.Rev { return docs.Rev(strconv.FormatInt(r, 10)) }

// Get implements docs.Store.
func (s *Store) Get(ctx context.Context, name string) ([]byte, docs.Rev, error) {
	if err := pkgname.Validate(name); err != nil {
		return nil, "", err
	}
	var (
		doc []byte
		rev int64
	)
	err := s.pool.QueryRow(ctx, "SELECT doc, rev FROM documents WHERE name = $1", name).Scan(&doc, &rev)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", docs.ErrNotFound
	}
	if err != nil {
		return nil, "", fmt.Errorf("pgdocs: get %s: %w", name, err)
	}
	return doc, formatRev(rev), nil
}

// Revision implements docs.Store.
func (s *Store) Revision(ctx context.Context, name string) (docs.Rev, error) {
	if err := pkgname.Validate(name); err != nil {
		return "", err
	}
	var rev int64
	err := s.pool.QueryRow(ctx, "SELECT rev FROM documents WHERE name = $1", name).Scan(&rev)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", docs.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("pgdocs: revision %s: %w", name, err)
	}
	return formatRev(rev), nil
}

// Put implements docs.Store.
func (s *Store) Put(ctx context.Context, name string, doc []byte, expected docs.Rev) (docs.Rev, error) {
	if err := pkgname.Validate(name); err != nil {
		return "", err
	}
	if doc == nil {
		doc = []byte{} // the column is NOT NULL; an empty document is still one
	}
	var (
		rev int64
		err error
	)
	if expected == "" {
		err = s.pool.QueryRow(ctx,
			"INSERT INTO documents (name, rev, doc) VALUES ($1, 1, $2) ON CONFLICT (name) DO NOTHING RETURNING rev",
			name, doc).Scan(&rev)
	} else {
		exp, perr := strconv.ParseInt(string(expected), 10, 64)
		if perr != nil || exp <= 0 {
			return "", docs.ErrConflict // not a revision this store ever gave out
		}
		err = s.pool.QueryRow(ctx,
			"UPDATE documents SET doc = $2, rev = rev + 1, updated = now() WHERE name = $1 AND rev = $3 RETURNING rev",
			name, doc, exp).Scan(&rev)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return "", docs.ErrConflict
	}
	if err != nil {
		return "", fmt.Errorf("pgdocs: put %s: %w", name, err)
	}
	return formatRev(rev), nil
}

// PutTx is Put with more work in the same transaction: once the document
// is written (and only then), also runs in the transaction, and if it
// fails nothing is committed and its error is returned. It is how a
// derived table (the search index) stays exactly in step with the
// documents: both change at one commit or neither does.
func (s *Store) PutTx(ctx context.Context, name string, doc []byte, expected docs.Rev, also func(ctx context.Context, tx pgx.Tx) error) (docs.Rev, error) {
	if err := pkgname.Validate(name); err != nil {
		return "", err
	}
	if doc == nil {
		doc = []byte{}
	}
	var exp int64
	if expected != "" {
		var err error
		if exp, err = strconv.ParseInt(string(expected), 10, 64); err != nil || exp <= 0 {
			return "", docs.ErrConflict
		}
	}
	var rev int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if expected == "" {
			err = tx.QueryRow(ctx,
				"INSERT INTO documents (name, rev, doc) VALUES ($1, 1, $2) ON CONFLICT (name) DO NOTHING RETURNING rev",
				name, doc).Scan(&rev)
		} else {
			err = tx.QueryRow(ctx,
				"UPDATE documents SET doc = $2, rev = rev + 1, updated = now() WHERE name = $1 AND rev = $3 RETURNING rev",
				name, doc, exp).Scan(&rev)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return docs.ErrConflict
		}
		if err != nil {
			return fmt.Errorf("pgdocs: put %s: %w", name, err)
		}
		if also != nil {
			return also(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return formatRev(rev), nil
}

// List implements docs.Store.
func (s *Store) List(ctx context.Context, after string, limit int) ([]string, error) {
	var lim *int // LIMIT NULL: all
	if limit > 0 {
		lim = &limit
	}
	rows, err := s.pool.Query(ctx, "SELECT name FROM documents WHERE name > $1 ORDER BY name LIMIT $2", after, lim)
	if err != nil {
		return nil, fmt.Errorf("pgdocs: list: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pgdocs: list: %w", err)
	}
	return names, nil
}

// Count implements docs.Store.
func (s *Store) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM documents").Scan(&n); err != nil {
		return 0, fmt.Errorf("pgdocs: count: %w", err)
	}
	return n, nil
}

// Subscribe implements docs.Store.
func (s *Store) Subscribe(fn func(docs.Change)) func() { return s.feed.Subscribe(fn) }

// Doc is one document for Load.
type Doc struct {
	Name string
	Doc  []byte
}

// loadBatch is how many documents one Load statement inserts.
const loadBatch = 500

// Load inserts the documents whose names are not stored yet and leaves
// the others as they are, so it can be run again after an interruption
// (a bulk import, `registry migrate`). It checks every name before
// writing anything and returns how many documents it inserted. Each batch
// of documents is one statement; the feed announces each inserted one.
func (s *Store) Load(ctx context.Context, batch []Doc) (int64, error) {
	for _, d := range batch {
		if err := pkgname.Validate(d.Name); err != nil {
			return 0, err
		}
	}
	var inserted int64
	for len(batch) > 0 {
		n := min(len(batch), loadBatch)
		names := make([]string, n)
		bodies := make([][]byte, n)
		for i, d := range batch[:n] {
			names[i], bodies[i] = d.Name, d.Doc
			if bodies[i] == nil {
				bodies[i] = []byte{}
			}
		}
		tag, err := s.pool.Exec(ctx,
			"INSERT INTO documents (name, rev, doc) SELECT n, 1, d FROM unnest($1::text[], $2::bytea[]) AS t(n, d) ON CONFLICT (name) DO NOTHING",
			names, bodies)
		if err != nil {
			return inserted, fmt.Errorf("pgdocs: load: %w", err)
		}
		inserted += tag.RowsAffected()
		batch = batch[n:]
	}
	return inserted, nil
}

var _ docs.StatsReader = (*Store)(nil)

// Stats implements docs.StatsReader: the totals the triggers of
// migration 0002 keep in one row, for registry documents.
func (s *Store) Stats(ctx context.Context) (docs.Stats, error) {
	var st docs.Stats
	err := s.pool.QueryRow(ctx, "SELECT packages, versions, bytes FROM document_stats").Scan(&st.Packages, &st.Versions, &st.Bytes)
	if err != nil {
		return docs.Stats{}, fmt.Errorf("pgdocs: stats: %w", err)
	}
	return st, nil
}

var _ docs.SimilarFinder = (*Store)(nil)

// SimilarNames implements docs.SimilarFinder through the index of
// migration 0002 (the SQL form of pkgname.Similar).
func (s *Store) SimilarNames(ctx context.Context, form string) ([]string, error) {
	rows, err := s.pool.Query(ctx, "SELECT name FROM documents WHERE bun13_similar(name) = $1 ORDER BY name", form)
	if err != nil {
		return nil, fmt.Errorf("pgdocs: similar: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pgdocs: similar: %w", err)
	}
	return names, nil
}
