package registry

import (
	"context"
	"errors"
	"time"
)

// Roles, weakest first. A token's role bounds what it may do; writing to
// an existing package also needs its maintainers' list (or admin).
const (
	RoleRead    = "read"
	RolePublish = "publish"
	RoleAdmin   = "admin"
)

// roleRank orders roles; an unknown role ranks below read.
func roleRank(r string) int {
	switch r {
	case RoleRead:
		return 1
	case RolePublish:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Identity is who a verified token speaks for. The zero Identity is an
// anonymous client.
type Identity struct {
	User    string
	Role    string
	Email   string
	TokenID string // the JWT's jti
}

// Anonymous reports whether no token was presented.
func (id Identity) Anonymous() bool { return id.User == "" }

type identityKey struct{}

// IdentityFrom returns the identity the registry verified for a request it
// passed to a mounted handler (Server.Mux, Server.Fallback).
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// TokenRecord is one token as npm's token API lists it.
type TokenRecord struct {
	Key      string    `json:"key"`   // full key, used to revoke
	Token    string    `json:"token"` // a short, non-secret prefix for display
	Name     string    `json:"name,omitempty"`
	ReadOnly bool      `json:"readonly"`
	CIDR     []string  `json:"cidr_whitelist"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Expires  time.Time `json:"expires,omitzero"`
}

// Errors an Authenticator returns; the registry maps them to statuses.
var (
	// ErrBadCredentials: wrong user name or password (401).
	ErrBadCredentials = errors.New("bad user name or password")
	// ErrUserExists: registration of a taken name (409).
	ErrUserExists = errors.New("user already exists")
	// ErrNoToken: revoking a token the user does not have (404).
	ErrNoToken = errors.New("no such token")
)

// Authenticator is what the registry needs of its auth backend (the
// auth package in production; tests may fake it). Passwords are checked
// only in Login, Register and CreateToken: requests carry tokens, and a
// token costs a signature check at most (implementations cache verified
// tokens).
type Authenticator interface {
	// Verify checks a bearer token at now and returns its identity. The
	// error's Reason names the failure for metrics.
	Verify(token string, now time.Time) (Identity, error)
	// Reason is a short fixed word for a Verify or Login error, for
	// metric labels ("expired", "bad-signature", ...).
	Reason(err error) string
	// Login checks user's password and issues a token for the user's
	// role.
	Login(user, password string, now time.Time) (string, Identity, error)
	// Register creates a publish-role user (open registration) and logs
	// it in.
	Register(user, password, email string, now time.Time) (string, Identity, error)
	// UserEmail returns a user's e-mail and whether the user exists.
	UserEmail(user string) (string, bool)
	// Tokens lists user's token records.
	Tokens(user string) ([]TokenRecord, error)
	// CreateToken checks user's password again (as npm's API demands)
	// and issues a new token.
	CreateToken(user, password string, readonly bool, cidrs []string, now time.Time) (string, TokenRecord, error)
	// RevokeToken revokes one of user's tokens by key (admins: anyone's).
	RevokeToken(id Identity, key string) error
	// Logout revokes token (npm logout sends the token itself).
	Logout(token string, now time.Time) error
}

// PasswordChanger is an Authenticator that lets users change their own
// password (npm profile set password: POST /-/npm/v1/user). Tokens issued
// before the change stop working.
type PasswordChanger interface {
	ChangePassword(user, old, new string, now time.Time) error
}
