package registry

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/config"
)

// serveReal serves e's server through Server.Serve (the listener and
// connection hooks production uses) and returns its address.
func serveReal(t *testing.T, e *testEnv) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads until the server closes c or 10 s pass (a failure: the
// server held the connection).
func readAll(t *testing.T, c net.Conn) (string, bool) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		return string(b), false
	}
	return string(b), true
}

func TestSlowBodyOnSmallRoute(t *testing.T) {
	e := newEnv(t, 0, func(o *Options) { o.BodyGrace = 300 * time.Millisecond; o.MinBodyRate = 1024 })
	addr := serveReal(t, e)
	c := dial(t, addr)
	// The attack: a body announced and sent one byte at a time.
	io.WriteString(c, "GET /-/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 64\r\n\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for range 40 {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
		}
	}()
	got, closed := readAll(t, c)
	if !closed {
		t.Fatalf("a 1 byte per 200 ms body held the connection for 10 s (got %q)", got)
	}
	if got != "" && !strings.HasPrefix(got, "HTTP/1.1 ") {
		t.Errorf("answer %q", got)
	}

	// Small routes have a small body budget, refused before reading.
	c2 := dial(t, addr)
	io.WriteString(c2, "PUT /-/user/org.couchdb.user:alice HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{")
	res, err := http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("100 MB login body: %d, want 413", res.StatusCode)
	}
}

func TestPublishSlots(t *testing.T) {
	e := newEnv(t, 0, func(o *Options) {
		o.MaxConcurrentPublishes = 2
		o.BodyGrace = 2 * time.Second
		o.MinBodyRate = 1024
	})
	addr := serveReal(t, e)
	// Two slow uploads hold the two slots.
	var slow []net.Conn
	for i := range 2 {
		c := dial(t, addr)
		name := "slow-" + itoa(i)
		io.WriteString(c, "PUT /"+name+" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-alice\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"name\":")
		slow = append(slow, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.srv.pubSlots.inUse.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := e.srv.pubSlots.inUse.Load(); n != 2 {
		t.Fatalf("slots in use: %d, want 2", n)
	}
	// One more publish is refused at once, with Retry-After, and stores
	// nothing.
	r := e.do("PUT", "/third", "tok-alice", publishDoc("third", "1.0.0", tarball("third", "1.0.0")))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("third publish: %d (Retry-After %q) %s, want 503 with Retry-After", r.status, r.header.Get("Retry-After"), r.body)
	}
	e.assertNotStored("third")
	// The slow bodies time out (408) and free their slots.
	for i, c := range slow {
		got, closed := readAll(t, c)
		if !closed || !strings.HasPrefix(got, "HTTP/1.1 408") {
			t.Errorf("slow upload %d: closed %v, answer %q, want 408 and close", i, closed, got)
		}
		e.assertNotStored("slow-" + itoa(i))
	}
	if n := e.srv.pubSlots.inUse.Load(); n != 0 {
		t.Errorf("slots in use after the timeouts: %d", n)
	}
	e.publish("alice", "third", "1.0.0")
}

func TestSmuggledFraming(t *testing.T) {
	e := newEnv(t, config.Metrics)
	addr := serveReal(t, e)
	c := dial(t, addr)
	// A Content-Length proxy would count 5 bytes of body and take the
	// rest as a second request; a chunked reader sees an empty body and
	// then the second request: the logout of alice's token.
	second := "DELETE /-/user/token/tok-alice HTTP/1.1\r\nHost: x\r\n\r\n"
	io.WriteString(c, "POST /-/npm/v1/security/audits HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+second)
	got, closed := readAll(t, c)
	if !closed {
		t.Fatalf("connection kept open after a CL+TE request: %q", got)
	}
	if !strings.HasPrefix(got, "HTTP/1.1 400") || strings.Count(got, "HTTP/1.1 ") != 1 {
		t.Errorf("answers %q, want one 400", got)
	}
	if r := e.do("GET", "/-/whoami", "tok-alice", nil); r.status != http.StatusOK {
		t.Errorf("the smuggled logout ran: whoami %d %s", r.status, r.body)
	}
	// A plain chunked request on a fresh connection still works.
	c2 := dial(t, addr)
	io.WriteString(c2, "POST /-/npm/v1/security/audits HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
	if got, _ := readAll(t, c2); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Errorf("chunked audit: %q", got)
	}
}

func TestMetricLabelsClosed(t *testing.T) {
	e := newEnv(t, config.Metrics)
	series := func() int {
		r := e.do("GET", "/metrics", "", nil)
		n := 0
		for _, l := range strings.Split(string(r.body), "\n") {
			if strings.HasPrefix(l, "bun_http_request") {
				n++
			}
		}
		return n
	}
	send := func(method, path string) {
		req, _ := http.NewRequest(method, e.http.URL+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	// One of each garbage kind first, so the "OTHER"/"other" series exist.
	send("X"+strings.Repeat("M", 199), "/-/ping")
	send("GET", "/no/such/route/at/all")
	series() // the scrape itself is a series
	before := series()
	for i := range 1000 {
		// Invented 200-byte methods, invented paths.
		send(strings.Repeat("M", 196)+itoa(1000+i), "/-/ping")
		if i%10 == 0 {
			send("GET", "/x"+itoa(i)+"/y/z/w/v")
		}
	}
	if after := series(); after != before {
		t.Errorf("series: %d before 1000 garbage requests, %d after", before, after)
	}
}

func TestHEADWhereverGET(t *testing.T) {
	e := newEnv(t, config.Metrics)
	e.publish("alice", "headpkg", "1.0.0")
	for _, p := range []string{
		"/", "/-/ping", "/-/whoami", "/-/v1/search?text=headpkg", "/-/npm/v1/user", "/-/npm/v1/tokens",
		"/headpkg", "/headpkg/1.0.0", "/headpkg/latest", "/headpkg/-/headpkg-1.0.0.tgz",
		"/-/package/headpkg/dist-tags", "/-/package/headpkg/dist-tags/latest", "/metrics",
		"/-/user/org.couchdb.user:alice", "/_dashboard/api/metrics",
	} {
		g := e.do("GET", p, "tok-alice", nil)
		h := e.do("HEAD", p, "tok-alice", nil)
		if g.status != http.StatusOK {
			t.Errorf("GET %s: %d %s", p, g.status, g.body)
			continue
		}
		if h.status != g.status || len(h.body) != 0 {
			t.Errorf("HEAD %s: %d with %d body bytes; GET %d", p, h.status, len(h.body), g.status)
		}
		if cl := h.header.Get("Content-Length"); cl != "" && cl != itoa(len(g.body)) && p != "/metrics" && p != "/_dashboard/api/metrics" {
			t.Errorf("HEAD %s: Content-Length %s, GET has %d bytes", p, cl, len(g.body))
		}
	}
}

// BenchmarkFramingScan: what framingConn adds to each read, against the
// copy every read makes anyway.
func BenchmarkFramingScan(b *testing.B) {
	body := []byte(strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=", 1<<15)) // ~1 MiB, no newline: a base64 attachment
	hdr := []byte("PUT /@scope%2fpkg HTTP/1.1\r\nHost: 127.0.0.1:4873\r\nUser-Agent: npm/11.19.1 node/v20.20.2 linux x64 workspaces/false\r\n" +
		"Npm-Command: publish\r\nAuthorization: Bearer eyJhbGciOiJFZERTQSJ9.e30.c2ln\r\nContent-Type: application/json\r\n" +
		"Accept: */*\r\nContent-Length: 1048576\r\nAccept-Encoding: gzip,deflate\r\nConnection: keep-alive\r\n\r\n")
	for _, in := range []struct {
		name string
		b    []byte
	}{{"body-1MiB", body}, {"headers", hdr}} {
		b.Run(in.name+"/scan", func(b *testing.B) {
			c := &framingConn{lineStart: true}
			b.SetBytes(int64(len(in.b)))
			for b.Loop() {
				c.scan(in.b)
			}
		})
		b.Run(in.name+"/copy-floor", func(b *testing.B) {
			dst := make([]byte, len(in.b))
			b.SetBytes(int64(len(in.b)))
			for b.Loop() {
				copy(dst, in.b)
			}
		})
	}
}
