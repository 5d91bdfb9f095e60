// Package proxy is the registry's uplink: a client of the upstream npm registry that fetches, verifies and caches packuments and tarballs.
//
// # Wiring
//
// The registry holds one *Upstream for the life of the server and asks it
// for what it does not have locally. It needs only two methods, so it can
// take them as an interface and test with a fake:
//
//	type Uplink interface {
//		Packument(ctx context.Context, name string) (proxy.Packument, error)
//		Tarball(ctx context.Context, name, file, integrity string) ([]byte, error)
//	}
//
//	up := &proxy.Upstream{
//		URL:        upstreamURL,                         // *url.URL
//		Store:      store,                               // *config.Store, read per request
//		TarballURL: func(name, file string) string { return publicBase + "/" + name + "/-/" + file },
//		Tarballs:   storage.NewFS(filepath.Join(dataDir, "uplink")),
//		Logger:     logger,
//	}
//	defer up.Close()
//
// Errors: ErrNotFound (answer 404), ErrOffline (OFFLINE set and nothing
// cached: answer 503), ErrIntegrity and ErrWeakIntegrity (a tarball was
// refused: 502), an error from pkgname (a bad name: 400), anything else
// (upstream unreachable or broken: 502). A Packument whose Stale field is
// set is a cached copy served because the upstream could not be asked
// (Stale says why): serve it, and log Stale.
//
// Packuments are always requested in full (Accept: application/json): the
// registry derives the abbreviated install-v1 form itself, so one cached
// copy serves both. Every versions[*].dist.tarball is rewritten through
// TarballURL, so clients come back to the registry for tarballs, and the
// registry calls Tarball with the file name from the URL and, if it has
// it, the version's dist.integrity (else "" and the Upstream finds it in
// the packument). Status feeds the dashboard, Resolver's Stats the DNS
// metrics.
//
// # Rules
//
// Every upstream request carries the five X-Bun-* headers of the live
// config and never the client's Authorization, Proxy-Authorization, Cookie
// or npm-otp: the client's credentials are for this registry, not the
// upstream. Upstream Set-Cookie never reaches the client.
//
// COMPRESSION: requests say Accept-Encoding: gzip and gzip responses are
// decoded here (Go's Transport decodes only when it added the header
// itself, so it is told not to). Without it responses come uncompressed.
// Requests have no bodies: the uplink only reads (GET and HEAD).
//
// DNS_CACHE: each new connection resolves through Resolver (a dnscache)
// and connects to the address it resolved; without it, through Go's
// resolver. The flag is read per dial; pooled connections stay pooled.
//
// OFFLINE: nothing is sent upstream. Cached packuments (even expired) and
// stored tarballs are still served, the packuments marked Stale ErrOffline;
// anything else fails with ErrOffline.
//
// STRICT_INTEGRITY: a tarball whose only hash is sha1 is refused.
//
// Private addresses: no connection may go to a loopback, private (RFC 1918,
// RFC 4193), link-local, CGNAT, unspecified or multicast address unless the
// configured upstream itself resolves to one (a registry on localhost or
// on the LAN may redirect within its network; a public one may not send us
// there). The check runs on the address being dialed (a net.Dialer
// ControlContext), so it also covers DNS rebinding and redirects; redirects
// are checked again when followed, which covers a Transport of your own.
// Redirects are limited to 10, http(s) only, never https to http.
//
// Timeouts: dial DialTimeout, TLS handshake TLSHandshakeTimeout, response
// headers ResponseHeaderTimeout, and the whole exchange including reading
// the body Timeout; bodies are capped at MaxPackumentSize and
// MaxTarballSize (after decompression).
package proxy

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/dnscache"
	"github.com/bun13/bun13/impl/headers"
)

// Errors the registry tells apart; see the package doc.
var (
	ErrOffline        = errors.New("uplink is offline (OFFLINE)")
	ErrNotFound       = errors.New("not found upstream")
	ErrIntegrity      = errors.New("tarball integrity mismatch")
	ErrWeakIntegrity  = errors.New("tarball has only a sha1 integrity (STRICT_INTEGRITY)")
	ErrNoIntegrity    = errors.New("no usable integrity for tarball")
	ErrPrivateAddress = errors.New("refusing to connect to a private address")
	ErrTooLarge       = errors.New("upstream response too large")
	ErrMethod         = errors.New("the uplink only forwards GET and HEAD")
)

// Defaults of the zero Upstream's fields, as its field docs give them.
const (
	defaultPackumentTTL          = 5 * time.Minute
	defaultFailureBackoff        = 10 * time.Second
	defaultMaxPackumentSize      = 64 << 20
	defaultMaxTarballSize        = 256 << 20
	defaultMaxCacheBytes         = 256 << 20
	defaultDialTimeout           = 10 * time.Second
	defaultTLSHandshakeTimeout   = 10 * time.Second
	defaultResponseHeaderTimeout = 30 * time.Second
	defaultTimeout               = 2 * time.Minute

	maxRedirects = 10
	userAgent    = "bun13-uplink/1"
)

// droppedHeaders never go upstream: they carry the client's credentials.
var droppedHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Npm-Otp"}

// hopHeaders are hop-by-hop (RFC 9110 7.6.1), as in httputil.ReverseProxy.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// droppedResponseHeaders never reach the client: upstream cookies are not
// for our domain.
var droppedResponseHeaders = []string{"Set-Cookie", "Set-Cookie2"}

// Upstream is the uplink to one upstream registry. Exported fields are set
// before first use and not changed after; the zero value of each is a
// documented default. Methods are safe for concurrent use.
type Upstream struct {
	// URL is the upstream registry's base URL, such as
	// https://registry.npmjs.org (http or https, a path prefix allowed,
	// no user info, query or fragment). It must be set.
	URL *url.URL

	// Store is the live config: COMPRESSION, DNS_CACHE, OFFLINE and
	// STRICT_INTEGRITY are read from it per request (DNS_CACHE per dial),
	// and its X-Bun-* headers go with every request. Nil means every flag
	// off and no X-Bun-* headers.
	Store *config.Store

	// TarballURL returns the URL clients fetch the tarball file of package
	// name from: the registry's own. Nil leaves upstream URLs in place.
	TarballURL func(name, file string) string

	// Tarballs keeps verified tarballs (*storage.FS is one). Nil means none
	// are kept: every Tarball call fetches.
	Tarballs TarballCache

	// Transport sends requests. Nil means a pooled keep-alive transport
	// with the timeouts below, dialing through Resolver when DNS_CACHE is
	// set and refusing private addresses (see the package doc).
	Transport http.RoundTripper

	// Resolver is the DNS cache used when DNS_CACHE is set. Nil means one
	// of the Upstream's own, closed by Close.
	Resolver *dnscache.Resolver

	// IsPrivate reports whether an address is off limits for a public
	// upstream. Nil means loopback, RFC 1918 and RFC 4193 private,
	// link-local, CGNAT (100.64/10), unspecified and multicast.
	IsPrivate func(netip.Addr) bool

	// PackumentTTL is how long a packument is served without asking the
	// upstream; after it, the upstream is asked If-None-Match. Zero means
	// 5 min.
	PackumentTTL time.Duration
	// FailureBackoff is how long after a failed request a stale packument
	// is served without asking again. Zero means 10 s.
	FailureBackoff time.Duration
	// MaxPackumentSize and MaxTarballSize cap bodies (decompressed). Zero
	// means 64 MiB and 256 MiB.
	MaxPackumentSize, MaxTarballSize int64
	// MaxCacheBytes bounds the packuments held in memory; the least
	// recently used go first. Zero means 256 MiB.
	MaxCacheBytes int64

	// DialTimeout, TLSHandshakeTimeout and ResponseHeaderTimeout bound
	// those phases of the default Transport. Zero means 10 s, 10 s, 30 s.
	DialTimeout, TLSHandshakeTimeout, ResponseHeaderTimeout time.Duration
	// Timeout bounds a whole exchange, reading the body included. Zero
	// means 2 min.
	Timeout time.Duration

	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Logger receives stale serves and refused tarballs. Nil means
	// slog.Default().
	Logger *slog.Logger

	once      sync.Once
	base      string // URL without trailing slash
	baseErr   error
	client    *http.Client
	transport *http.Transport // ours, nil when Transport was given
	resolver  *dnscache.Resolver
	ownsRes   bool
	upPrivate atomic.Int32 // 0 unknown, 1 upstream is on a private address, 2 it is not

	sf singleflight.Group

	mu        sync.RWMutex // guards packs and packBytes
	packs     map[string]*packEntry
	packBytes int64

	requests, failures, cacheHits, misses, revalidated, staleServed atomic.Uint64

	stateMu     sync.Mutex
	lastSuccess time.Time
	lastFailure time.Time
	lastErr     string
}

func (u *Upstream) setup() {
	u.base, u.baseErr = checkBase(u.URL)
	u.resolver = u.Resolver
	if u.resolver == nil {
		u.resolver = &dnscache.Resolver{Logger: u.Logger}
		u.ownsRes = true
	}
	rt := u.Transport
	if rt == nil {
		d := &net.Dialer{
			Timeout:        orDefault(u.DialTimeout, defaultDialTimeout),
			KeepAlive:      30 * time.Second,
			ControlContext: u.control,
		}
		cached := u.resolver.Dialer(d.DialContext)
		u.transport = &http.Transport{
			// An environment proxy would be dialed instead of the upstream
			// and usually sits on a private address.
			Proxy: nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if u.enabled(config.DNSCache) {
					return cached(ctx, network, addr)
				}
				return d.DialContext(ctx, network, addr)
			},
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          64,
			MaxIdleConnsPerHost:   32,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   orDefault(u.TLSHandshakeTimeout, defaultTLSHandshakeTimeout),
			ResponseHeaderTimeout: orDefault(u.ResponseHeaderTimeout, defaultResponseHeaderTimeout),
			ExpectContinueTimeout: time.Second,
			DisableCompression:    true, // COMPRESSION decides, see prepare
		}
		rt = u.transport
	}
	u.client = &http.Client{Transport: rt, CheckRedirect: u.checkRedirect}
}

func checkBase(u *url.URL) (string, error) {
	switch {
	case u == nil:
		return "", errors.New("proxy: Upstream.URL is not set")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("proxy: upstream %q: scheme must be http or https", u.Redacted())
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("proxy: upstream %q: want scheme://host[:port][/path]", u.Redacted())
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Close releases idle connections and the Upstream's own Resolver.
func (u *Upstream) Close() error {
	u.once.Do(u.setup)
	if u.transport != nil {
		u.transport.CloseIdleConnections()
	}
	if u.ownsRes {
		return u.resolver.Close()
	}
	return nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func (u *Upstream) now() time.Time {
	if u.Now != nil {
		return u.Now()
	}
	return time.Now()
}

func (u *Upstream) logger() *slog.Logger {
	if u.Logger == nil {
		return slog.Default()
	}
	return u.Logger
}

func (u *Upstream) enabled(f config.Flags) bool { return u.Store != nil && u.Store.Enabled(f) }

func (u *Upstream) isPrivate(ip netip.Addr) bool {
	if u.IsPrivate != nil {
		return u.IsPrivate(ip)
	}
	return isPrivateAddr(ip)
}

func isPrivateAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	cgnat := netip.PrefixFrom(netip.AddrFrom4([4]byte{100, 64, 0, 0}), 10)
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() ||
		ip.IsMulticast() || ip.IsUnspecified() || cgnat.Contains(ip)
}

// lookupHost resolves host as a dial would: through the DNS cache when
// DNS_CACHE is set.
func (u *Upstream) lookupHost(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	if u.enabled(config.DNSCache) {
		return u.resolver.LookupNetIP(ctx, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// upstreamIsPrivate reports whether the configured upstream resolves to a
// private address. Only a successful answer is remembered.
func (u *Upstream) upstreamIsPrivate(ctx context.Context) bool {
	switch u.upPrivate.Load() {
	case 1:
		return true
	case 2:
		return false
	}
	// A context of our own, cancelled with the caller's, so that the
	// caller's httptrace hooks do not report this lookup as theirs.
	lctx, cancel := context.WithTimeout(context.Background(), orDefault(u.DialTimeout, defaultDialTimeout))
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	addrs, err := u.lookupHost(lctx, u.URL.Hostname())
	if err != nil {
		return false
	}
	priv := false
	for _, ip := range addrs {
		priv = priv || u.isPrivate(ip.Unmap())
	}
	if priv {
		u.upPrivate.Store(1)
	} else {
		u.upPrivate.Store(2)
	}
	return priv
}

func (u *Upstream) allowIP(ctx context.Context, ip netip.Addr) error {
	if !u.isPrivate(ip.Unmap()) || u.upstreamIsPrivate(ctx) {
		return nil
	}
	return fmt.Errorf("%w %s: the upstream %s is public", ErrPrivateAddress, ip, u.URL.Host)
}

// control runs on every socket the default Transport dials, with the
// address really being connected to.
func (u *Upstream) control(ctx context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return err
	}
	return u.allowIP(ctx, ap.Addr())
}

func (u *Upstream) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return fmt.Errorf("refusing redirect to scheme %q", s)
	}
	if via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme == "http" {
		return fmt.Errorf("refusing redirect from https to %s", req.URL.Redacted())
	}
	addrs, err := u.lookupHost(req.Context(), req.URL.Hostname())
	if err != nil {
		return err
	}
	for _, ip := range addrs {
		if err := u.allowIP(req.Context(), ip); err != nil {
			return fmt.Errorf("redirect to %s: %w", req.URL.Redacted(), err)
		}
	}
	return nil
}

// prepare makes h fit to go upstream.
func (u *Upstream) prepare(h http.Header) {
	for _, k := range droppedHeaders {
		h.Del(k)
	}
	if u.Store != nil {
		headers.Set(h, u.Store.Load())
	} else {
		for _, k := range headers.Names {
			h.Del(k)
		}
	}
	if u.enabled(config.Compression) {
		h.Set("Accept-Encoding", "gzip")
	} else {
		h.Del("Accept-Encoding")
	}
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", userAgent)
	}
}

// removeHopHeaders deletes hop-by-hop headers, including those Connection
// names.
func removeHopHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
}

// get builds a GET of u.base + path, ready to go upstream.
func (u *Upstream) get(ctx context.Context, path string) (*http.Request, error) {
	if u.baseErr != nil {
		return nil, u.baseErr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.base+path, nil)
	if err != nil {
		return nil, err
	}
	u.prepare(req.Header)
	return req, nil
}

// do sends req, records the outcome for Status and decodes a gzip body
// that prepare asked for.
func (u *Upstream) do(req *http.Request) (*http.Response, error) {
	u.requests.Add(1)
	resp, err := u.client.Do(req)
	if err != nil {
		u.recordFailure(err)
		return nil, err
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		u.recordFailure(fmt.Errorf("%s %s: %s", req.Method, req.URL.Redacted(), resp.Status))
	} else {
		u.recordSuccess()
	}
	if req.Header.Get("Accept-Encoding") == "gzip" && strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") &&
		hasBody(req, resp) {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			resp.Body.Close()
			err = fmt.Errorf("%s %s: bad gzip body: %w", req.Method, req.URL.Redacted(), err)
			u.recordFailure(err)
			return nil, err
		}
		resp.Body = &gzipBody{Reader: zr, body: resp.Body}
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
		resp.Uncompressed = true
	}
	return resp, nil
}

// hasBody reports whether resp can carry a body: a 304 or a HEAD answer
// may name the encoding the body would have had.
func hasBody(req *http.Request, resp *http.Response) bool {
	return req.Method != http.MethodHead && resp.StatusCode != http.StatusNotModified &&
		resp.StatusCode != http.StatusNoContent && resp.StatusCode/100 != 1
}

type gzipBody struct {
	*gzip.Reader
	body io.ReadCloser
}

func (g *gzipBody) Close() error { return g.body.Close() }

// readBody reads at most max bytes of r.
func readBody(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w (over %d bytes)", ErrTooLarge, max)
	}
	return b, nil
}

// flight runs fn once for all concurrent callers with the same key. fn
// runs detached from any one caller's cancellation, under Timeout, so a
// client hanging up does not fail the others or waste the fetch.
func flight[T any](u *Upstream, ctx context.Context, key string, fn func(context.Context) (T, error)) (T, error) {
	ch := u.sf.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), orDefault(u.Timeout, defaultTimeout))
		defer cancel()
		return fn(fctx)
	})
	select {
	case r := <-ch:
		v, _ := r.Val.(T)
		return v, r.Err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// Forward sends a client's GET or HEAD to the upstream, at the same path
// and query below URL, and returns the upstream's answer for the caller to
// copy to the client (it must close the body). The client's credentials,
// cookies, X-Bun-* and hop-by-hop headers are not forwarded; the answer
// comes without hop-by-hop headers and Set-Cookie. For what Packument and
// Tarball do not cover, such as /-/v1/search.
func (u *Upstream) Forward(req *http.Request) (*http.Response, error) {
	u.once.Do(u.setup)
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return nil, fmt.Errorf("%w, not %s", ErrMethod, req.Method)
	}
	if u.enabled(config.Offline) {
		return nil, ErrOffline
	}
	if u.baseErr != nil {
		return nil, u.baseErr
	}
	target, err := url.Parse(u.base + req.URL.EscapedPath())
	if err != nil {
		return nil, err
	}
	target.RawQuery = req.URL.RawQuery
	ctx, cancel := context.WithTimeout(req.Context(), orDefault(u.Timeout, defaultTimeout))
	out := req.Clone(ctx)
	out.URL, out.Host, out.RequestURI = target, "", ""
	out.Body, out.ContentLength, out.GetBody = http.NoBody, 0, nil
	out.Close = false
	removeHopHeaders(out.Header)
	u.prepare(out.Header)
	resp, err := u.do(out)
	if err != nil {
		cancel()
		return nil, err
	}
	removeHopHeaders(resp.Header)
	for _, k := range droppedResponseHeaders {
		resp.Header.Del(k)
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelBody ends the exchange's context when the caller is done with it.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// Ping asks the upstream's /-/ping and reports whether it answered 2xx.
// Phases can be observed with net/http/httptrace on ctx.
func (u *Upstream) Ping(ctx context.Context) error {
	u.once.Do(u.setup)
	if u.enabled(config.Offline) {
		return ErrOffline
	}
	ctx, cancel := context.WithTimeout(ctx, orDefault(u.Timeout, defaultTimeout))
	defer cancel()
	req, err := u.get(ctx, "/-/ping")
	if err != nil {
		return err
	}
	resp, err := u.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := readBody(resp.Body, 1<<20); err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s", req.URL.Redacted(), resp.Status)
	}
	return nil
}

// Status is the uplink's health for the dashboard.
type Status struct {
	URL         string
	Up          bool // the last exchange succeeded (false before the first)
	Offline     bool // OFFLINE is set
	LastSuccess time.Time
	LastFailure time.Time
	LastError   string
	Requests    uint64 // requests sent upstream
	Failures    uint64 // of those: no answer, 5xx, or a refused tarball
	CacheHits   uint64 // packuments and tarballs served without asking upstream
	Misses      uint64 // packuments and tarballs fetched (or waited for) instead
	Revalidated uint64 // cached packuments the upstream confirmed (304)
	StaleServed uint64 // expired packuments served because the upstream could not be asked
	Packuments  int    // packuments held in memory
	CacheBytes  int64  // their size
}

// Status returns the uplink's counters and last outcome.
func (u *Upstream) Status() Status {
	s := Status{
		Offline:     u.enabled(config.Offline),
		Requests:    u.requests.Load(),
		Failures:    u.failures.Load(),
		CacheHits:   u.cacheHits.Load(),
		Misses:      u.misses.Load(),
		Revalidated: u.revalidated.Load(),
		StaleServed: u.staleServed.Load(),
	}
	if u.URL != nil {
		s.URL = u.URL.Redacted()
	}
	u.stateMu.Lock()
	s.LastSuccess, s.LastFailure, s.LastError = u.lastSuccess, u.lastFailure, u.lastErr
	u.stateMu.Unlock()
	s.Up = !s.LastSuccess.IsZero() && !s.LastSuccess.Before(s.LastFailure)
	u.mu.RLock()
	s.Packuments, s.CacheBytes = len(u.packs), u.packBytes
	u.mu.RUnlock()
	return s
}

func (u *Upstream) recordSuccess() {
	now := u.now()
	u.stateMu.Lock()
	u.lastSuccess = now
	u.stateMu.Unlock()
}

func (u *Upstream) recordFailure(err error) {
	u.failures.Add(1)
	now := u.now()
	u.stateMu.Lock()
	u.lastFailure, u.lastErr = now, err.Error()
	u.stateMu.Unlock()
}
