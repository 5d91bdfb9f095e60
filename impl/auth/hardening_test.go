package auth

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestMaxLifetime(t *testing.T) {
	is, v, _ := setup(t)
	c := baseClaims()
	c.ExpiresAt = c.IssuedAt.Add(DefaultMaxLifetime + time.Hour)
	if _, err := is.Sign(c); err == nil {
		t.Error("signed a token over the maximum lifetime")
	}
	long := &Issuer{Keys: is.Keys, MaxLifetime: 10 * DefaultMaxLifetime}
	tok := sign(t, long, c)
	if _, err := v.Verify(tok, t0.Add(time.Minute)); !errors.Is(err, ErrBadClaims) {
		t.Errorf("over-long token: %v, want ErrBadClaims", err)
	}
	// Backdated iat: exp - now counts too.
	c.IssuedAt = t0.Add(-80 * 24 * time.Hour)
	c.NotBefore = c.IssuedAt
	c.ExpiresAt = t0.Add(DefaultMaxLifetime)
	if _, err := v.Verify(sign(t, long, c), t0.Add(-time.Hour)); !errors.Is(err, ErrBadClaims) {
		t.Errorf("backdated long token: %v, want ErrBadClaims", err)
	}
	// A configured longer maximum accepts it.
	v2 := &Verifier{Keys: is.Keys, MaxLifetime: 10 * DefaultMaxLifetime}
	if _, err := v2.Verify(tok, t0.Add(time.Minute)); err != nil {
		t.Errorf("with MaxLifetime set: %v", err)
	}
}

func TestNumericDates(t *testing.T) {
	_, v, keys := setup(t)
	signMap := func(claims jwt.MapClaims) string {
		j := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
		j.Header["kid"] = keys.Signer()
		s, err := j.SignedString(testKey(1))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := func(jti string) jwt.MapClaims {
		return jwt.MapClaims{
			"iss": DefaultIssuer, "aud": []string{DefaultAudience}, "sub": "alice", "role": "publish",
			"jti": jti, "iat": t0.Unix(), "nbf": t0.Unix(), "exp": t0.Add(time.Hour).Unix(),
		}
	}
	if _, err := v.Verify(signMap(base("numbers")), t0.Add(time.Minute)); err != nil {
		t.Fatalf("numeric dates: %v", err)
	}
	for _, field := range []string{"exp", "iat", "nbf"} {
		c := base("str-" + field)
		c[field] = strconv.FormatInt(c[field].(int64), 10) // the same digits, as a string
		if _, err := v.Verify(signMap(c), t0.Add(time.Minute)); !errors.Is(err, ErrBadClaims) {
			t.Errorf("%s as a JSON string: %v, want ErrBadClaims", field, err)
		}
	}
}

func TestPasswordChangeCut(t *testing.T) {
	u, err := OpenUsers("")
	if err != nil {
		t.Fatal(err)
	}
	u.Cost = 4
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := u.Add("alice", "pw-1", RolePublish, created); err != nil {
		t.Fatal(err)
	}
	x, _ := u.Get("alice", created)
	if !x.TokenCurrent(created) || !x.TokenCurrent(time.Time{}) {
		t.Error("no change yet: every token is current")
	}
	change := created.Add(10*time.Second + 300*time.Millisecond)
	if err := u.ChangePassword("alice", "pw-2", change); err != nil {
		t.Fatal(err)
	}
	x, _ = u.Get("alice", change)
	before := change.Add(-100 * time.Millisecond).Truncate(time.Second) // iat of a token issued just before
	if x.TokenCurrent(before) || x.TokenCurrent(time.Time{}) {
		t.Error("a token issued before the change is current")
	}
	// A login in the same second is dated the next second and is current.
	iat := x.IssueTime(change.Add(100 * time.Millisecond)).Truncate(time.Second)
	if !x.TokenCurrent(iat) || !iat.After(change) {
		t.Errorf("token issued after the change at %v: current %v", iat, x.TokenCurrent(iat))
	}
	// A second change within that second still cuts that token off.
	if err := u.ChangePassword("alice", "pw-3", change.Add(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	x, _ = u.Get("alice", change)
	if x.TokenCurrent(iat) {
		t.Error("token from between two changes in one second is still current")
	}
	if _, err := u.Authenticate("alice", "pw-3", change); err != nil {
		t.Error(err)
	}
}
