// Package pgsearch is the PostgreSQL search.Index: one row per live
// package in search_entries, substring filters served by a pg_trgm
// trigram index, the registry's qualifiers and scoring computed in the
// query, so a search reads only matching rows and nothing is loaded at
// start. Its schema is migrated by [Migrate] (golang-migrate, under an
// advisory lock, its own version table) and may share a database with
// pgdocs.
//
// Strings are stored without NUL characters, which PostgreSQL text and
// jsonb cannot hold; a search word containing one matches nothing.
package pgsearch

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/bun13/bun13/impl/store/pgmigrate"
	"github.com/bun13/bun13/impl/store/search"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// MigrationsTable is the table golang-migrate keeps this schema's version in.
const MigrationsTable = "bun13_search_schema_migrations"

// Migrate brings the search schema of the database at url up to date,
// safely alongside other processes doing the same.
func Migrate(ctx context.Context, url string) error {
	if err := pgmigrate.Up(ctx, url, migrations, "migrations", MigrationsTable); err != nil {
		return fmt.Errorf("pgsearch: %w", err)
	}
	return nil
}

// Index is a search.Index on a pool whose database Migrate has prepared.
type Index struct {
	pool *pgxpool.Pool
}

var _ search.Index = (*Index)(nil)

// New returns the index on pool (pgdocs.Store.Pool, say).
func New(pool *pgxpool.Pool) *Index { return &Index{pool: pool} }

func noNUL(s string) string { return strings.ReplaceAll(s, "\x00", "") }

func clean(e search.Entry) search.Entry {
	e.Name = noNUL(e.Name)
	e.Version = noNUL(e.Version)
	e.Description = noNUL(e.Description)
	e.Date = noNUL(e.Date)
	e.Publisher = search.Person{Name: noNUL(e.Publisher.Name), Email: noNUL(e.Publisher.Email)}
	if e.Keywords != nil {
		kw := make([]string, len(e.Keywords))
		for i, k := range e.Keywords {
			kw[i] = noNUL(k)
		}
		e.Keywords = kw
	}
	if e.Maintainers != nil {
		ms := make([]search.Person, len(e.Maintainers))
		for i, m := range e.Maintainers {
			ms[i] = search.Person{Name: noNUL(m.Name), Email: noNUL(m.Email)}
		}
		e.Maintainers = ms
	}
	links := make(map[string]string, len(e.Links))
	for k, v := range e.Links {
		links[noNUL(k)] = noNUL(v)
	}
	e.Links = links
	return e
}

const upsert = `
	INSERT INTO search_entries (name, lname, entry, text, keywords, people)
	VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (name) DO UPDATE SET lname = EXCLUDED.lname, entry = EXCLUDED.entry,
		text = EXCLUDED.text, keywords = EXCLUDED.keywords, people = EXCLUDED.people`

// row returns the upsert arguments of e.
func row(e search.Entry) ([]any, error) {
	e = clean(e)
	body, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	keywords := make([]string, len(e.Keywords))
	for i, k := range e.Keywords {
		keywords[i] = strings.ToLower(k)
	}
	people := []string{e.Publisher.Name}
	for _, m := range e.Maintainers {
		people = append(people, m.Name)
	}
	return []any{e.Name, strings.ToLower(e.Name), body, e.Text(), keywords, people}, nil
}

// Pool returns the index's connection pool.
func (x *Index) Pool() *pgxpool.Pool { return x.pool }

// Execer runs a statement: a pool, a connection or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Update implements search.Index.
func (x *Index) Update(ctx context.Context, e search.Entry) error { return UpdateIn(ctx, x.pool, e) }

// UpdateIn adds or replaces the entry of e.Name through db, typically the
// transaction of pgdocs.Store.PutTx, so the entry commits with the
// document it comes from.
func UpdateIn(ctx context.Context, db Execer, e search.Entry) error {
	args, err := row(e)
	if err != nil {
		return err
	}
	if _, err := db.Exec(ctx, upsert, args...); err != nil {
		return fmt.Errorf("pgsearch: update %s: %w", e.Name, err)
	}
	return nil
}

// RemoveIn drops the entry of name through db (see UpdateIn).
func RemoveIn(ctx context.Context, db Execer, name string) error {
	if _, err := db.Exec(ctx, "DELETE FROM search_entries WHERE name = $1", noNUL(name)); err != nil {
		return fmt.Errorf("pgsearch: remove %s: %w", name, err)
	}
	return nil
}

// UpdateAll adds or replaces many entries in one round trip per 1,000
// (a pipelined batch), for reindexing and bulk loads.
func (x *Index) UpdateAll(ctx context.Context, entries []search.Entry) error {
	for len(entries) > 0 {
		n := min(len(entries), 1000)
		var b pgx.Batch
		for _, e := range entries[:n] {
			args, err := row(e)
			if err != nil {
				return err
			}
			b.Queue(upsert, args...)
		}
		if err := x.pool.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("pgsearch: update: %w", err)
		}
		entries = entries[n:]
	}
	return nil
}

// Remove implements search.Index.
func (x *Index) Remove(ctx context.Context, name string) error { return RemoveIn(ctx, x.pool, name) }

// likeEscape escapes LIKE's wildcards and its escape character.
var likeEscape = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Search implements search.Index.
func (x *Index) Search(ctx context.Context, text string, from, size int) (search.Result, error) {
	q := search.Parse(text)
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	for _, t := range q.Terms {
		if strings.Contains(t, "\x00") {
			return search.Result{}, nil // no stored text holds a NUL
		}
		where = append(where, "text LIKE "+arg("%"+likeEscape.Replace(t)+"%"))
	}
	if len(q.Keywords) > 0 {
		where = append(where, "keywords @> "+arg(q.Keywords)+"::text[]")
	}
	if len(q.Maintainers) > 0 {
		where = append(where, "people @> "+arg(q.Maintainers)+"::text[]")
	}
	if q.Scope != "" {
		where = append(where, "starts_with(name, "+arg("@"+q.Scope+"/")+")")
	}
	cond := "TRUE"
	if len(where) > 0 {
		cond = strings.Join(where, " AND ")
	}
	nCond := len(args)
	score := "0.5::float8"
	if len(q.Terms) > 0 {
		f := arg(q.Full())
		score = "CASE WHEN lname = " + f + " THEN 1::float8 WHEN starts_with(lname, " + f + ") THEN 0.9::float8 WHEN strpos(lname, " + f + ") > 0 THEN 0.8::float8 ELSE 0.5::float8 END"
	}
	from = max(0, from)
	var limit any // NULL: no limit
	if size >= 0 {
		limit = size
	}
	// Rank and count the matching names first, then fetch the entries of
	// the one page only. The matches are a materialized CTE so that the
	// planner finds them through the GIN indexes: left to itself it walks
	// the primary key in name order hoping the LIMIT stops it early, which
	// the window count never lets happen.
	sqlText := "WITH hits AS MATERIALIZED (SELECT name, " + score + " AS score FROM search_entries WHERE " + cond + ")," +
		" page AS (SELECT name, score, count(*) OVER () AS total FROM hits" +
		" ORDER BY score DESC, name OFFSET " + arg(from) + " LIMIT " + arg(limit) + ")" +
		" SELECT s.entry, p.score, p.total FROM page p JOIN search_entries s USING (name) ORDER BY p.score DESC, p.name"
	rows, err := x.pool.Query(ctx, sqlText, args...)
	if err != nil {
		return search.Result{}, fmt.Errorf("pgsearch: search: %w", err)
	}
	var res search.Result
	for rows.Next() {
		var (
			body  []byte
			h     search.Hit
			total int64
		)
		if err := rows.Scan(&body, &h.Score, &total); err != nil {
			rows.Close()
			return search.Result{}, fmt.Errorf("pgsearch: search: %w", err)
		}
		if err := json.Unmarshal(body, &h.Entry); err != nil {
			rows.Close()
			return search.Result{}, fmt.Errorf("pgsearch: stored entry: %w", err)
		}
		res.Hits = append(res.Hits, h)
		res.Total = int(total)
	}
	if err := rows.Err(); err != nil {
		return search.Result{}, fmt.Errorf("pgsearch: search: %w", err)
	}
	if len(res.Hits) == 0 && from > 0 {
		// Past the last page: the window count had no row to ride on.
		countArgs := args[:nCond]
		if err := x.pool.QueryRow(ctx, "SELECT count(*) FROM search_entries WHERE "+cond, countArgs...).Scan(&res.Total); err != nil {
			return search.Result{}, fmt.Errorf("pgsearch: search: %w", err)
		}
	}
	return res, nil
}
