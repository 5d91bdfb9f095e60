package auth

import (
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrNoSuchToken is returned for an unknown token key.
var ErrNoSuchToken = errors.New("auth: no such token")

// TokenKey returns the key npm's token API identifies a token by: the hex
// SHA-512 of the token. It lets users list and delete tokens without the
// server ever storing one.
func TokenKey(token string) string {
	sum := sha512.Sum512([]byte(token))
	return hex.EncodeToString(sum[:])
}

// TokenRecord is one issued token as npm's token API shows it
// (GET /-/npm/v1/tokens lists key, readonly, cidr_whitelist, created).
type TokenRecord struct {
	Key           string    `json:"key"` // TokenKey of the token
	ID            string    `json:"jti"`
	User          string    `json:"user"`
	Role          Role      `json:"role"`
	Readonly      bool      `json:"readonly"`       // Role is RoleRead
	CIDRWhitelist []string  `json:"cidr_whitelist"` // always empty: not supported
	Created       time.Time `json:"created"`
	Expires       time.Time `json:"expires"`
}

func (r TokenRecord) key() string { return r.Key }

// Tokens records issued tokens in a JSON file so the registry can list a
// user's tokens and revoke them by key. Records of expired tokens are
// dropped on the next write.
//
// It is safe for concurrent use. Fields must be set before first use.
type Tokens struct {
	// CheckInterval bounds how often lookups stat the file. Zero means
	// DefaultCheckInterval.
	CheckInterval time.Duration

	t table[TokenRecord]
}

// OpenTokens loads the token records at path (conventionally TokensFile in
// the data directory). A missing file is an empty list. An empty path keeps
// records in memory.
func OpenTokens(path string) (*Tokens, error) {
	t := &Tokens{t: table[TokenRecord]{path: path}}
	return t, t.t.reload()
}

// Add records token, issued with claims c.
func (t *Tokens) Add(token string, c Claims, now time.Time) (TokenRecord, error) {
	rec := TokenRecord{
		Key:           TokenKey(token),
		ID:            c.ID,
		User:          c.Subject,
		Role:          c.Role,
		Readonly:      c.Role == RoleRead,
		CIDRWhitelist: []string{},
		Created:       c.IssuedAt.UTC(),
		Expires:       c.ExpiresAt.UTC(),
	}
	if rec.Created.IsZero() {
		rec.Created = now.UTC()
	}
	err := t.t.update(func(rows map[string]TokenRecord) error {
		pruneExpired(rows, now)
		rows[rec.Key] = rec
		return nil
	})
	return rec, err
}

func pruneExpired(rows map[string]TokenRecord, now time.Time) {
	for k, r := range rows {
		if !r.Expires.IsZero() && now.After(r.Expires) {
			delete(rows, k)
		}
	}
}

// Get returns the record with this key.
func (t *Tokens) Get(key string, now time.Time) (TokenRecord, bool) {
	_ = t.t.refresh(now, interval(t.CheckInterval)) // on error keep the last good copy
	r, ok := t.t.snap().rows[key]
	return r, ok
}

// List returns user's unexpired tokens, oldest first; an empty user lists
// everyone's.
func (t *Tokens) List(user string, now time.Time) []TokenRecord {
	_ = t.t.refresh(now, interval(t.CheckInterval))
	var out []TokenRecord
	for _, r := range t.t.snap().rows {
		if (user == "" || r.User == user) && (r.Expires.IsZero() || !now.After(r.Expires)) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b TokenRecord) int {
		return cmpThen(a.Created.Compare(b.Created), strings.Compare(a.Key, b.Key))
	})
	return out
}

// Revoke revokes the token with this key in revs and then forgets its
// record; in that order, so a crash between the two leaves a revoked token
// still listed, never a live token unlisted.
func (t *Tokens) Revoke(key string, revs RevocationStore, now time.Time) (TokenRecord, error) {
	if err := t.t.reload(); err != nil {
		return TokenRecord{}, err
	}
	r, ok := t.t.snap().rows[key]
	if !ok {
		return TokenRecord{}, fmt.Errorf("%w: %s", ErrNoSuchToken, key)
	}
	if err := revs.Revoke(now, Revocation{ID: r.ID, Expires: r.Expires}); err != nil {
		return TokenRecord{}, err
	}
	err := t.t.update(func(rows map[string]TokenRecord) error {
		delete(rows, key)
		pruneExpired(rows, now)
		return nil
	})
	return r, err
}

// RevokeUser revokes all of user's tokens, as when the user is removed,
// and returns their records.
func (t *Tokens) RevokeUser(user string, revs RevocationStore, now time.Time) ([]TokenRecord, error) {
	if err := t.t.reload(); err != nil {
		return nil, err
	}
	var recs []TokenRecord
	var rs []Revocation
	for _, r := range t.t.snap().rows {
		if r.User == user {
			recs = append(recs, r)
			rs = append(rs, Revocation{ID: r.ID, Expires: r.Expires})
		}
	}
	if len(recs) == 0 {
		return nil, nil
	}
	if err := revs.Revoke(now, rs...); err != nil {
		return nil, err
	}
	err := t.t.update(func(rows map[string]TokenRecord) error {
		for _, r := range recs {
			delete(rows, r.Key)
		}
		pruneExpired(rows, now)
		return nil
	})
	return recs, err
}

// Reload reloads the file now if it changed.
func (t *Tokens) Reload() error { return t.t.reload() }
