package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Conventional file names inside the registry's data directory.
const (
	UsersFile       = "users.json"
	TokensFile      = "tokens.json"
	RevocationsFile = "revoked.json"
	KeyFile         = "signing.key"
)

// Errors from Users.
var (
	ErrUserExists     = errors.New("auth: user exists")
	ErrNoSuchUser     = errors.New("auth: no such user")
	ErrBadCredentials = errors.New("auth: wrong user name or password")
	ErrBadPassword    = errors.New("auth: unusable password")
)

// HashPassword returns the bcrypt hash of password at cost (zero means
// bcrypt.DefaultCost). bcrypt ignores bytes past 72, so longer passwords
// are refused rather than silently truncated.
func HashPassword(password string, cost int) (string, error) {
	if password == "" {
		return "", fmt.Errorf("%w: empty", ErrBadPassword)
	}
	if len(password) > 72 {
		return "", fmt.Errorf("%w: longer than 72 bytes", ErrBadPassword)
	}
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

// CheckPassword reports whether password matches hash. It takes as long as
// the hash's cost makes it, which is the point: call it once per login,
// never per request.
func CheckPassword(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// User is one account in the users file.
type User struct {
	Name    string    `json:"name"`
	Hash    string    `json:"hash"` // bcrypt
	Role    Role      `json:"role"`
	Created time.Time `json:"created"`
	// PasswordChanged is when the password was last changed; tokens
	// issued before it are refused (see TokenCurrent).
	PasswordChanged time.Time `json:"passwordChanged,omitzero"`
}

// tokensFrom is the earliest iat a token of u may carry: the password
// change rounded up to a whole second (iat has whole seconds).
func (u User) tokensFrom() time.Time {
	t := u.PasswordChanged
	if r := t.Truncate(time.Second); r.Before(t) {
		return r.Add(time.Second)
	}
	return t
}

// TokenCurrent reports whether a token of u issued at iat (whole
// seconds; zero when the token has none) was issued after u's last
// password change.
func (u User) TokenCurrent(iat time.Time) bool {
	if u.PasswordChanged.IsZero() {
		return true
	}
	return !iat.IsZero() && !iat.Before(u.tokensFrom())
}

// IssueTime is the time to issue u a token at now: now, or the first
// whole second after a password change made within the current second,
// so that the new token is current.
func (u User) IssueTime(now time.Time) time.Time {
	if f := u.tokensFrom(); now.Truncate(time.Second).Before(f) {
		return f
	}
	return now
}

func (u User) key() string { return u.Name }

// Users is the users file: a JSON list of users that the bun13 CLI edits
// (under a file lock) while the server runs. Reads use an in-memory copy
// that is refreshed when the file changes, checked at most every
// CheckInterval of the time passed in.
//
// It is safe for concurrent use. Fields must be set before first use.
type Users struct {
	// Cost is the bcrypt cost for new passwords; zero means
	// bcrypt.DefaultCost. Existing hashes keep the cost they were made
	// with.
	Cost int
	// CheckInterval bounds how often lookups stat the file. Zero means
	// DefaultCheckInterval.
	CheckInterval time.Duration

	t         table[User]
	dummyOnce sync.Once
	dummy     string
}

// OpenUsers loads the users file at path (conventionally UsersFile in the
// data directory). A missing file is an empty list; it is created, with
// its directory, on the first change. An empty path keeps users in memory.
func OpenUsers(path string) (*Users, error) {
	u := &Users{t: table[User]{path: path}}
	return u, u.t.reload()
}

// Add creates a user.
func (u *Users) Add(name, password string, role Role, now time.Time) error {
	if err := ValidUserName(name); err != nil {
		return err
	}
	if !role.valid() {
		return fmt.Errorf("auth: invalid role %d", role)
	}
	hash, err := HashPassword(password, u.Cost) // slow: outside the lock
	if err != nil {
		return err
	}
	return u.t.update(func(rows map[string]User) error {
		if _, ok := rows[name]; ok {
			return fmt.Errorf("%w: %s", ErrUserExists, name)
		}
		rows[name] = User{Name: name, Hash: hash, Role: role, Created: now.UTC()}
		return nil
	})
}

// Remove deletes a user. Their tokens stay valid until revoked; see
// Tokens.RevokeUser.
func (u *Users) Remove(name string) error {
	return u.t.update(func(rows map[string]User) error {
		if _, ok := rows[name]; !ok {
			return fmt.Errorf("%w: %s", ErrNoSuchUser, name)
		}
		delete(rows, name)
		return nil
	})
}

// SetPassword replaces a user's password now; see ChangePassword.
func (u *Users) SetPassword(name, password string) error {
	return u.ChangePassword(name, password, time.Now())
}

// ChangePassword replaces a user's password at now. Every token issued
// to the user before now stops being current (User.TokenCurrent).
func (u *Users) ChangePassword(name, password string, now time.Time) error {
	hash, err := HashPassword(password, u.Cost)
	if err != nil {
		return err
	}
	return u.modify(name, func(x *User) {
		x.Hash = hash
		x.PasswordChanged = x.PasswordChangeAt(now)
	})
}

// PasswordChangeAt is the PasswordChanged a change of u's password at now
// records: now, or just past the previous cut when that is later. Tokens
// issued since the last change may carry an iat up to a second ahead
// (IssueTime); the new cut must lie past them.
func (u User) PasswordChangeAt(now time.Time) time.Time {
	pc := now.UTC()
	if !u.PasswordChanged.IsZero() && !pc.After(u.tokensFrom()) {
		pc = u.tokensFrom().Add(time.Nanosecond)
	}
	return pc
}

// SetRole changes a user's role. Tokens already issued keep the role they
// were issued with until they expire or are revoked.
func (u *Users) SetRole(name string, role Role) error {
	if !role.valid() {
		return fmt.Errorf("auth: invalid role %d", role)
	}
	return u.modify(name, func(x *User) { x.Role = role })
}

func (u *Users) modify(name string, fn func(*User)) error {
	return u.t.update(func(rows map[string]User) error {
		x, ok := rows[name]
		if !ok {
			return fmt.Errorf("%w: %s", ErrNoSuchUser, name)
		}
		fn(&x)
		rows[name] = x
		return nil
	})
}

// Get returns the user called name.
func (u *Users) Get(name string, now time.Time) (User, bool) {
	_ = u.t.refresh(now, interval(u.CheckInterval)) // on error keep the last good copy
	x, ok := u.t.snap().rows[name]
	return x, ok
}

// List returns all users sorted by name.
func (u *Users) List(now time.Time) []User {
	_ = u.t.refresh(now, interval(u.CheckInterval))
	out := values(u.t.snap().rows)
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Authenticate checks a login. An unknown user and a wrong password give
// the same error after the same bcrypt work, so responses do not reveal
// which names exist. The file is re-checked on every call: a login is rare
// and a password just changed with the CLI must work at once.
func (u *Users) Authenticate(name, password string, now time.Time) (User, error) {
	if err := u.t.reload(); err != nil {
		return User{}, err
	}
	x, ok := u.t.snap().rows[name]
	if !ok {
		CheckPassword(u.dummyHash(), password)
		return User{}, ErrBadCredentials
	}
	if !CheckPassword(x.Hash, password) {
		return User{}, ErrBadCredentials
	}
	return x, nil
}

// dummyHash is compared against for unknown users, at this store's cost.
func (u *Users) dummyHash() string {
	u.dummyOnce.Do(func() {
		u.dummy, _ = HashPassword("not a password", u.Cost)
	})
	return u.dummy
}

// Reload reloads the file now if it changed.
func (u *Users) Reload() error { return u.t.reload() }
