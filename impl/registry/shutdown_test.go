package registry

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/config"
)

// TestGracefulShutdown: a publish in flight when shutdown starts (what
// SIGTERM triggers) is finished and stored; new connections are refused.
func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t, 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(ctx, ln) }()

	body, _ := json.Marshal(publishDoc("inflight", "1.0.0", tarball("inflight", "1.0.0")))
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PUT", "http://"+ln.Addr().String()+"/inflight", pr)
	req.Header.Set("Authorization", "Bearer tok-alice")
	req.ContentLength = int64(len(body))
	got := make(chan int, 1)
	go func() {
		res, err := httpClient.Do(req)
		if err != nil {
			t.Error(err)
			got <- 0
			return
		}
		res.Body.Close()
		got <- res.StatusCode
	}()
	pw.Write(body[:len(body)/2])
	time.Sleep(100 * time.Millisecond) // the request is being read
	cancel()
	time.Sleep(100 * time.Millisecond) // shutdown has begun
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("new connection accepted during shutdown")
	}
	pw.Write(body[len(body)/2:])
	pw.Close()
	if code := <-got; code != http.StatusCreated {
		t.Fatalf("in-flight publish: %d", code)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	// The publish is on disk: a new server on the same data serves it.
	e2 := newEnv(t, config.Flags(0), func(o *Options) { o.Docs, o.Blobs = e.srv.docStore, e.srv.blobStore })
	if r := e2.do("GET", "/inflight/-/inflight-1.0.0.tgz", "", nil); r.status != 200 {
		t.Errorf("after restart: %d", r.status)
	}
}
