package replicatest

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestRedisDown: the cluster's own redis-server (rate limits, login
// lockout) is killed during traffic and started again: no request fails
// because of it (reads, publishes and logins through the balancer all
// succeed before, during and after).
func TestRedisDown(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	redis, url := StartRedis(t)
	c := start(t, Options{Redis: url})
	cl := NewClient()
	token, err := Login(cl, c.URL, "alice")
	if err != nil {
		t.Fatal(err)
	}
	base := NewVersion("redis-traffic", "1.0.0", "base")
	if r, err := Publish(cl, c.URL, token, base); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("publish: %d %v %s", r.Status, err, r.Body)
	}
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		stop   = make(chan struct{})
		wg     sync.WaitGroup
	)
	record := func(kind string, want int, r Result, err error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			counts[kind+" error"]++
			t.Errorf("%s: %v", kind, err)
		case r.Status != want:
			counts[fmt.Sprintf("%s %d", kind, r.Status)]++
			t.Errorf("%s: %d %s, want %d", kind, r.Status, r.Body, want)
		default:
			counts[kind+" ok"]++
		}
	}
	var seq int
	wg.Add(3)
	go func() { // reads
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			_, r, err := GetPackument(cl, c.URL, base.Name)
			record("read", http.StatusOK, r, err)
		}
	}()
	go func() { // publishes
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			seq++
			r, err := Publish(cl, c.URL, token, NewVersion(base.Name, fmt.Sprintf("1.1.%d", seq), fmt.Sprint(seq)))
			record("publish", http.StatusCreated, r, err)
		}
	}()
	go func() { // logins (the lockout consults Redis on every one)
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			_, err := Login(cl, c.URL, "bob")
			record("login", http.StatusCreated, Result{Status: http.StatusCreated}, err)
		}
	}()
	time.Sleep(time.Second)
	redis.Stop()
	time.Sleep(3 * time.Second)
	redis.Start()
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("answers through the balancer, Redis killed for 3 s in the middle: %v", counts)
}

// TestLoginLockoutAcrossReplicas: 30 wrong passwords for one account
// from one address, spread round-robin over the three replicas by the
// balancer, are limited as if by one replica: the first pairFailures (10)
// are answered 401, the rest 429, and then even the right password is
// refused (429) from that address.
func TestLoginLockoutAcrossReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	_, url := StartRedis(t)
	c := start(t, Options{Redis: url})
	cl := NewClient()
	const attempts, pairFailures = 30, 10
	counts := map[int]int{}
	for range attempts {
		r, err := Do(cl, http.MethodPut, c.URL+"/-/user/org.couchdb.user:alice", "", []byte(`{"name":"alice","password":"wrong-password"}`))
		if err != nil {
			t.Fatal(err)
		}
		counts[r.Status]++
	}
	t.Logf("30 wrong passwords through the balancer: %v; requests per replica: %v", counts, c.Served())
	if counts[http.StatusUnauthorized] != pairFailures || counts[http.StatusTooManyRequests] != attempts-pairFailures {
		t.Errorf("answers %v, want %d x 401 then %d x 429 (one lockout for the fleet)", counts, pairFailures, attempts-pairFailures)
	}
	if _, err := Login(cl, c.URL, "alice"); err == nil {
		t.Error("right password admitted from the locked-out address")
	}
}
