package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
)

type readyBody struct {
	Ready    bool          `json:"ready"`
	Draining bool          `json:"draining"`
	Checks   []checkResult `json:"checks"`
}

func decodeReady(t *testing.T, r resp) readyBody {
	t.Helper()
	var b readyBody
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("readyz body %q: %v", r.body, err)
	}
	return b
}

// TestHealthAndReady: both endpoints answer without a token under
// AUTH_REQUIRED; readiness runs the storage check and the checks passed
// in Options, and turns 503 with the failing check named.
func TestHealthAndReady(t *testing.T) {
	var fail atomic.Value
	fail.Store("")
	e := newEnv(t, config.AuthRequired, func(o *Options) {
		o.ReadyChecks = []ReadyCheck{{Name: "config", Check: func(context.Context) error {
			if m := fail.Load().(string); m != "" {
				return errors.New(m)
			}
			return nil
		}}}
	})
	if r := e.do("GET", "/-/healthz", "", nil); r.status != 200 || string(r.body) != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/-/whoami", "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("AUTH_REQUIRED is not on: whoami %d", r.status)
	}
	r := e.do("GET", "/-/readyz", "", nil)
	b := decodeReady(t, r)
	if r.status != 200 || !b.Ready || b.Draining || len(b.Checks) != 2 || b.Checks[0].Name != "storage" || b.Checks[1].Name != "config" || !b.Checks[0].OK || !b.Checks[1].OK {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("readyz Cache-Control %q", r.header.Get("Cache-Control"))
	}
	fail.Store("lockfile: header-checksum at offset 56")
	r = e.do("GET", "/-/readyz", "", nil)
	b = decodeReady(t, r)
	if r.status != http.StatusServiceUnavailable || b.Ready || b.Checks[1].OK || b.Checks[1].Error != "lockfile: header-checksum at offset 56" {
		t.Fatalf("failing check: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/-/readyz", "", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST readyz: %d", r.status)
	}
	if r := e.do("DELETE", "/-/healthz", "", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE healthz: %d", r.status)
	}
}

// TestReadyStorage: a storage directory that was removed, then replaced
// by a file, makes readiness fail with the storage check named.
func TestReadyStorage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "packages")
	e := newEnv(t, 0, func(o *Options) { o.Docs, o.Blobs = docs.NewFS(dir), blobs.NewFS(dir) })
	if r := e.do("GET", "/-/readyz", "", nil); r.status != 200 {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/-/readyz", "", nil); r.status != http.StatusServiceUnavailable {
		t.Fatalf("readyz without the storage directory: %d %s", r.status, r.body)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.do("GET", "/-/readyz", "", nil)
	b := decodeReady(t, r)
	if r.status != http.StatusServiceUnavailable || len(b.Checks) != 1 || b.Checks[0].Name != "storage" || b.Checks[0].OK || b.Checks[0].Error == "" {
		t.Fatalf("readyz on broken storage: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/-/healthz", "", nil); r.status != 200 {
		t.Fatalf("liveness must not depend on storage: %d", r.status)
	}
}

// TestDrain: once Serve's ctx ends, readiness is 503 (draining) while
// other requests are still served, with keep-alives off, for the drain
// period; then the listener closes and Serve returns nil.
func TestDrain(t *testing.T) {
	const period = 1500 * time.Millisecond
	e := newEnv(t, 0, func(o *Options) { o.DrainPeriod = period })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(ctx, ln) }()
	get := func(path string) (*http.Response, error) {
		res, err := httpClient.Get(base + path)
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		return res, err
	}
	if res, err := get("/-/readyz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("before drain: %v %v", res, err)
	}
	cancel()
	start := time.Now()
	deadline := start.Add(5 * time.Second)
	for !e.srv.Draining() {
		if time.Now().After(deadline) {
			t.Fatal("not draining after cancel")
		}
		time.Sleep(5 * time.Millisecond)
	}
	res, err := get("/-/readyz")
	if err != nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz while draining: %v %v", res, err)
	}
	res, err = get("/-/ping")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("ping while draining: %v %v", res, err)
	}
	if !res.Close {
		t.Error("response while draining keeps the connection alive")
	}
	if res, err := get("/-/healthz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz while draining: %v %v", res, err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the drain period")
	}
	// Serve returned only after the period (asserting the lower bound
	// only: it is a guarantee, not a timing).
	if el := time.Since(start); el < period {
		t.Errorf("Serve returned %v after cancel, before the drain period %v", el, period)
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("listener still accepts after shutdown")
	}
}

// TestProbesQuiet: with the access log on, successful probes are not
// logged (a kubelet asks every few seconds), other requests and a
// failing probe are.
func TestProbesQuiet(t *testing.T) {
	var logs safeBuffer
	var fail atomic.Bool
	e := newEnv(t, 0, func(o *Options) {
		o.AccessLog = true
		o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		o.ReadyChecks = []ReadyCheck{{Name: "flag", Check: func(context.Context) error {
			if fail.Load() {
				return errors.New("down")
			}
			return nil
		}}}
	})
	e.do("GET", "/-/healthz", "", nil)
	e.do("GET", "/-/readyz", "", nil)
	e.do("GET", "/-/ping", "", nil)
	fail.Store(true)
	e.do("GET", "/-/readyz", "", nil)
	out := logs.String()
	if strings.Contains(out, `"route":"/-/healthz"`) || strings.Count(out, `"route":"/-/readyz"`) != 1 || !strings.Contains(out, `"route":"/-/ping"`) {
		t.Fatalf("access log:\n%s", out)
	}
	if !strings.Contains(out, `"error":"flag: down"`) {
		t.Errorf("the failing probe's log line does not name the check:\n%s", out)
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
