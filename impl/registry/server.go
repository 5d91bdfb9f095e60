// Package registry is an npm-compatible package registry: packuments, tarballs, publish, dist-tags, search, login with EdDSA JWTs, rate limits and metrics.
//
// A [Server] is an http.Handler built by [New] from [Options]; it has no
// global state. Every request reads the live config once (an atomic load)
// and applies its feature flags: COMPRESSION gzips responses (packuments
// from cached gzip bytes, never tarballs), RATE_LIMIT enables the limits,
// AUTH_REQUIRED demands a token for reads too, METRICS exposes /metrics,
// STRICT_INTEGRITY refuses publishes without a sha512 integrity, DEBUG
// logs more. A config change applies to the next request.
//
// Paths follow the public registry (see the README for the list). Paths
// beginning with "/_" go to [Server.Mux] (the dashboard mounts there), and
// GETs of packages not stored here go to [Options.Fallback] when set (an
// uplink proxy), after the same authentication and rate limiting.
package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/metrics"
	"github.com/bun13/bun13/impl/ratelimit"
	"github.com/bun13/bun13/impl/ratelimit/lockout"
	"github.com/bun13/bun13/impl/registry/packument"
	"github.com/bun13/bun13/impl/registry/pkgname"
	tarcheck "github.com/bun13/bun13/impl/registry/tarball"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
	"github.com/bun13/bun13/impl/store/docs/doccache"
	"github.com/bun13/bun13/impl/store/search"
)

// Defaults for zero Options fields.
const (
	DefaultMaxPublishBytes   = 50 << 20
	DefaultMaxAuthHeader     = 4 << 10
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultShutdownTimeout   = 30 * time.Second
	// maxSmallBody bounds JSON bodies other than package PUTs (login,
	// tokens, dist-tags).
	maxSmallBody = 64 << 10
)

// Options configure a Server. Store, Docs and Blobs are required; every
// other zero field has the documented default.
type Options struct {
	// Store is the live config; flags are read from it per request.
	Store *config.Store
	// Docs keeps the package documents (docs.NewFS on the data
	// directory's packages, or pgdocs shared by replicas), Blobs the
	// tarballs (blobs.NewFS on the same directory, or a bucket).
	Docs  docs.Store
	Blobs blobs.Store
	// Shared says that other replicas write Docs and Blobs too. Then New
	// reads no documents (start time and memory do not grow with the
	// packages), cached documents are revalidated after CacheTTL (the
	// store's change feed drops them sooner), the package gauges come
	// from Docs (a docs.StatsReader), search asks Search, and tarballs
	// are stored under content-addressed files, so replicas racing to
	// publish one version never overwrite each other's bytes. Otherwise
	// this process is the only writer: New loads every document once
	// (gauges, search index, look-alike names) and cached documents are
	// never revalidated.
	Shared bool
	// Search answers /-/v1/search when Shared (pgsearch, which the
	// document store keeps up to date in the document's transaction).
	// Otherwise nil means an in-memory index kept by this process.
	Search search.Index
	// CacheTTL is how long a cached document is served without asking a
	// shared store whether it changed. Zero means doccache.DefaultTTL.
	CacheTTL time.Duration
	// StoreTimeout bounds each call to the document and blob stores, so
	// a store that hangs turns into a 503 instead of a hung request.
	// Zero means DefaultStoreTimeout.
	StoreTimeout time.Duration
	// Auth verifies tokens and users. Nil means no user can log in and
	// every token is refused (reads still work without AUTH_REQUIRED).
	Auth Authenticator
	// Logger receives JSON access and error logs. Nil means slog.Default().
	Logger *slog.Logger
	// Registerer receives the metrics. Nil means a private
	// prometheus.Registry (still served at /metrics).
	Registerer prometheus.Registerer
	// Metrics, when not nil, is used instead of creating metrics on
	// Registerer (to share them with other components); its owner then
	// calls WatchConfig. Otherwise New creates them and watches Store
	// for bun_config_info until New's ctx ends.
	Metrics *metrics.Metrics
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Limits are the rate limits per class, used while RATE_LIMIT is set:
	// a *ratelimit.Classes (this process alone) or a
	// *ratelimit.ClassCheckers (e.g. redislimit's, shared by replicas).
	// Nil means ratelimit's defaults.
	Limits ratelimit.ClassLimits
	// Lockout counts failed password attempts (lockout.Redis shares them
	// between replicas). Nil means a lockout.Local.
	Lockout lockout.Lockout
	// PreAuthLimit caps, per client IP and minute, requests carrying a
	// token before the token is verified, so garbage tokens cannot buy
	// signature checks. Zero means four times the read limit.
	PreAuthLimit int
	// TrustedProxies may set X-Forwarded-For and X-Forwarded-Proto.
	TrustedProxies []netip.Prefix
	// PublicURL, when set, is the base of every URL the server writes
	// (tarball URLs); otherwise it is built from the request's Host.
	PublicURL string
	// Upstream is the uplink registry URL, kept for a proxy; the server
	// itself never contacts it.
	Upstream string
	// Fallback, when not nil, serves GET and HEAD requests for packages,
	// versions and tarballs not stored here, in place of a 404.
	Fallback http.Handler
	// Wrap, when not nil, wraps the server's handler in HTTPServer and
	// Serve: the config-header middleware goes here, so it sees every
	// request before routing.
	Wrap func(http.Handler) http.Handler
	// OpenRegistration lets `npm adduser` create publish-role users.
	OpenRegistration bool
	// MaxPublishBytes bounds a package PUT body (413 past it).
	MaxPublishBytes int64
	// MaxAuthHeader bounds the Authorization header (431 past it).
	MaxAuthHeader int
	// CacheEntries bounds the packages whose parsed documents and
	// serialized packuments are kept in memory. Zero means 10000.
	CacheEntries int
	// TarballCacheBytes bounds the memory kept for small tarballs. Zero
	// means 64 MiB; negative disables the cache.
	TarballCacheBytes int64
	// Tarball bounds the inspection of published tarballs (decompressed
	// size, entries, package.json size). Zero fields: tarball's defaults.
	Tarball tarcheck.Limits
	// BodyGrace and MinBodyRate bound how long a request body may take:
	// grace + size/rate (zero: DefaultBodyGrace, DefaultMinBodyRate
	// bytes per second). A body past its deadline gets 408 and the
	// connection is closed.
	BodyGrace   time.Duration
	MinBodyRate int64
	// MaxConcurrentPublishes bounds the package PUT bodies held at once
	// (503 with Retry-After past it). Zero means
	// DefaultMaxConcurrentPublishes. Memory for bodies is bounded by
	// MaxConcurrentPublishes x MaxPublishBytes x 3 (JSON, base64 string,
	// decoded tarball).
	MaxConcurrentPublishes int
	// Scopes are the owners and members of scopes: only they may create
	// packages in a scope (the first publisher in an unowned scope
	// becomes its owner). Nil means the Scopes of Auth when it is an
	// *Auth, else scopes kept in memory.
	Scopes auth.ScopeStore
	// AccessLog logs every request at Info; otherwise only errors and
	// writes are logged unless DEBUG is set.
	AccessLog bool
	// ReadyChecks are the readiness conditions GET /-/readyz consults
	// after the server's own (the document and blob stores). The command passes the live-config check here:
	// the lockfile on disk is valid and is the config being served.
	ReadyChecks []ReadyCheck
	// DrainPeriod is how long Serve keeps serving after its ctx ends,
	// with /-/readyz answering 503 and keep-alives off, so that load
	// balancers stop sending before the listener closes. Zero shuts
	// down at once.
	DrainPeriod time.Duration
}

// Server is the registry. Create it with New.
type Server struct {
	// Mux serves paths beginning with "/_" (after the server's own
	// authentication, rate limiting, logging and metrics). The dashboard
	// mounts its handlers here; /_dashboard/api/metrics is registered by
	// New.
	Mux *http.ServeMux

	opts      Options
	store     *config.Store
	docStore  docs.Store
	blobStore blobs.Store
	shared    bool
	storeWait time.Duration
	auth      Authenticator
	log       *slog.Logger
	metrics   *metrics.Metrics
	now       func() time.Time
	limits    ratelimit.ClassLimits
	preAuth   *ratelimit.Limiter

	tarLimits   tarcheck.Limits
	bodyGrace   time.Duration
	minBodyRate int64
	pubSlots    *publishSlots
	lockout     lockout.Lockout
	scopes      auth.ScopeStore

	locks   keyLocks
	docs    *doccache.Typed[*entry]
	blobs   blobCache
	index   search.Index
	mem     *search.Memory // the index this process keeps, when not Shared
	similar similarIndex
	ridBase string
	ridSeq  atomic.Uint64

	baseMu sync.RWMutex
	bases  map[string]string // host -> base URL

	checks   []ReadyCheck
	draining atomic.Bool
}

// New builds a Server and loads the stored packages' statistics and search
// index.
func New(ctx context.Context, o Options) (*Server, error) {
	if o.Store == nil || o.Docs == nil || o.Blobs == nil {
		return nil, errors.New("registry: Options.Store, Options.Docs and Options.Blobs are required")
	}
	s := &Server{
		Mux:       http.NewServeMux(),
		opts:      o,
		store:     o.Store,
		docStore:  o.Docs,
		blobStore: o.Blobs,
		shared:    o.Shared,
		storeWait: o.StoreTimeout,
		auth:      o.Auth,
		log:       o.Logger,
		metrics:   o.Metrics,
		now:       o.Now,
		limits:    o.Limits,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = slog.New(debugGate{h: s.log.Handler(), store: s.store})
	if s.now == nil {
		s.now = time.Now
	}
	if s.limits == nil {
		s.limits = &ratelimit.Classes{}
	}
	pre := o.PreAuthLimit
	if pre <= 0 {
		pre = 4 * s.limits.Limiter(ratelimit.ClassRead).Limit
		if pre <= 0 {
			pre = 4 * ratelimit.DefaultReadPerMinute
		}
	}
	s.preAuth = &ratelimit.Limiter{Limit: pre, Window: time.Minute}
	if s.opts.MaxPublishBytes <= 0 {
		s.opts.MaxPublishBytes = DefaultMaxPublishBytes
	}
	if s.opts.MaxAuthHeader <= 0 {
		s.opts.MaxAuthHeader = DefaultMaxAuthHeader
	}
	s.tarLimits = o.Tarball
	s.bodyGrace, s.minBodyRate = o.BodyGrace, o.MinBodyRate
	if s.bodyGrace <= 0 {
		s.bodyGrace = DefaultBodyGrace
	}
	if s.minBodyRate <= 0 {
		s.minBodyRate = DefaultMinBodyRate
	}
	if o.MaxConcurrentPublishes <= 0 {
		o.MaxConcurrentPublishes = DefaultMaxConcurrentPublishes
	}
	s.pubSlots = newPublishSlots(o.MaxConcurrentPublishes)
	s.lockout = o.Lockout
	if s.lockout == nil {
		s.lockout = &lockout.Local{}
	}
	s.scopes = o.Scopes
	if s.scopes == nil {
		if a, ok := o.Auth.(*Auth); ok && a.Scopes != nil {
			s.scopes = a.Scopes
		} else {
			s.scopes, _ = auth.OpenScopes("") // in memory: cannot fail
		}
	}
	s.opts.PublicURL = strings.TrimRight(s.opts.PublicURL, "/")
	if s.storeWait <= 0 {
		s.storeWait = DefaultStoreTimeout
	}
	entries := o.CacheEntries
	if entries <= 0 {
		entries = 10000
	}
	ttl := o.CacheTTL
	if !s.shared {
		ttl = -1 // every write goes through this process: the feed is complete
	}
	s.docs = doccache.NewTyped(s.docStore, doccache.Options{TTL: ttl, Entries: entries, Now: s.now}, decodeEntry)
	go func() { <-ctx.Done(); s.docs.Stop() }()
	if s.shared {
		if o.Search == nil {
			return nil, errors.New("registry: Options.Search is required when Options.Shared is set")
		}
		s.index = o.Search
	} else {
		s.mem = &search.Memory{}
		s.index = s.mem
	}
	s.blobs.max = o.TarballCacheBytes
	if s.blobs.max == 0 {
		s.blobs.max = 64 << 20
	}
	s.blobs.limit = 1 << 20
	if s.metrics == nil {
		reg := o.Registerer
		if reg == nil {
			reg = prometheus.NewRegistry()
		}
		m, err := metrics.New(reg)
		if err != nil {
			return nil, fmt.Errorf("registry: metrics: %w", err)
		}
		m.WatchConfig(ctx, s.store) // until ctx ends
		s.metrics = m
	}
	var rb [6]byte
	rand.Read(rb[:])
	s.ridBase = hex.EncodeToString(rb[:]) + "-"
	s.Mux.Handle("/_dashboard/api/metrics", s.metricsHandler())
	s.checks = s.readyChecks()
	if s.shared {
		if err := s.refreshStats(ctx); err != nil {
			s.log.Warn("package statistics unavailable", "error", err)
		}
		go s.statsLoop(ctx, statsEvery)
		return s, nil
	}
	if err := s.loadAll(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Metrics returns the server's metrics (for components sharing them).
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// loadAll reads every stored document once at start: counts for the
// gauges, the search index, and a warm cache.
func (s *Server) loadAll(ctx context.Context) error {
	names, err := s.docStore.List(ctx, "", 0)
	if err != nil {
		return fmt.Errorf("registry: list packages: %w", err)
	}
	type scoped struct {
		pkg    string
		people []string
	}
	found := map[string][]scoped{}
	for _, n := range names {
		e, _, err := s.docs.Get(ctx, n)
		if err != nil {
			return fmt.Errorf("registry: load %s: %w", n, err)
		}
		d := e.doc
		s.account(nil, d)
		s.indexSearch(d)
		s.similar.update(d)
		if scope, _ := pkgname.Split(d.Name); scope != "" {
			var people []string
			for _, m := range d.Maintainers {
				people = append(people, m.Name)
			}
			found[scope] = append(found[scope], scoped{d.Name, people})
		}
	}
	// Scopes of packages stored before scopes had owners: owned by the
	// first maintainer of the scope's first package (by name), the other
	// maintainers of its packages are members.
	seed := map[string][]string{}
	for scope, pkgs := range found {
		slices.SortFunc(pkgs, func(a, b scoped) int { return strings.Compare(a.pkg, b.pkg) })
		for _, p := range pkgs {
			seed[scope] = append(seed[scope], p.people...)
		}
	}
	added, err := s.scopes.Seed(seed, s.now())
	if err != nil {
		return fmt.Errorf("registry: scopes: %w", err)
	}
	if len(added) > 0 {
		s.log.Info("scopes of existing packages given owners", "scopes", added)
	}
	return nil
}

// account moves the stored gauges from old to new (either may be nil).
func (s *Server) account(old, new *packument.Doc) {
	count := func(d *packument.Doc) (int, int, int64) {
		if d == nil || !d.Live() {
			return 0, 0, 0
		}
		var b int64
		for _, n := range d.Sizes {
			b += n
		}
		return 1, len(d.Versions), b
	}
	op, ov, ob := count(old)
	np, nv, nb := count(new)
	s.metrics.AddStored(np-op, nv-ov, nb-ob)
}

// debugGate lets Debug records through while the DEBUG flag is set,
// whatever the wrapped handler's level: verbosity follows the live config.
type debugGate struct {
	h     slog.Handler
	store *config.Store
}

func (g debugGate) Enabled(ctx context.Context, l slog.Level) bool {
	if l < slog.LevelInfo && g.store.Enabled(config.Debug) {
		return true
	}
	return g.h.Enabled(ctx, l)
}
func (g debugGate) Handle(ctx context.Context, r slog.Record) error { return g.h.Handle(ctx, r) }
func (g debugGate) WithAttrs(a []slog.Attr) slog.Handler {
	return debugGate{h: g.h.WithAttrs(a), store: g.store}
}
func (g debugGate) WithGroup(n string) slog.Handler {
	return debugGate{h: g.h.WithGroup(n), store: g.store}
}

// HTTPServer returns an http.Server for s with the limits a public
// service needs: header read timeout, header size cap, idle timeout.
func (s *Server) HTTPServer(addr string) *http.Server {
	var h http.Handler = s
	if s.opts.Wrap != nil {
		h = s.opts.Wrap(s)
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		ConnContext:       connContext,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// Serve serves on ln until ctx ends, then drains and shuts down
// gracefully: readiness turns false at once, serving goes on for
// Options.DrainPeriod, then the listener closes and in-flight requests (a
// publish being written) finish, within DefaultShutdownTimeout.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := s.HTTPServer(ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(framingListener{ln}) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	if d := s.opts.DrainPeriod; d > 0 {
		s.log.Info("draining", "addr", ln.Addr().String(), "period", d.String())
		hs.SetKeepAlivesEnabled(false) // each response closes its connection
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return err
		}
	}
	s.log.Info("shutting down", "addr", ln.Addr().String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc
	if err != nil {
		return fmt.Errorf("registry: shutdown: %w", err)
	}
	return nil
}

// requestID returns the client's X-Request-Id when it is short and plain,
// else a new one.
func (s *Server) requestID(r *http.Request) string {
	if v := r.Header.Get("X-Request-Id"); v != "" && len(v) <= 64 && plainToken(v) {
		return v
	}
	return s.ridBase + strconv.FormatUint(s.ridSeq.Add(1), 10)
}

func plainToken(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// baseURL is where clients reach this server: PublicURL, or the request's
// scheme and Host when the Host is a plain host[:port].
func (s *Server) baseURL(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return s.opts.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if p := r.Header.Get("X-Forwarded-Proto"); p == "https" && s.fromTrustedProxy(r) {
		scheme = "https"
	}
	host := r.Host
	if !validHost(host) {
		host = "localhost"
	}
	key := scheme + host
	s.baseMu.RLock()
	b, ok := s.bases[key]
	s.baseMu.RUnlock()
	if ok {
		return b
	}
	b = scheme + "://" + host
	s.baseMu.Lock()
	if s.bases == nil {
		s.bases = map[string]string{}
	}
	if len(s.bases) < 64 {
		s.bases[key] = b
	}
	s.baseMu.Unlock()
	return b
}

func (s *Server) fromTrustedProxy(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(ap.Addr().Unmap()) {
			return true
		}
	}
	return false
}

// validHost accepts host names, IPv4 and bracketed IPv6 with an optional
// port: nothing that could break out of a URL or a JSON string.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}
