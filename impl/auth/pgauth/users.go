package pgauth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/jackc/pgx/v5"
)

// Users is auth.UserStore on the Store's database.
type Users struct{ s *Store }

var _ auth.UserStore = (*Users)(nil)

func (s *Store) loadUsers(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, "SELECT name, hash, role, created, password_changed FROM auth_users")
	if err != nil {
		return fmt.Errorf("pgauth: users: %w", err)
	}
	defer rows.Close()
	m := map[string]auth.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return err
		}
		m[u.Name] = u
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pgauth: users: %w", err)
	}
	s.users.Store(&m)
	return nil
}

func scanUser(row pgx.Row) (auth.User, error) {
	var (
		u       auth.User
		role    string
		changed *time.Time
	)
	if err := row.Scan(&u.Name, &u.Hash, &role, &u.Created, &changed); err != nil {
		return auth.User{}, err
	}
	r, err := auth.ParseRole(role)
	if err != nil {
		return auth.User{}, fmt.Errorf("pgauth: user %s: %w", u.Name, err)
	}
	u.Role, u.Created, u.PasswordChanged = r, u.Created.UTC(), timeOrZero(changed)
	return u, nil
}

func (u *Users) snap() map[string]auth.User {
	if m := u.s.users.Load(); m != nil {
		return *m
	}
	return nil
}

// Add implements auth.UserStore.
func (u *Users) Add(name, password string, role auth.Role, now time.Time) error {
	if err := auth.ValidUserName(name); err != nil {
		return err
	}
	if role.String() == "none" {
		return fmt.Errorf("auth: invalid role %d", role)
	}
	hash, err := auth.HashPassword(password, u.s.o.Cost)
	if err != nil {
		return err
	}
	return u.insert(auth.User{Name: name, Hash: hash, Role: role, Created: now})
}

// insert adds x as it is (hash included); ErrUserExists if the name is
// taken.
func (u *Users) insert(x auth.User) error {
	ctx, cancel := u.s.ctx()
	defer cancel()
	tag, err := u.s.pool.Exec(ctx,
		"INSERT INTO auth_users (name, hash, role, created, password_changed) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
		x.Name, x.Hash, x.Role.String(), ceilMicro(x.Created.UTC()), nullTime(x.PasswordChanged))
	if err != nil {
		return fmt.Errorf("pgauth: add user %s: %w", x.Name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s", auth.ErrUserExists, x.Name)
	}
	u.s.after(ctx, gUsers)
	return nil
}

// Remove implements auth.UserStore. The user's tokens stay valid until
// revoked (Tokens.RevokeUser), but the registry refuses tokens of a user
// that no longer exists.
func (u *Users) Remove(name string) error {
	ctx, cancel := u.s.ctx()
	defer cancel()
	tag, err := u.s.pool.Exec(ctx, "DELETE FROM auth_users WHERE name = $1", name)
	if err != nil {
		return fmt.Errorf("pgauth: remove user %s: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s", auth.ErrNoSuchUser, name)
	}
	u.s.after(ctx, gUsers)
	return nil
}

// SetPassword implements auth.UserStore.
func (u *Users) SetPassword(name, password string) error {
	return u.ChangePassword(name, password, time.Now())
}

// ChangePassword implements auth.UserStore: tokens issued before now stop
// being current (auth.User.TokenCurrent).
func (u *Users) ChangePassword(name, password string, now time.Time) error {
	hash, err := auth.HashPassword(password, u.s.o.Cost)
	if err != nil {
		return err
	}
	ctx, cancel := u.s.ctx()
	defer cancel()
	err = pgx.BeginFunc(ctx, u.s.pool, func(tx pgx.Tx) error {
		x, err := scanUser(tx.QueryRow(ctx, "SELECT name, hash, role, created, password_changed FROM auth_users WHERE name = $1 FOR UPDATE", name))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %s", auth.ErrNoSuchUser, name)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "UPDATE auth_users SET hash = $2, password_changed = $3 WHERE name = $1",
			name, hash, nullTime(x.PasswordChangeAt(now)))
		return err
	})
	if err != nil {
		if errors.Is(err, auth.ErrNoSuchUser) {
			return err
		}
		return fmt.Errorf("pgauth: change password of %s: %w", name, err)
	}
	u.s.after(ctx, gUsers)
	return nil
}

// SetRole implements auth.UserStore.
func (u *Users) SetRole(name string, role auth.Role) error {
	if role.String() == "none" {
		return fmt.Errorf("auth: invalid role %d", role)
	}
	ctx, cancel := u.s.ctx()
	defer cancel()
	tag, err := u.s.pool.Exec(ctx, "UPDATE auth_users SET role = $2 WHERE name = $1", name, role.String())
	if err != nil {
		return fmt.Errorf("pgauth: set role of %s: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s", auth.ErrNoSuchUser, name)
	}
	u.s.after(ctx, gUsers)
	return nil
}

// Get implements auth.UserStore, from the snapshot.
func (u *Users) Get(name string, now time.Time) (auth.User, bool) {
	x, ok := u.snap()[name]
	return x, ok
}

// List implements auth.UserStore, from the snapshot, sorted by name.
func (u *Users) List(now time.Time) []auth.User {
	return byName(u.snap())
}

// Authenticate implements auth.UserStore. The row is read from the
// database, so a password changed through another replica works at once.
// An unknown user costs the same bcrypt work as a wrong password.
func (u *Users) Authenticate(name, password string, now time.Time) (auth.User, error) {
	ctx, cancel := u.s.ctx()
	defer cancel()
	x, err := scanUser(u.s.pool.QueryRow(ctx, "SELECT name, hash, role, created, password_changed FROM auth_users WHERE name = $1", name))
	if errors.Is(err, pgx.ErrNoRows) {
		auth.CheckPassword(u.s.dummyHash(), password)
		return auth.User{}, auth.ErrBadCredentials
	}
	if err != nil {
		return auth.User{}, fmt.Errorf("pgauth: authenticate: %w", err)
	}
	if !auth.CheckPassword(x.Hash, password) {
		return auth.User{}, auth.ErrBadCredentials
	}
	return x, nil
}

// Reload implements auth.UserStore: it reloads the users now if they
// changed (one query), which the feed does anyway.
func (u *Users) Reload() error {
	ctx, cancel := u.s.ctx()
	defer cancel()
	return u.s.reload(ctx, gUsers, false)
}

func (s *Store) dummyHash() string {
	s.dummyMu.Do(func() { s.dummy, _ = auth.HashPassword("not a password", s.o.Cost) })
	return s.dummy
}

// EnsureAdmin creates the user name with role admin and a random
// one-time password, if and only if there is no user at all, and returns
// the password (created true) to the one caller that created it. Any
// number of replicas may call it at once on an empty database: one
// creates the user, the others get created false (the insert is one
// statement, serialised by a transaction advisory lock and guarded by
// ON CONFLICT DO NOTHING).
func (s *Store) EnsureAdmin(ctx context.Context, name string, now time.Time) (password string, created bool, err error) {
	if err := auth.ValidUserName(name); err != nil {
		return "", false, err
	}
	if len(s.Users.snap()) > 0 {
		return "", false, nil
	}
	pw := rand.Text()
	hash, err := auth.HashPassword(pw, s.o.Cost)
	if err != nil {
		return "", false, err
	}
	var n int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('bun13_auth_ensure_admin'))"); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx,
			`INSERT INTO auth_users (name, hash, role, created)
			 SELECT $1, $2, 'admin', $3 WHERE NOT EXISTS (SELECT 1 FROM auth_users)
			 ON CONFLICT (name) DO NOTHING`,
			name, hash, ceilMicro(now.UTC()))
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return "", false, fmt.Errorf("pgauth: ensure admin: %w", err)
	}
	s.after(ctx, gUsers)
	if n == 0 {
		return "", false, nil
	}
	return pw, true, nil
}

// byName returns the rows of a snapshot (keyed by name) sorted by name.
func byName[X any](m map[string]X) []X {
	out := make([]X, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}
