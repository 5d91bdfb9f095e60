package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// Body and connection bounds: no anonymous client can hold a connection
// or memory for free.
const (
	// DefaultBodyGrace is how long any request body may take beyond what
	// the minimum rate allows (the first bytes, a slow start).
	DefaultBodyGrace = 10 * time.Second
	// DefaultMinBodyRate is the slowest a body may arrive, on average,
	// after the grace: 64 KiB/s, so a 50 MiB publish may take up to
	// 10 s + 800 s.
	DefaultMinBodyRate = 64 << 10
	// DefaultMaxConcurrentPublishes bounds the package PUT bodies being
	// read or checked at once; one more gets 503 with Retry-After.
	DefaultMaxConcurrentPublishes = 4
	// publishRetryAfter is the Retry-After of that 503, in seconds.
	publishRetryAfter = 5
	// publishWait is how long a publish waits for a slot (holding only
	// its headers) before the 503.
	publishWait = time.Second
)

// guardBody gives c's request body a deadline and a minimum rate, and
// caps it at limit bytes (413 at once when Content-Length says more). It
// returns false when it has answered. Requests without a body are left
// alone: only body reads get deadlines, so long responses and the
// dashboard's WebSocket are not affected.
func (c *call) guardBody(limit int64) bool {
	r := c.r
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return true
	}
	if r.ContentLength > limit {
		c.w.Header().Set("Connection", "close")
		c.fail(http.StatusRequestEntityTooLarge, "request body of "+strconv.FormatInt(r.ContentLength, 10)+" bytes is over the limit of "+strconv.FormatInt(limit, 10)+" for this route")
		return false
	}
	g := &guardedBody{
		rc:    http.NewResponseController(c.w.ResponseWriter),
		body:  http.MaxBytesReader(c.w.ResponseWriter, r.Body, limit),
		start: time.Now(), // deadlines are wall-clock, whatever Options.Now says
		grace: c.s.bodyGrace,
		rate:  c.s.minBodyRate,
	}
	// The deadline holds from now, also for bodies the handler never
	// reads: net/http reads (discards) those before answering.
	g.extend()
	c.r.Body = g
	return true
}

// guardedBody sets the connection's read deadline to start + grace +
// read/rate after every read, so a body that arrives slower than rate
// (after the grace) fails with a timeout.
type guardedBody struct {
	rc    *http.ResponseController
	body  io.ReadCloser
	start time.Time
	grace time.Duration
	rate  int64
	n     int64
}

func (g *guardedBody) deadline() time.Time {
	return g.start.Add(g.grace + time.Duration(g.n*int64(time.Second)/g.rate))
}

func (g *guardedBody) extend() {
	// ErrNotSupported: a wrapper without Unwrap hides the connection;
	// the size cap still holds.
	_ = g.rc.SetReadDeadline(g.deadline())
}

func (g *guardedBody) Read(p []byte) (int, error) {
	n, err := g.body.Read(p)
	g.n += int64(n)
	if err == nil {
		g.extend()
	}
	return n, err
}

func (g *guardedBody) Close() error { return g.body.Close() }

// bodyTimedOut reports whether err is a body read that missed its
// deadline.
func bodyTimedOut(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// publishSlots bounds the package PUT bodies held at once.
type publishSlots struct {
	ch    chan struct{}
	inUse atomic.Int64
}

func newPublishSlots(n int) *publishSlots { return &publishSlots{ch: make(chan struct{}, n)} }

// acquire takes a slot, waiting at most wait.
func (p *publishSlots) acquire(ctx context.Context, wait time.Duration) (release func(), ok bool) {
	select {
	case p.ch <- struct{}{}:
	default:
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case p.ch <- struct{}{}:
		case <-t.C:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
	p.inUse.Add(1)
	return func() { p.inUse.Add(-1); <-p.ch }, true
}

// ---- request framing (RFC 9112 section 6.1)

// A request with both Content-Length and Transfer-Encoding is refused
// with 400 and the connection closed: a proxy in front that frames by
// Content-Length would forward the rest as a second request. net/http
// drops the Content-Length header of such requests before a handler sees
// them, so framingConn watches the header lines on the wire.

type framingKey struct{}

// framingListener wraps accepted connections in framingConn.
type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c, lineStart: true}, nil
}

// connContext puts the framingConn into every request's context.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*framingConn); ok {
		return context.WithValue(ctx, framingKey{}, fc)
	}
	return ctx
}

// framingConn scans what is read for header blocks (lines up to an
// empty line) holding both a Content-Length and a Transfer-Encoding
// line. Body bytes are scanned too; a body that looks like such a block
// only taints its own connection. The scan jumps from newline to
// newline, so a body without newlines (base64 JSON) costs a memchr.
type framingConn struct {
	net.Conn
	lineStart bool
	line      [18]byte // first bytes of the current line
	lineLen   int      // bytes of the current line so far
	sawCL     bool
	sawTE     bool
	both      atomic.Bool
}

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.scan(p[:n])
	}
	return n, err
}

func (c *framingConn) scan(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		seg := b
		if i >= 0 {
			seg = b[:i]
		}
		if c.lineLen < len(c.line) {
			copy(c.line[c.lineLen:], seg)
		}
		c.lineLen += len(seg)
		if i < 0 {
			return
		}
		c.endLine()
		b = b[i+1:]
	}
}

func (c *framingConn) endLine() {
	l := c.line[:min(c.lineLen, len(c.line))]
	switch {
	case c.lineLen == 0 || c.lineLen == 1 && l[0] == '\r':
		if c.sawCL && c.sawTE {
			c.both.Store(true)
		}
		c.sawCL, c.sawTE = false, false
	case hasFoldPrefix(l, "content-length:"):
		c.sawCL = true
	case hasFoldPrefix(l, "transfer-encoding:"):
		c.sawTE = true
	}
	c.lineLen = 0
}

func hasFoldPrefix(b []byte, p string) bool {
	if len(b) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != p[i] {
			return false
		}
	}
	return true
}

// smuggled reports whether r came with both framings.
func smuggled(r *http.Request) bool {
	if len(r.TransferEncoding) == 0 {
		return false
	}
	fc, ok := r.Context().Value(framingKey{}).(*framingConn)
	return ok && fc.both.Load()
}
