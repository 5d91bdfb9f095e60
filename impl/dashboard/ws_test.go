package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/frame"
	"github.com/bun13/bun13/impl/lockfile"
)

func TestDashboardWSSnapshotOnConnect(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.dial(readerToken)
	var hello struct {
		Type  string `json:"type"`
		User  string `json:"user"`
		Admin bool   `json:"admin"`
	}
	if err := json.Unmarshal([]byte(c.text("hello")), &hello); err != nil {
		t.Fatal(err)
	}
	if hello.User != "reader" || hello.Admin {
		t.Errorf("hello = %+v, want reader, not admin", hello)
	}
	// The snapshot sets every field, in offset order.
	want := e.store.Load()
	var offsets []uint32
	got := config.Config{}
	for {
		f := c.frame()
		if f.Type == frame.TypeAck {
			if f.Offset != 0 || f.Value != want.Checksum() {
				t.Fatalf("closing ACK = %+v, want offset 0 value %#x", f, want.Checksum())
			}
			break
		}
		offsets = append(offsets, f.Offset)
		got, _ = setField(got, f)
	}
	if d := cmp.Diff([]uint32{4, 5, 9, 13, 14, 15}, offsets); d != "" {
		t.Errorf("snapshot offsets (-want +got):\n%s", d)
	}
	if got != want {
		t.Errorf("snapshot = %+v, want %+v", got, want)
	}

	// A SNAPSHOT request is answered the same way.
	c.send(frame.Frame{Type: frame.TypeSnapshot})
	again, ack := c.snapshot(config.Config{})
	if again != want || ack.Value != want.Checksum() {
		t.Errorf("SNAPSHOT answer = %+v %+v, want %+v", again, ack, want)
	}
}

func TestDashboardWSAdminSetPersistsAndBroadcasts(t *testing.T) {
	e := newEnv(t, Options{})
	admin := e.dial(adminToken)
	watcher := e.dial("")
	base, _ := admin.snapshot(config.Config{})
	watcher.snapshot(config.Config{})

	admin.send(frame.Frame{Type: frame.TypeSet, Offset: config.OffsetTerminalMode, Value: uint64(config.Raw)})
	want := base
	want.TerminalMode = config.Raw

	// The sender sees the change's batch and its own ACK, in either order.
	var ack frame.Frame
	seen, batchEnd := base, false
	for ack.Type == 0 || !batchEnd {
		f := admin.frame()
		switch {
		case f.Type == frame.TypeAck && f.Offset == config.OffsetTerminalMode:
			ack = f
		case f.Type == frame.TypeSet:
			seen, _ = setField(seen, f)
		case f.Type == frame.TypeAck && f.Offset == 0:
			batchEnd = true
			if f.Value != want.Checksum() || seen != want {
				t.Errorf("batch = %+v (ACK %#x), want %+v (%#x)", seen, f.Value, want, want.Checksum())
			}
		default:
			t.Fatalf("unexpected frame %+v", f)
		}
	}
	if ack.Value != want.Checksum() {
		t.Errorf("ACK value = %#x, want the new header CRC64 %#x", ack.Value, want.Checksum())
	}
	if got := e.store.Load(); got != want {
		t.Errorf("store = %+v, want %+v", got, want)
	}
	lf, err := lockfile.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	if lf.Config != want {
		t.Errorf("lockfile on disk = %+v, want %+v", lf.Config, want)
	}

	// The other client gets exactly the changed field, then the ACK.
	f := watcher.frame()
	if d := cmp.Diff(frame.Frame{Type: frame.TypeSet, Offset: config.OffsetTerminalMode, Value: uint64(config.Raw)}, f); d != "" {
		t.Errorf("broadcast (-want +got):\n%s", d)
	}
	if f := watcher.frame(); f != frame.Ack(0, want.Checksum()) {
		t.Errorf("broadcast end = %+v, want ACK 0 %#x", f, want.Checksum())
	}

	// A change from anywhere else (the POST API, the CLI's Store) is
	// broadcast too.
	next, err := e.store.Update(func(c config.Config) (config.Config, error) {
		c.FeatureFlags |= config.Debug
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, ack2 := watcher.snapshot(want)
	if got != next || ack2.Value != next.Checksum() {
		t.Errorf("after Store.Update: %+v %+v, want %+v", got, ack2, next)
	}
}

func TestDashboardWSRefusals(t *testing.T) {
	e := newEnv(t, Options{})
	admin := e.dial(adminToken)
	reader := e.dial(readerToken)
	admin.snapshot(config.Config{})
	reader.snapshot(config.Config{})
	before := e.store.Load()

	set := frame.Frame{Type: frame.TypeFlagsEnable, Offset: config.OffsetFeatureFlags, Value: uint64(config.Debug)}
	reader.send(set)
	if f := reader.frame(); f != frame.Nak(config.OffsetFeatureFlags, frame.NakUnauthorized) {
		t.Errorf("non-admin: %+v, want NAK 5", f)
	}

	bad := frame.Encode(set)
	bad[13] ^= 0xff
	admin.sendRaw(bad[:])
	if f := admin.frame(); f != frame.Nak(config.OffsetFeatureFlags, frame.NakFrameChecksum) {
		t.Errorf("bad checksum: %+v, want NAK 1", f)
	}

	admin.sendRaw([]byte{1, 2, 3})
	if f := admin.frame(); f.Type != frame.TypeNak || f.Value != uint64(frame.NakFrameChecksum) {
		t.Errorf("short frame: %+v, want NAK 1", f)
	}

	admin.send(frame.Frame{Type: frame.TypeSet, Offset: config.OffsetRows, Value: 0})
	if f := admin.frame(); f != frame.Nak(config.OffsetRows, frame.NakInvalidConfig) {
		t.Errorf("rows 0: %+v, want NAK 6", f)
	}
	// A version-2 flag under version 1 is invalid too.
	admin.send(frame.Frame{Type: frame.TypeFlagsEnable, Offset: config.OffsetFeatureFlags, Value: uint64(config.Offline)})
	if f := admin.frame(); f != frame.Nak(config.OffsetFeatureFlags, frame.NakInvalidConfig) {
		t.Errorf("OFFLINE under v1: %+v, want NAK 6", f)
	}

	admin.send(frame.Ack(0, 1))
	if f := admin.frame(); f != frame.Nak(0, frame.NakFrameType) {
		t.Errorf("client ACK: %+v, want NAK 2", f)
	}

	if got := e.store.Load(); got != before {
		t.Errorf("refused frames changed the config: %+v, want %+v", got, before)
	}
	if got := testutil.ToFloat64(e.d.m.frames.WithLabelValues("unauthorized")); got != 1 {
		t.Errorf("bun_dashboard_frames_total{result=unauthorized} = %v, want 1", got)
	}
}

func TestDashboardWSPersistFailed(t *testing.T) {
	s, err := config.NewStore(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	s.Persist = func(old, new config.Config) error { return errors.New("disk full") }
	e := newEnv(t, Options{Store: s})
	admin := e.dial(adminToken)
	admin.snapshot(config.Config{})
	admin.send(frame.Frame{Type: frame.TypeFlagsEnable, Offset: config.OffsetFeatureFlags, Value: uint64(config.Debug)})
	if f := admin.frame(); f != frame.Nak(config.OffsetFeatureFlags, frame.NakPersistFailed) {
		t.Errorf("persist error: %+v, want NAK 7", f)
	}
	if s.Enabled(config.Debug) {
		t.Error("a change that was not persisted was published")
	}
}

func TestDashboardWSRateLimited(t *testing.T) {
	e := newEnv(t, Options{FrameBurst: 3, FrameRate: 0.001})
	c := e.dial(readerToken)
	c.snapshot(config.Config{})
	set := frame.Frame{Type: frame.TypeSet, Offset: config.OffsetRows, Value: 30}
	var got []uint64
	for range 5 {
		c.send(set)
		got = append(got, c.frame().Value)
	}
	want := []uint64{5, 5, 5, 8, 8}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("NAK codes (-want +got):\n%s", d)
	}
}

func TestDashboardWSOversizedMessageCloses(t *testing.T) {
	e := newEnv(t, Options{MaxMessage: 512})
	c := e.dial(adminToken)
	c.snapshot(config.Config{})
	c.sendRaw(make([]byte, 4096))
	for {
		_, err := c.next(5 * time.Second)
		if err != nil {
			if s := websocket.CloseStatus(err); s != websocket.StatusMessageTooBig {
				t.Errorf("close status %v (%v), want %v", s, err, websocket.StatusMessageTooBig)
			}
			return
		}
	}
}

func TestDashboardWSCrossOriginRefused(t *testing.T) {
	e := newEnv(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{"Origin": {"http://evil.example"}}
	c, resp, err := websocket.Dial(ctx, e.wsURL(), &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		c.CloseNow()
		t.Fatal("a foreign origin opened the WebSocket")
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("response %v, want 403", resp)
	}
	// The page's own origin is welcome.
	h.Set("Origin", e.srv.URL)
	c, _, err = websocket.Dial(ctx, e.wsURL(), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("same origin refused: %v", err)
	}
	c.CloseNow()
	// And so are origins the options allow.
	e2 := newEnv(t, Options{OriginPatterns: []string{"evil.example"}})
	h.Set("Origin", "http://evil.example")
	c, _, err = websocket.Dial(ctx, e2.wsURL(), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	c.CloseNow()
}

// smallBuffers makes the server's socket buffers tiny, so that a client
// that stops reading backs up into the dashboard's queue in a few KiB
// instead of the megabytes Linux would otherwise buffer.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

func TestDashboardWSSlowClientDropped(t *testing.T) {
	s, err := config.NewStore(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Options{Store: s, MaxQueue: 32}, func(srv *httptest.Server) {
		srv.Listener = smallBuffers{srv.Listener}
	})
	// A client that never reads, with a small receive buffer.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dialer := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(4096)
		}
		return c, err
	}}}
	slow, _, err := websocket.Dial(ctx, e.wsURL(), &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.CloseNow()
	eventually(t, "the client to be registered", func() bool { return testutil.ToFloat64(e.d.m.clients) == 1 })

	// A client that keeps reading, beside it.
	good := e.dial("")
	good.snapshot(config.Config{})
	var last atomic.Pointer[config.Config]
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		cur := s.Load()
		for {
			m, err := good.next(10 * time.Second)
			if err != nil {
				return
			}
			if m.frame == nil {
				continue
			}
			if f := *m.frame; f.Type == frame.TypeSet {
				cur, _ = setField(cur, f)
			} else if f.Type == frame.TypeAck && f.Offset == 0 {
				c := cur
				last.Store(&c)
			}
		}
	}()

	// Updates at a pace a reader keeps up with; none of them waits for
	// the client that does not read.
	dropped := func() bool { return testutil.ToFloat64(e.d.m.slow) >= 1 }
	deadline := time.Now().Add(15 * time.Second)
	for !dropped() && time.Now().Before(deadline) {
		start := time.Now()
		if _, err := s.Update(func(c config.Config) (config.Config, error) {
			c.FeatureFlags ^= config.Debug
			return c, nil
		}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("an update took %v", d)
		}
		time.Sleep(time.Millisecond)
	}
	if !dropped() {
		t.Fatal("the client that does not read was not dropped")
	}
	eventually(t, "only the reading client to remain", func() bool { return testutil.ToFloat64(e.d.m.clients) == 1 })
	eventually(t, "the reading client to catch up", func() bool {
		c := last.Load()
		return c != nil && *c == s.Load()
	})
	good.c.Close(websocket.StatusNormalClosure, "")
	<-readDone

	// A new client is served as usual.
	fresh := e.dial("")
	got, _ := fresh.snapshot(config.Config{})
	if got != s.Load() {
		t.Errorf("fresh client snapshot = %+v, want %+v", got, s.Load())
	}
}

func TestDashboardWSTicket(t *testing.T) {
	e := newEnv(t, Options{})
	resp, body := e.do("POST", Prefix+"/api/ticket", adminToken, "")
	if resp.StatusCode != 200 {
		t.Fatalf("ticket: %d %s", resp.StatusCode, body)
	}
	var tk struct {
		Ticket string `json:"ticket"`
		Admin  bool   `json:"admin"`
	}
	json.Unmarshal([]byte(body), &tk)
	if tk.Ticket == "" || !tk.Admin {
		t.Fatalf("ticket answer %s", body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, e.wsURL()+"?ticket="+tk.Ticket, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &wsClient{t: t, c: c}
	if h := w.text("hello"); !strings.Contains(h, `"admin":true`) {
		t.Errorf("hello with an admin ticket: %s", h)
	}
	c.CloseNow()
	// Single use.
	_, resp, err = websocket.Dial(ctx, e.wsURL()+"?ticket="+tk.Ticket, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("reused ticket: err %v resp %v, want 401", err, resp)
	}
}

func TestDashboardWSTerminalLeaks(t *testing.T) {
	e := newEnv(t, Options{})
	sessions := func(mode string) float64 { return testutil.ToFloat64(e.d.m.sessions.WithLabelValues(mode)) }

	// A well-behaved raw session: announce, restore, leave.
	good := e.dial("")
	good.sendText(`{"type":"terminal","mode":"raw","rows":24,"cols":80}`)
	eventually(t, "the raw session", func() bool { return sessions("raw") == 1 })
	good.sendText(`{"type":"terminal","restored":true}`)
	eventually(t, "the restore", func() bool { return sessions("raw") == 0 })
	good.c.Close(websocket.StatusNormalClosure, "")

	// A cooked session that just goes: no leak.
	cooked := e.dial("")
	cooked.sendText(`{"type":"terminal","mode":"cooked","rows":24,"cols":80}`)
	eventually(t, "the cooked session", func() bool { return sessions("cooked") == 1 })
	cooked.c.CloseNow()
	eventually(t, "the cooked session to end", func() bool { return sessions("cooked") == 0 })

	// A raw session that vanishes: a leak.
	bad := e.dial("")
	bad.sendText(`{"type":"terminal","mode":"raw","rows":24,"cols":80}`)
	eventually(t, "the second raw session", func() bool { return sessions("raw") == 1 })
	bad.c.CloseNow()
	eventually(t, "the leak", func() bool { return testutil.ToFloat64(e.d.m.leaks) == 1 })
	if got := sessions("raw"); got != 0 {
		t.Errorf("raw sessions after the leak = %v, want 0", got)
	}
	// The stats count the terminals the same way.
	bad2 := e.dial("")
	bad2.sendText(`{"type":"terminal","mode":"raw","rows":24,"cols":80}`)
	eventually(t, "stats terminals", func() bool {
		_, terms := e.d.hub.counts()
		return terms["raw"] == 1
	})
}

func TestDashboardWSShutdownClosesClients(t *testing.T) {
	s, _ := config.NewStore(config.Default())
	ctx, cancel := context.WithCancel(context.Background())
	d, err := New(ctx, Options{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	defer srv.Close()
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	c, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(srv.URL, "http")+Prefix+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	// Announce raw: a server going away is not the client's leak.
	c.Write(dctx, websocket.MessageText, []byte(`{"type":"terminal","mode":"raw"}`))
	eventually(t, "raw session", func() bool { _, t := d.hub.counts(); return t["raw"] == 1 })
	cancel()
	for {
		if _, _, err := c.Read(dctx); err != nil {
			if s := websocket.CloseStatus(err); s != websocket.StatusGoingAway {
				t.Errorf("close status %v (%v), want going away", s, err)
			}
			break
		}
	}
	if got := testutil.ToFloat64(d.m.leaks); got != 0 {
		t.Errorf("leaks after shutdown = %v, want 0", got)
	}
}
