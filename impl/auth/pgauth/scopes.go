package pgauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/jackc/pgx/v5"
)

// Scopes is auth.ScopeStore on the Store's database, read from the
// snapshot the feed keeps current.
type Scopes struct{ s *Store }

var _ auth.ScopeStore = (*Scopes)(nil)

func (s *Store) loadScopes(ctx context.Context, tx pgx.Tx) error {
	m := map[string]auth.Scope{}
	rows, err := tx.Query(ctx, "SELECT name, owner, origin, created FROM auth_scopes")
	if err != nil {
		return fmt.Errorf("pgauth: scopes: %w", err)
	}
	for rows.Next() {
		var x auth.Scope
		if err := rows.Scan(&x.Name, &x.Owner, &x.Origin, &x.Created); err != nil {
			rows.Close()
			return fmt.Errorf("pgauth: scopes: %w", err)
		}
		x.Created, x.Members = x.Created.UTC(), []string{}
		m[x.Name] = x
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pgauth: scopes: %w", err)
	}
	rows, err = tx.Query(ctx, "SELECT scope, username FROM auth_scope_members ORDER BY scope, username")
	if err != nil {
		return fmt.Errorf("pgauth: scope members: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var scope, user string
		if err := rows.Scan(&scope, &user); err != nil {
			return fmt.Errorf("pgauth: scope members: %w", err)
		}
		if x, ok := m[scope]; ok {
			x.Members = append(x.Members, user)
			m[scope] = x
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pgauth: scope members: %w", err)
	}
	s.scopes.Store(&m)
	return nil
}

func (sc *Scopes) snap() map[string]auth.Scope {
	if m := sc.s.scopes.Load(); m != nil {
		return *m
	}
	return nil
}

// Get implements auth.ScopeStore.
func (sc *Scopes) Get(name string, now time.Time) (auth.Scope, bool) {
	x, ok := sc.snap()[name]
	return x, ok
}

// List implements auth.ScopeStore: sorted by name.
func (sc *Scopes) List(now time.Time) []auth.Scope {
	return byName(sc.snap())
}

// insertScope adds x with its members unless the scope exists, and
// reports whether it did.
func insertScope(ctx context.Context, tx pgx.Tx, x auth.Scope) (bool, error) {
	tag, err := tx.Exec(ctx, "INSERT INTO auth_scopes (name, owner, origin, created) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
		x.Name, x.Owner, x.Origin, ceilMicro(x.Created.UTC()))
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	if len(x.Members) > 0 {
		_, err = tx.Exec(ctx, "INSERT INTO auth_scope_members (scope, username) SELECT $1, u FROM unnest($2::text[]) AS u WHERE u <> $3 ON CONFLICT DO NOTHING",
			x.Name, x.Members, x.Owner)
	}
	return true, err
}

// Add implements auth.ScopeStore: an organization scope owned by owner.
func (sc *Scopes) Add(name, owner string, now time.Time) error {
	name, err := auth.ScopeName(name)
	if err != nil {
		return err
	}
	if err := auth.ValidUserName(owner); err != nil {
		return err
	}
	ctx, cancel := sc.s.ctx()
	defer cancel()
	var added bool
	err = pgx.BeginFunc(ctx, sc.s.pool, func(tx pgx.Tx) error {
		added, err = insertScope(ctx, tx, auth.Scope{Name: name, Owner: owner, Origin: auth.ScopeOrganization, Created: now})
		return err
	})
	if err != nil {
		return fmt.Errorf("pgauth: add scope @%s: %w", name, err)
	}
	if !added {
		return fmt.Errorf("%w: @%s", auth.ErrScopeExists, name)
	}
	sc.s.after(ctx, gScopes)
	return nil
}

// AddMember implements auth.ScopeStore.
func (sc *Scopes) AddMember(name, user string) error {
	return sc.member(name, user, "INSERT INTO auth_scope_members (scope, username) SELECT $1::text, $2::text WHERE $2::text <> $3::text ON CONFLICT DO NOTHING")
}

// RemoveMember implements auth.ScopeStore.
func (sc *Scopes) RemoveMember(name, user string) error {
	return sc.member(name, user, "DELETE FROM auth_scope_members WHERE scope = $1 AND username = $2 AND $3::text IS NOT NULL")
}

func (sc *Scopes) member(name, user, stmt string) error {
	name, err := auth.ScopeName(name)
	if err != nil {
		return err
	}
	if err := auth.ValidUserName(user); err != nil {
		return err
	}
	ctx, cancel := sc.s.ctx()
	defer cancel()
	err = pgx.BeginFunc(ctx, sc.s.pool, func(tx pgx.Tx) error {
		var owner string
		err := tx.QueryRow(ctx, "SELECT owner FROM auth_scopes WHERE name = $1 FOR SHARE", name).Scan(&owner)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: @%s", auth.ErrNoSuchScope, name)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, stmt, name, user, owner)
		return err
	})
	if err != nil {
		if errors.Is(err, auth.ErrNoSuchScope) {
			return err
		}
		return fmt.Errorf("pgauth: scope @%s members: %w", name, err)
	}
	sc.s.after(ctx, gScopes)
	return nil
}

// Claim implements auth.ScopeStore: the first caller for an unowned scope
// owns it, whichever replica it runs on.
func (sc *Scopes) Claim(name, user string, now time.Time) (auth.Scope, error) {
	if x, ok := sc.Get(name, now); ok {
		return x, nil
	}
	ctx, cancel := sc.s.ctx()
	defer cancel()
	err := pgx.BeginFunc(ctx, sc.s.pool, func(tx pgx.Tx) error {
		_, err := insertScope(ctx, tx, auth.Scope{Name: name, Owner: user, Origin: auth.ScopeFirstPublish, Created: now})
		return err
	})
	if err != nil {
		return auth.Scope{}, fmt.Errorf("pgauth: claim scope @%s: %w", name, err)
	}
	sc.s.after(ctx, gScopes)
	if x, ok := sc.Get(name, now); ok {
		return x, nil
	}
	return auth.Scope{}, fmt.Errorf("pgauth: claim scope @%s: not found after the claim", name)
}

// Seed implements auth.ScopeStore.
func (sc *Scopes) Seed(found map[string][]string, now time.Time) ([]string, error) {
	snap := sc.snap()
	var names []string
	for name, people := range found {
		if _, ok := snap[name]; !ok && len(people) > 0 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	slices.Sort(names)
	ctx, cancel := sc.s.ctx()
	defer cancel()
	var added []string
	err := pgx.BeginFunc(ctx, sc.s.pool, func(tx pgx.Tx) error {
		added = added[:0]
		for _, name := range names {
			people := found[name]
			members := []string{}
			for _, p := range people[1:] {
				if p != people[0] && !slices.Contains(members, p) {
					members = append(members, p)
				}
			}
			ok, err := insertScope(ctx, tx, auth.Scope{Name: name, Owner: people[0], Members: members, Origin: auth.ScopeExisting, Created: now})
			if err != nil {
				return err
			}
			if ok {
				added = append(added, name)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgauth: seed scopes: %w", err)
	}
	sc.s.after(ctx, gScopes)
	return added, nil
}

// Reload implements auth.ScopeStore: it reloads the scopes now if they
// changed (one query), which the feed does anyway.
func (sc *Scopes) Reload() error {
	ctx, cancel := sc.s.ctx()
	defer cancel()
	return sc.s.reload(ctx, gScopes, false)
}
