package registry

// Replicas sharing PostgreSQL (pgdocs + pgsearch) and an S3 bucket
// (versitygw in CI), in one process: each testEnv is a replica with its
// own caches. The end-to-end version, with processes behind a load
// balancer and real clients, is impl/registry/replicatest.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
	"github.com/bun13/bun13/impl/store/docs/pgdocs"
	"github.com/bun13/bun13/impl/store/search/pgsearch"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
	"github.com/bun13/bun13/impl/testenv/s3temp"
)

// sharedStores is one database and one bucket prefix for a test's
// replicas.
type sharedStores struct {
	db, bucket string
}

func newSharedStores(t *testing.T) sharedStores {
	t.Helper()
	bucket := s3temp.New(t, "registry")
	return sharedStores{db: pgtemp.New(t), bucket: bucket}
}

// flaky wraps a docs.Store; while down is set every call fails as a
// database that went away does.
type flaky struct {
	docs.Store
	down atomic.Bool
	gets atomic.Int64
}

var errDown = errors.New("connection refused (test)")

func (f *flaky) Get(ctx context.Context, name string) ([]byte, docs.Rev, error) {
	f.gets.Add(1)
	if f.down.Load() {
		return nil, "", errDown
	}
	return f.Store.Get(ctx, name)
}

func (f *flaky) Revision(ctx context.Context, name string) (docs.Rev, error) {
	if f.down.Load() {
		return "", errDown
	}
	return f.Store.Revision(ctx, name)
}

func (f *flaky) Put(ctx context.Context, name string, doc []byte, expected docs.Rev) (docs.Rev, error) {
	if f.down.Load() {
		return "", errDown
	}
	return f.Store.Put(ctx, name, doc, expected)
}

func (f *flaky) Stats(ctx context.Context) (docs.Stats, error) {
	return f.Store.(docs.StatsReader).Stats(ctx)
}

// replica opens its own connections to the shared stores, as a process
// would, and serves them.
func (ss sharedStores) replica(t *testing.T, opts ...envOption) (*testEnv, *flaky) {
	t.Helper()
	ctx := context.Background()
	pg, err := pgdocs.Open(ctx, ss.db, pgdocs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	if err := pgsearch.Migrate(ctx, ss.db); err != nil {
		t.Fatal(err)
	}
	bl, err := blobs.OpenURL(ctx, ss.bucket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bl.Close() })
	f := &flaky{Store: pgsearch.Indexed{Store: pg}}
	all := append([]envOption{func(o *Options) {
		o.Docs, o.Blobs, o.Search, o.Shared = f, bl, pgsearch.New(pg.Pool()), true
	}}, opts...)
	return newEnv(t, config.Metrics, all...), f
}

func versionsOf(t *testing.T, e *testEnv, name string) map[string]any {
	t.Helper()
	r := e.do("GET", "/"+escapeName(name), "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", name, r.status, r.body)
	}
	v, _ := r.json(t)["versions"].(map[string]any)
	return v
}

// TestSharedReadYourWrites: a publish acknowledged by one replica is
// served by the other at once (its cache is dropped through NOTIFY), and
// so are an unpublish and a dist-tag change.
func TestSharedReadYourWrites(t *testing.T) {
	ss := newSharedStores(t)
	a, _ := ss.replica(t)
	b, _ := ss.replica(t)
	a.publish("alice", "ryw", "1.0.0")
	if v := versionsOf(t, b, "ryw"); len(v) != 1 {
		t.Fatalf("replica b sees %d versions", len(v))
	}
	// b has it cached now; a's next publish must reach it.
	a.publish("alice", "ryw", "1.1.0")
	deadline := time.Now().Add(5 * time.Second)
	for len(versionsOf(t, b, "ryw")) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("replica b never saw 1.1.0")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The tarball is served by b from the bucket, byte for byte.
	want := tarball("ryw", "1.1.0")
	r := b.do("GET", "/ryw/-/ryw-1.1.0.tgz", "", nil)
	if r.status != 200 || string(r.body) != string(want) {
		t.Fatalf("tarball through b: %d (%d bytes, want %d)", r.status, len(r.body), len(want))
	}
	// Search runs in the database: b finds what a published.
	r = b.do("GET", "/-/v1/search?text=ryw", "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"name":"ryw"`) {
		t.Fatalf("search through b: %d %s", r.status, r.body)
	}
}

// TestSharedConcurrentPublishes: replicas publishing different versions
// of one package at once keep them all; the same version published at
// once through several replicas has exactly one winner, and the tarball
// served is the winner's.
func TestSharedConcurrentPublishes(t *testing.T) {
	ss := newSharedStores(t)
	reps := make([]*testEnv, 3)
	for i := range reps {
		// Every publish at once: the test is about the store, not the
		// publish slots (which would answer some with 503).
		reps[i], _ = ss.replica(t, func(o *Options) { o.MaxConcurrentPublishes = 32 })
	}
	const n = 24
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := fmt.Sprintf("1.0.%d", i)
			r := reps[i%3].do("PUT", "/many", "tok-alice", publishDoc("many", v, tarball("many", v)))
			if r.status != http.StatusCreated {
				errs <- fmt.Sprintf("%s: %d %s", v, r.status, r.body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for i, rep := range reps {
		deadline := time.Now().Add(5 * time.Second)
		for len(versionsOf(t, rep, "many")) != n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := len(versionsOf(t, rep, "many")); got != n {
			t.Fatalf("replica %d serves %d versions, want %d", i, got, n)
		}
	}

	// Same version, different bytes, through every replica at once.
	type result struct {
		status int
		tgz    []byte
	}
	results := make([]result, 6)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tgz := tarball("race", "1.0.0", fmt.Sprintf("racer %d", i))
			r := reps[i%3].do("PUT", "/race", "tok-alice", publishDoc("race", "1.0.0", tgz))
			results[i] = result{r.status, tgz}
		}()
	}
	wg.Wait()
	var winner []byte
	for _, r := range results {
		switch r.status {
		case http.StatusCreated:
			if winner != nil {
				t.Fatal("two publishes of race@1.0.0 succeeded")
			}
			winner = r.tgz
		case http.StatusForbidden, http.StatusConflict:
		default:
			t.Fatalf("racing publish: status %d", r.status)
		}
	}
	if winner == nil {
		t.Fatal("no publish of race@1.0.0 succeeded")
	}
	sri, _ := integrity(winner)
	for i, rep := range reps {
		deadline := time.Now().Add(5 * time.Second)
		var got string
		for time.Now().Before(deadline) {
			v := versionsOf(t, rep, "race")["1.0.0"]
			if m, ok := v.(map[string]any); ok {
				got, _ = m["dist"].(map[string]any)["integrity"].(string)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if got != sri {
			t.Fatalf("replica %d: integrity %q, want the winner's %q", i, got, sri)
		}
		r := rep.do("GET", "/race/-/race-1.0.0.tgz", "", nil)
		if r.status != 200 || string(r.body) != string(winner) {
			t.Fatalf("replica %d serves a tarball that is not the winner's (%d, %d bytes)", i, r.status, len(r.body))
		}
	}
}

// TestSharedBootReadsNothing: a replica starting on a store with
// packages reads none of them, and its gauges come from the database.
func TestSharedBootReadsNothing(t *testing.T) {
	ss := newSharedStores(t)
	a, _ := ss.replica(t)
	for i := range 5 {
		a.publish("alice", fmt.Sprintf("boot-%d", i), "1.0.0")
	}
	a.publish("alice", "boot-0", "1.1.0")
	b, f := ss.replica(t)
	if n := f.gets.Load(); n != 0 {
		t.Fatalf("starting a replica read %d documents", n)
	}
	r := b.do("GET", "/metrics", "", nil)
	for _, want := range []string{"bun_registry_packages 5", "bun_registry_versions 6"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("metrics of the new replica lack %q", want)
		}
	}
}

// TestSharedStoreDown: while the database cannot answer, cached
// packuments are still served, everything that needs the database gets
// 503 with Retry-After (within the store timeout), readiness fails; all
// recover when it is back, without a restart.
func TestSharedStoreDown(t *testing.T) {
	ss := newSharedStores(t)
	a, f := ss.replica(t, func(o *Options) { o.StoreTimeout = time.Second; o.CacheTTL = time.Hour })
	a.publish("alice", "warm", "1.0.0")
	if r := a.do("GET", "/warm", "", nil); r.status != 200 {
		t.Fatalf("warm: %d", r.status)
	}
	f.down.Store(true)
	if r := a.do("GET", "/warm", "", nil); r.status != 200 {
		t.Fatalf("cached packument while the database is down: %d %s", r.status, r.body)
	}
	for _, req := range []struct{ method, path string }{{"GET", "/cold"}, {"PUT", "/warm"}} {
		var body any
		if req.method == "PUT" {
			body = publishDoc("warm", "2.0.0", tarball("warm", "2.0.0"))
		}
		r := a.do(req.method, req.path, "tok-alice", body)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Fatalf("%s %s while the database is down: %d (Retry-After %q) %s", req.method, req.path, r.status, r.header.Get("Retry-After"), r.body)
		}
		var m map[string]string
		if json.Unmarshal(r.body, &m) != nil || m["error"] == "" {
			t.Fatalf("503 body is not a JSON error: %s", r.body)
		}
	}
	f.down.Store(false)
	a.publish("alice", "warm", "2.0.0")
	if v := versionsOf(t, a, "warm"); len(v) != 2 {
		t.Fatalf("after recovery: %d versions", len(v))
	}
}

// TestSharedUnpublishDeletesBlob: the content-addressed tarball file of
// an unpublished version leaves the bucket.
func TestSharedUnpublishDeletesBlob(t *testing.T) {
	ss := newSharedStores(t)
	a, _ := ss.replica(t)
	a.publish("alice", "gone", "1.0.0")
	files, err := a.srv.blobStore.List(context.Background(), "gone")
	if err != nil || len(files) != 1 || !strings.HasPrefix(files[0], "gone-1.0.0+bun13-") {
		t.Fatalf("stored files %q, %v", files, err)
	}
	r := a.do("GET", "/gone", "", nil)
	rev, _ := r.json(t)["_rev"].(string)
	if r := a.do("DELETE", "/gone/-rev/"+rev, "tok-alice", nil); r.status != 200 {
		t.Fatalf("unpublish: %d %s", r.status, r.body)
	}
	if files, err := a.srv.blobStore.List(context.Background(), "gone"); err != nil || len(files) != 0 {
		t.Fatalf("after unpublish: files %q, %v", files, err)
	}
}
