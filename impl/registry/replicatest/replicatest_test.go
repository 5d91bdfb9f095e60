package replicatest

import (
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/registry/registrytest"
	"github.com/bun13/bun13/impl/testenv"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
)

// The bun13 binary, built once per test process.
var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary builds bun13 on first use, after the test has checked its
// servers are there (a run that skips builds nothing);
// BUN13_REPLICATEST_RACE=1 builds the replicas with -race.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "replicatest-bin-")
		if buildErr == nil {
			buildBin, buildErr = Build(buildDir, os.Getenv("BUN13_REPLICATEST_RACE") == "1")
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// start checks the servers, builds the binary and starts a cluster with
// users alice (publish) and bob (publish).
func start(t testing.TB, o Options) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: starts a fleet of registry processes")
	}
	pgtemp.URL(t)
	FreshPrefix(t)
	o.Bin = binary(t)
	if o.Users == nil {
		o.Users = map[string]string{"alice": "publish", "bob": "publish"}
	}
	return Start(t, o)
}

func sri(b []byte) string {
	s := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(s[:])
}

// checkServed fetches every version of want from base's packument, then
// each tarball from the URL the packument gives, and checks the tarball's
// bytes against the integrity the publisher sent.
func checkServed(t *testing.T, cl *http.Client, lb, base, name string, want []Version) {
	t.Helper()
	p, r, err := GetPackument(cl, base, name)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET %s from %s: %d %v %s", name, base, r.Status, err, r.Body)
	}
	for _, v := range want {
		pv, ok := p.Versions[v.Version]
		if !ok {
			t.Errorf("%s: %s@%s acknowledged but not in the packument", base, name, v.Version)
			continue
		}
		if pv.Dist.Integrity != v.Integrity {
			t.Errorf("%s@%s: packument integrity %s, publisher sent %s", name, v.Version, pv.Dist.Integrity, v.Integrity)
		}
		if !strings.HasPrefix(pv.Dist.Tarball, lb+"/") {
			t.Errorf("%s@%s: tarball URL %s does not point at the balancer %s", name, v.Version, pv.Dist.Tarball, lb)
		}
		tr, err := Do(cl, http.MethodGet, pv.Dist.Tarball, "", nil)
		if err != nil || tr.Status != http.StatusOK {
			t.Errorf("tarball %s: %d %v", pv.Dist.Tarball, tr.Status, err)
			continue
		}
		if got := sri(tr.Body); got != v.Integrity {
			t.Errorf("tarball %s: integrity %s, want %s", pv.Dist.Tarball, got, v.Integrity)
		}
	}
}

// TestConcurrentDistinctVersions: 100 publishes of distinct versions of
// one package at once, spread over the three replicas directly and the
// balancer: every one is acknowledged and kept, with its own tarball.
func TestConcurrentDistinctVersions(t *testing.T) {
	const n = 100
	c := start(t, Options{Args: []string{"--max-concurrent-publishes", "128"}})
	cl := NewClient()
	token, err := Login(cl, c.URL, "alice")
	if err != nil {
		t.Fatal(err)
	}
	targets := []string{c.URL}
	for _, r := range c.Replicas {
		targets = append(targets, r.URL)
	}
	vs := make([]Version, n)
	for i := range vs {
		vs[i] = NewVersion("many-versions", fmt.Sprintf("1.0.%d", i), fmt.Sprint(i))
	}
	results := make([]Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			results[i], errs[i] = Publish(cl, targets[i%len(targets)], token, vs[i])
		}()
	}
	close(gate)
	wg.Wait()
	for i := range vs {
		if errs[i] != nil || results[i].Status != http.StatusCreated {
			t.Errorf("publish %s via %s: %d %v %s", vs[i].Version, targets[i%len(targets)], results[i].Status, errs[i], results[i].Body)
		}
	}
	if t.Failed() {
		return
	}
	// Every replica serves all 100, each tarball matching its publisher's.
	for _, r := range c.Replicas {
		checkServed(t, cl, c.URL, r.URL, "many-versions", vs)
	}
	p, _, _ := GetPackument(cl, c.URL, "many-versions")
	if len(p.Versions) != n {
		t.Errorf("packument has %d versions, want %d", len(p.Versions), n)
	}
	// And npm installs them through the balancer, checking the integrity
	// itself: a few, the first, one in the middle, the last.
	t.Run("npm-install", func(t *testing.T) {
		testenv.LookPath(t, "npm", registrytest.ClientInstall("npm"))
		npm := registrytest.NewNpm(t, c.URL)
		for _, i := range []int{0, n / 2, n - 1} {
			app := filepath.Join(t.TempDir(), "app")
			registrytest.WritePkg(t, app, map[string]any{"name": "app", "version": "0.0.0", "private": true}, nil)
			npm.Run(app, false, "install", "many-versions@"+vs[i].Version)
			got, err := os.ReadFile(filepath.Join(app, "node_modules", "many-versions", "salt.txt"))
			if err != nil || string(got) != fmt.Sprint(i) {
				t.Errorf("installed many-versions@%s: salt %q %v, want %q", vs[i].Version, got, err, fmt.Sprint(i))
			}
		}
	})
}

// TestConcurrentSameVersion: publishers of one version with different
// bytes, through different replicas at once: exactly one wins (201), the
// others are refused (403 or 409), and every replica serves the winner's
// tarball.
func TestConcurrentSameVersion(t *testing.T) {
	const rounds, perReplica = 5, 2
	c := start(t, Options{})
	cl := NewClient()
	token, err := Login(cl, c.URL, "alice")
	if err != nil {
		t.Fatal(err)
	}
	for round := range rounds {
		version := fmt.Sprintf("2.0.%d", round)
		var pubs []Version
		var bases []string
		for _, r := range c.Replicas {
			for k := range perReplica {
				pubs = append(pubs, NewVersion("same-version", version, fmt.Sprintf("%s-%d-%d", r.ID, round, k)))
				bases = append(bases, r.URL)
			}
		}
		results := make([]Result, len(pubs))
		errs := make([]error, len(pubs))
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i := range pubs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				results[i], errs[i] = Publish(cl, bases[i], token, pubs[i])
			}()
		}
		close(gate)
		wg.Wait()
		winner := -1
		for i, r := range results {
			switch {
			case errs[i] != nil:
				t.Errorf("round %d publisher %d: %v", round, i, errs[i])
			case r.Status == http.StatusCreated:
				if winner >= 0 {
					t.Errorf("round %d: publishers %d and %d both got 201", round, winner, i)
				}
				winner = i
			case r.Status == http.StatusForbidden || r.Status == http.StatusConflict:
			default:
				t.Errorf("round %d publisher %d via %s: %d %s, want 201, 403 or 409", round, i, bases[i], r.Status, r.Body)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no publisher won", round)
		}
		for _, r := range c.Replicas {
			checkServed(t, cl, c.URL, r.URL, "same-version", []Version{pubs[winner]})
		}
	}
}

// visibleAfter publishes n versions, each through replica i%N, and
// measures for each the time from the publisher's 201 until each other
// replica serves the version: one sample per (publish, other replica).
// A sample that is not visible within limit fails tb.
//
// floor holds, per sample, the time of one more GET of the packument on
// the same replica once the version is visible: what one poll costs, the
// floor under any visibility delay measured by polling.
func visibleAfter(tb testing.TB, c *Cluster, cl *http.Client, token, name string, n int, limit time.Duration) (samples, floor []time.Duration) {
	tb.Helper()
	for i := range n {
		a := c.Replicas[i%len(c.Replicas)]
		v := NewVersion(name, fmt.Sprintf("3.0.%d", i), fmt.Sprint(i))
		r, err := Publish(cl, a.URL, token, v)
		if err != nil || r.Status != http.StatusCreated {
			tb.Fatalf("publish %s via %s: %d %v %s", v.Version, a.ID, r.Status, err, r.Body)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, b := range c.Replicas {
			if b == a {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				deadline := r.At.Add(limit)
				for {
					p, pr, err := GetPackument(cl, b.URL, name)
					if err == nil && pr.Status == http.StatusOK {
						if _, ok := p.Versions[v.Version]; ok {
							t0 := time.Now()
							_, fr, ferr := GetPackument(cl, b.URL, name)
							mu.Lock()
							samples = append(samples, pr.At.Sub(r.At))
							if ferr == nil && fr.Status == http.StatusOK {
								floor = append(floor, fr.At.Sub(t0))
							}
							mu.Unlock()
							return
						}
					}
					if time.Now().After(deadline) {
						tb.Errorf("%s@%s published via %s not visible on %s after %v (last: %d %v)", name, v.Version, a.ID, b.ID, limit, pr.Status, err)
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
		}
		wg.Wait()
		if tb.Failed() {
			tb.FailNow()
		}
	}
	return samples, floor
}

// percentile returns the q-quantile (0..1) of ds (nearest rank).
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// TestReadYourWrites: a version published through one replica is served
// by the two others within 5 s (the bound is for correctness, a lost
// invalidation would show up as the 2 s revision check at worst; the
// figures are logged, and measured by BenchmarkReadYourWrites).
func TestReadYourWrites(t *testing.T) {
	c := start(t, Options{})
	cl := NewClient()
	token, err := Login(cl, c.URL, "alice")
	if err != nil {
		t.Fatal(err)
	}
	// Every replica caches the package first, so what is measured is the
	// invalidation of a cached copy, not a first read.
	first := NewVersion("ryw", "0.0.1", "first")
	if r, err := Publish(cl, c.Replicas[0].URL, token, first); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("publish: %d %v", r.Status, err)
	}
	for _, r := range c.Replicas {
		checkServed(t, cl, c.URL, r.URL, "ryw", []Version{first})
	}
	// Search is in PostgreSQL too: a package published through one
	// replica is found through the others at once.
	for _, r := range c.Replicas {
		res, err := Do(cl, http.MethodGet, r.URL+"/-/v1/search?text=ryw", "", nil)
		if err != nil || res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"name":"ryw"`) {
			t.Errorf("search on %s: %d %v %s", r.ID, res.Status, err, res.Body)
		}
	}
	s, floor := visibleAfter(t, c, cl, token, "ryw", 60, 5*time.Second)
	t.Logf("publish ack -> visible on another replica: %d samples, p50 %v, p99 %v, max %v (floor, one GET of the packument there: p50 %v, p99 %v)",
		len(s), percentile(s, 0.5), percentile(s, 0.99), slices.Max(s), percentile(floor, 0.5), percentile(floor, 0.99))
}

// BenchmarkReadYourWrites reports the publish-ack -> visible-elsewhere
// delay as p50/p99 metrics (ms), with b.N publishes (two samples each),
// beside its floor: one GET of the packument on the same replica.
func BenchmarkReadYourWrites(b *testing.B) {
	c := start(b, Options{})
	cl := NewClient()
	token, err := Login(cl, c.URL, "alice")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	s, floor := visibleAfter(b, c, cl, token, "ryw-bench", b.N, 5*time.Second)
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(percentile(s, 0.5)), "p50-ms")
	b.ReportMetric(ms(percentile(s, 0.99)), "p99-ms")
	b.ReportMetric(ms(percentile(floor, 0.5)), "get-p50-ms")
	b.ReportMetric(ms(percentile(floor, 0.99)), "get-p99-ms")
	if f := percentile(floor, 0.5); f > 0 {
		b.ReportMetric(float64(percentile(s, 0.5))/float64(f), "p50/get-p50")
	}
}
