package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// roundRobin is a load balancer in front of backends: each request (the
// ticket POST, then the WebSocket upgrade) goes to the next one.
func roundRobin(t *testing.T, backends ...*testEnv) *httptest.Server {
	t.Helper()
	var next atomic.Uint64
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		u, _ := url.Parse(backends[next.Add(1)%uint64(len(backends))].srv.URL)
		r.SetURL(u)
	}}
	lb := httptest.NewServer(rp)
	t.Cleanup(lb.Close)
	return lb
}

// The page's flow (POST a ticket, open the WebSocket with it) through a
// round-robin balancer over three replicas: every connection opens when
// the replicas share a key set, and none does when each signs alone, the
// way tickets in process memory used to fail.
func TestTicketsBehindRoundRobin(t *testing.T) {
	connect := func(t *testing.T, lb *httptest.Server) (opened int) {
		for range 9 {
			req, _ := http.NewRequest("POST", lb.URL+Prefix+"/api/ticket", nil)
			req.Header.Set("Authorization", adminToken)
			resp, err := lb.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var tkr struct {
				Ticket string `json:"ticket"`
			}
			err = json.NewDecoder(resp.Body).Decode(&tkr)
			resp.Body.Close()
			if resp.StatusCode != 200 || err != nil || tkr.Ticket == "" {
				t.Fatalf("ticket through the balancer: %d %v", resp.StatusCode, err)
			}
			tk := tkr.Ticket
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(lb.URL, "http")+Prefix+"/ws?ticket="+tk, nil)
			cancel()
			if err == nil {
				w := &wsClient{t: t, c: c}
				if h := w.text("hello"); strings.Contains(h, `"admin":true`) {
					opened++
				}
				c.CloseNow()
			}
		}
		return opened
	}
	t.Run("shared keys", func(t *testing.T) {
		keys := replicaKeys(t, 3)
		lb := roundRobin(t, newEnv(t, Options{TicketKeys: keys[0]}), newEnv(t, Options{TicketKeys: keys[1]}), newEnv(t, Options{TicketKeys: keys[2]}))
		if n := connect(t, lb); n != 9 {
			t.Errorf("%d of 9 admin connections opened through the balancer, want 9", n)
		}
	})
	t.Run("each replica alone", func(t *testing.T) {
		lb := roundRobin(t, newEnv(t, Options{}), newEnv(t, Options{}), newEnv(t, Options{}))
		if n := connect(t, lb); n != 0 {
			t.Errorf("%d connections opened with tickets no other replica can check", n)
		}
	})
}
