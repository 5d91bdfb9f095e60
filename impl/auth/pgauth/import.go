package pgauth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/jackc/pgx/v5"
)

// Files name a single node's auth files (registry data directory); an
// empty field is skipped.
type Files struct {
	Users       string // DATA/users.json
	Tokens      string // DATA/tokens.json
	Revocations string // DATA/revoked.json
	Scopes      string // DATA/scopes.json
	// KeyFile is the node's signing key: its public half is registered
	// (under no replica), so the tokens it signed stay valid on every
	// replica until the key is retired (bun13 key retire).
	KeyFile string
}

// ImportSummary counts what ImportFiles inserted; rows already in the
// database are left as they are and not counted.
type ImportSummary struct {
	Users, Tokens, Revocations, Scopes, Members int64
	// KeyID is the kid of the registered key file, "" without one.
	KeyID string
}

// ImportFiles copies a data directory's auth files into the database in
// one transaction: users (bcrypt hashes as they are), unexpired token
// records, revocations, scopes with their members, and the public key of
// the key file. It is idempotent: an existing row (by user name, token
// key, jti, scope name) wins and is not counted, so it can be run again
// after an interruption or after the files changed. Missing files are
// empty.
func ImportFiles(ctx context.Context, s *Store, f Files, now time.Time) (ImportSummary, error) {
	var (
		sum     ImportSummary
		users   []auth.User
		tokens  []auth.TokenRecord
		revs    []auth.Revocation
		scopes  []auth.Scope
		keyPub  ed25519.PublicKey
		openErr error
	)
	if f.Users != "" {
		u, err := auth.OpenUsers(f.Users)
		openErr = errors.Join(openErr, err)
		if err == nil {
			users = u.List(now)
		}
	}
	if f.Tokens != "" {
		t, err := auth.OpenTokens(f.Tokens)
		openErr = errors.Join(openErr, err)
		if err == nil {
			tokens = t.List("", now)
		}
	}
	if f.Revocations != "" {
		r, err := auth.OpenRevocations(f.Revocations)
		openErr = errors.Join(openErr, err)
		if err == nil {
			revs = r.List()
		}
	}
	if f.Scopes != "" {
		sc, err := auth.OpenScopes(f.Scopes)
		openErr = errors.Join(openErr, err)
		if err == nil {
			scopes = sc.List(now)
		}
	}
	if f.KeyFile != "" {
		priv, err := auth.LoadKeyFile(f.KeyFile)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			openErr = errors.Join(openErr, err)
		default:
			keyPub = priv.Public().(ed25519.PublicKey)
		}
	}
	if openErr != nil {
		return sum, fmt.Errorf("pgauth: import: %w", openErr)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		sum = ImportSummary{}
		for _, u := range users {
			tag, err := tx.Exec(ctx,
				"INSERT INTO auth_users (name, hash, role, created, password_changed) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
				u.Name, u.Hash, u.Role.String(), ceilMicro(u.Created.UTC()), nullTime(u.PasswordChanged))
			if err != nil {
				return fmt.Errorf("user %s: %w", u.Name, err)
			}
			sum.Users += tag.RowsAffected()
		}
		for _, r := range tokens {
			tag, err := tx.Exec(ctx, "INSERT INTO auth_tokens ("+tokenCols+") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING",
				r.Key, r.ID, r.User, r.Role.String(), ceilMicro(r.Created.UTC()), nullTime(r.Expires))
			if err != nil {
				return fmt.Errorf("token %s: %w", r.ID, err)
			}
			sum.Tokens += tag.RowsAffected()
		}
		for _, r := range revs {
			tag, err := tx.Exec(ctx, "INSERT INTO auth_revocations (jti, expires, revoked) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING",
				r.ID, nullTime(r.Expires), ceilMicro(r.Revoked.UTC()))
			if err != nil {
				return fmt.Errorf("revocation %s: %w", r.ID, err)
			}
			sum.Revocations += tag.RowsAffected()
		}
		for _, x := range scopes {
			added, err := insertScope(ctx, tx, x)
			if err != nil {
				return fmt.Errorf("scope @%s: %w", x.Name, err)
			}
			if added {
				sum.Scopes++
				for _, m := range x.Members {
					if m != x.Owner {
						sum.Members++
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return ImportSummary{}, fmt.Errorf("pgauth: import: %w", err)
	}
	if keyPub != nil {
		if sum.KeyID, err = s.RegisterKey(ctx, keyPub, ""); err != nil {
			return sum, fmt.Errorf("pgauth: import key %s: %w", f.KeyFile, err)
		}
	}
	for g := range nGroups {
		s.after(ctx, g)
	}
	return sum, nil
}
