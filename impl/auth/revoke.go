package auth

import (
	"slices"
	"strings"
	"time"
)

// Revocation is one revoked token.
type Revocation struct {
	ID string `json:"jti"`
	// Expires is the token's own expiry: after it (plus an hour, to outlast
	// any leeway) the entry is dropped, since the token is dead anyway.
	// Zero keeps the entry for ever.
	Expires time.Time `json:"expires,omitzero"`
	Revoked time.Time `json:"revoked"`
}

func (r Revocation) key() string { return r.ID }

// revocationRetention is how long past a token's expiry its revocation is
// kept; anything above Verifier's leeway will do.
const revocationRetention = time.Hour

// DefaultCheckInterval is how often, at most, a store's file is statted by
// calls that pass a time (Refresh, and the lookups of Users and Tokens).
const DefaultCheckInterval = 100 * time.Millisecond

// Revocations is the set of revoked token IDs (jti), kept in a JSON file
// that any process may update: the bun13 CLI revokes while the server runs,
// and the server sees it on its next uncached verification, or within
// CheckInterval for cached tokens.
//
// The zero value is an empty set kept in memory only. It is safe for
// concurrent use.
type Revocations struct {
	// CheckInterval bounds how often Refresh stats the file. Zero means
	// DefaultCheckInterval.
	CheckInterval time.Duration

	t table[Revocation]
}

// OpenRevocations loads the revocation list at path (conventionally
// RevocationsFile in the data directory). A missing file is an empty list;
// it is created on the first revocation.
func OpenRevocations(path string) (*Revocations, error) {
	r := &Revocations{t: table[Revocation]{path: path}}
	return r, r.t.reload()
}

// Revoke adds revocations, dropping entries whose tokens expired more than
// an hour before now. It returns once the file is durably written.
func (r *Revocations) Revoke(now time.Time, revs ...Revocation) error {
	return r.t.update(func(rows map[string]Revocation) error {
		for id, x := range rows {
			if !x.Expires.IsZero() && now.After(x.Expires.Add(revocationRetention)) {
				delete(rows, id)
			}
		}
		for _, x := range revs {
			if x.Revoked.IsZero() {
				x.Revoked = now
			}
			x.Revoked, x.Expires = x.Revoked.UTC(), x.Expires.UTC()
			rows[x.ID] = x
		}
		return nil
	})
}

// IsRevoked reports whether the token with this jti is revoked, as of the
// last load of the file.
func (r *Revocations) IsRevoked(id string) bool {
	_, ok := r.t.snap().rows[id]
	return ok
}

// List returns all revocations, oldest first.
func (r *Revocations) List() []Revocation {
	out := values(r.t.snap().rows)
	slices.SortFunc(out, func(a, b Revocation) int {
		return cmpThen(a.Revoked.Compare(b.Revoked), strings.Compare(a.ID, b.ID))
	})
	return out
}

// Refresh reloads the file if it changed, statting it at most once per
// CheckInterval of now. Verifier calls it; call it directly only when
// using IsRevoked.
func (r *Revocations) Refresh(now time.Time) error {
	return r.t.refresh(now, interval(r.CheckInterval))
}

// Reload reloads the file now if it changed.
func (r *Revocations) Reload() error { return r.t.reload() }

func interval(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return DefaultCheckInterval
}

func values[X any](m map[string]X) []X {
	out := make([]X, 0, len(m))
	for _, x := range m {
		out = append(out, x)
	}
	return out
}

func cmpThen(c ...int) int {
	for _, x := range c {
		if x != 0 {
			return x
		}
	}
	return 0
}
