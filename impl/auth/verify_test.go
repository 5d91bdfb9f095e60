package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Unix(1_700_006_400, 0)

func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// setup returns an issuer and verifier sharing a key set with one signing
// key.
func setup(t testing.TB) (*Issuer, *Verifier, *KeySet) {
	t.Helper()
	keys := &KeySet{}
	keys.SetSigner(testKey(1))
	return &Issuer{Keys: keys}, &Verifier{Keys: keys}, keys
}

func issue(t testing.TB, is *Issuer, user string, role Role, now time.Time) (string, Claims) {
	t.Helper()
	tok, c, err := is.Issue(user, role, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok, c
}

func sign(t testing.TB, is *Issuer, c Claims) string {
	t.Helper()
	tok, err := is.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// baseClaims are valid claims issued at t0 for an hour.
func baseClaims() Claims {
	return Claims{
		Subject: "alice", Role: RolePublish, ID: "jti-1",
		Issuer: DefaultIssuer, Audience: DefaultAudience,
		IssuedAt: t0, NotBefore: t0, ExpiresAt: t0.Add(time.Hour),
	}
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	is, v, _ := setup(t)
	tok, want := issue(t, is, "alice", RolePublish, t0.Add(500*time.Millisecond))
	if want.IssuedAt != t0 || want.ExpiresAt != t0.Add(DefaultTTL) || len(want.ID) < 20 {
		t.Errorf("issued claims look wrong: %+v", want)
	}
	for i, name := range []string{"uncached", "cached"} {
		got, err := v.Verify(tok, t0.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s claims mismatch (-want +got):\n%s", name, d)
		}
	}
	if n := v.CacheLen(); n != 1 {
		t.Errorf("CacheLen = %d, want 1", n)
	}
	_, c2 := issue(t, is, "alice", RolePublish, t0)
	if c2.ID == want.ID {
		t.Errorf("two tokens share jti %q", c2.ID)
	}
}

// verifyBoth verifies tok at at through a cold verifier and through one
// that cached it at warm, and requires the two to agree.
func verifyBoth(t *testing.T, keys *KeySet, tok string, warm, at time.Time) error {
	t.Helper()
	cold := &Verifier{Keys: keys, CacheSize: -1}
	_, errCold := cold.Verify(tok, at)
	hot := &Verifier{Keys: keys}
	if _, err := hot.Verify(tok, warm); err != nil {
		t.Fatalf("warming at %v: %v", warm, err)
	}
	if hot.CacheLen() != 1 {
		t.Fatalf("token not cached")
	}
	_, errHot := hot.Verify(tok, at)
	if Reason(errCold) != Reason(errHot) {
		t.Errorf("at %v: uncached %v but cached %v", at, errCold, errHot)
	}
	return errCold
}

func TestTimeChecksWithLeeway(t *testing.T) {
	is, _, keys := setup(t)
	c := baseClaims()
	tok := sign(t, is, c)
	exp := c.ExpiresAt
	tests := []struct {
		at   time.Time
		want string
	}{
		{exp, "ok"},
		{exp.Add(DefaultLeeway - 1), "ok"},
		{exp.Add(DefaultLeeway), "expired"},
		{exp.Add(24 * time.Hour), "expired"},
	}
	for _, tt := range tests {
		if got := Reason(verifyBoth(t, keys, tok, t0, tt.at)); got != tt.want {
			t.Errorf("at exp%+v: %s, want %s", tt.at.Sub(exp), got, tt.want)
		}
	}

	// Not yet valid: nbf (and iat) a minute ahead.
	c = baseClaims()
	c.IssuedAt, c.NotBefore = t0.Add(time.Minute), t0.Add(time.Minute)
	tok = sign(t, is, c)
	nbf := c.NotBefore
	for _, tt := range []struct {
		at   time.Time
		want string
	}{
		{nbf.Add(-DefaultLeeway - 1), "not_yet_valid"},
		{nbf.Add(-DefaultLeeway), "ok"},
		{nbf, "ok"},
	} {
		cold := &Verifier{Keys: keys}
		_, err := cold.Verify(tok, tt.at)
		if got := Reason(err); got != tt.want {
			t.Errorf("at nbf%+v: %s (%v), want %s", tt.at.Sub(nbf), got, err, tt.want)
		}
	}
	// iat alone in the future is refused the same way.
	c = baseClaims()
	c.IssuedAt, c.NotBefore = t0.Add(time.Hour/2), time.Time{}
	_, err := (&Verifier{Keys: keys}).Verify(sign(t, is, c), t0)
	if got := Reason(err); got != "not_yet_valid" {
		t.Errorf("future iat: %s (%v), want not_yet_valid", got, err)
	}

	// A cached token, seen with the clock stepped back before its nbf.
	c = baseClaims()
	tok = sign(t, is, c)
	if got := Reason(verifyBoth(t, keys, tok, t0, t0.Add(-time.Hour))); got != "not_yet_valid" {
		t.Errorf("clock stepped back: %s, want not_yet_valid", got)
	}

	// No leeway at all when asked.
	strict := &Verifier{Keys: keys, Leeway: -1}
	if _, err := strict.Verify(sign(t, is, baseClaims()), exp); !errors.Is(err, ErrExpired) {
		t.Errorf("Leeway<0 at exp: %v, want ErrExpired", err)
	}
}

// forge signs arbitrary claims with any method and key, with the given kid.
func forge(t *testing.T, m jwt.SigningMethod, key any, kid string, c jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func registered(c Claims) tokenClaims {
	return tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: c.Issuer, Subject: c.Subject, Audience: jwt.ClaimStrings{c.Audience},
			ExpiresAt: numericDate(c.ExpiresAt), IssuedAt: numericDate(c.IssuedAt), ID: c.ID,
		},
		Role: c.Role.String(),
	}
}

func TestRejectsForgedTokens(t *testing.T) {
	is, v, keys := setup(t)
	kid := keys.Signer()
	pub, _ := keys.Key(kid)
	claims := registered(baseClaims())
	good := sign(t, is, baseClaims())
	parts := strings.Split(good, ".")

	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	admin := claims
	admin.Role = "admin"
	tamperedTok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, admin)
	tamperedTok.Header["kid"] = kid
	tampered, _ := tamperedTok.SigningString()
	other := &KeySet{}
	other.SetSigner(testKey(9))
	b64 := base64.RawURLEncoding.EncodeToString

	tests := []struct {
		name, token, want string
	}{
		{"alg none", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, claims), "wrong_alg"},
		// The classic confusion: HMAC keyed with the public key bytes.
		{"HS256 with public key as secret", forge(t, jwt.SigningMethodHS256, []byte(pub), kid, claims), "wrong_alg"},
		{"RS256", forge(t, jwt.SigningMethodRS256, rsaKey, kid, claims), "wrong_alg"},
		{"unknown alg", b64([]byte(`{"alg":"XX256","kid":"`+kid+`"}`)) + "." + parts[1] + "." + parts[2], "wrong_alg"},
		{"no alg", b64([]byte(`{"kid":"`+kid+`"}`)) + "." + parts[1] + "." + parts[2], "wrong_alg"},
		{"payload tampered", tampered + "." + parts[2], "bad_signature"},
		{"signature truncated", parts[0] + "." + parts[1] + "." + parts[2][:20], "bad_signature"},
		{"signed by a key under our kid", forge(t, jwt.SigningMethodEdDSA, testKey(9), kid, claims), "bad_signature"},
		{"unknown kid", sign(t, &Issuer{Keys: other}, baseClaims()), "unknown_kid"},
		{"no kid", forge(t, jwt.SigningMethodEdDSA, testKey(1), "", claims), "unknown_kid"},
		{"two segments", parts[0] + "." + parts[1], "malformed"},
		{"not base64", "!!!." + parts[1] + "." + parts[2], "malformed"},
		{"empty", "", "malformed"},
		{"huge", strings.Repeat("a", maxTokenLen+1), "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(tt.token, t0)
			if got := Reason(err); got != tt.want {
				t.Errorf("Reason = %s (%v), want %s", got, err, tt.want)
			}
		})
	}
	if n := v.CacheLen(); n != 0 {
		t.Errorf("failed verifications were cached: CacheLen = %d", n)
	}
}

func TestClaimsChecks(t *testing.T) {
	is, v, keys := setup(t)
	mod := func(f func(*tokenClaims)) string {
		c := registered(baseClaims())
		f(&c)
		return forge(t, jwt.SigningMethodEdDSA, testKey(1), keys.Signer(), c)
	}
	wrongIss := baseClaims()
	wrongIss.Issuer = "someone-else"
	wrongAud := baseClaims()
	wrongAud.Audience = "another-service"
	expiredElsewhere := wrongIss
	expiredElsewhere.ExpiresAt = t0.Add(-time.Hour)
	tests := []struct {
		name, token, want string
	}{
		{"wrong issuer", sign(t, is, wrongIss), "wrong_issuer"},
		{"wrong audience", sign(t, is, wrongAud), "wrong_audience"},
		{"wrong issuer wins over expired", sign(t, is, expiredElsewhere), "wrong_issuer"},
		{"no exp", mod(func(c *tokenClaims) { c.ExpiresAt = nil }), "bad_claims"},
		{"no iss", mod(func(c *tokenClaims) { c.Issuer = "" }), "bad_claims"},
		{"no aud", mod(func(c *tokenClaims) { c.Audience = nil }), "bad_claims"},
		{"bad role", mod(func(c *tokenClaims) { c.Role = "root" }), "bad_claims"},
		{"bad subject", mod(func(c *tokenClaims) { c.Subject = "Alice" }), "bad_claims"},
		{"no jti", mod(func(c *tokenClaims) { c.ID = "" }), "bad_claims"},
		{"extra audiences are fine", mod(func(c *tokenClaims) { c.Audience = jwt.ClaimStrings{"x", DefaultAudience} }), "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(tt.token, t0)
			if got := Reason(err); got != tt.want {
				t.Errorf("Reason = %s (%v), want %s", got, err, tt.want)
			}
		})
	}
	custom := &Verifier{Keys: keys, Issuer: "someone-else"}
	if _, err := custom.Verify(sign(t, is, wrongIss), t0); err != nil {
		t.Errorf("custom issuer: %v", err)
	}
}

func TestSignRefusesUnverifiableClaims(t *testing.T) {
	is, _, _ := setup(t)
	for name, f := range map[string]func(*Claims){
		"bad subject": func(c *Claims) { c.Subject = "" },
		"bad role":    func(c *Claims) { c.Role = 0 },
		"no jti":      func(c *Claims) { c.ID = "" },
		"no exp":      func(c *Claims) { c.ExpiresAt = time.Time{} },
	} {
		c := baseClaims()
		f(&c)
		if _, err := is.Sign(c); err == nil {
			t.Errorf("%s: Sign succeeded", name)
		}
	}
	if _, err := (&Issuer{Keys: &KeySet{}}).Sign(baseClaims()); !errors.Is(err, ErrNoSigningKey) {
		t.Errorf("no signer: %v, want ErrNoSigningKey", err)
	}
}

func TestKeyRotation(t *testing.T) {
	is, v, keys := setup(t)
	oldKid := keys.Signer()
	oldTok, _ := issue(t, is, "alice", RoleRead, t0)
	if _, err := v.Verify(oldTok, t0); err != nil { // now cached
		t.Fatal(err)
	}

	newKid := keys.SetSigner(testKey(2))
	newTok, _ := issue(t, is, "bob", RoleRead, t0)
	if d := cmp.Diff([]string{oldKid, newKid}, keys.IDs(), cmp.Transformer("sort", func(s []string) []string {
		return slices.Sorted(slices.Values(s))
	})); d != "" {
		t.Errorf("IDs mismatch (-want +got):\n%s", d)
	}
	for _, tok := range []string{oldTok, newTok} {
		if _, err := v.Verify(tok, t0); err != nil {
			t.Errorf("during rotation: %v", err)
		}
	}

	keys.Remove(oldKid)
	if _, err := v.Verify(oldTok, t0); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("cached token of removed key: %v, want ErrUnknownKey", err)
	}
	if _, err := (&Verifier{Keys: keys}).Verify(oldTok, t0); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("uncached token of removed key: %v, want ErrUnknownKey", err)
	}
	if _, err := v.Verify(newTok, t0); err != nil {
		t.Errorf("new key after removal of old: %v", err)
	}

	// Removing the signing key leaves nothing to sign with rather than
	// issuing tokens that cannot be verified.
	keys.Remove(newKid)
	if _, _, err := is.Issue("bob", RoleRead, t0); !errors.Is(err, ErrNoSigningKey) {
		t.Errorf("Issue after removing signer: %v, want ErrNoSigningKey", err)
	}
	// Putting the key back revalidates the entry cached before.
	keys.SetSigner(testKey(2))
	if _, err := v.Verify(newTok, t0); err != nil {
		t.Errorf("key re-added: %v", err)
	}
}

func TestRevocationIsImmediateInProcess(t *testing.T) {
	is, v, _ := setup(t)
	v.Revocations = &Revocations{}
	tok, c := issue(t, is, "alice", RolePublish, t0)
	other, _ := issue(t, is, "alice", RolePublish, t0)
	for _, x := range []string{tok, other} {
		if _, err := v.Verify(x, t0); err != nil { // cached from here
			t.Fatal(err)
		}
	}
	if err := v.Revocations.Revoke(t0, Revocation{ID: c.ID, Expires: c.ExpiresAt}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(tok, t0); !errors.Is(err, ErrRevoked) {
		t.Errorf("cached revoked token: %v, want ErrRevoked", err)
	}
	if n := v.CacheLen(); n != 1 {
		t.Errorf("CacheLen after revocation = %d, want 1 (revoked entry dropped)", n)
	}
	if _, err := v.Verify(tok, t0); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked token, second time: %v, want ErrRevoked", err)
	}
	if _, err := v.Verify(other, t0); err != nil {
		t.Errorf("unrevoked token after a revocation: %v", err)
	}
}

// TestRevocationAcrossProcesses has a second Revocations on the same file
// play the bun13 CLI.
func TestRevocationAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), RevocationsFile)
	server, err := OpenRevocations(path)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := OpenRevocations(path)
	if err != nil {
		t.Fatal(err)
	}
	is, v, _ := setup(t)
	v.Revocations = server
	cached, cc := issue(t, is, "alice", RolePublish, t0)
	fresh, fc := issue(t, is, "bob", RolePublish, t0)
	if _, err := v.Verify(cached, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(cached, t0); err != nil { // a hit: next stat at t0+100ms
		t.Fatal(err)
	}
	err = cli.Revoke(t0, Revocation{ID: cc.ID, Expires: cc.ExpiresAt}, Revocation{ID: fc.ID, Expires: fc.ExpiresAt})
	if err != nil {
		t.Fatal(err)
	}
	// An uncached token is checked against the file at once.
	if _, err := v.Verify(fresh, t0); !errors.Is(err, ErrRevoked) {
		t.Errorf("uncached token revoked by another process: %v, want ErrRevoked", err)
	}
	// A cached one within CheckInterval. (The uncached Verify above
	// already reloaded the file, so check with a verifier of its own.)
	server2, _ := OpenRevocations(path)
	v2 := &Verifier{Keys: v.Keys, Revocations: server2}
	tok3, c3 := issue(t, is, "carol", RolePublish, t0)
	if _, err := v2.Verify(tok3, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Verify(tok3, t0); err != nil { // hit; next stat at t0+100ms
		t.Fatal(err)
	}
	if err := cli.Revoke(t0, Revocation{ID: c3.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Verify(tok3, t0.Add(50*time.Millisecond)); err != nil {
		t.Errorf("cached token revoked elsewhere was rejected before CheckInterval: %v (the stat is not rate-limited)", err)
	}
	if _, err := v2.Verify(tok3, t0.Add(DefaultCheckInterval)); !errors.Is(err, ErrRevoked) {
		t.Errorf("cached token revoked by another process, after CheckInterval: %v, want ErrRevoked", err)
	}
	if !server.IsRevoked(cc.ID) || server.IsRevoked("nope") {
		t.Errorf("IsRevoked wrong")
	}
}

func TestRevocationsPruneAndPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), RevocationsFile)
	r, err := OpenRevocations(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Revoke(t0, Revocation{ID: "a", Expires: t0.Add(time.Hour)}, Revocation{ID: "forever"}); err != nil {
		t.Fatal(err)
	}
	// Two hours after a expired (one past retention) it is dropped.
	later := t0.Add(2*time.Hour + time.Second)
	if err := r.Revoke(later, Revocation{ID: "b"}); err != nil {
		t.Fatal(err)
	}
	r2, err := OpenRevocations(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Revocation{
		{ID: "forever", Revoked: t0},
		{ID: "b", Revoked: later},
	}
	if d := cmp.Diff(want, r2.List()); d != "" {
		t.Errorf("persisted revocations mismatch (-want +got):\n%s", d)
	}
}

func TestCacheIsBounded(t *testing.T) {
	is, _, keys := setup(t)
	v := &Verifier{Keys: keys, CacheSize: 100}
	for i := range 1000 {
		tok, _ := issue(t, is, fmt.Sprint("user", i), RoleRead, t0)
		if _, err := v.Verify(tok, t0); err != nil {
			t.Fatal(err)
		}
		if n := v.CacheLen(); n > 100 {
			t.Fatalf("after %d tokens CacheLen = %d > 100", i+1, n)
		}
	}
	if n := v.CacheLen(); n < 50 {
		t.Errorf("CacheLen = %d: cache evicts far more than it needs to", n)
	}
	// Expired entries go first: a day later, each insert sweeps its
	// shard of them.
	for i := range 200 {
		tok, _ := issue(t, is, fmt.Sprint("late", i), RoleRead, t0.Add(DefaultTTL+time.Hour))
		if _, err := v.Verify(tok, t0.Add(DefaultTTL+time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range v.cache.shards {
		for _, e := range *v.cache.shards[i].m.Load() {
			if e.claims.IssuedAt.Before(t0.Add(DefaultTTL)) {
				t.Fatalf("expired entry %s survived later inserts into its shard", e.claims.Subject)
			}
		}
	}
	if n := (&Verifier{Keys: keys, CacheSize: -1}).CacheLen(); n != 0 {
		t.Errorf("disabled cache has %d entries", n)
	}
}

func TestConcurrentVerify(t *testing.T) {
	is, v, keys := setup(t)
	v.Revocations = &Revocations{}
	v.CacheSize = 8 // force evictions and copy-on-write inserts
	var toks []string
	var claims []Claims
	for i := range 32 {
		tok, c := issue(t, is, fmt.Sprint("u", i), RoleRead, t0)
		toks, claims = append(toks, tok), append(claims, c)
	}
	revoked := claims[0].ID
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 400 {
				k := (i*7 + g) % len(toks)
				c, err := v.Verify(toks[k], t0)
				switch {
				case err == nil && c.ID != claims[k].ID:
					t.Errorf("token %d verified as %+v", k, c)
				case err != nil && !errors.Is(err, ErrRevoked):
					t.Errorf("token %d: %v", k, err)
				case err != nil && claims[k].ID != revoked:
					t.Errorf("token %d wrongly revoked", k)
				}
			}
		})
	}
	wg.Go(func() {
		if err := v.Revocations.Revoke(t0, Revocation{ID: revoked}); err != nil {
			t.Error(err)
		}
		keys.Add(testKey(3).Public().(ed25519.PublicKey))
	})
	wg.Wait()
	if _, err := v.Verify(toks[0], t0); !errors.Is(err, ErrRevoked) {
		t.Errorf("after concurrent revocation: %v", err)
	}
}

func TestReason(t *testing.T) {
	got := map[string]string{}
	for _, r := range reasons {
		got[r.err.Error()] = Reason(fmt.Errorf("wrapped: %w", r.err))
	}
	got["nil"] = Reason(nil)
	got["other"] = Reason(errors.New("disk on fire"))
	want := map[string]string{
		ErrMalformed.Error(): "malformed", ErrWrongAlg.Error(): "wrong_alg",
		ErrUnknownKey.Error(): "unknown_kid", ErrBadSignature.Error(): "bad_signature",
		ErrExpired.Error(): "expired", ErrNotYetValid.Error(): "not_yet_valid",
		ErrWrongIssuer.Error(): "wrong_issuer", ErrWrongAudience.Error(): "wrong_audience",
		ErrBadClaims.Error(): "bad_claims", ErrRevoked.Error(): "revoked",
		"nil": "ok", "other": "other",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Reason mismatch (-want +got):\n%s", d)
	}
	wantLabels := []string{"malformed", "wrong_alg", "unknown_kid", "bad_signature", "expired",
		"not_yet_valid", "wrong_issuer", "wrong_audience", "bad_claims", "revoked", "other"}
	if d := cmp.Diff(wantLabels, Reasons()); d != "" {
		t.Errorf("Reasons mismatch (-want +got):\n%s", d)
	}
}

func TestCachedHitDoesNotAllocate(t *testing.T) {
	is, v, _ := setup(t)
	v.Revocations = &Revocations{}
	tok, _ := issue(t, is, "alice", RoleRead, t0)
	if _, err := v.Verify(tok, t0); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { v.Verify(tok, t0) }); n != 0 {
		t.Errorf("cached Verify allocates %v times", n)
	}
}
