package pgauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/jackc/pgx/v5"
)

// Tokens is auth.TokenStore on the Store's database. It is not cached:
// every call is one query (token records are read by the npm token API,
// never by Verify).
type Tokens struct{ s *Store }

var _ auth.TokenStore = (*Tokens)(nil)

const tokenCols = "key, jti, username, role, created, expires"

func scanToken(row pgx.Row) (auth.TokenRecord, error) {
	var (
		r       auth.TokenRecord
		role    string
		expires *time.Time
	)
	if err := row.Scan(&r.Key, &r.ID, &r.User, &role, &r.Created, &expires); err != nil {
		return auth.TokenRecord{}, err
	}
	ro, err := auth.ParseRole(role)
	if err != nil {
		return auth.TokenRecord{}, fmt.Errorf("pgauth: token %s: %w", r.ID, err)
	}
	r.Role, r.Readonly, r.CIDRWhitelist = ro, ro == auth.RoleRead, []string{}
	r.Created, r.Expires = r.Created.UTC(), timeOrZero(expires)
	return r, nil
}

func collectTokens(rows pgx.Rows) ([]auth.TokenRecord, error) {
	defer rows.Close()
	var out []auth.TokenRecord
	for rows.Next() {
		r, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Add implements auth.TokenStore; it also drops expired records.
func (t *Tokens) Add(token string, c auth.Claims, now time.Time) (auth.TokenRecord, error) {
	rec := auth.TokenRecord{
		Key:           auth.TokenKey(token),
		ID:            c.ID,
		User:          c.Subject,
		Role:          c.Role,
		Readonly:      c.Role == auth.RoleRead,
		CIDRWhitelist: []string{},
		Created:       c.IssuedAt.UTC(),
		Expires:       c.ExpiresAt.UTC(),
	}
	if rec.Created.IsZero() {
		rec.Created = now.UTC()
	}
	if err := t.insert(rec, now, true); err != nil {
		return auth.TokenRecord{}, err
	}
	return rec, nil
}

func (t *Tokens) insert(rec auth.TokenRecord, now time.Time, replace bool) error {
	ctx, cancel := t.s.ctx()
	defer cancel()
	conflict := "DO NOTHING"
	if replace {
		conflict = "DO UPDATE SET jti = excluded.jti, username = excluded.username, role = excluded.role, created = excluded.created, expires = excluded.expires"
	}
	b := &pgx.Batch{}
	b.Queue("DELETE FROM auth_tokens WHERE expires < $1", now.UTC())
	b.Queue("INSERT INTO auth_tokens ("+tokenCols+") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) "+conflict,
		rec.Key, rec.ID, rec.User, rec.Role.String(), rec.Created, nullTime(rec.Expires))
	if err := t.s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("pgauth: add token: %w", err)
	}
	return nil
}

// Get implements auth.TokenStore. A database error is logged and reads
// as no record.
func (t *Tokens) Get(key string, now time.Time) (auth.TokenRecord, bool) {
	ctx, cancel := t.s.ctx()
	defer cancel()
	r, err := scanToken(t.s.pool.QueryRow(ctx, "SELECT "+tokenCols+" FROM auth_tokens WHERE key = $1", key))
	if err != nil {
		if !errors.Is(err, pgx.ErrNoRows) {
			t.s.log.Warn("auth: token lookup failed", "err", err)
		}
		return auth.TokenRecord{}, false
	}
	return r, true
}

// List implements auth.TokenStore: user's unexpired records (everyone's
// for ""), oldest first. A database error is logged and reads as none.
func (t *Tokens) List(user string, now time.Time) []auth.TokenRecord {
	ctx, cancel := t.s.ctx()
	defer cancel()
	rows, err := t.s.pool.Query(ctx,
		"SELECT "+tokenCols+" FROM auth_tokens WHERE ($1 = '' OR username = $1) AND (expires IS NULL OR expires >= $2) ORDER BY created, key COLLATE \"C\"",
		user, now.UTC())
	if err != nil {
		t.s.log.Warn("auth: token list failed", "err", err)
		return nil
	}
	out, err := collectTokens(rows)
	if err != nil {
		t.s.log.Warn("auth: token list failed", "err", err)
		return nil
	}
	slices.SortFunc(out, func(a, b auth.TokenRecord) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}

// Revoke implements auth.TokenStore. With revs the Revocations of the same
// Store, the revocation and the removal of the record are one
// transaction; otherwise revs.Revoke comes first, then the removal.
func (t *Tokens) Revoke(key string, revs auth.RevocationStore, now time.Time) (auth.TokenRecord, error) {
	recs, err := t.revoke(revs, now, "key = $1", key)
	if err != nil {
		return auth.TokenRecord{}, err
	}
	if len(recs) == 0 {
		return auth.TokenRecord{}, fmt.Errorf("%w: %s", auth.ErrNoSuchToken, key)
	}
	return recs[0], nil
}

// RevokeUser implements auth.TokenStore.
func (t *Tokens) RevokeUser(user string, revs auth.RevocationStore, now time.Time) ([]auth.TokenRecord, error) {
	return t.revoke(revs, now, "username = $1", user)
}

func (t *Tokens) revoke(revs auth.RevocationStore, now time.Time, where, arg string) ([]auth.TokenRecord, error) {
	ctx, cancel := t.s.ctx()
	defer cancel()
	if own, ok := revs.(*Revocations); ok && own.s == t.s {
		var recs []auth.TokenRecord
		err := pgx.BeginFunc(ctx, t.s.pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, "DELETE FROM auth_tokens WHERE "+where+" RETURNING "+tokenCols, arg)
			if err != nil {
				return err
			}
			if recs, err = collectTokens(rows); err != nil || len(recs) == 0 {
				return err
			}
			rs := make([]auth.Revocation, len(recs))
			for i, r := range recs {
				rs[i] = auth.Revocation{ID: r.ID, Expires: r.Expires}
			}
			return insertRevocations(ctx, tx, now, rs)
		})
		if err != nil {
			return nil, fmt.Errorf("pgauth: revoke: %w", err)
		}
		if len(recs) > 0 {
			t.s.after(ctx, gRevocations)
		}
		return recs, nil
	}
	rows, err := t.s.pool.Query(ctx, "SELECT "+tokenCols+" FROM auth_tokens WHERE "+where, arg)
	if err != nil {
		return nil, fmt.Errorf("pgauth: revoke: %w", err)
	}
	recs, err := collectTokens(rows)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	rs := make([]auth.Revocation, len(recs))
	keys := make([]string, len(recs))
	for i, r := range recs {
		rs[i], keys[i] = auth.Revocation{ID: r.ID, Expires: r.Expires}, r.Key
	}
	if err := revs.Revoke(now, rs...); err != nil {
		return nil, err
	}
	if _, err := t.s.pool.Exec(ctx, "DELETE FROM auth_tokens WHERE key = ANY($1)", keys); err != nil {
		return recs, fmt.Errorf("pgauth: revoke: %w", err)
	}
	return recs, nil
}

// Reload implements auth.TokenStore: nothing to do, every read queries
// the database.
func (t *Tokens) Reload() error { return nil }

// Revocations is auth.RevocationStore on the Store's database, read from
// the snapshot the feed keeps current.
type Revocations struct{ s *Store }

var _ auth.RevocationStore = (*Revocations)(nil)

// retention is how long past a token's expiry its revocation is kept,
// as in package auth.
const retention = time.Hour

func (s *Store) loadRevocations(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, "SELECT jti, expires, revoked FROM auth_revocations")
	if err != nil {
		return fmt.Errorf("pgauth: revocations: %w", err)
	}
	list, err := scanRevocations(rows)
	if err != nil {
		return err
	}
	s.revs.Store(auth.NewRevocationSet(list))
	return nil
}

// loadRevocationsSince publishes the copy plus the rows written after
// version since (a version bump per statement, set on each row it
// writes). The rows of the table are a subset of the copy's and the new
// ones, so the same count proves nothing was removed (pruned, or
// un-revoked with psql); otherwise the whole table is read.
func (s *Store) loadRevocationsSince(ctx context.Context, tx pgx.Tx, since int64) error {
	rows, err := tx.Query(ctx, "SELECT jti, expires, revoked FROM auth_revocations WHERE version > $1", since)
	if err != nil {
		return fmt.Errorf("pgauth: revocations: %w", err)
	}
	list, err := scanRevocations(rows)
	if err != nil {
		return err
	}
	old := s.revs.Load()
	n := old.Len()
	for _, r := range list {
		if !old.Has(r.ID) {
			n++
		}
	}
	var count int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM auth_revocations").Scan(&count); err != nil {
		return fmt.Errorf("pgauth: revocations: %w", err)
	}
	if count != n {
		return s.loadRevocations(ctx, tx)
	}
	s.revs.Store(old.With(list))
	return nil
}

func scanRevocations(rows pgx.Rows) ([]auth.Revocation, error) {
	defer rows.Close()
	var list []auth.Revocation
	for rows.Next() {
		var (
			r       auth.Revocation
			expires *time.Time
		)
		if err := rows.Scan(&r.ID, &expires, &r.Revoked); err != nil {
			return nil, fmt.Errorf("pgauth: revocations: %w", err)
		}
		r.Expires, r.Revoked = timeOrZero(expires), r.Revoked.UTC()
		list = append(list, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgauth: revocations: %w", err)
	}
	return list, nil
}

// insertRevocations adds revs (replacing entries with the same jti) and
// drops entries whose tokens expired more than retention before now.
func insertRevocations(ctx context.Context, tx pgx.Tx, now time.Time, revs []auth.Revocation) error {
	if _, err := tx.Exec(ctx, "DELETE FROM auth_revocations WHERE expires < $1", now.Add(-retention).UTC()); err != nil {
		return err
	}
	ids := make([]string, len(revs))
	expires := make([]*time.Time, len(revs))
	revoked := make([]time.Time, len(revs))
	for i, x := range revs {
		if x.Revoked.IsZero() {
			x.Revoked = now
		}
		ids[i], expires[i], revoked[i] = x.ID, nullTime(x.Expires), ceilMicro(x.Revoked.UTC())
	}
	_, err := tx.Exec(ctx, `INSERT INTO auth_revocations (jti, expires, revoked)
		SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[])
		ON CONFLICT (jti) DO UPDATE SET expires = excluded.expires, revoked = excluded.revoked`,
		ids, expires, revoked)
	return err
}

// Revoke implements auth.RevocationStore. When it returns, the
// revocation is committed and this Store's snapshot holds it.
func (r *Revocations) Revoke(now time.Time, revs ...auth.Revocation) error {
	ctx, cancel := r.s.ctx()
	defer cancel()
	err := pgx.BeginFunc(ctx, r.s.pool, func(tx pgx.Tx) error { return insertRevocations(ctx, tx, now, revs) })
	if err != nil {
		return fmt.Errorf("pgauth: revoke: %w", err)
	}
	r.s.after(ctx, gRevocations)
	return nil
}

// Snapshot implements auth.RevocationStore.
func (r *Revocations) Snapshot() *auth.RevocationSet { return r.s.revs.Load() }

// IsRevoked implements auth.RevocationStore.
func (r *Revocations) IsRevoked(id string) bool { return r.Snapshot().Has(id) }

// List implements auth.RevocationStore: oldest first.
func (r *Revocations) List() []auth.Revocation {
	set := r.Snapshot()
	out := make([]auth.Revocation, 0, set.Len())
	for _, x := range set.All() {
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b auth.Revocation) int {
		if c := a.Revoked.Compare(b.Revoked); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Refresh implements auth.RevocationStore: nothing to do, the feed keeps
// the snapshot current (this is on Verify's cached path).
func (r *Revocations) Refresh(time.Time) error { return nil }

// Reload implements auth.RevocationStore: nothing to do either. Verify
// calls it on every uncached token, which must not wait for the network;
// the feed (and the backstop every Options.Interval) keeps the set
// current. Store.Sync forces a check.
func (r *Revocations) Reload() error { return nil }
