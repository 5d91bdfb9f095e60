package registry

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/auth/pgauth"
)

// OpenAuthDB is OpenAuth on PostgreSQL (package auth/pgauth): users,
// token records, revocations and scopes shared by every replica on the
// database at url, and every replica's signing key. This replica signs
// with the key at keyFile (generated when missing, as OpenAuth does); its
// public half is registered under its kid, and the key set holds every
// non-retired registered key, kept current through NOTIFY, so each
// replica verifies the tokens of all. An empty keyFile means no signing
// key (tools that manage users or scopes only; Issue fails with
// auth.ErrNoSigningKey). o.Keys is ignored (the key set is
// made here); o.Replica names this replica in `bun13 key list`.
//
// Close the Auth when done (it stops the feed and removes this
// replica's key heartbeat).
func OpenAuthDB(ctx context.Context, url, keyFile string, ttl time.Duration, o pgauth.Options) (*Auth, error) {
	a := &Auth{Keys: &auth.KeySet{}}
	if keyFile != "" {
		created, err := loadSigner(a.Keys, keyFile)
		if err != nil {
			return nil, err
		}
		a.KeyCreated = created
	}
	o.Keys = a.Keys
	db, err := pgauth.Open(ctx, url, o)
	if err != nil {
		return nil, err
	}
	a.DB = db
	a.Users, a.Records, a.Revoked, a.Scopes = db.Users, db.Tokens, db.Revocations, db.Scopes
	a.finish(ttl)
	return a, nil
}

// EnsureAdmin creates the user name (role admin) with a random one-time
// password when the store has no user at all, and returns the password
// to the one caller that created it ("" otherwise). On PostgreSQL
// exactly one of any number of replicas starting at once creates it; on
// the files, the file lock decides.
func (a *Auth) EnsureAdmin(ctx context.Context, name string, now time.Time) (string, error) {
	if a.DB != nil {
		pw, _, err := a.DB.EnsureAdmin(ctx, name, now)
		return pw, err
	}
	if len(a.Users.List(now)) > 0 {
		return "", nil
	}
	pw := rand.Text()
	if err := a.Users.Add(name, pw, auth.RoleAdmin, now); err != nil {
		if errors.Is(err, auth.ErrUserExists) {
			return "", nil // another process won the race
		}
		return "", err
	}
	return pw, nil
}

// ImportAuthFiles copies the auth files of a data directory (users with
// their password hashes, unexpired token records, revocations, scopes
// and members) into the database of db, and registers the public half of
// the directory's signing key so the tokens it signed stay valid on every
// replica. Idempotent: rows already in the database are kept and not
// counted, so `bun13 registry migrate` may run it again after an
// interruption. Missing files count as empty.
func ImportAuthFiles(ctx context.Context, p AuthPaths, db *pgauth.Store) (pgauth.ImportSummary, error) {
	sum, err := pgauth.ImportFiles(ctx, db, pgauth.Files{
		Users:       p.path(p.UsersFile, auth.UsersFile),
		Tokens:      p.path(p.TokensFile, auth.TokensFile),
		Revocations: p.path(p.RevokedFile, auth.RevocationsFile),
		Scopes:      p.path(p.ScopesFile, auth.ScopesFile),
		KeyFile:     p.path(p.KeyFile, auth.KeyFile),
	}, time.Now())
	if err != nil {
		return sum, fmt.Errorf("registry: import auth files of %s: %w", p.Dir, err)
	}
	return sum, nil
}
