package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Verification errors. Verify's errors wrap exactly one of them; Reason
// maps them to metric labels.
var (
	ErrMalformed     = errors.New("auth: malformed token")
	ErrWrongAlg      = errors.New("auth: signing algorithm not allowed")
	ErrUnknownKey    = errors.New("auth: unknown signing key")
	ErrBadSignature  = errors.New("auth: bad signature")
	ErrExpired       = errors.New("auth: token expired")
	ErrNotYetValid   = errors.New("auth: token not valid yet")
	ErrWrongIssuer   = errors.New("auth: wrong issuer")
	ErrWrongAudience = errors.New("auth: wrong audience")
	ErrBadClaims     = errors.New("auth: bad claims")
	ErrRevoked       = errors.New("auth: token revoked")
)

var reasons = [...]struct {
	err   error
	label string
}{
	{ErrMalformed, "malformed"},
	{ErrWrongAlg, "wrong_alg"},
	{ErrUnknownKey, "unknown_kid"},
	{ErrBadSignature, "bad_signature"},
	{ErrExpired, "expired"},
	{ErrNotYetValid, "not_yet_valid"},
	{ErrWrongIssuer, "wrong_issuer"},
	{ErrWrongAudience, "wrong_audience"},
	{ErrBadClaims, "bad_claims"},
	{ErrRevoked, "revoked"},
}

// Reason returns a short fixed label for a Verify error, for a metric such
// as auth_failures_total{reason=...}: "ok" for nil, one of Reasons for
// Verify's errors, and "other" for anything else.
func Reason(err error) string {
	if err == nil {
		return "ok"
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.label
		}
	}
	return "other"
}

// Reasons returns every label Reason can return for a non-nil error, so a
// metric can be initialised with all of them at zero.
func Reasons() []string {
	out := make([]string, 0, len(reasons)+1)
	for _, r := range reasons {
		out = append(out, r.label)
	}
	return append(out, "other")
}

// Defaults for zero-valued Verifier fields.
const (
	DefaultLeeway    = 30 * time.Second
	DefaultCacheSize = 10_000
)

// maxTokenLen bounds the work an attacker can make one request cost; real
// tokens are about 300 bytes.
const maxTokenLen = 8 << 10

// Verifier checks tokens: EdDSA only, a kid present in Keys, issuer,
// audience, exp (required), nbf and iat with Leeway, and not revoked.
// Tokens that pass are cached, so a token seen again costs a map lookup
// instead of an Ed25519 verification; expiry, key removal and revocation
// are still checked on every cached hit.
//
// The zero value of each field but Keys means its default. Fields must be
// set before the first Verify and not changed afterwards. A Verifier is
// safe for concurrent use.
type Verifier struct {
	Keys     *KeySet
	Issuer   string // expected iss; empty means DefaultIssuer
	Audience string // expected in aud; empty means DefaultAudience
	// Leeway absorbs clock skew in exp, nbf and iat. Zero means
	// DefaultLeeway; negative means none.
	Leeway time.Duration
	// Revocations, if set, is consulted on every Verify: Reload after
	// the signature of an uncached token checks out, Refresh and
	// Snapshot on a cached hit (see RevocationStore). With the file
	// store (*Revocations) the file is statted on every uncached
	// verification and at most every CheckInterval on cached hits, so a
	// revocation written by another process takes effect within that
	// interval; package auth/pgauth follows the database's NOTIFY feed.
	Revocations RevocationStore
	// MaxLifetime bounds a token's exp - iat, and exp - now: a token
	// living longer is refused (ErrBadClaims). Zero means
	// DefaultMaxLifetime.
	MaxLifetime time.Duration
	// CacheSize bounds the verified-token cache. Zero means
	// DefaultCacheSize; negative disables the cache.
	CacheSize int

	once  sync.Once
	cache *cache // nil when disabled
}

func (v *Verifier) init() {
	n := v.CacheSize
	if n == 0 {
		n = DefaultCacheSize
	}
	if n > 0 {
		v.cache = newCache(n)
	}
}

func (v *Verifier) leeway() time.Duration {
	switch {
	case v.Leeway > 0:
		return v.Leeway
	case v.Leeway < 0:
		return 0
	}
	return DefaultLeeway
}

// CacheLen reports how many verified tokens are cached, for metrics.
func (v *Verifier) CacheLen() int {
	v.once.Do(v.init)
	if v.cache == nil {
		return 0
	}
	return v.cache.len()
}

// Verify checks token at time now and returns its claims. Errors wrap one
// of the Err variables above; see Reason.
func (v *Verifier) Verify(token string, now time.Time) (Claims, error) {
	v.once.Do(v.init)
	if len(token) > maxTokenLen {
		return Claims{}, fmt.Errorf("%w: %d bytes", ErrMalformed, len(token))
	}
	if v.cache != nil {
		if e := v.cache.get(token); e != nil {
			return v.checkCached(e, token, now)
		}
	}
	return v.verify(token, now)
}

// checkCached re-checks what may have changed since e was verified:
// time, the key set and the revocation list. Each comparison against the
// published snapshot is a pointer compare; only after a change is the key
// or jti looked up again.
func (v *Verifier) checkCached(e *entry, token string, now time.Time) (Claims, error) {
	t := now.UnixNano()
	if t >= e.expires {
		v.cache.drop(token, e)
		return Claims{}, ErrExpired
	}
	if t < e.notBefore {
		return Claims{}, ErrNotYetValid // only if the clock went back
	}
	if keys := v.Keys.load(); keys != e.keys.Load() {
		if keys == nil || !(*keys)[e.kid].Equal(e.pub) {
			v.cache.drop(token, e)
			return Claims{}, ErrUnknownKey
		}
		e.keys.Store(keys)
	}
	if r := v.Revocations; r != nil {
		_ = r.Refresh(now) // on error the last good list stays in force
		if revs := r.Snapshot(); revs != e.revs.Load() {
			if revs.Has(e.claims.ID) {
				v.cache.drop(token, e)
				return Claims{}, ErrRevoked
			}
			e.revs.Store(revs)
		}
	}
	return e.claims, nil
}

// verify does the full check and caches a success.
func (v *Verifier) verify(token string, now time.Time) (Claims, error) {
	leeway := v.leeway()
	keys := v.Keys.load()
	var (
		kid string
		pub ed25519.PublicKey
	)
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(or(v.Issuer, DefaultIssuer)),
		jwt.WithAudience(or(v.Audience, DefaultAudience)),
		jwt.WithLeeway(leeway),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	var tc tokenClaims
	tok, err := p.ParseWithClaims(token, &tc, func(t *jwt.Token) (any, error) {
		kid, _ = t.Header["kid"].(string)
		if keys != nil {
			pub = (*keys)[kid]
		}
		if pub == nil {
			return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
		}
		return pub, nil // typed, so no other method could use it
	})
	if err != nil {
		return Claims{}, classify(tok, err)
	}
	c, err := tc.claims(or(v.Audience, DefaultAudience))
	if err != nil {
		return Claims{}, err
	}
	if err := numericDates(token); err != nil {
		return Claims{}, err
	}
	if m := maxLifetime(v.MaxLifetime) + leeway; c.ExpiresAt.Sub(now) > m || !c.IssuedAt.IsZero() && c.ExpiresAt.Sub(c.IssuedAt) > m {
		return Claims{}, fmt.Errorf("%w: lifetime over the maximum %v", ErrBadClaims, maxLifetime(v.MaxLifetime))
	}
	// Statted only now, so that garbage tokens cannot make us stat.
	var revs *RevocationSet
	if r := v.Revocations; r != nil {
		_ = r.Reload() // on error the last good list stays in force
		revs = r.Snapshot()
		if revs.Has(c.ID) {
			return Claims{}, ErrRevoked
		}
	}
	if v.cache != nil {
		nb := c.IssuedAt
		if c.NotBefore.After(nb) {
			nb = c.NotBefore
		}
		e := &entry{
			claims: c,
			// The same comparisons jwt's validator makes, with leeway.
			notBefore: nb.Add(-leeway).UnixNano(),
			expires:   c.ExpiresAt.Add(leeway).UnixNano(),
			kid:       kid,
			pub:       pub,
		}
		e.keys.Store(keys)
		e.revs.Store(revs)
		v.cache.put(token, e, now.UnixNano())
	}
	return c, nil
}

// claims converts and checks what jwt does not know about.
func (tc *tokenClaims) claims(aud string) (Claims, error) {
	role, err := ParseRole(tc.Role)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrBadClaims, err)
	}
	if err := ValidUserName(tc.Subject); err != nil {
		return Claims{}, fmt.Errorf("%w: sub: %v", ErrBadClaims, err)
	}
	if tc.ID == "" {
		return Claims{}, fmt.Errorf("%w: no jti", ErrBadClaims)
	}
	return Claims{
		Subject:   tc.Subject,
		Role:      role,
		ID:        tc.ID,
		Issuer:    tc.Issuer,
		Audience:  aud, // jwt checked it is among tc.Audience
		IssuedAt:  dateTime(tc.IssuedAt),
		NotBefore: dateTime(tc.NotBefore),
		ExpiresAt: dateTime(tc.ExpiresAt),
	}, nil
}

// classify maps jwt's errors onto ours. jwt reports a disallowed alg as a
// signature error, so the alg is looked at to tell them apart. Claims
// errors can come several at once; the first match below wins, so a token
// for another service is reported as that before being reported expired.
func classify(tok *jwt.Token, err error) error {
	var kind error
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		kind = ErrMalformed
	case errors.Is(err, ErrUnknownKey):
		kind = ErrUnknownKey
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		kind = ErrWrongAlg // alg missing or not a known algorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		kind = ErrBadSignature
		if tok == nil || tok.Method == nil || tok.Method.Alg() != jwt.SigningMethodEdDSA.Alg() {
			kind = ErrWrongAlg
		}
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		kind = ErrWrongIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		kind = ErrWrongAudience
	case errors.Is(err, jwt.ErrTokenExpired):
		kind = ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		kind = ErrNotYetValid
	default:
		kind = ErrBadClaims // missing exp/iss/aud, claims of the wrong type
	}
	return fmt.Errorf("%w: %v", kind, err)
}

// numericDates refuses a token whose exp, iat or nbf is not a JSON number
// (jwt's NumericDate also accepts a string holding digits).
func numericDates(token string) error {
	_, rest, _ := strings.Cut(token, ".")
	payload, _, _ := strings.Cut(rest, ".")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	var dates struct {
		Exp json.RawMessage `json:"exp"`
		Iat json.RawMessage `json:"iat"`
		Nbf json.RawMessage `json:"nbf"`
	}
	if err := json.Unmarshal(b, &dates); err != nil {
		return fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	for _, d := range []struct {
		name string
		raw  json.RawMessage
	}{{"exp", dates.Exp}, {"iat", dates.Iat}, {"nbf", dates.Nbf}} {
		if len(d.raw) == 0 {
			continue
		}
		if c := d.raw[0]; c != '-' && (c < '0' || c > '9') {
			return fmt.Errorf("%w: %s must be a JSON number, got %s", ErrBadClaims, d.name, d.raw)
		}
	}
	return nil
}
