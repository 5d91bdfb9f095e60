package registry

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/ratelimit"
	"github.com/bun13/bun13/impl/registry/packument"
)

// route is one entry of the routing table: a template for logs and
// metrics (never the raw path), its rate-limit class, and whether it is
// reachable without a token while AUTH_REQUIRED is set.
type route struct {
	tpl    string
	class  string
	public bool
	// login routes ignore a bad token (a stale one in .npmrc must not
	// stop the user from logging in again).
	login bool
	// quiet routes (the probes) stay out of the access log while they
	// succeed: a kubelet asks every few seconds.
	quiet bool
	h     func(*call)
}

// call is the state of one request, pooled.
type call struct {
	s   *Server
	w   statusWriter
	r   *http.Request
	cfg config.Config
	id  Identity
	rt  *route
	ip  netip.Addr

	// path parameters
	name, version, file, tag, rev, user, key string

	errMsg string
}

// statusWriter remembers the status for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush and Hijack serve mounted handlers that assert them directly (the
// dashboard's event streams and WebSocket).
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}

var callPool = sync.Pool{New: func() any { return new(call) }}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	c := callPool.Get().(*call)
	*c = call{s: s, r: r, w: statusWriter{ResponseWriter: w}}
	c.cfg = s.store.Load()
	s.metrics.ConfigRead()
	rid := s.requestID(r)
	w.Header().Set("X-Request-Id", rid)
	c.rt = s.match(c)

	s.serve(c, start)

	d := s.now().Sub(start)
	status := c.w.status
	if status == 0 {
		status = http.StatusOK
	}
	s.metrics.Request(r.Method, c.rt.tpl, status, d)
	level := slog.LevelDebug
	switch {
	case status >= 500:
		level = slog.LevelError
	case s.opts.AccessLog && !c.rt.quiet || status >= 400 || r.Method != http.MethodGet && r.Method != http.MethodHead:
		level = slog.LevelInfo
	}
	if s.log.Enabled(r.Context(), level) {
		attrs := []slog.Attr{
			slog.String("id", rid),
			slog.String("method", logMethod(r.Method)),
			slog.String("route", c.rt.tpl),
			slog.Int("status", status),
			slog.Duration("duration", d),
			slog.String("user", c.id.User),
			slog.Int64("bytes", c.w.bytes),
		}
		if c.name != "" {
			attrs = append(attrs, slog.String("package", c.name))
		}
		if c.errMsg != "" {
			attrs = append(attrs, slog.String("error", c.errMsg))
		}
		if c.cfg.FeatureFlags&config.Debug != 0 {
			attrs = append(attrs, slog.String("path", redactPath(c.rt, r.URL.Path)), slog.String("remote", r.RemoteAddr),
				slog.String("ua", redactText(r.UserAgent())))
			if q := redactQuery(r.URL.RawQuery); q != "" {
				attrs = append(attrs, slog.String("query", q))
			}
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	}
	*c = call{}
	callPool.Put(c)
}

func (s *Server) serve(c *call, now time.Time) {
	r := c.r
	flags := c.cfg.FeatureFlags
	if smuggled(r) {
		c.w.Header().Set("Connection", "close")
		c.fail(http.StatusBadRequest, "a request may not carry both Content-Length and Transfer-Encoding (RFC 9112 section 6.1)")
		return
	}
	limit := int64(maxSmallBody)
	if r.Method == http.MethodPut && (c.rt == rtPublish || c.rt == rtRev) {
		limit = s.opts.MaxPublishBytes
	}
	if !c.guardBody(limit) {
		return
	}
	authz := r.Header.Get("Authorization")
	if len(authz) > s.opts.MaxAuthHeader {
		c.fail(http.StatusRequestHeaderFieldsTooLarge, "Authorization header too large")
		return
	}
	limited := flags&config.RateLimit != 0
	if limited {
		c.ip = ratelimit.ClientIP(r, s.opts.TrustedProxies)
	}
	if authz != "" {
		// Charge the address before any signature is checked: a flood
		// of garbage tokens costs one map update each, not a verify.
		if limited {
			d := s.preAuth.Allow("ip:"+c.ip.String(), now)
			if !d.Allowed {
				s.metrics.RateLimited("auth")
				ratelimit.SetHeaders(c.w.Header(), d)
				c.fail(http.StatusTooManyRequests, "too many requests")
				return
			}
		}
		id, err := s.verify(authz, now)
		if err != nil && !c.rt.login {
			reason := "invalid"
			if s.auth != nil && !errors.Is(err, errScheme) {
				reason = s.auth.Reason(err)
			} else if errors.Is(err, errScheme) {
				reason = "scheme"
			}
			s.metrics.AuthFailure(reason)
			c.unauthorized("invalid token: " + reason)
			return
		}
		if err == nil {
			c.id = id
		}
	}
	if limited {
		d := s.limits.Allow(c.rt.class, ratelimit.Key(c.id.User, c.ip), now)
		// RateLimit-* go on every write, login and refusal, and on reads
		// once a client has used nine tenths of its budget: a read far
		// from its limit skips three headers (and the header map's growth
		// past eight entries), which is measurable at 40k requests/s.
		if !d.Allowed || c.rt.class != ratelimit.ClassRead || d.Remaining < d.Limit/10 {
			ratelimit.SetHeaders(c.w.Header(), d)
		}
		if !d.Allowed {
			s.metrics.RateLimited(c.rt.class)
			c.fail(http.StatusTooManyRequests, "too many requests")
			return
		}
	}
	if flags&config.AuthRequired != 0 && !c.rt.public && c.id.Anonymous() {
		s.metrics.AuthFailure("missing")
		c.unauthorized("authentication required")
		return
	}
	c.rt.h(c)
}

var errScheme = errors.New("unsupported authorization scheme")

func (s *Server) verify(authz string, now time.Time) (Identity, error) {
	scheme, token, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Identity{}, errScheme
	}
	if s.auth == nil {
		return Identity{}, ErrBadCredentials
	}
	return s.auth.Verify(strings.TrimSpace(token), now)
}

// ---- responses

func (c *call) unauthorized(msg string) {
	c.w.Header().Set("WWW-Authenticate", `Bearer realm="bun13", charset="UTF-8"`)
	c.fail(http.StatusUnauthorized, msg)
}

// fail writes {"error": msg}.
func (c *call) fail(status int, msg string) {
	c.errMsg = msg
	c.json(status, map[string]string{"error": msg})
}

// failErr writes err: an *apiError with its status, anything else as 500
// (logged, not shown).
func (c *call) failErr(err error) {
	var ae *packument.Error
	if errors.As(err, &ae) {
		c.fail(ae.Status, ae.Msg)
		return
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		c.fail(http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	var u *unavailable
	if errors.As(err, &u) {
		c.errMsg = err.Error()
		c.w.Header().Set("Retry-After", itoa(storeRetryAfter))
		c.json(http.StatusServiceUnavailable, map[string]string{"error": "storage unavailable; retry later"})
		return
	}
	c.errMsg = err.Error()
	c.json(http.StatusInternalServerError, map[string]string{"error": "internal error"})
}

// json writes v as JSON, gzipped when COMPRESSION is set, the client takes
// gzip and the body is worth it.
func (c *call) json(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.errMsg = err.Error()
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	c.raw(status, "application/json", b)
}

func (c *call) raw(status int, ctype string, b []byte) {
	h := c.w.Header()
	h.Set("Content-Type", ctype)
	if len(b) >= 1024 && c.gzipOK() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Write(b)
		zw.Close()
		b = buf.Bytes()
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
	}
	h.Set("Content-Length", itoa(len(b)))
	c.w.WriteHeader(status)
	if c.r.Method != http.MethodHead {
		c.w.Write(b)
	}
}

// gzipOK: COMPRESSION is on and the client accepts gzip.
func (c *call) gzipOK() bool {
	return c.cfg.FeatureFlags&config.Compression != 0 && acceptsGzip(c.r.Header.Get("Accept-Encoding"))
}

func acceptsGzip(ae string) bool {
	for ae != "" {
		var part string
		part, ae, _ = strings.Cut(ae, ",")
		enc, params, _ := strings.Cut(part, ";")
		if strings.TrimSpace(enc) != "gzip" {
			continue
		}
		params = strings.ReplaceAll(params, " ", "")
		return params != "q=0" && params != "q=0.0" && params != "q=0.00" && params != "q=0.000"
	}
	return false
}

func itoa(n int) string {
	if n >= 0 && n < 10 {
		return string(rune('0' + n))
	}
	var b [20]byte
	i := len(b)
	u := uint64(n)
	if n < 0 {
		u = uint64(-n)
	}
	for u > 0 {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
	}
	if n < 0 {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// methodNotAllowed answers a known path with an unsupported method.
func (c *call) methodNotAllowed(allow string) {
	c.w.Header().Set("Allow", allow)
	c.fail(http.StatusMethodNotAllowed, "method "+c.r.Method+" not allowed")
}

// readJSON decodes a JSON body of at most limit bytes into v.
func (c *call) readJSON(limit int64, v any) error {
	if c.r.ContentLength > limit {
		return packument.Errorf(http.StatusRequestEntityTooLarge, "request body of %d bytes is over the limit of %d", c.r.ContentLength, limit)
	}
	body := http.MaxBytesReader(c.w.ResponseWriter, c.r.Body, limit)
	defer func() {
		// Read or failed: the body's deadline is no longer needed.
		_ = http.NewResponseController(c.w.ResponseWriter).SetReadDeadline(time.Time{})
	}()
	var buf bytes.Buffer
	if c.r.ContentLength > 0 {
		buf.Grow(int(c.r.ContentLength))
	}
	if _, err := buf.ReadFrom(body); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return packument.Errorf(http.StatusRequestEntityTooLarge, "request body is over the limit of %d bytes", limit)
		}
		if bodyTimedOut(err) {
			c.w.Header().Set("Connection", "close")
			return packument.Errorf(http.StatusRequestTimeout, "request body too slow: it must arrive within %v plus one second per %d bytes", c.s.bodyGrace, c.s.minBodyRate)
		}
		return packument.Errorf(http.StatusBadRequest, "reading body: %v", err)
	}
	if err := json.Unmarshal(buf.Bytes(), v); err != nil {
		return packument.Errorf(http.StatusBadRequest, "body is not valid JSON: %v", err)
	}
	return nil
}

// requireUser answers 401 for anonymous calls.
func (c *call) requireUser() bool {
	if c.id.Anonymous() {
		c.unauthorized("authentication required")
		return false
	}
	return true
}

// requireRole answers 403 when the caller's role is below min.
func (c *call) requireRole(min string) bool {
	if !c.requireUser() {
		return false
	}
	if roleRank(c.id.Role) < roleRank(min) {
		c.fail(http.StatusForbidden, "token role "+c.id.Role+" may not do this (needs "+min+")")
		return false
	}
	return true
}

// withIdentity returns r with the verified identity in its context, for
// mounted handlers.
func (c *call) withIdentity() *http.Request {
	return c.r.WithContext(context.WithValue(c.r.Context(), identityKey{}, c.id))
}
