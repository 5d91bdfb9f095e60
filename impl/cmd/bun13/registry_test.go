package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/lockfile"
)

// regLogBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type regLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *regLogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *regLogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// servedRegistry runs `bun13 registry serve` in-process on a free port.
type servedRegistry struct {
	url    string
	dir    string
	stdout *regLogBuffer
	stderr *regLogBuffer
	stop   func() int
}

func serveRegistry(t *testing.T, extra ...string) *servedRegistry {
	t.Helper()
	dir := t.TempDir()
	envs := map[string]string{"BUN_LOCKFILE": filepath.Join(dir, "bun.lockb")}
	out, errb := &regLogBuffer{}, &regLogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{stdin: strings.NewReader(""), stdout: out, stderr: errb,
		lookup: func(k string) (string, bool) { v, ok := envs[k]; return v, ok }, ctx: ctx}
	done := make(chan int, 1)
	args := append([]string{"registry", "serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "data")}, extra...)
	go func() { done <- e.main(args) }()
	re := regexp.MustCompile(`"addr":"(http://127\.0\.0\.1:\d+)"`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(errb.String()); m != nil {
			s := &servedRegistry{url: m[1], dir: dir, stdout: out, stderr: errb}
			var once sync.Once
			code := 0
			s.stop = func() int {
				once.Do(func() { cancel(); code = <-done })
				return code
			}
			t.Cleanup(func() { s.stop() })
			return s
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start: %s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func httpJSON(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func login(t *testing.T, url, user, password string) string {
	t.Helper()
	code, m := httpJSON(t, "PUT", url+"/-/user/org.couchdb.user:"+user, "", map[string]any{"name": user, "password": password})
	if code != 201 {
		t.Fatalf("login %s: %d %v", user, code, m)
	}
	return m["token"].(string)
}

func TestRegistryServeAndUsers(t *testing.T) {
	s := serveRegistry(t)
	// First start: admin with a one-time password, a key file, a lockfile.
	m := regexp.MustCompile(`one-time password: (\S+)`).FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("no admin password in %q", s.stdout.String())
	}
	adminTok := login(t, s.url, "admin", m[1])
	if code, w := httpJSON(t, "GET", s.url+"/-/whoami", adminTok, nil); code != 200 || w["username"] != "admin" {
		t.Fatalf("whoami: %d %v", code, w)
	}
	st, err := os.Stat(filepath.Join(s.dir, "data", "signing.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("signing key: %v %v", err, st)
	}
	if _, err := lockfile.ReadFile(filepath.Join(s.dir, "bun.lockb")); err != nil {
		t.Errorf("lockfile: %v", err)
	}
	data := filepath.Join(s.dir, "data")

	// Users are managed while the server runs.
	out, errs, code := cliRun(t, "", nil, "alice-pw-1\n", "user", "add", "alice", "--role", "publish", "--data", data)
	if code != 0 {
		t.Fatalf("user add: %d %s", code, errs)
	}
	if !strings.Contains(out, "added user alice") {
		t.Errorf("user add: %q", out)
	}
	aliceTok := login(t, s.url, "alice", "alice-pw-1")
	if _, _, code := cliRun(t, "", nil, "alice-pw-2\n", "user", "passwd", "alice", "--data", data); code != 0 {
		t.Fatal("passwd failed")
	}
	if code, _ := httpJSON(t, "PUT", s.url+"/-/user/org.couchdb.user:alice", "", map[string]any{"name": "alice", "password": "alice-pw-1"}); code != 401 {
		t.Errorf("old password: %d", code)
	}
	// bun13 user passwd revokes the tokens issued before it.
	waitCode(t, s.url+"/-/whoami", aliceTok, 401)
	aliceTok = login(t, s.url, "alice", "alice-pw-2")
	if out, _, _ := cliRun(t, "", nil, "", "user", "list", "--data", data); !strings.Contains(out, "alice\tpublish") || !strings.Contains(out, "admin\tadmin") {
		t.Errorf("user list: %q", out)
	}
	// No password on stdin is a usage error, never an empty password.
	if _, _, code := cliRun(t, "", nil, "", "user", "add", "bob", "--data", data); code != 2 {
		t.Errorf("user add without password: exit %d", code)
	}

	// Offline tokens.
	out, errs, code = cliRun(t, "", nil, "", "token", "issue", "--user", "alice", "--role", "read", "--ttl", "1h", "--data", data)
	if code != 0 {
		t.Fatalf("token issue: %s", errs)
	}
	offline := strings.TrimSpace(out)
	if code, w := httpJSON(t, "GET", s.url+"/-/whoami", offline, nil); code != 200 || w["username"] != "alice" {
		t.Fatalf("offline token: %d %v", code, w)
	}
	if _, errs, code := cliRun(t, "", nil, "", "token", "issue", "--user", "alice", "--role", "admin", "--data", data); code == 0 {
		t.Errorf("issued an admin token to a publish user: %s", errs)
	}
	out, _, _ = cliRun(t, "", nil, "", "token", "list", "--user", "alice", "--data", data)
	var jti string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(line, "\t"); len(f) >= 4 && f[2] == "read" {
			jti = f[0]
		}
	}
	if jti == "" {
		t.Fatalf("token list: %q", out)
	}
	if _, errs, code := cliRun(t, "", nil, "", "token", "revoke", jti, "--data", data); code != 0 {
		t.Fatalf("token revoke: %s", errs)
	}
	waitCode(t, s.url+"/-/whoami", offline, 401)
	// Other tokens are untouched.
	if code, _ := httpJSON(t, "GET", s.url+"/-/whoami", aliceTok, nil); code != 200 {
		t.Errorf("alice's login token: %d", code)
	}
	// Removing a user revokes all their tokens at once.
	if out, _, code := cliRun(t, "", nil, "", "user", "remove", "alice", "--data", data); code != 0 || !strings.Contains(out, "removed user alice") {
		t.Fatalf("user remove: %q", out)
	}
	waitCode(t, s.url+"/-/whoami", aliceTok, 401)

	if code := s.stop(); code != 0 {
		t.Errorf("serve exit %d: %s", code, s.stderr.String())
	}
	if !strings.Contains(s.stderr.String(), `"msg":"registry stopped"`) {
		t.Errorf("no shutdown log: %s", s.stderr.String())
	}
	// JSON access log lines carry the request id, route, status, duration, user.
	var sawAccess bool
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "request" && rec["route"] == "/-/whoami" && rec["user"] == "admin" {
			sawAccess = rec["id"] != nil && rec["status"] != nil && rec["duration"] != nil
		}
	}
	if !sawAccess {
		t.Error("no complete access log line for /-/whoami")
	}
}

func waitCode(t *testing.T, url, token string, want int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		code, _ := httpJSON(t, "GET", url, token, nil)
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d, want %d", url, code, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRegistryServeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"registry"},
		{"registry", "bogus"},
		{"registry", "serve", "extra"},
		{"registry", "serve", "--max-publish-bytes", "lots"},
		{"registry", "serve", "--trusted-proxies", "not-an-ip"},
		{"registry", "serve", "--log-level", "loud"},
		{"user"},
		{"user", "add"},
		{"user", "frobnicate", "x"},
		{"token"},
		{"token", "issue"},
		{"token", "revoke"},
	} {
		if _, _, code := cliRun(t, t.TempDir(), nil, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"1234": 1234, "64KiB": 64 << 10, "50MiB": 50 << 20, "1GiB": 1 << 30, "2M": 2 << 20} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-5", "x", "5XB"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) accepted", in)
		}
	}
}
