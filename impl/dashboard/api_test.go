package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/lockfile"
)

func TestDashboardPage(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct{ path, ctype, contains string }{
		{Prefix, "text/html; charset=utf-8", "<title>bun13"},
		{Prefix + "/", "text/html; charset=utf-8", "/_dashboard/assets/app.js"},
		{Prefix + "/assets/app.js", "text/javascript; charset=utf-8", "encodeFrame"},
		{Prefix + "/assets/style.css", "text/css; charset=utf-8", "prefers-color-scheme: dark"},
	} {
		resp, body := e.do("GET", tc.path, "", "")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.ctype || !strings.Contains(body, tc.contains) {
			t.Errorf("GET %s: %d %q, want 200 %q containing %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.ctype, tc.contains)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: CSP %q", tc.path, csp)
		}
	}
	if resp, _ := e.do("GET", Prefix+"/nope", "", ""); resp.StatusCode != 404 {
		t.Errorf("unknown path: %d, want 404", resp.StatusCode)
	}
	if resp, _ := e.do("DELETE", Prefix+"/api/config", adminToken, ""); resp.StatusCode != 405 {
		t.Errorf("DELETE api/config: %d, want 405", resp.StatusCode)
	}
}

func TestDashboardAPIConfigGet(t *testing.T) {
	e := newEnv(t, Options{})
	resp, body := e.do("GET", Prefix+"/api/config", "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET: %d %s", resp.StatusCode, body)
	}
	c := config.Default()
	b := c.Bytes()
	want := fmt.Sprintf(`{"version":1,"registryHash":"0x5e9b6bd5","featureFlags":"0x000000b8","terminalMode":"cooked","rows":24,"cols":80,"hex":"%x","checksum":"0x%016x","sources":{"cols":"file","featureFlags":"file","registryHash":"file","rows":"file","terminalMode":"file","version":"file"}}`+"\n", b[:], c.Checksum())
	if d := cmp.Diff(want, body); d != "" {
		t.Errorf("GET api/config (-want +got):\n%s", d)
	}
	// The SPEC JSON part reads back as the config.
	var got config.Config
	var raw map[string]json.RawMessage
	json.Unmarshal([]byte(body), &raw)
	delete(raw, "hex")
	delete(raw, "checksum")
	delete(raw, "sources")
	j, _ := json.Marshal(raw)
	if err := got.UnmarshalJSON(j); err != nil || got != c {
		t.Errorf("SPEC JSON part: %+v %v", got, err)
	}
}

func TestDashboardAPIConfigPost(t *testing.T) {
	e := newEnv(t, Options{})
	post := func(auth, body string) (int, map[string]any) {
		t.Helper()
		resp, b := e.do("POST", Prefix+"/api/config", auth, body)
		var m map[string]any
		if err := json.Unmarshal([]byte(b), &m); err != nil {
			t.Fatalf("POST %s: %d %q is not JSON", body, resp.StatusCode, b)
		}
		return resp.StatusCode, m
	}

	// A partial update: the rest stays.
	code, m := post(adminToken, `{"featureFlags":"0x00000001","terminalMode":"raw"}`)
	if code != 200 || m["featureFlags"] != "0x00000001" || m["terminalMode"] != "raw" || m["rows"] != 24.0 {
		t.Fatalf("partial update: %d %v", code, m)
	}
	want := config.Default()
	want.FeatureFlags, want.TerminalMode = config.Debug, config.Raw
	if got := e.store.Load(); got != want {
		t.Errorf("store = %+v, want %+v", got, want)
	}
	if lf, err := lockfile.ReadFile(e.path); err != nil || lf.Config != want {
		t.Errorf("on disk: %+v %v, want %+v", lf, err, want)
	}

	// A full config, as GET gives it (hex and checksum are preconditions).
	_, cur := e.do("GET", Prefix+"/api/config", "", "")
	full := strings.Replace(cur, `"rows":24`, `"rows":40`, 1)
	if code, m := post(adminToken, full); code != 200 || m["rows"] != 40.0 {
		t.Errorf("full round trip: %d %v", code, m)
	}
	// The same body again is stale: its checksum names the old config.
	if code, m := post(adminToken, full); code != http.StatusConflict || m["error"] != "conflict" {
		t.Errorf("stale precondition: %d %v, want 409", code, m)
	}

	before := e.store.Load()
	for _, tc := range []struct {
		name, auth, body string
		code             int
		err              string
		offset           any
	}{
		{"anonymous", "", `{"rows":30}`, 401, "unauthorized", nil},
		{"reader", readerToken, `{"rows":30}`, 403, "unauthorized", nil},
		{"rows 0", adminToken, `{"rows":0}`, 400, "terminal-size", 14.0},
		{"v2 flag under v1", adminToken, `{"featureFlags":"0x00000100"}`, 400, "unknown-feature", 9.0},
		{"version 3", adminToken, `{"version":3}`, 400, "unsupported-version", 4.0},
		{"bad mode", adminToken, `{"terminalMode":"fancy"}`, 400, "terminal-mode", 13.0},
		{"zero hash", adminToken, `{"registryHash":"0x00000000"}`, 400, "registry-hash", 5.0},
		{"unknown key", adminToken, `{"colour":"blue"}`, 400, "bad-request", nil},
		{"not an object", adminToken, `[1]`, 400, "bad-request", nil},
		{"two objects", adminToken, `{} {}`, 400, "bad-request", nil},
		{"wrong type", adminToken, `{"rows":"many"}`, 400, "bad-request", nil},
		{"too big", adminToken, `{"rows":` + strings.Repeat(" ", 5000) + `30}`, 413, "bad-request", nil},
	} {
		code, m := post(tc.auth, tc.body)
		if code != tc.code || m["error"] != tc.err || m["offset"] != tc.offset {
			t.Errorf("%s: %d %v, want %d %s offset %v", tc.name, code, m, tc.code, tc.err, tc.offset)
		}
	}
	if got := e.store.Load(); got != before {
		t.Errorf("refused POSTs changed the config: %+v, want %+v", got, before)
	}
}

func TestDashboardAPIEnv(t *testing.T) {
	e := newEnv(t, Options{RegistryURL: config.DefaultRegistry})
	for _, f := range []string{"shell", "dotenv", "json"} {
		resp, body := e.do("GET", Prefix+"/api/env?format="+f, "", "")
		want, _ := config.Export(e.store.Load(), config.DefaultRegistry, f)
		if resp.StatusCode != 200 || strings.TrimSpace(body) != strings.TrimSpace(string(want)) {
			t.Errorf("format %s: %d %q, want %q", f, resp.StatusCode, body, want)
		}
	}
	if resp, _ := e.do("GET", Prefix+"/api/env", "", ""); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("default format: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, _ := e.do("GET", Prefix+"/api/env?format=yaml", "", ""); resp.StatusCode != 400 {
		t.Errorf("format yaml: %d, want 400", resp.StatusCode)
	}
}

func TestDashboardAPIMetrics(t *testing.T) {
	e := newEnv(t, Options{})
	resp, body := e.do("GET", Prefix+"/api/metrics", "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("metrics: %d", resp.StatusCode)
	}
	for _, name := range []string{
		`bun_terminal_sessions{mode="raw"} 0`, "bun_terminal_mode_leaks_total 0", "bun_config_read_seconds ",
		"bun_dashboard_clients 0", `bun_dashboard_frames_total{result="ack"} 0`, "bun_config_reads_total",
	} {
		if !strings.Contains(body, name) {
			t.Errorf("metrics lack %q", name)
		}
	}
	// METRICS off hides them, as the registry's /metrics does.
	e.store.Update(func(c config.Config) (config.Config, error) {
		c.FeatureFlags &^= config.Metrics
		return c, nil
	})
	if resp, _ := e.do("GET", Prefix+"/api/metrics", "", ""); resp.StatusCode != 404 {
		t.Errorf("METRICS off: %d, want 404", resp.StatusCode)
	}
}

func TestDashboardAPIStats(t *testing.T) {
	e := newEnv(t, Options{
		Interval: 20 * time.Millisecond,
		Status: func() Status {
			return Status{
				DNS:    &DNSStatus{Hits: 3, Misses: 1, Entries: 2},
				Uplink: &UplinkStatus{URL: "https://registry.npmjs.org", Up: true},
			}
		},
	})
	// Traffic of the registry, and of the dashboard itself (left out).
	for range 100 {
		e.metrics.Request("GET", "/:name", 200, 3*time.Millisecond)
	}
	e.metrics.Request("GET", "/:name", 404, time.Millisecond)
	e.metrics.Request("GET", "/:name", 429, time.Millisecond)
	e.metrics.Request("PUT", "/:name", 503, 40*time.Millisecond)
	e.metrics.Request("GET", "/_*", 200, 9*time.Second)
	e.metrics.AuthFailure("expired")
	e.metrics.RateLimited("read")

	var st Stats
	eventually(t, "stats with the traffic", func() bool {
		_, body := e.do("GET", Prefix+"/api/stats", "", "")
		st = Stats{}
		json.Unmarshal([]byte(body), &st)
		return st.Requests.Total == 103
	})
	if st.Type != "stats" || !st.Metrics {
		t.Errorf("type %q metrics %v", st.Type, st.Metrics)
	}
	if st.Errors5xx.Total != 1 || st.Errors4xx.Total != 1 || st.RateLimited.Total != 1 || st.AuthFailures.Total != 1 {
		t.Errorf("counts: 5xx %v 4xx %v 429 %v auth %v", st.Errors5xx, st.Errors4xx, st.RateLimited, st.AuthFailures)
	}
	// 100 of 103 took 3 ms: the median lies in the (2.5ms, 5ms] bucket,
	// and the dashboard's own 9 s request is not counted in p99.
	if st.P50 == nil || *st.P50 <= 0.0025 || *st.P50 > 0.005 {
		t.Errorf("p50 = %v, want in (2.5ms, 5ms]", st.P50)
	}
	if st.P99 == nil || *st.P99 > 0.05 {
		t.Errorf("p99 = %v, want <= 50ms", st.P99)
	}
	if st.DNS == nil || st.DNS.HitRatio == nil || *st.DNS.HitRatio != 0.75 {
		t.Errorf("dns = %+v, want hit ratio 0.75", st.DNS)
	}
	if st.Uplink == nil || !st.Uplink.Up {
		t.Errorf("uplink = %+v", st.Uplink)
	}
	if st.ConfigReadSeconds == nil || *st.ConfigReadSeconds <= 0 || *st.ConfigReadSeconds > 1e-4 {
		t.Errorf("config read seconds = %v", st.ConfigReadSeconds)
	}
	if st.Terminals == nil || len(st.History) == 0 {
		t.Errorf("terminals %v history %v", st.Terminals, st.History)
	}

	// The WebSocket carries the same stats.
	c := e.dial("")
	var ws Stats
	if err := json.Unmarshal([]byte(c.text("stats")), &ws); err != nil || ws.Requests.Total != 103 {
		t.Errorf("ws stats: %+v %v", ws.Requests, err)
	}
}
