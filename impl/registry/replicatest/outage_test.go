package replicatest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/registry/registrytest"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
)

// TestKilledReplicaLosesNoAcknowledgedPublish: publishers go round-robin
// over the three replicas and the balancer; one replica is SIGKILLed in
// the middle. Every version that got a 201 is served afterwards by the
// two survivors, with its tarball.
func TestKilledReplicaLosesNoAcknowledgedPublish(t *testing.T) {
	const publishers, attempts, killAfter = 6, 90, 30
	c := start(t, Options{Args: []string{"--max-concurrent-publishes", "16"}})
	cl := NewClient()
	token, err := Login(cl, c.URL, "alice")
	if err != nil {
		t.Fatal(err)
	}
	victim := c.Replicas[1]
	targets := []string{c.Replicas[0].URL, victim.URL, c.Replicas[2].URL, c.URL}
	var (
		next, acks atomic.Int64
		mu         sync.Mutex
		acked      []Version
		failed     = map[string]int{}
		killed     = make(chan struct{})
		killOnce   sync.Once
	)
	var wg sync.WaitGroup
	for range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= attempts {
					return
				}
				v := NewVersion("survivor", fmt.Sprintf("4.0.%d", i), fmt.Sprint(i))
				r, err := Publish(cl, targets[i%int64(len(targets))], token, v)
				mu.Lock()
				switch {
				case err == nil && r.Status == http.StatusCreated:
					acked = append(acked, v)
				case err != nil:
					failed["transport error"]++
				default:
					failed[fmt.Sprint(r.Status)]++
				}
				mu.Unlock()
				if err == nil && r.Status == http.StatusCreated && acks.Add(1) == killAfter {
					killOnce.Do(func() {
						victim.Kill()
						close(killed)
					})
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-killed:
	default:
		t.Fatalf("only %d publishes acknowledged before the kill point", acks.Load())
	}
	if victim.Running() {
		t.Fatal("victim still running")
	}
	t.Logf("%d of %d publishes acknowledged; refused or failed: %v", len(acked), attempts, failed)
	// Publishes aimed at the survivors and the balancer must all succeed:
	// at least the three quarters of the attempts not aimed at the victim.
	if len(acked) < attempts*3/4 {
		t.Errorf("only %d of %d publishes acknowledged", len(acked), attempts)
	}
	for _, r := range []*Replica{c.Replicas[0], c.Replicas[2]} {
		checkServed(t, cl, c.URL, r.URL, "survivor", acked)
	}
	checkServed(t, cl, c.URL, c.URL, "survivor", acked)
}

// trafficLoop GETs url through cl every 20 ms until stop is closed and
// counts the answers (status or "error: ...").
func trafficLoop(cl *http.Client, url string, stop <-chan struct{}) (wait func() map[string]int) {
	counts := map[string]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			r, err := Do(cl, http.MethodGet, url, "", nil)
			if err != nil {
				counts["error"]++
			} else {
				counts[fmt.Sprint(r.Status)]++
			}
		}
	}()
	return func() map[string]int { <-done; return counts }
}

// check503 asserts r is a 503 with Retry-After that came within bound.
func check503(t *testing.T, what string, r Result, err error, took, bound time.Duration) {
	t.Helper()
	switch {
	case err != nil:
		t.Errorf("%s: %v (after %v)", what, err, took)
	case r.Status != http.StatusServiceUnavailable || r.RetryAfter == "":
		t.Errorf("%s: %d (Retry-After %q) %s, want 503 with Retry-After", what, r.Status, r.RetryAfter, r.Body)
	}
	if took > bound {
		t.Errorf("%s took %v, more than the store timeout allows (%v)", what, took, bound)
	}
	t.Logf("%s: %d in %v", what, r.Status, took.Round(time.Millisecond))
}

// timed runs f and returns its result and how long it took.
func timed(f func() (Result, error)) (Result, time.Duration, error) {
	t0 := time.Now()
	r, err := f()
	return r, time.Since(t0), err
}

// eventually retries f every 200 ms until it returns nil or limit passes,
// then fails t with its last error.
func eventually(t *testing.T, limit time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, limit, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func readyCheck(base, name string, want bool) error {
	rd, err := Readyz(base)
	if err != nil {
		return err
	}
	ok, found := rd.Check(name)
	if !found {
		return fmt.Errorf("readyz of %s has no check %q: %+v", base, name, rd)
	}
	if ok != want || (rd.Status == http.StatusOK) != want {
		return fmt.Errorf("readyz of %s: status %d, %s ok=%v, want %v", base, rd.Status, name, ok, want)
	}
	return nil
}

// TestPostgresRestart: the cluster's own PostgreSQL is stopped during
// traffic. Packuments the replicas hold keep being served; a package none
// of them holds, and a publish, get 503 with Retry-After within the store
// timeout; readiness reports the database; once PostgreSQL is back every
// replica recovers without a restart.
func TestPostgresRestart(t *testing.T) {
	const storeTimeout = 2 * time.Second
	bound := storeTimeout + 3*time.Second
	if testing.Short() {
		t.Skip("-short")
	}
	FreshPrefix(t)
	pg := StartPostgres(t)
	c := start(t, Options{Database: pg.URL, StoreTimeout: storeTimeout})
	cl := NewClient()
	token, err := Login(cl, c.URL, "alice")
	if err != nil {
		t.Fatal(err)
	}
	cached := NewVersion("pg-cached", "1.0.0", "cached")
	if r, err := Publish(cl, c.URL, token, cached); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("publish: %d %v %s", r.Status, err, r.Body)
	}
	for _, r := range c.Replicas {
		checkServed(t, cl, c.URL, r.URL, cached.Name, []Version{cached})
	}
	stop := make(chan struct{})
	wait := trafficLoop(cl, c.URL+"/"+cached.Name, stop)
	time.Sleep(300 * time.Millisecond)

	pg.Stop()
	// Past the cache TTL (2 s): cached copies are due for their revision
	// check, which cannot be answered.
	time.Sleep(2500 * time.Millisecond)
	for i, r := range c.Replicas {
		if _, res, err := GetPackument(cl, r.URL, cached.Name); err != nil || res.Status != http.StatusOK {
			t.Errorf("%s: cached packument during the outage: %d %v %s", r.ID, res.Status, err, res.Body)
		}
		res, took, err := timed(func() (Result, error) {
			return Do(cl, http.MethodGet, r.URL+"/pg-never-read", "", nil)
		})
		check503(t, r.ID+": uncached packument", res, err, took, bound)
		v := NewVersion("pg-during-outage", fmt.Sprintf("1.0.%d", i), r.ID)
		res, took, err = timed(func() (Result, error) { return Publish(cl, r.URL, token, v) })
		check503(t, r.ID+": publish", res, err, took, bound)
		if err := readyCheck(r.URL, "database", false); err != nil {
			t.Error(err)
		}
	}

	pg.Start()
	restarted := time.Now()
	for i, r := range c.Replicas {
		eventually(t, 30*time.Second, r.ID+" recovers", func() error {
			if err := readyCheck(r.URL, "database", true); err != nil {
				return err
			}
			res, err := Do(cl, http.MethodGet, r.URL+"/pg-never-read", "", nil)
			if err != nil || res.Status != http.StatusNotFound {
				return fmt.Errorf("uncached packument: %d %v", res.Status, err)
			}
			return nil
		})
		v := NewVersion("pg-after-outage", fmt.Sprintf("1.0.%d", i), r.ID)
		if res, err := Publish(cl, r.URL, token, v); err != nil || res.Status != http.StatusCreated {
			t.Errorf("%s: publish after the restart: %d %v %s", r.ID, res.Status, err, res.Body)
		}
		if !r.Running() {
			t.Errorf("%s exited", r.ID)
		}
	}
	t.Logf("every replica ready and publishing %v after PostgreSQL accepted connections again", time.Since(restarted))
	// The change feeds reconnected (or the revision check covers for
	// them): writes through one replica reach the others.
	if s, _ := visibleAfter(t, c, cl, token, "pg-after-outage", 6, 5*time.Second); len(s) != 12 {
		t.Errorf("%d visibility samples after the restart, want 12", len(s))
	}
	close(stop)
	counts := wait()
	t.Logf("cached packument through the balancer during the outage: %v", counts)
	for k, n := range counts {
		if k != "200" {
			t.Errorf("cached packument through the balancer: %d answers %s (all: %v)", n, k, counts)
		}
	}
}

// TestBlobStoreDown: the cluster's own versitygw is killed. Publishing and
// a tarball no replica holds get 503 with Retry-After; tarballs and
// packuments a replica holds keep being served; readiness reports blobs
// false; after versitygw is back, everything works again.
func TestBlobStoreDown(t *testing.T) {
	const storeTimeout = 2 * time.Second
	bound := storeTimeout + 3*time.Second
	if testing.Short() {
		t.Skip("-short")
	}
	pgtemp.URL(t)
	s3 := StartS3(t)
	c := start(t, Options{Blobs: s3.URL, Env: s3.Env, StoreTimeout: storeTimeout})
	cl := NewClient()
	token, err := Login(cl, c.URL, "alice")
	if err != nil {
		t.Fatal(err)
	}
	tarURL := func(base string, v Version) string {
		return base + "/" + registrytest.EscapeName(v.Name) + "/-/" + v.Name + "-" + v.Version + ".tgz"
	}
	held := NewVersion("blob-held", "1.0.0", "held")
	unheld := NewVersion("blob-unheld", "1.0.0", "unheld")
	for _, v := range []Version{held, unheld} {
		if r, err := Publish(cl, c.Replicas[0].URL, token, v); err != nil || r.Status != http.StatusCreated {
			t.Fatalf("publish %s: %d %v %s", v.Name, r.Status, err, r.Body)
		}
	}
	// Every replica reads held (packument and tarball): each keeps a copy.
	for _, r := range c.Replicas {
		checkServed(t, cl, c.URL, r.URL, held.Name, []Version{held})
		if _, res, err := GetPackument(cl, r.URL, unheld.Name); err != nil || res.Status != http.StatusOK {
			t.Fatalf("%s: %d %v", r.ID, res.Status, err)
		}
	}

	s3.Stop()
	// The replicas are checked at once: each slow answer takes up to the
	// store timeout.
	var wg sync.WaitGroup
	for i, r := range c.Replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := Do(cl, http.MethodGet, tarURL(r.URL, held), "", nil)
			if err != nil || res.Status != http.StatusOK || sri(res.Body) != held.Integrity {
				t.Errorf("%s: held tarball while the blob store is down: %d %v", r.ID, res.Status, err)
			}
			if _, res, err := GetPackument(cl, r.URL, held.Name); err != nil || res.Status != http.StatusOK {
				t.Errorf("%s: packument while the blob store is down: %d %v", r.ID, res.Status, err)
			}
			if i > 0 { // replica 1 published it and may hold it
				res, took, err := timed(func() (Result, error) { return Do(cl, http.MethodGet, tarURL(r.URL, unheld), "", nil) })
				check503(t, r.ID+": tarball no replica holds", res, err, took, bound)
			}
			v := NewVersion("blob-during-outage", fmt.Sprintf("1.0.%d", i), r.ID)
			res, took, err := timed(func() (Result, error) { return Publish(cl, r.URL, token, v) })
			check503(t, r.ID+": publish", res, err, took, bound)
			if err := readyCheck(r.URL, "blobs", false); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if res, err := Do(cl, http.MethodGet, c.URL+"/-/v1/search?text=blob", "", nil); err != nil || res.Status != http.StatusOK || !strings.Contains(string(res.Body), held.Name) {
		t.Errorf("search while the blob store is down: %d %v", res.Status, err)
	}

	s3.Start()
	back := time.Now()
	for i, r := range c.Replicas {
		eventually(t, 30*time.Second, r.ID+" recovers", func() error { return readyCheck(r.URL, "blobs", true) })
		if res, err := Do(cl, http.MethodGet, tarURL(r.URL, unheld), "", nil); err != nil || res.Status != http.StatusOK || sri(res.Body) != unheld.Integrity {
			t.Errorf("%s: tarball after the blob store is back: %d %v", r.ID, res.Status, err)
		}
		v := NewVersion("blob-after-outage", fmt.Sprintf("1.0.%d", i), r.ID)
		if res, err := Publish(cl, r.URL, token, v); err != nil || res.Status != http.StatusCreated {
			t.Errorf("%s: publish after the blob store is back: %d %v %s", r.ID, res.Status, err, res.Body)
		}
	}
	t.Logf("every replica ready and publishing %v after versitygw listened again", time.Since(back))
}
