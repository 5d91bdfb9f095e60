package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/dnscache"
	"github.com/bun13/bun13/impl/frame"
	"github.com/bun13/bun13/impl/lockfile"
	"github.com/bun13/bun13/impl/metrics"
	"github.com/bun13/bun13/impl/proxy"
	"github.com/bun13/bun13/impl/registry"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
)

// The package doc promises that the DNS cache's and the uplink's own
// status types convert to the dashboard's; keep it true.
var _ = Status{DNS: new(DNSStatus(dnscache.Stats{})), Uplink: new(UplinkStatus(proxy.Status{}))}

// tokenAuth knows two bearer tokens; the registry asks it nothing else in
// this test.
type tokenAuth struct{ registry.Authenticator }

func (tokenAuth) Verify(token string, now time.Time) (registry.Identity, error) {
	switch token {
	case "admin-token":
		return registry.Identity{User: "root", Role: registry.RoleAdmin}, nil
	case "reader-token":
		return registry.Identity{User: "reader", Role: registry.RoleRead}, nil
	}
	return registry.Identity{}, errors.New("unknown token")
}

func (tokenAuth) Reason(error) string { return "invalid" }

// TestDashboardMountedInRegistry wires the dashboard as the package doc
// says and drives it through the registry: its authentication, its
// response writer (the WebSocket must reach the connection through it) and
// its metrics.
func TestDashboardMountedInRegistry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	store, err := lockfile.OpenStore(filepath.Join(dir, "bun.lockb"), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	srv, err := registry.New(ctx, registry.Options{
		Store: store, Docs: docs.NewFS(filepath.Join(dir, "packages")), Blobs: blobs.NewFS(filepath.Join(dir, "packages")), Auth: tokenAuth{},
		Registerer: reg, Metrics: m, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(ctx, Options{
		Store: store, Gatherer: reg, Registerer: reg, Logger: log, Interval: 50 * time.Millisecond,
		Authorize: func(r *http.Request) (string, bool) {
			id, _ := registry.IdentityFrom(r.Context())
			return id.User, id.Role == registry.RoleAdmin
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	d.Mount(srv.Mux)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer cancel()

	get := func(path string) (int, string) {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(Prefix); code != 200 || !strings.Contains(body, "<title>bun13") {
		t.Errorf("page through the registry: %d", code)
	}
	if code, body := get(Prefix + "/api/metrics"); code != 200 || !strings.Contains(body, "bun_dashboard_clients") {
		t.Errorf("metrics through the registry: %d", code)
	}
	for range 5 {
		get("/-/ping")
	}

	h := http.Header{"Authorization": {"Bearer admin-token"}}
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	defer dcancel()
	c, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(hs.URL, "http")+Prefix+"/ws", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("websocket through the registry: %v", err)
	}
	defer c.CloseNow()
	w := &wsClient{t: t, c: c}
	if hello := w.text("hello"); !strings.Contains(hello, `"user":"root","admin":true`) {
		t.Errorf("hello: %s", hello)
	}
	w.snapshot(config.Config{})
	w.send(frame.Frame{Type: frame.TypeFlagsEnable, Offset: config.OffsetFeatureFlags, Value: uint64(config.Debug)})
	for {
		f := w.frame()
		if f.Type == frame.TypeNak {
			t.Fatalf("NAK %v", frame.NakCode(f.Value))
		}
		if f.Type == frame.TypeAck && f.Offset == config.OffsetFeatureFlags {
			break
		}
	}
	if !store.Enabled(config.Debug) {
		t.Error("DEBUG not set through the registry")
	}

	// The pings count; the dashboard's own requests do not.
	eventually(t, "the pings in the stats", func() bool {
		var st Stats
		json.Unmarshal(*d.latest.Load(), &st)
		return st.Requests.Total == 5
	})
}
