package pgauth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/jackc/pgx/v5"
)

// Errors from the key registry.
var (
	ErrNoSuchKey  = errors.New("pgauth: no such signing key")
	ErrKeyRetired = errors.New("pgauth: signing key retired")
	ErrKeyInUse   = errors.New("pgauth: signing key in use by a live replica")
)

// Key is one registered signing key.
type Key struct {
	KID     string
	Public  ed25519.PublicKey
	Created time.Time
	Retired time.Time // zero: in use
	// Replicas are the processes that registered the key (none for a key
	// imported from a data directory), with their last heartbeat.
	Replicas []KeyReplica
}

// KeyReplica is one process signing with a key.
type KeyReplica struct {
	Name      string
	FirstSeen time.Time
	LastSeen  time.Time
	Live      bool // heartbeat within LiveFor, by the database's clock
}

// RegisterKey records pub under its kid (auth.KeyID), idempotently, and,
// when replica is not empty, that replica signs with it. A key that was
// retired cannot come back: ErrKeyRetired, since tokens it signed were
// refused on purpose.
func (s *Store) RegisterKey(ctx context.Context, pub ed25519.PublicKey, replica string) (string, error) {
	if len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("pgauth: register key: %d-byte public key", len(pub))
	}
	kid := auth.KeyID(pub)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO auth_signing_keys (kid, public_key) VALUES ($1, $2) ON CONFLICT (kid) DO NOTHING", kid, []byte(pub)); err != nil {
			return err
		}
		var (
			stored  []byte
			retired *time.Time
		)
		if err := tx.QueryRow(ctx, "SELECT public_key, retired FROM auth_signing_keys WHERE kid = $1", kid).Scan(&stored, &retired); err != nil {
			return err
		}
		if !pub.Equal(ed25519.PublicKey(stored)) {
			return fmt.Errorf("kid %s is registered with another public key", kid)
		}
		if retired != nil {
			return fmt.Errorf("%w: %s was retired at %s; generate a new key file (delete the old one, the registry creates a key on start)",
				ErrKeyRetired, kid, retired.UTC().Format(time.RFC3339))
		}
		if replica == "" {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO auth_key_replicas (kid, replica) VALUES ($1, $2)
			ON CONFLICT (kid, replica) DO UPDATE SET last_seen = now()`, kid, replica)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrKeyRetired) {
			return "", err
		}
		return "", fmt.Errorf("pgauth: register key: %w", err)
	}
	if s.cache[gKeys].loaded() {
		s.after(ctx, gKeys)
	}
	return kid, nil
}

func (s *Store) heartbeat(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO auth_key_replicas (kid, replica) SELECT kid, $2 FROM auth_signing_keys WHERE kid = $1
		ON CONFLICT (kid, replica) DO UPDATE SET last_seen = now()`, s.signer, s.replica)
	return err
}

func (s *Store) loadKeys(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, "SELECT kid, public_key FROM auth_signing_keys WHERE retired IS NULL ORDER BY kid")
	if err != nil {
		return fmt.Errorf("pgauth: keys: %w", err)
	}
	defer rows.Close()
	var (
		pubs []ed25519.PublicKey
		kids []string
	)
	for rows.Next() {
		var kid string
		var pub []byte
		if err := rows.Scan(&kid, &pub); err != nil {
			return fmt.Errorf("pgauth: keys: %w", err)
		}
		if len(pub) != ed25519.PublicKeySize || auth.KeyID(pub) != kid {
			s.log.Warn("auth: ignoring a malformed signing key row", "kid", kid)
			continue
		}
		pubs, kids = append(pubs, pub), append(kids, kid)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pgauth: keys: %w", err)
	}
	s.keyList.Store(&kids)
	if ks := s.o.Keys; ks != nil {
		had := ks.Signer()
		ks.Replace(pubs)
		if had != "" && ks.Signer() == "" {
			s.log.Error("auth: this replica's signing key was retired; it cannot issue tokens until restarted with a new key file", "kid", had)
		}
	}
	return nil
}

// KeyIDs returns the kids of the non-retired keys, as last loaded.
func (s *Store) KeyIDs() []string {
	if p := s.keyList.Load(); p != nil {
		return slices.Clone(*p)
	}
	return nil
}

// Keys lists every registered key, oldest first, with its replicas.
func (s *Store) Keys(ctx context.Context) ([]Key, error) {
	rows, err := s.pool.Query(ctx, "SELECT kid, public_key, created, retired FROM auth_signing_keys ORDER BY created, kid")
	if err != nil {
		return nil, fmt.Errorf("pgauth: keys: %w", err)
	}
	var out []Key
	for rows.Next() {
		var (
			k       Key
			pub     []byte
			retired *time.Time
		)
		if err := rows.Scan(&k.KID, &pub, &k.Created, &retired); err != nil {
			rows.Close()
			return nil, fmt.Errorf("pgauth: keys: %w", err)
		}
		k.Public, k.Created, k.Retired = pub, k.Created.UTC(), timeOrZero(retired)
		out = append(out, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgauth: keys: %w", err)
	}
	rows, err = s.pool.Query(ctx, "SELECT kid, replica, first_seen, last_seen, last_seen > now() - make_interval(secs => $1) FROM auth_key_replicas ORDER BY kid, replica", LiveFor.Seconds())
	if err != nil {
		return nil, fmt.Errorf("pgauth: key replicas: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			kid string
			r   KeyReplica
		)
		if err := rows.Scan(&kid, &r.Name, &r.FirstSeen, &r.LastSeen, &r.Live); err != nil {
			return nil, fmt.Errorf("pgauth: key replicas: %w", err)
		}
		r.FirstSeen, r.LastSeen = r.FirstSeen.UTC(), r.LastSeen.UTC()
		for i := range out {
			if out[i].KID == kid {
				out[i].Replicas = append(out[i].Replicas, r)
			}
		}
	}
	return out, rows.Err()
}

// RetireKey retires kid: every replica drops it from its key set within
// a NOTIFY round trip, so tokens signed with it are refused
// (auth.ErrUnknownKey), cached or not. A key a live replica signs with
// (heartbeat within LiveFor) is refused with ErrKeyInUse unless force:
// that replica could no longer issue tokens, and the ones it issued
// would all stop working. Retiring a retired key is a no-op.
func (s *Store) RetireKey(ctx context.Context, kid string, force bool) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var retired *time.Time
		err := tx.QueryRow(ctx, "SELECT retired FROM auth_signing_keys WHERE kid = $1 FOR UPDATE", kid).Scan(&retired)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %s", ErrNoSuchKey, kid)
		}
		if err != nil || retired != nil {
			return err
		}
		if !force {
			rows, err := tx.Query(ctx, "SELECT replica FROM auth_key_replicas WHERE kid = $1 AND last_seen > now() - make_interval(secs => $2) ORDER BY replica", kid, LiveFor.Seconds())
			if err != nil {
				return err
			}
			live, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			if len(live) > 0 {
				return fmt.Errorf("%w: %s is the signing key of %s (heartbeat within %v): retiring it stops that replica issuing tokens and refuses every token it issued; give it a new key file and restart it first, or retire with --force",
					ErrKeyInUse, kid, strings.Join(live, ", "), LiveFor)
			}
		}
		_, err = tx.Exec(ctx, "UPDATE auth_signing_keys SET retired = now() WHERE kid = $1", kid)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNoSuchKey) || errors.Is(err, ErrKeyInUse) {
			return err
		}
		return fmt.Errorf("pgauth: retire key: %w", err)
	}
	s.after(ctx, gKeys)
	return nil
}
