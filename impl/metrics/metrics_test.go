package metrics

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bun13/bun13/impl/config"
)

func newTest(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

func TestCounters(t *testing.T) {
	m, reg := newTest(t)
	m.Request("GET", "/:name", 200, 300*time.Microsecond)
	m.Request("GET", "/:name", 200, 2*time.Millisecond)
	m.Request("PUT", "/:name", 201, 40*time.Millisecond)
	m.Request("GET", "/:name", 404, 100*time.Microsecond)
	m.AuthFailure("expired")
	m.AuthFailure("expired")
	m.AuthFailure("bad_signature")
	m.RateLimited("read")
	m.AddStored(2, 5, 1000)
	m.AddStored(0, -1, -200)
	m.ConfigRead()
	m.ConfigRead()
	m.ConfigRead()

	want := `
# HELP bun_http_requests_total HTTP requests served, by method, route template and status.
# TYPE bun_http_requests_total counter
bun_http_requests_total{method="GET",route="/:name",status="200"} 2
bun_http_requests_total{method="GET",route="/:name",status="404"} 1
bun_http_requests_total{method="PUT",route="/:name",status="201"} 1
# HELP bun_auth_failures_total Requests refused for failed authentication, by reason.
# TYPE bun_auth_failures_total counter
bun_auth_failures_total{reason="bad_signature"} 1
bun_auth_failures_total{reason="expired"} 2
# HELP bun_rate_limited_total Requests refused by a rate limit, by class.
# TYPE bun_rate_limited_total counter
bun_rate_limited_total{class="read"} 1
# HELP bun_registry_packages Packages stored with at least one live version.
# TYPE bun_registry_packages gauge
bun_registry_packages 2
# HELP bun_registry_versions Live package versions stored.
# TYPE bun_registry_versions gauge
bun_registry_versions 4
# HELP bun_registry_tarball_bytes Bytes of tarballs of live versions stored.
# TYPE bun_registry_tarball_bytes gauge
bun_registry_tarball_bytes 800
# HELP bun_config_reads_total Reads of the live config (one per request).
# TYPE bun_config_reads_total counter
bun_config_reads_total 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"bun_http_requests_total", "bun_auth_failures_total", "bun_rate_limited_total",
		"bun_registry_packages", "bun_registry_versions", "bun_registry_tarball_bytes", "bun_config_reads_total"); err != nil {
		t.Error(err)
	}

	wantHist := `
# HELP bun_http_request_duration_seconds HTTP request latency, by method, route template and status.
# TYPE bun_http_request_duration_seconds histogram
bun_http_request_duration_seconds_bucket{method="PUT",route="/:name",status="201",le="0.0001"} 0
bun_http_request_duration_seconds_bucket{method="PUT",route="/:name",status="201",le="0.00025"} 0
bun_http_request_duration_seconds_bucket{method="PUT",route="/:name",status="201",le="0.0005"} 0
bun_http_request_duration_seconds_bucket{method="PUT",route="/:name",status="201",le="0.001"} 0
bun_http_request_duration_seconds_bucket{method="PUT",route="/:name",status="201",le="0.0025"} 0
bun_http_request_duration_seconds_bucket{method="PUT",route="/:name",status="201",le="0.005"} 0
bun_http_request_duration_seconds_bucket{method="PUT",route="/:name",status="201",le="0.01"} 0
bun_http_request_duration_seconds_bucket{method="PUT",route="/:name",status="201",le="0.025"} 0
bun_http_request_duration_seconds_bucket{method="PUT",route="/:name",status="201",le="0.05"} 1
bun_http_request_duration_seconds_bucket{method="PUT",route="/:name",status="201",le="0.1"} 1
bun_http_request_duration_seconds_bucket{method="PUT",route="/:name",status="201",le="0.25"} 1
bun_http_request_duration_seconds_bucket{method="PUT",route="/:name",status="201",le="0.5"} 1
bun_http_request_duration_seconds_bucket{method="PUT",route="/:name",status="201",le="1"} 1
bun_http_request_duration_seconds_bucket{method="PUT",route="/:name",status="201",le="2.5"} 1
bun_http_request_duration_seconds_bucket{method="PUT",route="/:name",status="201",le="5"} 1
bun_http_request_duration_seconds_bucket{method="PUT",route="/:name",status="201",le="10"} 1
bun_http_request_duration_seconds_bucket{method="PUT",route="/:name",status="201",le="+Inf"} 1
bun_http_request_duration_seconds_sum{method="PUT",route="/:name",status="201"} 0.04
bun_http_request_duration_seconds_count{method="PUT",route="/:name",status="201"} 1
`
	// Only the PUT series: compare one child of the histogram.
	h := m.duration.WithLabelValues("PUT", "/:name", "201").(prometheus.Histogram)
	if err := testutil.CollectAndCompare(h, strings.NewReader(wantHist)); err != nil {
		t.Error(err)
	}
}

func TestConfigInfo(t *testing.T) {
	m, reg := newTest(t)
	store, err := config.NewStore(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.WatchConfig(ctx, store)
	want := func(flags string, api, other int) string {
		return `
# HELP bun_config_info The live 13-byte config; always 1.
# TYPE bun_config_info gauge
bun_config_info{feature_flags="` + flags + `",registry_hash="0x5e9b6bd5",version="1"} 1
# HELP bun_config_updates_total Changes applied to the live config, by source: file (the lockfile changed on disk: another process, an editor, a ConfigMap), cli, rollback, api, websocket.
# TYPE bun_config_updates_total counter
bun_config_updates_total{source="api"} ` + strconv.Itoa(api) + `
bun_config_updates_total{source="cli"} 0
bun_config_updates_total{source="file"} 0
bun_config_updates_total{source="other"} ` + strconv.Itoa(other) + `
bun_config_updates_total{source="rollback"} 0
bun_config_updates_total{source="websocket"} 0
`
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want("0x000000b8", 0, 0)), "bun_config_info", "bun_config_updates_total"); err != nil {
		t.Error(err)
	}
	if _, err := store.Update(func(c config.Config) (config.Config, error) { c.FeatureFlags |= config.Debug; return c, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := store.UpdateFrom("api", func(c config.Config) (config.Config, error) { c.FeatureFlags |= config.AuthRequired; return c, nil }); err != nil {
		t.Fatal(err)
	}
	// The watcher runs in its own goroutine: wait for it (bounded).
	deadline := time.Now().Add(5 * time.Second)
	var err2 error
	for time.Now().Before(deadline) {
		if err2 = testutil.GatherAndCompare(reg, strings.NewReader(want("0x000000f9", 1, 1)), "bun_config_info", "bun_config_updates_total"); err2 == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err2 != nil {
		t.Error(err2)
	}
}

func TestNilSafe(t *testing.T) {
	var m *Metrics
	m.Request("GET", "/", 200, time.Millisecond)
	m.AuthFailure("x")
	m.RateLimited("read")
	m.AddStored(1, 1, 1)
	m.ConfigRead()
	m.SetConfig(config.Default())
	m.WatchConfig(context.Background(), nil)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 404 {
		t.Errorf("nil handler: %d", rec.Code)
	}
}

func TestHandler(t *testing.T) {
	m, _ := newTest(t)
	m.Request("GET", "/-/ping", 200, time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `bun_http_requests_total{method="GET",route="/-/ping",status="200"} 1`) {
		t.Errorf("exposition: %d %s", rec.Code, rec.Body.String())
	}
}

func BenchmarkRequest(b *testing.B) {
	m, _ := New(prometheus.NewRegistry())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request("GET", "/:name", 200, time.Millisecond)
		}
	})
}
