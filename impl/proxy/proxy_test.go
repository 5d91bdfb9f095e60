package proxy

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/dnscache"
	"github.com/bun13/bun13/impl/headers"
	"github.com/bun13/bun13/impl/registry/storage"
)

// fakeClock is stepped by tests; nothing sleeps.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time       { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Step(d time.Duration) { c.ns.Add(int64(d)) }

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// storeWith returns a version-2 config store with exactly flags set.
// setFlags changes the live config's flags, as the dashboard would.
func setFlags(t testing.TB, s *config.Store, flags config.Flags) {
	t.Helper()
	if _, err := s.Update(func(c config.Config) (config.Config, error) {
		c.FeatureFlags = flags
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
}

func storeWith(t testing.TB, flags config.Flags) *config.Store {
	t.Helper()
	c := config.Default()
	c.Version, c.FeatureFlags = 2, flags
	s, err := config.NewStore(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tgz is a fake tarball with its integrity and shasum.
type tgz struct {
	version, file string
	data          []byte
	sri, shasum   string
}

func makeTgz(name, version string) tgz {
	bare := name[strings.LastIndex(name, "/")+1:]
	data := []byte("tarball of " + name + "@" + version)
	s512 := sha512.Sum512(data)
	s1 := sha1.Sum(data)
	return tgz{
		version: version,
		file:    bare + "-" + version + ".tgz",
		data:    data,
		sri:     "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
		shasum:  hex.EncodeToString(s1[:]),
	}
}

// fakeRegistry is an upstream on loopback.
type fakeRegistry struct {
	srv *httptest.Server

	mu         sync.Mutex
	packuments map[string][]byte // by name
	etags      map[string]string
	tarballs   map[string][]byte // by URL path
	status     int               // when set, every request gets it
	gzip       bool              // gzip bodies when asked
	hold       chan struct{}     // when set, packument requests wait for it
	hits       map[string]int    // by URL path
	last       *http.Request     // headers and URL of the last request
}

func newFakeRegistry(t testing.TB) *fakeRegistry {
	f := &fakeRegistry{
		packuments: map[string][]byte{},
		etags:      map[string]string{},
		tarballs:   map[string][]byte{},
		hits:       map[string]int{},
	}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// add publishes versions of name: a packument listing them, and tarballs
// (the served bytes may differ from the listed integrity: tamper).
func (f *fakeRegistry) add(name, etag string, vs ...tgz) {
	versions := map[string]any{}
	for _, v := range vs {
		versions[v.version] = map[string]any{
			"name": name, "version": v.version, "description": "a & b <c>",
			"dist": map[string]any{
				"tarball":   f.srv.URL + "/" + name + "/-/" + v.file,
				"integrity": v.sri,
				"shasum":    v.shasum,
				"fileCount": 1,
			},
		}
	}
	doc, _ := marshal(map[string]any{"_id": name, "name": name, "versions": versions})
	f.mu.Lock()
	defer f.mu.Unlock()
	f.packuments[name] = doc
	f.etags[name] = etag
	for _, v := range vs {
		f.tarballs["/"+name+"/-/"+v.file] = v.data
	}
}

func (f *fakeRegistry) setTarball(name, file string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tarballs["/"+name+"/-/"+file] = data
}

func (f *fakeRegistry) setStatus(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = code
}

func (f *fakeRegistry) hitCount(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

func (f *fakeRegistry) lastRequest() *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.hits[r.URL.Path]++
	f.last = r.Clone(context.Background())
	status, hold, gz := f.status, f.hold, f.gzip
	doc, etag := f.packuments[strings.TrimPrefix(r.URL.Path, "/")], f.etags[strings.TrimPrefix(r.URL.Path, "/")]
	tb, isTarball := f.tarballs[r.URL.Path]
	f.mu.Unlock()

	w.Header().Set("Set-Cookie", "upstream=1")
	var body []byte
	switch {
	case status != 0:
		w.WriteHeader(status)
		return
	case r.URL.Path == "/-/ping":
		body = []byte("{}")
	case strings.Contains(r.URL.Path, "/-/"):
		if !isTarball {
			http.NotFound(w, r)
			return
		}
		body = tb
	case doc != nil:
		if hold != nil {
			<-hold
		}
		if etag != "" {
			w.Header().Set("ETag", etag)
			if r.Header.Get("If-None-Match") == etag {
				if gz && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
					// As some servers do: the encoding the body would have had.
					w.Header().Set("Content-Encoding", "gzip")
				}
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		body = doc
	default:
		http.NotFound(w, r)
		return
	}
	if gz && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(body)
		zw.Close()
		body = b.Bytes()
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.Write(body)
}

const ourRegistry = "http://registry.local:4873"

func newUpstream(t testing.TB, f *fakeRegistry, store *config.Store, clk *fakeClock) *Upstream {
	t.Helper()
	base, err := url.Parse(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	u := &Upstream{
		URL:        base,
		Store:      store,
		TarballURL: func(name, file string) string { return ourRegistry + "/" + name + "/-/" + file },
		Tarballs:   storage.NewFS(t.TempDir()),
		Logger:     discard(),
	}
	if clk != nil {
		u.Now = clk.Now
	}
	t.Cleanup(func() { u.Close() })
	return u
}

func TestPackumentRewritesTarballURLs(t *testing.T) {
	f := newFakeRegistry(t)
	v1, v2 := makeTgz("left-pad", "1.0.0"), makeTgz("left-pad", "1.1.0")
	f.add("left-pad", `"e1"`, v1, v2)
	u := newUpstream(t, f, nil, newClock())

	pk, err := u.Packument(context.Background(), "left-pad")
	if err != nil {
		t.Fatal(err)
	}
	if pk.Stale != nil || pk.ETag != `"e1"` {
		t.Errorf("Stale = %v, ETag = %q", pk.Stale, pk.ETag)
	}
	var doc struct {
		Versions map[string]struct {
			Description string
			Dist        map[string]any
		}
	}
	if err := json.Unmarshal(pk.Body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, v := range []tgz{v1, v2} {
		got := doc.Versions[v.version]
		want := map[string]any{
			"tarball":   ourRegistry + "/left-pad/-/" + v.file,
			"integrity": v.sri,
			"shasum":    v.shasum,
			"fileCount": float64(1),
		}
		if d := cmp.Diff(want, got.Dist); d != "" {
			t.Errorf("%s dist mismatch (-want +got):\n%s", v.version, d)
		}
		if got.Description != "a & b <c>" {
			t.Errorf("description = %q", got.Description)
		}
	}
	if bytes.Contains(pk.Body, []byte(`\u0026`)) {
		t.Errorf("body HTML-escaped: %s", pk.Body)
	}
}

func TestPackumentScopedName(t *testing.T) {
	f := newFakeRegistry(t)
	v := makeTgz("@scope/pkg", "2.0.0")
	f.add("@scope/pkg", "", v)
	u := newUpstream(t, f, nil, newClock())
	if _, err := u.Packument(context.Background(), "@scope/pkg"); err != nil {
		t.Fatal(err)
	}
	if got := f.lastRequest().RequestURI; got != "/@scope%2fpkg" {
		t.Errorf("packument request URI = %q, want /@scope%%2fpkg", got)
	}
	got, err := u.Tarball(context.Background(), "@scope/pkg", v.file, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, v.data) {
		t.Errorf("tarball = %q", got)
	}
	if got := f.lastRequest().RequestURI; got != "/@scope/pkg/-/pkg-2.0.0.tgz" {
		t.Errorf("tarball request URI = %q", got)
	}
}

func TestPackumentSingleflight(t *testing.T) {
	const n = 20
	f := newFakeRegistry(t)
	f.add("react", `"r1"`, makeTgz("react", "19.0.0"))
	f.hold = make(chan struct{})
	u := newUpstream(t, f, nil, newClock())

	var wg sync.WaitGroup
	bodies := make(chan []byte, n)
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			pk, err := u.Packument(context.Background(), "react")
			errs <- err
			bodies <- pk.Body
		})
	}
	// Hold the upstream until every caller has missed the cache.
	deadline := time.Now().Add(10 * time.Second)
	for u.Status().Misses < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d callers arrived", u.Status().Misses, n)
		}
		time.Sleep(time.Millisecond)
	}
	close(f.hold)
	wg.Wait()
	close(errs)
	close(bodies)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	first := <-bodies
	for b := range bodies {
		if !bytes.Equal(b, first) {
			t.Fatal("callers got different bodies")
		}
	}
	if got := f.hitCount("/react"); got != 1 {
		t.Errorf("%d upstream requests for %d concurrent misses, want 1", got, n)
	}
}

func TestPackumentTTLAndRevalidation(t *testing.T) {
	f := newFakeRegistry(t)
	f.add("lodash", `"v1"`, makeTgz("lodash", "4.17.21"))
	clk := newClock()
	u := newUpstream(t, f, nil, clk)
	u.PackumentTTL = time.Minute
	ctx := context.Background()

	first, err := u.Packument(ctx, "lodash")
	if err != nil {
		t.Fatal(err)
	}
	clk.Step(time.Minute - time.Nanosecond)
	if _, err := u.Packument(ctx, "lodash"); err != nil {
		t.Fatal(err)
	}
	if got := f.hitCount("/lodash"); got != 1 {
		t.Fatalf("within TTL: %d requests, want 1", got)
	}

	clk.Step(time.Nanosecond) // expired: revalidated, upstream says 304
	pk, err := u.Packument(ctx, "lodash")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.hitCount("/lodash"); got != 2 {
		t.Fatalf("after TTL: %d requests, want 2", got)
	}
	if got := f.lastRequest().Header.Get("If-None-Match"); got != `"v1"` {
		t.Errorf("If-None-Match = %q, want \"v1\"", got)
	}
	if !bytes.Equal(pk.Body, first.Body) || pk.Stale != nil || !pk.Fetched.Equal(clk.Now()) {
		t.Errorf("after 304: Stale %v, Fetched %v (now %v), body kept %v", pk.Stale, pk.Fetched, clk.Now(), bytes.Equal(pk.Body, first.Body))
	}
	if s := u.Status(); s.Revalidated != 1 || s.CacheHits != 1 {
		t.Errorf("status = %+v, want 1 revalidation, 1 cache hit", s)
	}
	clk.Step(30 * time.Second) // the 304 restarted the TTL
	u.Packument(ctx, "lodash")
	if got := f.hitCount("/lodash"); got != 2 {
		t.Fatalf("after 304, within TTL: %d requests, want 2", got)
	}

	// A new version upstream: the next revalidation gets the new document.
	f.add("lodash", `"v2"`, makeTgz("lodash", "4.17.21"), makeTgz("lodash", "5.0.0"))
	clk.Step(time.Minute)
	pk, err = u.Packument(ctx, "lodash")
	if err != nil {
		t.Fatal(err)
	}
	if pk.ETag != `"v2"` || !bytes.Contains(pk.Body, []byte("5.0.0")) {
		t.Errorf("after change: ETag %q, body %s", pk.ETag, pk.Body)
	}
}

func TestPackumentStaleWhenUpstreamDown(t *testing.T) {
	f := newFakeRegistry(t)
	f.add("express", `"x"`, makeTgz("express", "5.0.0"))
	clk := newClock()
	u := newUpstream(t, f, nil, clk)
	u.PackumentTTL, u.FailureBackoff = time.Minute, 10*time.Second
	ctx := context.Background()
	first, err := u.Packument(ctx, "express")
	if err != nil {
		t.Fatal(err)
	}

	f.setStatus(http.StatusServiceUnavailable)
	clk.Step(2 * time.Minute)
	pk, err := u.Packument(ctx, "express")
	if err != nil {
		t.Fatalf("stale copy not served: %v", err)
	}
	if pk.Stale == nil || !strings.Contains(pk.Stale.Error(), "503") {
		t.Errorf("Stale = %v, want the 503", pk.Stale)
	}
	if !bytes.Equal(pk.Body, first.Body) {
		t.Error("stale body differs")
	}
	s := u.Status()
	if s.Up || s.LastError == "" || s.StaleServed != 1 || s.Failures != 1 {
		t.Errorf("status = %+v, want down with the error, 1 stale, 1 failure", s)
	}

	clk.Step(5 * time.Second) // within FailureBackoff: not asked
	if pk, err := u.Packument(ctx, "express"); err != nil || pk.Stale == nil {
		t.Fatalf("during backoff: Stale %v, err %v", pk.Stale, err)
	}
	if got := f.hitCount("/express"); got != 2 {
		t.Errorf("during backoff: %d requests, want 2", got)
	}

	// The server gone entirely (connection refused): still the stale copy.
	f.srv.Close()
	clk.Step(time.Minute)
	if pk, err := u.Packument(ctx, "express"); err != nil || pk.Stale == nil {
		t.Fatalf("server gone: Stale %v, err %v", pk.Stale, err)
	}
	// Nothing cached: the failure itself.
	if _, err := u.Packument(ctx, "koa"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("uncached package with upstream down: err = %v", err)
	}
}

func TestPackumentNotFound(t *testing.T) {
	f := newFakeRegistry(t)
	u := newUpstream(t, f, nil, newClock())
	if _, err := u.Packument(context.Background(), "no-such-package"); !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
	if _, err := u.Packument(context.Background(), "../etc/passwd"); err == nil {
		t.Error("invalid name accepted")
	}
	if got := f.hitCount("/etc/passwd") + f.hitCount("/../etc/passwd"); got != 0 {
		t.Error("invalid name reached the upstream")
	}
}

func TestPackumentTooLarge(t *testing.T) {
	f := newFakeRegistry(t)
	f.add("big", "", makeTgz("big", "1.0.0"))
	u := newUpstream(t, f, nil, newClock())
	u.MaxPackumentSize = 64
	if _, err := u.Packument(context.Background(), "big"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
}

func TestPackumentCacheBound(t *testing.T) {
	f := newFakeRegistry(t)
	for i := range 5 {
		name := fmt.Sprintf("p%d", i)
		f.add(name, "", makeTgz(name, "1.0.0"))
	}
	// Every document has the same size: room for three.
	one, err := newUpstream(t, f, nil, nil).Packument(context.Background(), "p0")
	if err != nil {
		t.Fatal(err)
	}
	f.hits["/p0"] = 0
	clk := newClock()
	u := newUpstream(t, f, nil, clk)
	u.MaxCacheBytes = int64(3 * len(one.Body))
	for i := range 5 {
		clk.Step(time.Second)
		if _, err := u.Packument(context.Background(), fmt.Sprintf("p%d", i)); err != nil {
			t.Fatal(err)
		}
		if s := u.Status(); s.CacheBytes > u.MaxCacheBytes {
			t.Fatalf("cache holds %d bytes, bound %d", s.CacheBytes, u.MaxCacheBytes)
		}
	}
	if s := u.Status(); s.Packuments != 3 {
		t.Errorf("%d packuments cached, want 3", s.Packuments)
	}
	u.Packument(context.Background(), "p4")
	u.Packument(context.Background(), "p0")
	if f.hitCount("/p4") != 1 || f.hitCount("/p0") != 2 {
		t.Errorf("LRU: p4 fetched %d times (want 1), p0 %d (want 2)", f.hitCount("/p4"), f.hitCount("/p0"))
	}
}

func TestTarballVerifiedAndStored(t *testing.T) {
	f := newFakeRegistry(t)
	v := makeTgz("chalk", "5.3.0")
	f.add("chalk", "", v)
	clk := newClock()
	store := storeWith(t, 0)
	u := newUpstream(t, f, store, clk)
	ctx := context.Background()

	// Integrity from the packument, fetched on demand.
	got, err := u.Tarball(ctx, "chalk", v.file, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, v.data) {
		t.Fatalf("tarball = %q", got)
	}
	path := "/chalk/-/" + v.file
	if f.hitCount("/chalk") != 1 || f.hitCount(path) != 1 {
		t.Errorf("requests: packument %d, tarball %d; want 1, 1", f.hitCount("/chalk"), f.hitCount(path))
	}
	// Stored: served again without asking, even offline.
	setFlags(t, store, config.Offline)
	got, err = u.Tarball(ctx, "chalk", v.file, v.sri)
	if err != nil || !bytes.Equal(got, v.data) {
		t.Fatalf("stored tarball: %q, %v", got, err)
	}
	if f.hitCount(path) != 1 {
		t.Errorf("stored tarball fetched again")
	}
}

func TestTarballTamperedRefused(t *testing.T) {
	for _, tc := range []struct {
		name      string
		integrity func(v tgz) string
	}{
		{"sha512", func(v tgz) string { return v.sri }},
		{"shasum fallback", func(v tgz) string { return v.shasum }},
		{"from packument", func(tgz) string { return "" }},
		{"several hashes", func(v tgz) string { return "sha1-" + b64hex(v.shasum) + " " + v.sri }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRegistry(t)
			v := makeTgz("colors", "1.4.1")
			f.add("colors", "", v)
			f.setTarball("colors", v.file, []byte("evil payload"))
			u := newUpstream(t, f, nil, newClock())
			ctx := context.Background()
			got, err := u.Tarball(ctx, "colors", v.file, tc.integrity(v))
			if !errors.Is(err, ErrIntegrity) {
				t.Fatalf("err = %v, want ErrIntegrity", err)
			}
			if got != nil {
				t.Error("tampered bytes returned")
			}
			if _, err := u.Tarballs.OpenTarball(ctx, "colors", v.file); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("tampered tarball stored (open: %v)", err)
			}
			if s := u.Status(); s.Failures == 0 || !strings.Contains(s.LastError, "integrity") {
				t.Errorf("status = %+v, want the refusal recorded", s)
			}
		})
	}
}

func b64hex(h string) string {
	b, _ := hex.DecodeString(h)
	return base64.StdEncoding.EncodeToString(b)
}

func TestTarballCorruptStoreRefetched(t *testing.T) {
	f := newFakeRegistry(t)
	v := makeTgz("debug", "4.3.4")
	f.add("debug", "", v)
	u := newUpstream(t, f, nil, newClock())
	dir := u.Tarballs.(*storage.FS).Dir
	if err := os.MkdirAll(filepath.Join(dir, "debug"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "debug", v.file), []byte("bit rot"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := u.Tarball(context.Background(), "debug", v.file, v.sri)
	if err != nil || !bytes.Equal(got, v.data) {
		t.Fatalf("got %q, %v", got, err)
	}
	if f.hitCount("/debug/-/"+v.file) != 1 {
		t.Error("corrupt stored tarball was served instead of refetched")
	}
}

func TestTarballStrictIntegrity(t *testing.T) {
	f := newFakeRegistry(t)
	v := makeTgz("old", "0.1.0")
	f.add("old", "", v)
	u := newUpstream(t, f, storeWith(t, config.StrictIntegrity), newClock())
	if _, err := u.Tarball(context.Background(), "old", v.file, v.shasum); !errors.Is(err, ErrWeakIntegrity) {
		t.Errorf("sha1 only under STRICT_INTEGRITY: err = %v, want ErrWeakIntegrity", err)
	}
	if _, err := u.Tarball(context.Background(), "old", v.file, v.sri); err != nil {
		t.Errorf("sha512 under STRICT_INTEGRITY: %v", err)
	}
}

func TestTarballBadNames(t *testing.T) {
	f := newFakeRegistry(t)
	u := newUpstream(t, f, nil, newClock())
	for _, tc := range [][2]string{
		{"left-pad", "../../etc/passwd"},
		{"left-pad", "right-pad-1.0.0.tgz"},
		{"left-pad", "left-pad-1.0.0.tgz/x"},
		{"../x", "x-1.0.0.tgz"},
	} {
		if _, err := u.Tarball(context.Background(), tc[0], tc[1], "sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA="); err == nil {
			t.Errorf("Tarball(%q, %q) accepted", tc[0], tc[1])
		}
	}
	if s := u.Status(); s.Requests != 0 {
		t.Errorf("bad names reached the upstream: %d requests", s.Requests)
	}
}

func TestVerify(t *testing.T) {
	data := []byte("hello")
	s512 := sha512.Sum512(data)
	s1 := sha1.Sum(data)
	good512 := "sha512-" + base64.StdEncoding.EncodeToString(s512[:])
	good1 := "sha1-" + base64.StdEncoding.EncodeToString(s1[:])
	bad512 := "sha512-" + base64.StdEncoding.EncodeToString(make([]byte, 64))
	for _, tc := range []struct {
		integrity string
		strict    bool
		want      error
	}{
		{good512, false, nil},
		{good512 + "?opt", false, nil},
		{good1, false, nil},
		{hex.EncodeToString(s1[:]), false, nil},
		{bad512, false, ErrIntegrity},
		{bad512 + " " + good1, false, ErrIntegrity}, // the strongest decides
		{bad512 + " " + good512, false, nil},        // any of the strongest
		{good1, true, ErrWeakIntegrity},
		{"md5-XUFAKrxLKna5cZ2REBfFkg==", false, ErrNoIntegrity},
		{"", false, ErrNoIntegrity},
		{"sha512-short", false, ErrNoIntegrity},
	} {
		if err := verify(data, tc.integrity, tc.strict); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("verify(%q, strict %v) = %v, want %v", tc.integrity, tc.strict, err, tc.want)
		}
	}
}

func TestConfigHeadersSent(t *testing.T) {
	f := newFakeRegistry(t)
	v := makeTgz("ms", "2.1.3")
	f.add("ms", "", v)
	store := storeWith(t, config.Metrics|config.RateLimit)
	u := newUpstream(t, f, store, newClock())
	ctx := context.Background()
	check := func(what string) {
		t.Helper()
		got, err := headers.Validate(f.lastRequest().Header)
		if err != nil {
			t.Fatalf("%s: upstream got bad X-Bun headers: %v", what, err)
		}
		if got != store.Load() {
			t.Errorf("%s: headers describe %+v, want %+v", what, got, store.Load())
		}
	}
	if _, err := u.Packument(ctx, "ms"); err != nil {
		t.Fatal(err)
	}
	check("packument")
	if _, err := u.Tarball(ctx, "ms", v.file, v.sri); err != nil {
		t.Fatal(err)
	}
	check("tarball")
	if err := u.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	check("ping")

	// The live config: a change shows in the next request.
	store.Update(func(c config.Config) (config.Config, error) { c.Rows = 50; return c, nil })
	u.Ping(ctx)
	check("after update")
}

func TestForwardDropsCredentials(t *testing.T) {
	f := newFakeRegistry(t)
	store := storeWith(t, config.Metrics)
	u := newUpstream(t, f, store, newClock())
	in := httptest.NewRequest(http.MethodGet, "http://registry.local/-/v1/search?text=react&size=2", nil)
	in.Header.Set("Authorization", "Bearer client-secret")
	in.Header.Set("Proxy-Authorization", "Basic eDp5")
	in.Header.Set("Cookie", "session=abc")
	in.Header.Set("Npm-Otp", "123456")
	in.Header.Set("Connection", "X-Private")
	in.Header.Set("X-Private", "hop")
	in.Header.Set("Accept", "application/json")
	headers.Set(in.Header, config.Default()) // the client's own config
	resp, err := u.Forward(in)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := f.lastRequest()
	for _, h := range []string{"Authorization", "Proxy-Authorization", "Cookie", "Npm-Otp", "X-Private"} {
		if v := got.Header.Get(h); v != "" {
			t.Errorf("%s forwarded upstream: %q", h, v)
		}
	}
	if got.Header.Get("Accept") != "application/json" {
		t.Error("ordinary header not forwarded")
	}
	if got.URL.RequestURI() != "/-/v1/search?text=react&size=2" {
		t.Errorf("forwarded to %s", got.URL.RequestURI())
	}
	if c, err := headers.Validate(got.Header); err != nil || c != store.Load() {
		t.Errorf("X-Bun headers: %+v, %v; want ours %+v", c, err, store.Load())
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Error("upstream Set-Cookie passed to the client")
	}
	if _, err := u.Forward(httptest.NewRequest(http.MethodPut, "/left-pad", nil)); !errors.Is(err, ErrMethod) {
		t.Errorf("PUT forwarded: %v", err)
	}
	// Packument and tarball requests carry no credentials either.
	f.add("a", "", makeTgz("a", "1.0.0"))
	u.Packument(context.Background(), "a")
	if v := f.lastRequest().Header.Get("Authorization"); v != "" {
		t.Errorf("packument request has Authorization %q", v)
	}
}

func TestCompression(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("compression=%v", on), func(t *testing.T) {
			f := newFakeRegistry(t)
			f.gzip = true
			v := makeTgz("zlib", "1.0.0")
			f.add("zlib", `"z"`, v)
			var flags config.Flags
			if on {
				flags = config.Compression
			}
			clk := newClock()
			u := newUpstream(t, f, storeWith(t, flags), clk)
			pk, err := u.Packument(context.Background(), "zlib")
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(pk.Body) {
				t.Fatalf("body not decoded: %q", pk.Body)
			}
			ae := f.lastRequest().Header.Get("Accept-Encoding")
			if on && ae != "gzip" || !on && ae != "" {
				t.Errorf("Accept-Encoding = %q", ae)
			}
			clk.Step(time.Hour) // revalidated: a 304 has no body to decode
			if pk, err := u.Packument(context.Background(), "zlib"); err != nil || pk.Stale != nil {
				t.Fatalf("revalidation: Stale %v, err %v", pk.Stale, err)
			}
			if s := u.Status(); s.Revalidated != 1 {
				t.Errorf("Revalidated = %d, want 1", s.Revalidated)
			}
			got, err := u.Tarball(context.Background(), "zlib", v.file, v.sri)
			if err != nil || !bytes.Equal(got, v.data) {
				t.Errorf("tarball: %q, %v", got, err)
			}
		})
	}
}

func TestRedirectToPrivateRefused(t *testing.T) {
	f := newFakeRegistry(t)
	// Treat 127.0.0.1 as public so that the loopback upstream stands for a
	// public one, and 127.0.0.2 as the private network behind it.
	isPrivate := func(ip netip.Addr) bool { return ip != netip.MustParseAddr("127.0.0.1") }
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	}))
	defer redir.Close()
	base, _ := url.Parse(redir.URL)
	u := &Upstream{URL: base, IsPrivate: isPrivate, Logger: discard()}
	defer u.Close()

	fwd := func(to string) error {
		req := httptest.NewRequest(http.MethodGet, "/x?to="+url.QueryEscape(to), nil)
		resp, err := u.Forward(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := fwd("http://127.0.0.2:9/metadata"); !errors.Is(err, ErrPrivateAddress) {
		t.Errorf("redirect to a private address: err = %v, want ErrPrivateAddress", err)
	}
	if err := fwd(f.srv.URL + "/-/ping"); err != nil {
		t.Errorf("redirect to a public address: %v", err)
	}
	// The dial check sees the address really connected to (DNS rebinding).
	if err := u.control(context.Background(), "tcp", "127.0.0.2:443", nil); !errors.Is(err, ErrPrivateAddress) {
		t.Errorf("dial to a private address: %v", err)
	}
	if err := u.control(context.Background(), "tcp", "[::ffff:127.0.0.2]:443", nil); !errors.Is(err, ErrPrivateAddress) {
		t.Errorf("dial to a v4-mapped private address: %v", err)
	}

	// A private upstream (the default rule, loopback) may redirect within.
	lo := &Upstream{URL: base, Logger: discard()}
	defer lo.Close()
	req := httptest.NewRequest(http.MethodGet, "/x?to="+url.QueryEscape(f.srv.URL+"/-/ping"), nil)
	resp, err := lo.Forward(req)
	if err != nil {
		t.Fatalf("loopback upstream redirecting to loopback: %v", err)
	}
	resp.Body.Close()
}

func TestIsPrivateAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true,
		"169.254.169.254": true, "fe80::1": true, "fd00::1": true, "100.64.0.1": true, "0.0.0.0": true,
		"::": true, "224.0.0.1": true, "::ffff:10.0.0.1": true,
		"104.16.0.34": false, "8.8.8.8": false, "2606:4700::6810:22": false, "100.128.0.1": false,
	} {
		if got := isPrivateAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("isPrivateAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestOffline(t *testing.T) {
	f := newFakeRegistry(t)
	v := makeTgz("offline-pkg", "1.0.0")
	f.add("offline-pkg", "", v)
	clk := newClock()
	store := storeWith(t, config.Offline)
	u := newUpstream(t, f, store, clk)
	ctx := context.Background()
	if _, err := u.Packument(ctx, "offline-pkg"); !errors.Is(err, ErrOffline) {
		t.Errorf("Packument: %v, want ErrOffline", err)
	}
	if _, err := u.Tarball(ctx, "offline-pkg", v.file, v.sri); !errors.Is(err, ErrOffline) {
		t.Errorf("Tarball: %v, want ErrOffline", err)
	}
	if _, err := u.Forward(httptest.NewRequest(http.MethodGet, "/-/v1/search", nil)); !errors.Is(err, ErrOffline) {
		t.Errorf("Forward: %v, want ErrOffline", err)
	}
	if err := u.Ping(ctx); !errors.Is(err, ErrOffline) {
		t.Errorf("Ping: %v, want ErrOffline", err)
	}
	if s := u.Status(); s.Requests != 0 || !s.Offline || len(f.hits) != 0 {
		t.Errorf("offline uplink sent requests: %+v", s)
	}

	// A packument cached while online is served, marked stale, once expired.
	setFlags(t, store, 0)
	if _, err := u.Packument(ctx, "offline-pkg"); err != nil {
		t.Fatal(err)
	}
	setFlags(t, store, config.Offline)
	clk.Step(time.Hour)
	pk, err := u.Packument(ctx, "offline-pkg")
	if err != nil || !errors.Is(pk.Stale, ErrOffline) {
		t.Errorf("cached packument offline: Stale %v, err %v", pk.Stale, err)
	}
}

func TestDNSCacheUsedWhenFlagSet(t *testing.T) {
	f := newFakeRegistry(t)
	f.add("dns-pkg", "", makeTgz("dns-pkg", "1.0.0"))
	port := f.srv.Listener.Addr().(*net.TCPAddr).Port
	var lookups atomic.Int32
	res := &dnscache.Resolver{
		Logger: discard(),
		Lookup: func(ctx context.Context, host string) ([]netip.Addr, time.Duration, error) {
			lookups.Add(1)
			if host != "registry.test" {
				return nil, 0, fmt.Errorf("unexpected lookup of %q", host)
			}
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, time.Minute, nil
		},
	}
	defer res.Close()
	base, _ := url.Parse(fmt.Sprintf("http://registry.test:%d", port))
	u := &Upstream{URL: base, Store: storeWith(t, config.DNSCache), Resolver: res, Logger: discard()}
	defer u.Close()
	if _, err := u.Packument(context.Background(), "dns-pkg"); err != nil {
		t.Fatal(err)
	}
	if lookups.Load() == 0 || res.Stats().Entries != 1 {
		t.Errorf("DNS cache not used: %d lookups, %+v", lookups.Load(), res.Stats())
	}
}

func TestStatus(t *testing.T) {
	f := newFakeRegistry(t)
	clk := newClock()
	u := newUpstream(t, f, nil, clk)
	if s := u.Status(); s.Up || s.URL != f.srv.URL {
		t.Errorf("before any request: %+v", s)
	}
	if err := u.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := u.Status()
	if !s.Up || !s.LastSuccess.Equal(clk.Now()) || s.Requests != 1 || s.Failures != 0 {
		t.Errorf("after a ping: %+v", s)
	}
	f.setStatus(http.StatusBadGateway)
	clk.Step(time.Second)
	if err := u.Ping(context.Background()); err == nil {
		t.Error("ping of a 502 succeeded")
	}
	s = u.Status()
	if s.Up || !s.LastFailure.Equal(clk.Now()) || s.Failures != 1 || !strings.Contains(s.LastError, "502") {
		t.Errorf("after a failure: %+v", s)
	}
}

func TestBadUpstreamURL(t *testing.T) {
	for _, raw := range []string{"ftp://x", "http://user:pw@x", "http://x/?q=1", "http:///path"} {
		base, _ := url.Parse(raw)
		u := &Upstream{URL: base, Logger: discard()}
		if _, err := u.Packument(context.Background(), "x"); err == nil {
			t.Errorf("upstream %q accepted", raw)
		}
		u.Close()
	}
	u := &Upstream{Logger: discard()}
	if err := u.Ping(context.Background()); err == nil {
		t.Error("nil URL accepted")
	}
	u.Close()
}

func BenchmarkPackumentHit(b *testing.B) {
	f := newFakeRegistry(b)
	f.add("left-pad", `"e"`, makeTgz("left-pad", "1.3.0"))
	u := newUpstream(b, f, storeWith(b, config.Compression|config.DNSCache), nil)
	ctx := context.Background()
	if _, err := u.Packument(ctx, "left-pad"); err != nil {
		b.Fatal(err)
	}
	b.Run("mode=serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			u.Packument(ctx, "left-pad")
		}
	})
	b.Run("mode=parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				u.Packument(ctx, "left-pad")
			}
		})
	})
}
