package registry

import (
	"bytes"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/config"
)

func TestPasswordChangeRevokesTokens(t *testing.T) {
	live := startLive(t, 0)
	old, _, err := live.auth.Login("alice", "pw-alice-secret", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// bun13 user passwd: the CLI changes the users file.
	if err := live.auth.Users.SetPassword("alice", "new-secret-1"); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := liveDo(t, "GET", live.url+"/-/whoami", old, nil); code != http.StatusUnauthorized {
		t.Errorf("token issued before bun13 user passwd: %d, want 401", code)
	}
	// A login in the same second gets a token that works.
	code, m, _ := liveDo(t, "PUT", live.url+"/-/user/org.couchdb.user:alice", "", map[string]string{"name": "alice", "password": "new-secret-1"})
	tok, _ := m["token"].(string)
	if code != http.StatusCreated || tok == "" {
		t.Fatalf("login with the new password: %d %v", code, m)
	}
	if code, _, _ := liveDo(t, "GET", live.url+"/-/whoami", tok, nil); code != http.StatusOK {
		t.Errorf("token issued after the change: %d", code)
	}

	// The user's own route (npm profile set password): a wrong old
	// password changes nothing.
	code, _, _ = liveDo(t, "POST", live.url+"/-/npm/v1/user", tok, map[string]any{"password": map[string]string{"old": "wrong", "new": "evil"}})
	if code != http.StatusUnauthorized {
		t.Errorf("change with a wrong old password: %d, want 401", code)
	}
	if _, err := live.auth.Users.Authenticate("alice", "new-secret-1", time.Now()); err != nil {
		t.Errorf("password changed by a refused request: %v", err)
	}
	if code, _, _ := liveDo(t, "GET", live.url+"/-/whoami", tok, nil); code != http.StatusOK {
		t.Errorf("token after a refused change: %d", code)
	}
	code, m, _ = liveDo(t, "POST", live.url+"/-/npm/v1/user", tok, map[string]any{"password": map[string]string{"old": "new-secret-1", "new": "new-secret-2"}})
	if code != http.StatusOK || m["name"] != "alice" {
		t.Fatalf("change: %d %v", code, m)
	}
	if code, _, _ := liveDo(t, "GET", live.url+"/-/whoami", tok, nil); code != http.StatusUnauthorized {
		t.Errorf("token issued before the HTTP change: %d, want 401", code)
	}
	if _, err := live.auth.Users.Authenticate("alice", "new-secret-2", time.Now()); err != nil {
		t.Errorf("new password: %v", err)
	}
}

func TestTokenLifetimeAndDates(t *testing.T) {
	live := startLive(t, 0)
	now := time.Now().Truncate(time.Second)
	// A token signed with the server's key but living 91 days.
	long := &auth.Issuer{Keys: live.auth.Keys, MaxLifetime: 10 * 365 * 24 * time.Hour}
	tok, err := long.Sign(auth.Claims{
		Subject: "admin", Role: auth.RoleAdmin, ID: "long", Issuer: auth.DefaultIssuer, Audience: auth.DefaultAudience,
		IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(91 * 24 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := liveDo(t, "GET", live.url+"/-/whoami", tok, nil); code != http.StatusUnauthorized {
		t.Errorf("91-day token: %d, want 401", code)
	}
	// Backdated iat does not help: exp - now counts too.
	tok, _ = long.Sign(auth.Claims{
		Subject: "admin", Role: auth.RoleAdmin, ID: "backdated", Issuer: auth.DefaultIssuer, Audience: auth.DefaultAudience,
		IssuedAt: now.Add(-89 * 24 * time.Hour), ExpiresAt: now.Add(3 * 365 * 24 * time.Hour),
	})
	if code, _, _ := liveDo(t, "GET", live.url+"/-/whoami", tok, nil); code != http.StatusUnauthorized {
		t.Errorf("backdated long token: %d, want 401", code)
	}
	// The default Issuer refuses to sign one.
	if _, err := live.auth.Issuer.Sign(auth.Claims{Subject: "admin", Role: auth.RoleAdmin, ID: "x", IssuedAt: now, ExpiresAt: now.Add(91 * 24 * time.Hour)}); err == nil {
		t.Error("Issuer signed a 91-day token")
	}
	// exp, iat, nbf as strings of digits, signed with the real key.
	priv, err := auth.LoadKeyFile(filepath.Join(live.data, auth.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"exp", "iat", "nbf"} {
		claims := jwt.MapClaims{
			"iss": auth.DefaultIssuer, "aud": []string{auth.DefaultAudience}, "sub": "admin", "role": "admin",
			"jti": "str-" + field, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}
		claims[field] = itoa(int(claims[field].(int64))) // the same digits, in a string
		j := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
		j.Header["kid"] = live.auth.Keys.Signer()
		s, err := j.SignedString(priv)
		if err != nil {
			t.Fatal(err)
		}
		if code, _, _ := liveDo(t, "GET", live.url+"/-/whoami", s, nil); code != http.StatusUnauthorized {
			t.Errorf("%s as a JSON string: %d, want 401", field, code)
		}
	}
	// The same token with numbers passes (the test is not vacuous).
	claims := jwt.MapClaims{
		"iss": auth.DefaultIssuer, "aud": []string{auth.DefaultAudience}, "sub": "admin", "role": "admin",
		"jti": "numbers", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	j := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	j.Header["kid"] = live.auth.Keys.Signer()
	s, _ := j.SignedString(priv)
	if code, _, _ := liveDo(t, "GET", live.url+"/-/whoami", s, nil); code != http.StatusOK {
		t.Errorf("numeric dates: %d, want 200", code)
	}
}

func TestTokensRedactedInLogs(t *testing.T) {
	var buf syncBuffer
	e := newEnv(t, config.Debug, func(o *Options) { o.Logger = slog.New(slog.NewJSONHandler(&buf, nil)) })
	jwtTok := "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl"
	e.do("DELETE", "/-/user/token/"+jwtTok, "", nil)
	e.do("DELETE", "/-/user/token/tok-alice-opaque-secret", "", nil)
	e.do("GET", "/-/whoami?ticket=ticket-secret-1&token=token-secret-2&q="+jwtTok, "tok-alice", nil)
	e.do("DELETE", "/-/npm/v1/tokens/token/key-secret-3", "tok-alice", nil)
	e.do("GET", "/-/ping", "", nil, "User-Agent", "npm/11 "+jwtTok)
	out := buf.String()
	for _, secret := range []string{"eyJzdWIiOiJhbGljZSJ9", "tok-alice-opaque-secret", "ticket-secret-1", "token-secret-2", "key-secret-3"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, redacted) || !strings.Contains(out, `"route":"/-/user/token/:token"`) {
		t.Errorf("log lines missing:\n%s", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
