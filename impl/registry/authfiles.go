package registry

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/auth/pgauth"
)

// AuthPaths name the auth files; zero fields get the auth package's
// conventional names inside Dir.
type AuthPaths struct {
	Dir         string
	KeyFile     string
	UsersFile   string
	TokensFile  string
	RevokedFile string
	ScopesFile  string
}

func (p AuthPaths) path(f, def string) string {
	if f != "" {
		return f
	}
	return filepath.Join(p.Dir, def)
}

// Auth is the production Authenticator: the auth package's EdDSA issuer
// and verifier over users, token records, revocations and scopes. OpenAuth
// keeps them in the data directory's files (which the bun13 CLI may change
// while the server runs), OpenAuthDB in PostgreSQL, shared by every
// replica.
type Auth struct {
	Keys     *auth.KeySet
	Issuer   *auth.Issuer
	Verifier *auth.Verifier
	Users    auth.UserStore
	Records  auth.TokenStore
	Revoked  auth.RevocationStore
	// Scopes are the scope owners and members (DATA/scopes.json).
	Scopes auth.ScopeStore
	// KeyCreated is set when OpenAuth generated the signing key.
	KeyCreated bool
	// DB is the database of OpenAuthDB, nil for the files.
	DB *pgauth.Store
}

// Close releases what OpenAuthDB opened (nothing for the files).
func (a *Auth) Close() error {
	if a.DB != nil {
		return a.DB.Close()
	}
	return nil
}

// OpenAuth loads (or, for the key, creates) the auth files. ttl is the
// lifetime of tokens issued at login; zero means auth.DefaultTTL.
func OpenAuth(p AuthPaths, ttl time.Duration) (*Auth, error) {
	if p.Dir != "" {
		if err := os.MkdirAll(p.Dir, 0o700); err != nil {
			return nil, err
		}
	}
	a := &Auth{Keys: &auth.KeySet{}}
	created, err := loadSigner(a.Keys, p.path(p.KeyFile, auth.KeyFile))
	if err != nil {
		return nil, err
	}
	a.KeyCreated = created
	users, err := auth.OpenUsers(p.path(p.UsersFile, auth.UsersFile))
	if err != nil {
		return nil, err
	}
	a.Users = users
	if a.Records, err = auth.OpenTokens(p.path(p.TokensFile, auth.TokensFile)); err != nil {
		return nil, err
	}
	if a.Revoked, err = auth.OpenRevocations(p.path(p.RevokedFile, auth.RevocationsFile)); err != nil {
		return nil, err
	}
	if a.Scopes, err = auth.OpenScopes(p.path(p.ScopesFile, auth.ScopesFile)); err != nil {
		return nil, err
	}
	a.finish(ttl)
	return a, nil
}

// loadSigner loads the signing key at path into keys, generating it when
// missing, and reports whether it did.
func loadSigner(keys *auth.KeySet, path string) (created bool, err error) {
	priv, err := auth.LoadKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		priv, err = auth.GenerateKeyFile(path)
		if errors.Is(err, fs.ErrExist) { // another process made it first
			priv, err = auth.LoadKeyFile(path)
		} else if err == nil {
			created = true
		}
	}
	if err != nil {
		return false, fmt.Errorf("signing key %s: %w", path, err)
	}
	keys.SetSigner(priv)
	return created, nil
}

// finish makes the issuer and verifier once the stores are set.
func (a *Auth) finish(ttl time.Duration) {
	// Tokens may live as long as the login lifetime, at least the
	// default 90 days (auth.DefaultMaxLifetime); a longer exp is refused.
	maxLife := max(ttl, auth.DefaultMaxLifetime)
	a.Issuer = &auth.Issuer{Keys: a.Keys, TTL: ttl, MaxLifetime: maxLife}
	a.Verifier = &auth.Verifier{Keys: a.Keys, Revocations: a.Revoked, MaxLifetime: maxLife}
}

// PublicKey returns the current verification key, for tests and tools.
func (a *Auth) PublicKey() ed25519.PublicKey {
	k, _ := a.Keys.Key(a.Keys.Signer())
	return k
}

// errUserGone: the token's user was removed from the users file.
var errUserGone = errors.New("token user no longer exists")

// errPasswordChanged: the token was issued before its user's last
// password change.
var errPasswordChanged = errors.New("token issued before the last password change")

// Verify implements Authenticator. Beyond the signature and claims, the
// token's user must still exist, and the token's role is capped by the
// user's current role, so removing or demoting a user with `bun13 user`
// takes effect on the running server at once.
func (a *Auth) Verify(token string, now time.Time) (Identity, error) {
	c, err := a.Verifier.Verify(token, now)
	if err != nil {
		return Identity{}, err
	}
	u, ok := a.Users.Get(c.Subject, now)
	if !ok {
		return Identity{}, errUserGone
	}
	if !u.TokenCurrent(c.IssuedAt) {
		return Identity{}, errPasswordChanged
	}
	role := c.Role
	if u.Role < role {
		role = u.Role
	}
	return Identity{User: c.Subject, Role: role.String(), TokenID: c.ID}, nil
}

// Reason implements Authenticator.
func (a *Auth) Reason(err error) string {
	switch {
	case errors.Is(err, errUserGone):
		return "unknown_user"
	case errors.Is(err, errPasswordChanged):
		return "password_changed"
	case errors.Is(err, auth.ErrBadCredentials), errors.Is(err, ErrBadCredentials):
		return "bad_credentials"
	}
	return auth.Reason(err)
}

func (a *Auth) issue(u auth.User, role auth.Role, now time.Time) (string, auth.TokenRecord, error) {
	tok, claims, err := a.Issuer.Issue(u.Name, role, u.IssueTime(now))
	if err != nil {
		return "", auth.TokenRecord{}, err
	}
	rec, err := a.Records.Add(tok, claims, now)
	if err != nil {
		return "", auth.TokenRecord{}, err
	}
	return tok, rec, nil
}

// Login implements Authenticator.
func (a *Auth) Login(user, password string, now time.Time) (string, Identity, error) {
	u, err := a.Users.Authenticate(user, password, now)
	if err != nil {
		if errors.Is(err, auth.ErrBadCredentials) {
			return "", Identity{}, fmt.Errorf("%w: %w", ErrBadCredentials, err)
		}
		return "", Identity{}, err
	}
	tok, rec, err := a.issue(u, u.Role, now)
	if err != nil {
		return "", Identity{}, err
	}
	return tok, Identity{User: u.Name, Role: u.Role.String(), TokenID: rec.ID}, nil
}

// Register implements Authenticator: a publish-role user.
func (a *Auth) Register(user, password, email string, now time.Time) (string, Identity, error) {
	if err := a.Users.Add(user, password, auth.RolePublish, now); err != nil {
		if errors.Is(err, auth.ErrUserExists) {
			return "", Identity{}, ErrUserExists
		}
		return "", Identity{}, err
	}
	return a.Login(user, password, now)
}

// UserEmail implements Authenticator. The users table keeps no e-mail.
func (a *Auth) UserEmail(user string) (string, bool) {
	_, ok := a.Users.Get(user, time.Now())
	return "", ok
}

func record(r auth.TokenRecord) TokenRecord {
	return TokenRecord{
		Key:      r.Key,
		Token:    r.Key[:min(8, len(r.Key))],
		ReadOnly: r.Readonly,
		CIDR:     r.CIDRWhitelist,
		Created:  r.Created,
		Updated:  r.Created,
		Expires:  r.Expires,
	}
}

// Tokens implements Authenticator.
func (a *Auth) Tokens(user string) ([]TokenRecord, error) {
	recs := a.Records.List(user, time.Now())
	out := make([]TokenRecord, 0, len(recs))
	for _, r := range recs {
		out = append(out, record(r))
	}
	return out, nil
}

// CreateToken implements Authenticator: the password is checked again, as
// npm's token API demands, and the token gets the user's role (read when
// readonly).
func (a *Auth) CreateToken(user, password string, readonly bool, cidrs []string, now time.Time) (string, TokenRecord, error) {
	if len(cidrs) > 0 {
		return "", TokenRecord{}, errors.New("CIDR-restricted tokens are not supported")
	}
	u, err := a.Users.Authenticate(user, password, now)
	if err != nil {
		if errors.Is(err, auth.ErrBadCredentials) {
			return "", TokenRecord{}, fmt.Errorf("%w: %w", ErrBadCredentials, err)
		}
		return "", TokenRecord{}, err
	}
	role := u.Role
	if readonly {
		role = auth.RoleRead
	}
	tok, rec, err := a.issue(u, role, now)
	if err != nil {
		return "", TokenRecord{}, err
	}
	return tok, record(rec), nil
}

// RevokeToken implements Authenticator. Users revoke their own tokens;
// admins anyone's. Someone else's key is reported as unknown.
func (a *Auth) RevokeToken(id Identity, key string) error {
	now := time.Now()
	rec, ok := a.Records.Get(key, now)
	if !ok || (rec.User != id.User && id.Role != RoleAdmin) {
		return ErrNoToken
	}
	_, err := a.Records.Revoke(key, a.Revoked, now)
	if errors.Is(err, auth.ErrNoSuchToken) {
		return ErrNoToken
	}
	return err
}

// Logout implements Authenticator: the token is revoked (and its record
// dropped). An already invalid token needs nothing.
func (a *Auth) Logout(token string, now time.Time) error {
	c, err := a.Verifier.Verify(token, now)
	if err != nil {
		return nil
	}
	if _, err := a.Records.Revoke(auth.TokenKey(token), a.Revoked, now); err == nil {
		return nil
	} else if !errors.Is(err, auth.ErrNoSuchToken) {
		return err
	}
	return a.Revoked.Revoke(now, auth.Revocation{ID: c.ID, Expires: c.ExpiresAt, Revoked: now})
}

// ChangePassword implements PasswordChanger: old is checked, then the
// password is replaced and every token issued before is refused.
func (a *Auth) ChangePassword(user, old, new string, now time.Time) error {
	if _, err := a.Users.Authenticate(user, old, now); err != nil {
		if errors.Is(err, auth.ErrBadCredentials) {
			return fmt.Errorf("%w: %w", ErrBadCredentials, err)
		}
		return err
	}
	if err := a.Users.ChangePassword(user, new, now); err != nil {
		return err
	}
	// The iat cut-off already refuses them; revoking the records too
	// keeps the token list (npm token list) truthful.
	_, err := a.Records.RevokeUser(user, a.Revoked, now)
	return err
}
