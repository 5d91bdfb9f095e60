package registry

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/config"
)

func liveDo(t *testing.T, method, url, token string, body any) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, url, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(res.Body)
	json.Unmarshal(b, &m)
	return res.StatusCode, m, res.Header
}

// TestForgedTokens: tokens that must never pass, against the real auth
// files and EdDSA verifier.
func TestForgedTokens(t *testing.T) {
	live := startLive(t, config.Metrics)
	now := time.Now()
	good, _, err := live.auth.Login("alice", "pw-alice-secret", now)
	if err != nil {
		t.Fatal(err)
	}
	if code, m, _ := liveDo(t, "GET", live.url+"/-/whoami", good, nil); code != 200 || m["username"] != "alice" {
		t.Fatalf("good token: %d %v", code, m)
	}
	claims := jwt.MapClaims{
		"iss": auth.DefaultIssuer, "aud": []string{auth.DefaultAudience}, "sub": "admin", "role": "admin",
		"jti": "forged", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	kid := live.auth.Keys.Signer()

	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims)
	none.Header["kid"] = kid
	noneTok, err := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	// HS256 keyed with the public key: the classic algorithm confusion.
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	hs.Header["kid"] = kid
	hsTok, err := hs.SignedString([]byte(live.auth.PublicKey()))
	if err != nil {
		t.Fatal(err)
	}
	// Signed by another Ed25519 key claiming our kid.
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	other := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	other.Header["kid"] = kid
	otherTok, _ := other.SignedString(otherKey)
	// Properly signed but expired.
	expired, err := live.auth.Issuer.Sign(auth.Claims{
		Subject: "alice", Role: auth.RolePublish, ID: "old", Issuer: auth.DefaultIssuer, Audience: auth.DefaultAudience,
		IssuedAt: now.Add(-3 * time.Hour), ExpiresAt: now.Add(-2 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Properly signed for another audience.
	wrongAud, _ := live.auth.Issuer.Sign(auth.Claims{
		Subject: "alice", Role: auth.RolePublish, ID: "aud", Issuer: auth.DefaultIssuer, Audience: "elsewhere",
		IssuedAt: now, ExpiresAt: now.Add(time.Hour),
	})
	// Properly signed for a user that does not exist.
	ghost, _, _ := live.auth.Issuer.Issue("ghost", auth.RoleAdmin, now)
	// Tampered payload of a good token.
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "A") + "B." + parts[2]

	for name, tok := range map[string]string{
		"alg none": noneTok, "HS256 with the public key": hsTok, "foreign key": otherTok,
		"expired": expired, "wrong audience": wrongAud, "unknown user": ghost, "tampered": tampered,
		"garbage": "not.a.jwt", "empty parts": "..",
	} {
		t.Run(name, func(t *testing.T) {
			code, m, h := liveDo(t, "GET", live.url+"/-/whoami", tok, nil)
			if code != 401 || m["error"] == nil || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%d %v %v", code, m, h)
			}
			body := publishDoc("forged-pkg", "1.0.0", tarball("forged-pkg", "1.0.0"))
			if code, _, _ := liveDo(t, "PUT", live.url+"/forged-pkg", tok, body); code != 401 {
				t.Errorf("publish with it: %d", code)
			}
		})
	}
	res, err := httpClient.Get(live.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, reason := range []string{"expired", "unknown_user", "bad_signature"} {
		if !strings.Contains(string(b), `bun_auth_failures_total{reason="`+reason+`"}`) {
			t.Errorf("no auth failure metric for %s", reason)
		}
	}
	if code, _, _ := liveDo(t, "GET", live.url+"/forged-pkg", "", nil); code != 404 {
		t.Errorf("forged package stored: %d", code)
	}
}

// TestRevocationAndUserChanges: revoking a token and removing or demoting
// a user (what the bun13 CLI does, from another process, through the
// same files) apply to the running server at once.
func TestRevocationAndUserChanges(t *testing.T) {
	live := startLive(t, 0)
	now := time.Now()
	// A second handle on the same files, as the CLI would open them.
	cli, err := OpenAuth(AuthPaths{Dir: live.data}, 0)
	if err != nil {
		t.Fatal(err)
	}
	tokA, _, _ := live.auth.Login("alice", "pw-alice-secret", now)
	tokB, _, _ := live.auth.Login("bob", "pw-bob-secret", now)
	for _, tok := range []string{tokA, tokB} {
		if code, _, _ := liveDo(t, "GET", live.url+"/-/whoami", tok, nil); code != 200 {
			t.Fatalf("whoami: %d", code)
		}
	}
	// Revoke alice's token by key, from the "CLI".
	if _, err := cli.Records.Revoke(auth.TokenKey(tokA), cli.Revoked, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, live.url+"/-/whoami", tokA, 401)
	// Demote bob to read: his publish-role token can no longer publish.
	if err := cli.Users.SetRole("bob", auth.RoleRead); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		code, _, _ := liveDo(t, "PUT", live.url+"/bobs", tokB, publishDoc("bobs", "1.0.0", tarball("bobs", "1.0.0")))
		if code == 403 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("demoted user still publishes: %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Remove bob: his token dies.
	if err := cli.Users.Remove("bob"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, live.url+"/-/whoami", tokB, 401)
}

// waitStatus polls (bounded) until GET url answers want: changes made by
// another process are seen within the auth files' 100ms check interval.
func waitStatus(t *testing.T, url, token string, want int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		code, _, _ := liveDo(t, "GET", url, token, nil)
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d, want %d", url, code, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTokenAPI(t *testing.T) {
	live := startLive(t, 0)
	tok, _, _ := live.auth.Login("alice", "pw-alice-secret", time.Now())
	code, m, _ := liveDo(t, "POST", live.url+"/-/npm/v1/tokens", tok, map[string]any{"password": "wrong", "readonly": true})
	if code != 401 {
		t.Errorf("create with a bad password: %d %v", code, m)
	}
	code, m, _ = liveDo(t, "POST", live.url+"/-/npm/v1/tokens", tok, map[string]any{"password": "pw-alice-secret", "readonly": true})
	if code != 201 || m["token"] == nil || m["readonly"] != true {
		t.Fatalf("create: %d %v", code, m)
	}
	ro := m["token"].(string)
	key := m["key"].(string)
	if code, _, _ := liveDo(t, "PUT", live.url+"/ro-pkg", ro, publishDoc("ro-pkg", "1.0.0", tarball("ro-pkg", "1.0.0"))); code != 403 {
		t.Errorf("readonly token publishes: %d", code)
	}
	code, m, _ = liveDo(t, "GET", live.url+"/-/npm/v1/tokens", tok, nil)
	if code != 200 || m["total"] != float64(2) {
		t.Fatalf("list: %d %v", code, m)
	}
	// bob cannot delete alice's token.
	tokB, _, _ := live.auth.Login("bob", "pw-bob-secret", time.Now())
	if code, _, _ := liveDo(t, "DELETE", live.url+"/-/npm/v1/tokens/token/"+key, tokB, nil); code != 404 {
		t.Errorf("bob deletes alice's token: %d", code)
	}
	if code, _, _ := liveDo(t, "DELETE", live.url+"/-/npm/v1/tokens/token/"+key, tok, nil); code != 204 {
		t.Errorf("delete: %d", code)
	}
	if code, _, _ := liveDo(t, "GET", live.url+"/-/whoami", ro, nil); code != 401 {
		t.Errorf("deleted token still works: %d", code)
	}
}
