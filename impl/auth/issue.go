package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults for zero-valued Issuer and Verifier fields. Issuer and Verifier
// share them, so a zero Issuer's tokens pass a zero Verifier's checks.
const (
	DefaultIssuer   = "bun13"
	DefaultAudience = "bun13-registry"
	// DefaultTTL is long because npm clients keep a token in .npmrc and
	// CI keeps it in a secret; revocation, not expiry, is how a leaked
	// token is stopped. Expiry bounds how long a revocation entry is kept.
	DefaultTTL = 90 * 24 * time.Hour
	// DefaultMaxLifetime is the longest exp - iat a Verifier accepts and
	// an Issuer signs, unless their MaxLifetime says otherwise.
	DefaultMaxLifetime = DefaultTTL
)

// Claims is what a token says. All times are whole seconds (JWT
// NumericDate).
type Claims struct {
	Subject   string // user name
	Role      Role
	ID        string // jti: unique per token, the handle for revocation
	Issuer    string
	Audience  string
	IssuedAt  time.Time
	NotBefore time.Time // zero: no nbf claim
	ExpiresAt time.Time
}

// tokenClaims is the JSON form of Claims.
type tokenClaims struct {
	jwt.RegisteredClaims
	Role string `json:"role"`
}

func numericDate(t time.Time) *jwt.NumericDate {
	if t.IsZero() {
		return nil
	}
	return jwt.NewNumericDate(t)
}

func dateTime(d *jwt.NumericDate) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time
}

// Issuer signs tokens with its KeySet's signing key. The zero value of
// each field but Keys means its default. Fields must not change while in
// use.
type Issuer struct {
	Keys     *KeySet
	Issuer   string        // iss; empty means DefaultIssuer
	Audience string        // aud; empty means DefaultAudience
	TTL      time.Duration // lifetime of issued tokens; zero means DefaultTTL
	// MaxLifetime bounds exp - iat of what Sign signs; zero means
	// DefaultMaxLifetime.
	MaxLifetime time.Duration
}

func maxLifetime(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return DefaultMaxLifetime
}

func (i *Issuer) issuer() string   { return or(i.Issuer, DefaultIssuer) }
func (i *Issuer) audience() string { return or(i.Audience, DefaultAudience) }
func (i *Issuer) ttl() time.Duration {
	if i.TTL > 0 {
		return i.TTL
	}
	return DefaultTTL
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// Issue creates a token for user with role, valid from now for TTL, with a
// fresh random jti. It returns the compact token and its claims (which the
// registry records in its Tokens store).
func (i *Issuer) Issue(user string, role Role, now time.Time) (string, Claims, error) {
	now = now.Truncate(time.Second)
	c := Claims{
		Subject:   user,
		Role:      role,
		ID:        rand.Text(), // 128 random bits
		Issuer:    i.issuer(),
		Audience:  i.audience(),
		IssuedAt:  now,
		NotBefore: now,
		ExpiresAt: now.Add(i.ttl()),
	}
	tok, err := i.Sign(c)
	if err != nil {
		return "", Claims{}, err
	}
	return tok, c, nil
}

// Sign signs c exactly as given (Issue fills in the usual values). It
// refuses claims that Verifier would reject whatever the time: an invalid
// user name or role, or a missing jti or expiry.
func (i *Issuer) Sign(c Claims) (string, error) {
	if err := ValidUserName(c.Subject); err != nil {
		return "", err
	}
	if !c.Role.valid() {
		return "", fmt.Errorf("auth: sign: invalid role %d", c.Role)
	}
	if c.ID == "" || c.ExpiresAt.IsZero() {
		return "", errors.New("auth: sign: jti and exp are required")
	}
	if c.IssuedAt.IsZero() {
		return "", errors.New("auth: sign: iat is required")
	}
	if m := maxLifetime(i.MaxLifetime); c.ExpiresAt.Sub(c.IssuedAt) > m {
		return "", fmt.Errorf("auth: sign: lifetime %v is over the maximum %v", c.ExpiresAt.Sub(c.IssuedAt), m)
	}
	var sk *signingKey
	if i.Keys != nil {
		sk = i.Keys.signer.Load()
	}
	if sk == nil {
		return "", ErrNoSigningKey
	}
	tc := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    c.Issuer,
			Subject:   c.Subject,
			ExpiresAt: numericDate(c.ExpiresAt),
			NotBefore: numericDate(c.NotBefore),
			IssuedAt:  numericDate(c.IssuedAt),
			ID:        c.ID,
		},
		Role: c.Role.String(),
	}
	if c.Audience != "" {
		tc.Audience = jwt.ClaimStrings{c.Audience}
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, tc)
	t.Header["kid"] = sk.kid
	return t.SignedString(sk.priv)
}
