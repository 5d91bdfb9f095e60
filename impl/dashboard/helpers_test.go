package dashboard

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/frame"
	"github.com/bun13/bun13/impl/lockfile"
	"github.com/bun13/bun13/impl/metrics"
)

// Tokens the test Authorize hook knows.
const (
	adminToken  = "Bearer admin-token"
	readerToken = "Bearer reader-token"
)

func testAuthorize(r *http.Request) (string, bool) {
	switch r.Header.Get("Authorization") {
	case adminToken:
		return "root", true
	case readerToken:
		return "reader", false
	}
	return "", false
}

type testEnv struct {
	t       *testing.T
	d       *Dashboard
	srv     *httptest.Server
	store   *config.Store
	path    string // the lockfile, "" for a memory store
	reg     *prometheus.Registry
	metrics *metrics.Metrics
}

// newEnv starts a Dashboard on a lockfile-backed Store (unless o.Store is
// set) behind an httptest server. opts may adjust the server before it
// starts.
func newEnv(t *testing.T, o Options, opts ...func(*httptest.Server)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, reg: prometheus.NewRegistry()}
	if o.Store == nil {
		e.path = filepath.Join(t.TempDir(), "bun.lockb")
		s, err := lockfile.OpenStore(e.path, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		o.Store = s
	}
	e.store = o.Store
	m, err := metrics.New(e.reg)
	if err != nil {
		t.Fatal(err)
	}
	e.metrics = m
	if o.Gatherer == nil {
		o.Gatherer = e.reg
	}
	if o.Registerer == nil {
		o.Registerer = e.reg
	}
	if o.Authorize == nil {
		o.Authorize = testAuthorize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := New(ctx, o)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e.d = d
	e.srv = httptest.NewUnstartedServer(d)
	for _, f := range opts {
		f(e.srv)
	}
	e.srv.Start()
	// Cleanups run last-in first-out: the dashboard closes its
	// connections before the server stops.
	t.Cleanup(e.srv.Close)
	t.Cleanup(cancel)
	return e
}

func (e *testEnv) wsURL() string {
	return "ws" + strings.TrimPrefix(e.srv.URL, "http") + Prefix + "/ws"
}

// dial opens a WebSocket with the Authorization header auth ("" for none).
func (e *testEnv) dial(auth string) *wsClient {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	c, _, err := websocket.Dial(ctx, e.wsURL(), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	e.t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: e.t, c: c}
}

func (e *testEnv) do(method, path, auth, body string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, string(b)
}

// wsClient reads a dashboard WebSocket in tests.
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

// msg is one received message: a frame or a JSON text.
type msg struct {
	frame *frame.Frame
	text  string
}

func (w *wsClient) next(timeout time.Duration) (msg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	typ, b, err := w.c.Read(ctx)
	if err != nil {
		return msg{}, err
	}
	if typ == websocket.MessageText {
		return msg{text: string(b)}, nil
	}
	f, err := frame.Decode(b)
	if err != nil {
		w.t.Fatalf("server sent a bad frame %x: %v", b, err)
	}
	return msg{frame: &f}, nil
}

// frame returns the next frame, skipping text messages (stats).
func (w *wsClient) frame() frame.Frame {
	w.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m, err := w.next(time.Until(deadline))
		if err != nil {
			w.t.Fatalf("waiting for a frame: %v", err)
		}
		if m.frame != nil {
			return *m.frame
		}
	}
	w.t.Fatal("no frame within 5s")
	return frame.Frame{}
}

// text returns the next text message whose type is typ, skipping others.
func (w *wsClient) text(typ string) string {
	w.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m, err := w.next(time.Until(deadline))
		if err != nil {
			w.t.Fatalf("waiting for %q: %v", typ, err)
		}
		if m.frame == nil && strings.Contains(m.text, `"type":"`+typ+`"`) {
			return m.text
		}
	}
	w.t.Fatalf("no %q message within 5s", typ)
	return ""
}

// snapshot reads a batch of SETs up to its closing ACK at offset 0 and
// returns the config they describe, applied over base.
func (w *wsClient) snapshot(base config.Config) (config.Config, frame.Frame) {
	w.t.Helper()
	c := base
	for {
		f := w.frame()
		switch {
		case f.Type == frame.TypeSet:
			var err error
			c, err = setField(c, f)
			if err != nil {
				w.t.Fatalf("SET %+v: %v", f, err)
			}
		case f.Type == frame.TypeAck && f.Offset == 0:
			return c, f
		default:
			w.t.Fatalf("unexpected frame in a snapshot: %+v", f)
		}
	}
}

// setField applies a SET without validating, as a client collecting a
// batch must (the fields of one change arrive one at a time).
func setField(c config.Config, f frame.Frame) (config.Config, error) {
	if _, ok := frame.Field(c, f.Offset); !ok {
		return c, errors.New("unknown offset")
	}
	return frame.SetField(c, f.Offset, f.Value), nil
}

func (w *wsClient) send(f frame.Frame) {
	w.t.Helper()
	b := frame.Encode(f)
	w.sendRaw(b[:])
}

func (w *wsClient) sendRaw(b []byte) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageBinary, b); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

func (w *wsClient) sendText(s string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
