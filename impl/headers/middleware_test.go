package headers

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bun13/bun13/impl/config"
)

func newTestMiddleware(t testing.TB) (*Middleware, *prometheus.Registry, *int) {
	reg := prometheus.NewRegistry()
	store, _ := config.NewStore(config.Default())
	calls := new(int)
	m, err := NewMiddleware(reg, store, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { *calls++ }))
	if err != nil {
		t.Fatal(err)
	}
	return m, reg, calls
}

func TestMiddleware(t *testing.T) {
	m, reg, calls := newTestMiddleware(t)
	serve := func(h http.Header) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/left-pad", nil)
		for k, v := range h {
			r.Header[k] = v
		}
		w := httptest.NewRecorder()
		m.ServeHTTP(w, r)
		return w
	}
	// net/http canonicalizes names, so a lower-case header is seen.
	lower := httptest.NewRequest("GET", "/x", nil)
	lower.Header = http.Header{}
	for k, v := range FromConfig(config.Default()) {
		lower.Header.Set(strings.ToLower(k), v[0])
	}
	if !presentCanonical(lower.Header) {
		t.Fatal("Header.Set did not canonicalize: presentCanonical misses lower-case names")
	}
	// No headers: passes, counted nowhere.
	if w := serve(nil); w.Code != 200 || *calls != 1 {
		t.Fatalf("plain request: %d, %d calls", w.Code, *calls)
	}
	// The server's own config: passes, no drift.
	if w := serve(FromConfig(config.Default())); w.Code != 200 || *calls != 2 {
		t.Fatalf("valid set: %d", w.Code)
	}
	// Another registry: passes, counted as drift.
	other := config.Default()
	other.Version, other.RegistryHash = 2, 0x12345678
	if w := serve(FromConfig(other)); w.Code != 200 || *calls != 3 {
		t.Fatalf("drifting set: %d", w.Code)
	}
	// Invalid: 400, JSON naming code and header, handler not called.
	bad := FromConfig(config.Default())
	bad.Set(FeatureFlags, "0x000000B8")
	w := serve(bad)
	if w.Code != 400 || *calls != 3 {
		t.Fatalf("invalid set: %d, %d calls", w.Code, *calls)
	}
	var body headerError
	json.Unmarshal(w.Body.Bytes(), &body)
	if d := cmp.Diff(headerError{Error: "header-format", Header: FeatureFlags}, body, cmpIgnoreDetail); d != "" {
		t.Errorf("400 body mismatch (-want +got):\n%s", d)
	}
	partial := http.Header{Version: {"1"}}
	if w := serve(partial); w.Code != 400 || !strings.Contains(w.Body.String(), RegistryHash) {
		t.Errorf("partial set: %d %s", w.Code, w.Body.String())
	}
	want := `
# HELP bun_config_client_requests_total Requests carrying a valid set of X-Bun config headers, by the client's config version.
# TYPE bun_config_client_requests_total counter
bun_config_client_requests_total{version="0"} 0
bun_config_client_requests_total{version="1"} 1
bun_config_client_requests_total{version="2"} 1
# HELP bun_config_drift_total Requests whose X-Bun-Registry-Hash differs from the server's registry hash.
# TYPE bun_config_drift_total counter
bun_config_drift_total 1
# HELP bun_config_header_errors_total Requests refused for invalid X-Bun config headers, by SPEC code.
# TYPE bun_config_header_errors_total counter
bun_config_header_errors_total{code="header-checksum"} 0
bun_config_header_errors_total{code="header-format"} 1
bun_config_header_errors_total{code="header-missing"} 1
bun_config_header_errors_total{code="header-range"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

var cmpIgnoreDetail = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Detail" }, cmp.Ignore())

// BenchmarkMiddleware measures the cost the middleware adds to a request:
// compare headers=none (a Present check) and headers=valid (Validate,
// counting, drift check) against bare, the handler alone.
func BenchmarkMiddleware(b *testing.B) {
	m, _, _ := newTestMiddleware(b)
	valid := FromConfig(config.Default())
	for _, c := range []struct {
		name string
		h    http.Handler
		hdr  http.Header
	}{{"bare", m.Next, valid}, {"headers=none", m, nil}, {"headers=valid", m, valid}} {
		b.Run(c.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/left-pad", nil)
			r.Header.Set("Accept", "application/vnd.npm.install-v1+json")
			r.Header.Set("User-Agent", "npm/11.0.0 node/v20.0.0 linux x64")
			r.Header.Set("Authorization", "Bearer x")
			for k, v := range c.hdr {
				r.Header[k] = v
			}
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(w, r)
			}
		})
	}
}
