package replicatest

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestRollingRestart: each replica in turn gets SIGTERM (readiness turns
// false, it serves on for --drain-period with Connection: close, then
// shuts down gracefully) and is started again, while reads and publishes
// flow through the balancer: none of them fails.
func TestRollingRestart(t *testing.T) {
	c := start(t, Options{Args: []string{"--drain-period", "500ms"}})
	cl := NewClient()
	token, err := Login(cl, c.URL, "alice")
	if err != nil {
		t.Fatal(err)
	}
	base := NewVersion("rolling", "1.0.0", "base")
	if r, err := Publish(cl, c.URL, token, base); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("publish: %d %v %s", r.Status, err, r.Body)
	}
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		acked  = []Version{base}
		stop   = make(chan struct{})
		wg     sync.WaitGroup
	)
	note := func(kind string, r Result, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			counts[kind+" error"]++
			t.Errorf("%s during the rolling restart: %v", kind, err)
			return
		}
		counts[fmt.Sprintf("%s %d", kind, r.Status)]++
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			_, r, err := GetPackument(cl, c.URL, base.Name)
			note("read", r, err)
			if err == nil && r.Status != http.StatusOK {
				t.Errorf("read during the rolling restart: %d %s", r.Status, r.Body)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			v := NewVersion(base.Name, fmt.Sprintf("1.1.%d", i), fmt.Sprint(i))
			r, err := Publish(cl, c.URL, token, v)
			note("publish", r, err)
			if err == nil && r.Status == http.StatusCreated {
				mu.Lock()
				acked = append(acked, v)
				mu.Unlock()
			} else if err == nil {
				t.Errorf("publish during the rolling restart: %d %s", r.Status, r.Body)
			}
		}
	}()
	for _, r := range c.Replicas {
		time.Sleep(300 * time.Millisecond)
		c.Restart(r)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("answers through the balancer during the rolling restart: %v; per replica: %v", counts, c.Served())
	for _, r := range c.Replicas {
		checkServed(t, cl, c.URL, r.URL, base.Name, acked)
	}
}
