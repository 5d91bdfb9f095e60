package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/ratelimit"
	"github.com/bun13/bun13/impl/registry/registrytest"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
)

// fakeAuth is an Authenticator for tests: tokens are "tok-USER[-N]",
// passwords "pw-USER".
type fakeAuth struct {
	mu      sync.Mutex
	roles   map[string]string
	revoked map[string]bool
	n       int
}

func newFakeAuth() *fakeAuth {
	return &fakeAuth{
		roles: map[string]string{
			"admin": RoleAdmin, "alice": RolePublish, "bob": RolePublish, "reader": RoleRead,
		},
		revoked: map[string]bool{},
	}
}

var errFakeBad = fmt.Errorf("fake: bad token")

func (f *fakeAuth) Verify(token string, now time.Time) (Identity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rest, ok := strings.CutPrefix(token, "tok-")
	if !ok || f.revoked[token] {
		return Identity{}, errFakeBad
	}
	user, _, _ := strings.Cut(rest, "-")
	role, ok := f.roles[user]
	if !ok {
		return Identity{}, errFakeBad
	}
	return Identity{User: user, Role: role, Email: user + "@example.com", TokenID: token}, nil
}

func (f *fakeAuth) Reason(err error) string {
	if err == nil {
		return "ok"
	}
	return "bad-token"
}

func (f *fakeAuth) Login(user, password string, now time.Time) (string, Identity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	role, ok := f.roles[user]
	if !ok || password != "pw-"+user {
		return "", Identity{}, ErrBadCredentials
	}
	f.n++
	tok := fmt.Sprintf("tok-%s-%d", user, f.n)
	return tok, Identity{User: user, Role: role, TokenID: tok}, nil
}

func (f *fakeAuth) Register(user, password, email string, now time.Time) (string, Identity, error) {
	f.mu.Lock()
	if _, ok := f.roles[user]; ok {
		f.mu.Unlock()
		return "", Identity{}, ErrUserExists
	}
	f.roles[user] = RolePublish
	f.mu.Unlock()
	return f.Login(user, password, now)
}

func (f *fakeAuth) UserEmail(user string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.roles[user]
	return user + "@example.com", ok
}

func (f *fakeAuth) Tokens(user string) ([]TokenRecord, error) { return nil, nil }

func (f *fakeAuth) CreateToken(user, password string, readonly bool, cidrs []string, now time.Time) (string, TokenRecord, error) {
	tok, _, err := f.Login(user, password, now)
	return tok, TokenRecord{Key: tok, Token: tok[:6], Created: now, Updated: now}, err
}

func (f *fakeAuth) RevokeToken(id Identity, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked[key] = true
	return nil
}

func (f *fakeAuth) Logout(token string, now time.Time) error { return f.RevokeToken(Identity{}, token) }

// testEnv is a server on a temp dir with a fake auth.
type testEnv struct {
	t     *testing.T
	srv   *Server
	http  *httptest.Server
	store *config.Store
	reg   *prometheus.Registry
	dir   string
	now   time.Time
}

type envOption func(*Options)

func newEnv(t *testing.T, flags config.Flags, opts ...envOption) *testEnv {
	t.Helper()
	c := config.Default()
	c.Version = 2
	c.FeatureFlags = flags
	store, err := config.NewStore(c)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	e := &testEnv{t: t, store: store, reg: reg, dir: dir, now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	o := Options{
		Store: store,
		Docs:  docs.NewFS(dir), Blobs: blobs.NewFS(dir),
		Auth:       newFakeAuth(),
		Logger:     slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Registerer: reg,
		Now:        func() time.Time { return e.now },
	}
	for _, f := range opts {
		f(&o)
	}
	srv, err := New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.http = httptest.NewServer(srv)
	t.Cleanup(e.http.Close)
	return e
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// do sends a request; token "" means none; body may be nil, []byte or a
// value to marshal.
func (e *testEnv) do(method, path, token string, body any, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	// Keep Go from adding (and transparently undoing) gzip.
	if req.Header.Get("Accept-Encoding") == "" {
		req.Header.Set("Accept-Encoding", "identity")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func tarball(name, version string, extra ...string) []byte {
	return registrytest.Tarball(name, version, extra...)
}

func integrity(b []byte) (string, string) { return registrytest.Integrity(b) }

func publishDoc(name, version string, tgz []byte, tags ...string) map[string]any {
	return registrytest.PublishDoc(name, version, tgz, tags...)
}

// publish publishes name@version as user and fails the test on error.
func (e *testEnv) publish(user, name, version string, tags ...string) {
	e.t.Helper()
	r := e.do("PUT", "/"+escapeName(name), "tok-"+user, publishDoc(name, version, tarball(name, version), tags...))
	if r.status != http.StatusCreated {
		e.t.Fatalf("publish %s@%s as %s: %d %s", name, version, user, r.status, r.body)
	}
}

func escapeName(name string) string { return registrytest.EscapeName(name) }

func newClasses(read, publish, login int) *ratelimit.Classes {
	return &ratelimit.Classes{
		Read:    ratelimit.Limiter{Limit: read, Window: time.Minute},
		Publish: ratelimit.Limiter{Limit: publish, Window: time.Minute},
		Login:   ratelimit.Limiter{Limit: login, Window: time.Minute},
	}
}

var httpClient = &http.Client{Timeout: 30 * time.Second}
