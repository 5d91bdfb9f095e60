package auth

import (
	"crypto/ed25519"
	"iter"
	"maps"
	"time"
)

// The interfaces below are what the registry and the bun13 CLI need of
// each auth table. The file-backed types of this package implement them
// (a single node, DATA/*.json), and so does package auth/pgauth
// (PostgreSQL, shared by every replica). Package auth/authtest is the
// conformance suite both pass.
//
// Methods that take no context and return no error (Get, List) answer
// from an in-memory copy; implementations keep that copy current by their
// own means (the files' stat checks, pgauth's NOTIFY feed).

// UserStore is the users table (the methods of [Users]).
type UserStore interface {
	Add(name, password string, role Role, now time.Time) error
	Remove(name string) error
	SetPassword(name, password string) error
	ChangePassword(name, password string, now time.Time) error
	SetRole(name string, role Role) error
	Get(name string, now time.Time) (User, bool)
	List(now time.Time) []User
	// Authenticate checks a login against the freshest state the store
	// has (the file re-read, the database row), not only the copy Get
	// answers from.
	Authenticate(name, password string, now time.Time) (User, error)
	Reload() error
}

// TokenStore is the records of issued tokens (the methods of [Tokens]).
type TokenStore interface {
	Add(token string, c Claims, now time.Time) (TokenRecord, error)
	Get(key string, now time.Time) (TokenRecord, bool)
	List(user string, now time.Time) []TokenRecord
	// Revoke revokes the token in revs, then forgets its record.
	Revoke(key string, revs RevocationStore, now time.Time) (TokenRecord, error)
	// RevokeUser does Revoke for every token of user.
	RevokeUser(user string, revs RevocationStore, now time.Time) ([]TokenRecord, error)
	Reload() error
}

// RevocationStore is the set of revoked jti values (the methods of
// [Revocations]).
//
// Verifier calls Refresh and then Snapshot on every cached hit, so both
// must be cheap and must not allocate; a cached token stays valid while
// Snapshot returns the same pointer. Reload is called after a signature
// checks out on an uncached verification.
type RevocationStore interface {
	Revoke(now time.Time, revs ...Revocation) error
	IsRevoked(id string) bool
	List() []Revocation
	Refresh(now time.Time) error
	Reload() error
	// Snapshot returns the current revocations. A new pointer is
	// published whenever the set changes, and never otherwise changes.
	Snapshot() *RevocationSet
}

// ScopeStore is the scopes and their members (the methods of [Scopes]).
type ScopeStore interface {
	Get(name string, now time.Time) (Scope, bool)
	List(now time.Time) []Scope
	Add(name, owner string, now time.Time) error
	AddMember(name, user string) error
	RemoveMember(name, user string) error
	Claim(name, user string, now time.Time) (Scope, error)
	Seed(found map[string][]string, now time.Time) ([]string, error)
	Reload() error
}

var (
	_ UserStore       = (*Users)(nil)
	_ TokenStore      = (*Tokens)(nil)
	_ RevocationStore = (*Revocations)(nil)
	_ ScopeStore      = (*Scopes)(nil)
)

// RevocationSet is an immutable set of revocations by jti: what
// RevocationStore.Snapshot publishes. Compare pointers to notice a change.
type RevocationSet = snapshot[Revocation]

// NewRevocationSet returns a set holding revs (for stores other than the
// file one; later entries with the same jti win).
func NewRevocationSet(revs []Revocation) *RevocationSet {
	rows := make(map[string]Revocation, len(revs))
	for _, r := range revs {
		rows[r.ID] = r
	}
	return &snapshot[Revocation]{rows: rows}
}

// Has reports whether the set holds key (for a RevocationSet: whether the
// token with this jti is revoked).
func (s *snapshot[X]) Has(key string) bool {
	if s == nil {
		return false
	}
	_, ok := s.rows[key]
	return ok
}

// Len is the number of entries.
func (s *snapshot[X]) Len() int {
	if s == nil {
		return 0
	}
	return len(s.rows)
}

// Get returns the entry with this key.
func (s *snapshot[X]) Get(key string) (X, bool) {
	var zero X
	if s == nil {
		return zero, false
	}
	x, ok := s.rows[key]
	return x, ok
}

// All iterates over the entries, in no particular order.
func (s *snapshot[X]) All() iter.Seq2[string, X] {
	return func(yield func(string, X) bool) {
		if s == nil {
			return
		}
		for k, x := range s.rows {
			if !yield(k, x) {
				return
			}
		}
	}
}

// With returns a new set holding s's entries and xs (an entry of xs
// replaces one of s with the same key); s is unchanged.
func (s *snapshot[X]) With(xs []X) *snapshot[X] {
	var m map[string]X
	if s != nil {
		m = maps.Clone(s.rows)
	}
	if m == nil {
		m = make(map[string]X, len(xs))
	}
	for _, x := range xs {
		m[x.key()] = x
	}
	return &snapshot[X]{rows: m}
}

// Snapshot implements RevocationStore.
func (r *Revocations) Snapshot() *RevocationSet { return r.t.snap() }

// Reload reloads the file now if it changed.
func (s *Scopes) Reload() error { return s.t.reload() }

// Replace makes pubs the verification keys, published at once (cached
// tokens signed with a key no longer present are refused on their next
// Verify, ErrUnknownKey). The signing key stays the signer only if its
// public key is among pubs. Nothing is published when the set is
// unchanged. It panics on a key that is not ed25519.PublicKeySize bytes.
func (s *KeySet) Replace(pubs []ed25519.PublicKey) {
	m := make(keyMap, len(pubs))
	for _, pub := range pubs {
		if len(pub) != ed25519.PublicKeySize {
			panic("auth: bad Ed25519 public key length")
		}
		m[KeyID(pub)] = append(ed25519.PublicKey(nil), pub...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.keys.Load(); cur != nil && len(*cur) == len(m) {
		same := true
		for kid, pub := range m {
			if !(*cur)[kid].Equal(pub) {
				same = false
				break
			}
		}
		if same {
			return
		}
	}
	s.keys.Store(&m)
	if sk := s.signer.Load(); sk != nil {
		if _, ok := m[sk.kid]; !ok {
			s.signer.Store(nil)
		}
	}
}
