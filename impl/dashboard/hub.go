package dashboard

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/frame"
)

// outMsg is one message queued for a client. Its bytes are shared between
// clients and never changed.
type outMsg struct {
	typ websocket.MessageType
	b   []byte
}

func textMsg(b []byte) outMsg { return outMsg{websocket.MessageText, b} }

func frameMsg(f frame.Frame) outMsg {
	b := frame.Encode(f)
	return outMsg{websocket.MessageBinary, b[:]}
}

// fieldOffsets are the config fields in snapshot order: version first, so
// that a client checking each SET sees the flags after the version that
// defines them.
var fieldOffsets = []uint32{
	config.OffsetVersion, config.OffsetRegistryHash, config.OffsetFeatureFlags,
	config.OffsetTerminalMode, config.OffsetRows, config.OffsetCols,
}

// configFrames are the SET frames taking old to c (every field when full),
// closed by the ACK at offset 0 carrying c's header CRC64.
func configFrames(old, c config.Config, full bool) []outMsg {
	var out []outMsg
	for _, off := range fieldOffsets {
		v, _ := frame.Field(c, off)
		if ov, _ := frame.Field(old, off); full || ov != v {
			out = append(out, frameMsg(frame.Frame{Type: frame.TypeSet, Offset: off, Value: v}))
		}
	}
	return append(out, frameMsg(frame.Ack(0, c.Checksum())))
}

// client is one WebSocket connection.
type client struct {
	user  string
	admin bool
	conn  *websocket.Conn
	out   chan outMsg

	ctx    context.Context
	cancel context.CancelFunc

	// Guarded by hub.mu.
	gone         bool   // removed from the hub
	serverClosed bool   // the server ended it (slow, shutdown): not the client's leak
	term         string // announced terminal mode, "" when none or restored
}

// hub is the set of clients and everything sent to more than one.
type hub struct {
	d       *Dashboard
	mu      sync.Mutex
	clients map[*client]struct{}
	terms   map[string]int
	closed  bool
}

func newHub(d *Dashboard) *hub {
	return &hub{d: d, clients: map[*client]struct{}{}, terms: map[string]int{}}
}

// add registers c and queues its greeting and snapshot. Loading the
// config under the lock that broadcasts take keeps the snapshot in order
// with the changes: any change published after the Load is queued after it.
func (h *hub) add(c *client, hello []byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.clients[c] = struct{}{}
	h.d.m.clients.Inc()
	h.enqueueLocked(c, textMsg(hello))
	cur := h.d.o.Store.Load()
	for _, m := range configFrames(cur, cur, true) {
		h.enqueueLocked(c, m)
	}
	if b := h.d.latest.Load(); b != nil {
		h.enqueueLocked(c, textMsg(*b))
	}
	return !c.gone
}

// snapshot answers a SNAPSHOT request.
func (h *hub) snapshot(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := h.d.o.Store.Load()
	for _, m := range configFrames(cur, cur, true) {
		h.enqueueLocked(c, m)
	}
}

// send queues one reply for c.
func (h *hub) send(c *client, m outMsg) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.enqueueLocked(c, m)
}

func (h *hub) broadcast(ms ...outMsg) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		for _, m := range ms {
			if !h.enqueueLocked(c, m) {
				break
			}
		}
	}
}

// enqueueLocked queues m for c without waiting: a client whose queue is
// full is closed, so one stalled browser tab never holds up the others or
// a config update.
func (h *hub) enqueueLocked(c *client, m outMsg) bool {
	if c.gone {
		return false
	}
	select {
	case c.out <- m:
		return true
	default:
		h.d.m.slow.Inc()
		h.d.log.Warn("closing slow websocket client", "user", c.user, "queued", len(c.out))
		h.dropLocked(c)
		return false
	}
}

// dropLocked removes c and closes its connection at once: a client that
// does not read would not answer a closing handshake either.
func (h *hub) dropLocked(c *client) {
	c.serverClosed = true
	h.removeLocked(c)
	c.cancel()
	go c.conn.CloseNow()
}

func (h *hub) removeLocked(c *client) {
	if c.gone {
		return
	}
	c.gone = true
	delete(h.clients, c)
	h.d.m.clients.Dec()
	h.setTermLocked(c, "")
}

// remove is the end of c's connection. A client that announced raw mode
// and went away on its own without announcing the terminal restored has
// probably left a terminal in raw mode: count it.
func (h *hub) remove(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.term == config.Raw.String() && !c.serverClosed {
		h.d.m.leaks.Inc()
		h.d.log.Warn("terminal client left in raw mode without restoring", "user", c.user)
	}
	h.removeLocked(c)
}

// setTerm records the terminal mode c announced ("" once restored).
func (h *hub) setTerm(c *client, mode string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !c.gone {
		h.setTermLocked(c, mode)
	}
}

func (h *hub) setTermLocked(c *client, mode string) {
	if c.term != "" {
		h.terms[c.term]--
		h.d.m.sessions.WithLabelValues(c.term).Dec()
	}
	c.term = mode
	if mode != "" {
		h.terms[mode]++
		h.d.m.sessions.WithLabelValues(mode).Inc()
	}
}

func (h *hub) counts() (int, map[string]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := map[string]int{}
	for _, m := range []config.Mode{config.None, config.Cooked, config.Raw} {
		t[m.String()] = h.terms[m.String()]
	}
	return len(h.clients), t
}

// closeAll ends every connection with "going away" when the server stops.
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for c := range h.clients {
		c.serverClosed = true
		h.removeLocked(c)
		go func() {
			c.conn.Close(websocket.StatusGoingAway, "server shutting down")
			c.cancel()
		}()
	}
}

// watchConfig broadcasts every change of the Store, whoever made it.
func (d *Dashboard) watchConfig(changes <-chan config.Change, cancel func()) {
	defer cancel()
	var last uint64
	for {
		select {
		case <-d.ctx.Done():
			return
		case ch, ok := <-changes:
			if !ok {
				return
			}
			// A gap means changes were lost on the way here: send the
			// whole config rather than a diff against a stale Old.
			full := last != 0 && ch.Seq != last+1
			last = ch.Seq
			d.hub.broadcast(configFrames(ch.Old, ch.New, full)...)
		}
	}
}

// bucket is a token bucket of one connection, used by its reader alone.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func (b *bucket) allow(now time.Time) bool {
	if b.last.IsZero() {
		b.tokens = b.burst
	} else if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(b.burst, b.tokens+dt*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (d *Dashboard) serveWS(w http.ResponseWriter, r *http.Request) {
	user, admin := d.o.Authorize(r)
	if t := r.URL.Query().Get("ticket"); t != "" {
		id, ok := d.tickets.redeem(r.Context(), t, d.clientAddr(r), d.o.Now())
		if !ok {
			writeError(w, http.StatusUnauthorized, "unauthorized", "unknown or expired ticket", -1)
			return
		}
		user, admin = id.user, id.admin
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: d.o.OriginPatterns})
	if err != nil {
		// Accept has answered (403 for a foreign origin).
		d.log.Info("websocket refused", "err", err, "origin", r.Header.Get("Origin"))
		return
	}
	conn.SetReadLimit(d.o.MaxMessage)
	// The request's context ends with the handler on some servers; the
	// connection lives until the client, a drop or shutdown ends it.
	ctx, cancel := context.WithCancel(context.WithoutCancel(d.ctx))
	c := &client{user: user, admin: admin, conn: conn, out: make(chan outMsg, d.o.MaxQueue), ctx: ctx, cancel: cancel}
	hello, _ := json.Marshal(struct {
		Type         string            `json:"type"`
		User         string            `json:"user"`
		Admin        bool              `json:"admin"`
		RegistryURL  string            `json:"registryURL,omitempty"`
		RegistryHash *uint32           `json:"registryHash,omitempty"`
		FrameRate    float64           `json:"frameRate"`
		Sources      map[string]string `json:"sources"`
	}{"hello", user, admin, d.o.RegistryURL, d.registryHash, d.o.FrameRate, d.sources()})
	if !d.hub.add(c, hello) {
		cancel()
		conn.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	d.log.Debug("websocket connected", "user", user, "admin", admin)
	go d.writeLoop(c)
	d.readLoop(c)
	d.hub.remove(c)
	cancel()
	conn.CloseNow()
}

func (d *Dashboard) writeLoop(c *client) {
	for {
		select {
		case <-c.ctx.Done():
			return
		case m := <-c.out:
			ctx, cancel := context.WithTimeout(c.ctx, d.o.WriteTimeout)
			err := c.conn.Write(ctx, m.typ, m.b)
			cancel()
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					d.m.slow.Inc()
					d.log.Warn("closing websocket client that stopped reading", "user", c.user)
				}
				d.hub.mu.Lock()
				c.serverClosed = c.serverClosed || errors.Is(err, context.DeadlineExceeded)
				d.hub.mu.Unlock()
				c.cancel()
				c.conn.CloseNow()
				return
			}
		}
	}
}

func (d *Dashboard) readLoop(c *client) {
	lim := &bucket{rate: d.o.FrameRate, burst: float64(d.o.FrameBurst)}
	for {
		typ, b, err := c.conn.Read(c.ctx)
		if err != nil {
			if s := websocket.CloseStatus(err); s == -1 && c.ctx.Err() == nil {
				d.log.Debug("websocket read", "user", c.user, "err", err)
			}
			return
		}
		allowed := lim.allow(d.o.Now())
		switch typ {
		case websocket.MessageBinary:
			d.handleFrame(c, b, allowed)
		case websocket.MessageText:
			if allowed {
				d.handleText(c, b)
			}
		}
	}
}

func (d *Dashboard) reply(c *client, f frame.Frame) {
	result := "ack"
	if f.Type == frame.TypeNak {
		result = frame.NakCode(f.Value).String()
	}
	d.m.frames.WithLabelValues(result).Inc()
	d.hub.send(c, frameMsg(f))
}

func (d *Dashboard) handleFrame(c *client, b []byte, allowed bool) {
	// Echo the offset even of a frame that does not decode, when it has
	// one: the client matches replies to requests by offset.
	var off uint32
	if len(b) >= 5 {
		off = binary.LittleEndian.Uint32(b[1:5])
	}
	if !allowed {
		d.reply(c, frame.Nak(off, frame.NakRateLimited))
		return
	}
	f, err := frame.Decode(b)
	if err != nil {
		d.reply(c, frame.Nak(off, frame.NakFor(err)))
		return
	}
	switch f.Type {
	case frame.TypeSnapshot:
		d.m.frames.WithLabelValues("ack").Inc()
		d.hub.snapshot(c)
		return
	case frame.TypeAck, frame.TypeNak:
		// Replies are the server's to send; Apply refuses them too.
		d.reply(c, frame.Nak(f.Offset, frame.NakFrameType))
		return
	}
	if !c.admin {
		d.reply(c, frame.Nak(f.Offset, frame.NakUnauthorized))
		return
	}
	// Applied to the file's config as it is on disk now (see postConfig).
	next, err := d.o.Store.UpdateFrom("websocket", func(cur config.Config) (config.Config, error) {
		return frame.Apply(cur, f)
	})
	if err != nil {
		code := frame.NakFor(err)
		if code == frame.NakPersistFailed {
			d.log.Error("config update not persisted", "via", "websocket", "user", c.user, "err", err)
		}
		d.reply(c, frame.Nak(f.Offset, code))
		return
	}
	d.log.Info("config update accepted", "via", "websocket", "user", c.user, "frame", f.Type.String(), "offset", f.Offset, "value", f.Value)
	d.reply(c, frame.Ack(f.Offset, next.Checksum()))
}

// termMsg is what a terminal client announces.
type termMsg struct {
	Type     string `json:"type"`
	Mode     string `json:"mode"`
	Rows     int    `json:"rows"`
	Cols     int    `json:"cols"`
	Restored bool   `json:"restored"`
}

func (d *Dashboard) handleText(c *client, b []byte) {
	var m termMsg
	if err := json.Unmarshal(b, &m); err != nil || m.Type != "terminal" {
		return // unknown messages are ignored: newer clients may say more
	}
	if m.Restored {
		d.hub.setTerm(c, "")
		return
	}
	if mode, ok := config.ParseMode(m.Mode); ok {
		d.hub.setTerm(c, mode.String())
	}
}
