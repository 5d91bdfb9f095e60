package replicatest

import (
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"
)

// revokedAfter logs alice in n times, each through replica i%N, checks
// that the two other replicas accept the token, revokes it (npm logout:
// DELETE /-/user/token/TOKEN) through the replica that issued it, and
// measures for each other replica the time from the revocation's answer
// until it refuses the token: one sample per (token, other replica).
// A token still accepted after limit fails tb. floor holds, per sample,
// the time of one more whoami there: what one poll costs.
func revokedAfter(tb testing.TB, c *Cluster, cl *http.Client, n int, limit time.Duration) (samples, floor []time.Duration) {
	tb.Helper()
	for i := range n {
		a := c.Replicas[i%len(c.Replicas)]
		token, err := Login(cl, a.URL, "alice")
		if err != nil {
			tb.Fatal(err)
		}
		for _, b := range c.Replicas {
			if r, err := Do(cl, http.MethodGet, b.URL+"/-/whoami", token, nil); err != nil || r.Status != http.StatusOK {
				tb.Fatalf("token issued by %s on %s: %d %v %s", a.ID, b.ID, r.Status, err, r.Body)
			}
		}
		rv, err := Do(cl, http.MethodDelete, a.URL+"/-/user/token/"+url.PathEscape(token), token, nil)
		if err != nil || rv.Status != http.StatusOK {
			tb.Fatalf("revoke through %s: %d %v %s", a.ID, rv.Status, err, rv.Body)
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
				deadline := rv.At.Add(limit)
				for {
					r, err := Do(cl, http.MethodGet, b.URL+"/-/whoami", token, nil)
					if err == nil && r.Status == http.StatusUnauthorized {
						t0 := time.Now()
						fr, ferr := Do(cl, http.MethodGet, b.URL+"/-/whoami", token, nil)
						mu.Lock()
						samples = append(samples, r.At.Sub(rv.At))
						if ferr == nil {
							floor = append(floor, fr.At.Sub(t0))
						}
						mu.Unlock()
						return
					}
					if err == nil && r.Status != http.StatusOK {
						tb.Errorf("whoami on %s with a token being revoked: %d %s, want 200 or 401", b.ID, r.Status, r.Body)
						return
					}
					if time.Now().After(deadline) {
						tb.Errorf("token revoked through %s still accepted by %s after %v (%v)", a.ID, b.ID, limit, err)
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
		// And the replica that revoked it refuses it at once.
		if r, err := Do(cl, http.MethodGet, a.URL+"/-/whoami", token, nil); err != nil || r.Status != http.StatusUnauthorized {
			tb.Fatalf("whoami on %s right after it revoked the token: %d %v", a.ID, r.Status, err)
		}
	}
	return samples, floor
}

// TestRevocationPropagates: a token revoked through one replica is
// refused by the two others within 5 s (the figures are logged, and
// measured by BenchmarkRevocation).
func TestRevocationPropagates(t *testing.T) {
	c := start(t, Options{})
	s, floor := revokedAfter(t, c, NewClient(), 51, 5*time.Second)
	t.Logf("revocation answered -> token refused by another replica: %d samples, p50 %v, p99 %v, max %v (floor, one whoami there: p50 %v, p99 %v)",
		len(s), percentile(s, 0.5), percentile(s, 0.99), slices.Max(s), percentile(floor, 0.5), percentile(floor, 0.99))
}

// BenchmarkRevocation reports the revoke -> refused-elsewhere delay as
// p50/p99 metrics (ms), b.N tokens (two samples each), beside its floor:
// one whoami on the same replica.
func BenchmarkRevocation(b *testing.B) {
	c := start(b, Options{})
	b.ResetTimer()
	s, floor := revokedAfter(b, c, NewClient(), b.N, 5*time.Second)
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(percentile(s, 0.5)), "p50-ms")
	b.ReportMetric(ms(percentile(s, 0.99)), "p99-ms")
	b.ReportMetric(ms(percentile(floor, 0.5)), "whoami-p50-ms")
	if f := percentile(floor, 0.5); f > 0 {
		b.ReportMetric(float64(percentile(s, 0.5))/float64(f), "p50/whoami-p50")
	}
}
