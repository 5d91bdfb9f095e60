package main

// bun13 registry serve: the npm-compatible registry of impl/registry.
//
//	bun13 registry serve [--addr HOST:PORT] [--data DIR] [--lockfile FILE]
//	    [--key-file F] [--users-file F] [--upstream URL] [--public-url URL]
//	    [--max-publish-bytes N] [--max-concurrent-publishes N] [--rate-read N] [--rate-publish N]
//	    [--rate-login N] [--trusted-proxies CIDR,...] [--open-registration]
//	    [--token-ttl D] [--access-log=false] [--log-level L]
//	    [--rewrite-registry-hash] [--drain-period D]
//	    [--cache-entries N] [--tarball-cache BYTES]
//	    [--database URL --blobs URL [--redis URL] [--replica-id NAME]
//	     [--cache-ttl D] [--store-timeout D] [--database-conns N]]
//	bun13 registry top [--url URL] [--token T]   (same as bun13 top)
//	bun13 registry migrate --from DATA_DIR --database URL --blobs URL
//	bun13 registry sweep --database URL --blobs URL [--grace D] [--dry-run]
//
// With --database and --blobs the server is one replica of a fleet
// sharing PostgreSQL and a blob store (impl/registry/README.md,
// Distributed mode); registry migrate copies a single-node data
// directory into them, registry sweep deletes tarballs no document
// refers to.
//
// With --upstream, packages not stored here are fetched from that registry
// (impl/proxy: cached, integrity-checked, served stale when it is down,
// off under OFFLINE). The upstream's hash must equal the lockfile's
// registryHash, or the server refuses to start; --rewrite-registry-hash
// records the upstream's hash in bun.lockb instead. The dashboard is at
// /_dashboard. Requests carrying X-Bun-* config headers are validated
// (impl/headers.Middleware).
//
// Every flag has an environment variable (BUN13_REGISTRY_ADDR,
// BUN13_REGISTRY_DATA, BUN_LOCKFILE, BUN13_REGISTRY_KEY_FILE,
// BUN13_REGISTRY_USERS_FILE, BUN13_REGISTRY_UPSTREAM,
// BUN13_REGISTRY_PUBLIC_URL, BUN13_REGISTRY_MAX_PUBLISH_BYTES,
// BUN13_REGISTRY_RATE_READ, BUN13_REGISTRY_RATE_PUBLISH,
// BUN13_REGISTRY_RATE_LOGIN, BUN13_REGISTRY_TRUSTED_PROXIES,
// BUN13_REGISTRY_OPEN_REGISTRATION, BUN13_REGISTRY_TOKEN_TTL,
// BUN13_REGISTRY_ACCESS_LOG, BUN13_REGISTRY_LOG_LEVEL,
// BUN13_REGISTRY_DRAIN_PERIOD, BUN13_REGISTRY_CACHE_ENTRIES,
// BUN13_REGISTRY_TARBALL_CACHE, BUN13_REGISTRY_DATABASE,
// BUN13_REGISTRY_BLOBS, BUN13_REGISTRY_REDIS, BUN13_REGISTRY_REPLICA_ID,
// BUN13_REGISTRY_CACHE_TTL, BUN13_REGISTRY_STORE_TIMEOUT,
// BUN13_REGISTRY_DATABASE_CONNS); a flag beats its variable.
//
// GET /-/healthz is the liveness probe, GET /-/readyz the readiness probe
// (storage writable, lockfile valid and applied). On SIGTERM readiness
// turns false, serving goes on for --drain-period, then the server shuts
// down gracefully. Under systemd (Type=notify) it sends READY=1 once the
// port accepts connections and STOPPING=1 when shutdown begins.

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/bun13/bun13/impl/atomicfile"
	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/auth/pgauth"
	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/configwatch"
	"github.com/bun13/bun13/impl/dashboard"
	"github.com/bun13/bun13/impl/dnscache"
	"github.com/bun13/bun13/impl/headers"
	"github.com/bun13/bun13/impl/lockfile"
	"github.com/bun13/bun13/impl/metrics"
	"github.com/bun13/bun13/impl/proxy"
	"github.com/bun13/bun13/impl/ratelimit"
	"github.com/bun13/bun13/impl/registry"
	"github.com/bun13/bun13/impl/registry/storage"
	"github.com/bun13/bun13/impl/sdnotify"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
)

func init() { commands["registry"] = (*env).registryCmd }

// Defaults of `bun13 registry serve`.
const (
	defaultRegistryAddr = "127.0.0.1:4873"
	defaultRegistryData = "./data"
	defaultAdminUser    = "admin"
)

func (e *env) registryCmd(args []string) error {
	if len(args) == 0 {
		return usagef("registry: want a subcommand: serve, top, migrate or sweep")
	}
	switch args[0] {
	case "serve":
		return e.registryServe(args[1:])
	case "top":
		return runTop(e, args[1:])
	case "migrate":
		return e.registryMigrate(args[1:])
	case "sweep":
		return e.registrySweep(args[1:])
	}
	return usagef("registry: unknown subcommand %q", args[0])
}

// envDefault returns the variable's value, or def.
func (e *env) envDefault(name, def string) string {
	if v, ok := e.lookup(name); ok && v != "" {
		return v
	}
	return def
}

// dataPaths are the files of a registry data directory.
type dataPaths struct {
	data, keyFile, usersFile string
}

func (e *env) dataFlags(fs interface {
	StringVar(*string, string, string, string)
}) *dataPaths {
	p := &dataPaths{}
	fs.StringVar(&p.data, "data", e.envDefault("BUN13_REGISTRY_DATA", defaultRegistryData), "data directory (packages, users, keys)")
	fs.StringVar(&p.keyFile, "key-file", e.envDefault("BUN13_REGISTRY_KEY_FILE", ""), "Ed25519 signing key file (default DATA/"+auth.KeyFile+")")
	fs.StringVar(&p.usersFile, "users-file", e.envDefault("BUN13_REGISTRY_USERS_FILE", ""), "users file (default DATA/"+auth.UsersFile+")")
	return p
}

func (p *dataPaths) auth(ttl time.Duration) (*registry.Auth, error) {
	return registry.OpenAuth(registry.AuthPaths{Dir: p.data, KeyFile: p.keyFile, UsersFile: p.usersFile}, ttl)
}

func (e *env) registryServe(args []string) error {
	fs := newFlags("registry serve")
	addr := fs.String("addr", e.envDefault("BUN13_REGISTRY_ADDR", defaultRegistryAddr), "listen address")
	lockPath := fs.String("lockfile", e.envDefault(config.EnvLockfile, "./bun.lockb"), "lockfile holding the live config (created if missing)")
	paths := e.dataFlags(fs)
	upstream := fs.String("upstream", e.envDefault("BUN13_REGISTRY_UPSTREAM", ""), "uplink registry URL: packages not stored here are fetched from it")
	rewriteHash := fs.Bool("rewrite-registry-hash", false, "record the upstream's hash in bun.lockb when it differs, instead of refusing to start")
	publicURL := fs.String("public-url", e.envDefault("BUN13_REGISTRY_PUBLIC_URL", ""), "base URL written into packuments (default: from the request's Host)")
	maxPublish := fs.String("max-publish-bytes", e.envDefault("BUN13_REGISTRY_MAX_PUBLISH_BYTES", "50MiB"), "largest publish body (bytes, or with KiB/MiB/GiB)")
	maxConcPublish := fs.Int("max-concurrent-publishes", envInt(e, "BUN13_REGISTRY_MAX_CONCURRENT_PUBLISHES", registry.DefaultMaxConcurrentPublishes), "publish bodies held at once (503 past it); memory for them is at most this x --max-publish-bytes x 3")
	rateRead := fs.Int("rate-read", envInt(e, "BUN13_REGISTRY_RATE_READ", ratelimit.DefaultReadPerMinute), "reads per minute per client (with RATE_LIMIT)")
	ratePublish := fs.Int("rate-publish", envInt(e, "BUN13_REGISTRY_RATE_PUBLISH", ratelimit.DefaultPublishPerMinute), "publishes per minute per client")
	rateLogin := fs.Int("rate-login", envInt(e, "BUN13_REGISTRY_RATE_LOGIN", ratelimit.DefaultLoginPerMinute), "logins per minute per client and per user name")
	proxies := fs.String("trusted-proxies", e.envDefault("BUN13_REGISTRY_TRUSTED_PROXIES", ""), "comma-separated CIDRs allowed to set X-Forwarded-For/-Proto")
	openReg := fs.Bool("open-registration", envBool(e, "BUN13_REGISTRY_OPEN_REGISTRATION"), "let npm adduser create publish-role users")
	ttl := fs.Duration("token-ttl", envDuration(e, "BUN13_REGISTRY_TOKEN_TTL", auth.DefaultTTL), "lifetime of tokens issued at login")
	accessLog := fs.Bool("access-log", !envFalse(e, "BUN13_REGISTRY_ACCESS_LOG"), "log every request (otherwise errors and writes only)")
	gcPercent := fs.Int("gc-percent", 400, "GC target percentage unless GOGC is set: the live heap is small and request garbage is short-lived, so a larger target trades a few MiB for fewer collections (with --database: 100)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until shutdown")
	logLevel := fs.String("log-level", e.envDefault("BUN13_REGISTRY_LOG_LEVEL", "info"), "debug, info, warn or error")
	drain := fs.Duration("drain-period", envDuration(e, "BUN13_REGISTRY_DRAIN_PERIOD", 0), "on SIGTERM, keep serving this long with /-/readyz answering 503 before shutting down")
	cacheEntries := fs.Int("cache-entries", envInt(e, "BUN13_REGISTRY_CACHE_ENTRIES", 10000), "packages whose parsed documents and packuments are kept in memory (with --database: 2000)")
	tarCache := fs.String("tarball-cache", e.envDefault("BUN13_REGISTRY_TARBALL_CACHE", "64MiB"), "memory for small tarballs (bytes, or with KiB/MiB/GiB; 0 disables)")
	shared := e.sharedFlagsOn(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("registry serve: unexpected argument %q", pos[0])
	}
	maxBytes, err := parseBytes(*maxPublish)
	if err != nil {
		return usagef("registry serve: --max-publish-bytes: %v", err)
	}
	tarCacheBytes, err := parseBytes(*tarCache)
	if err != nil {
		return usagef("registry serve: --tarball-cache: %v", err)
	}
	if tarCacheBytes == 0 {
		tarCacheBytes = -1 // registry.Options: negative disables
	}
	distributed, err := shared.on("registry serve")
	if err != nil {
		return err
	}
	if distributed {
		// A replica keeps its memory bounded (issue 12: under 200 MiB
		// after 10,000 distinct packuments): a cached package costs about
		// 14 KB of live heap, and the GC target multiplies it. A miss is
		// one database read. The flags (or their variables) override.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if _, env := e.lookup("BUN13_REGISTRY_CACHE_ENTRIES"); !set["cache-entries"] && !env {
			*cacheEntries = sharedCacheEntries
		}
		if !set["gc-percent"] {
			*gcPercent = sharedGCPercent
		}
	}
	if distributed && *upstream != "" {
		return usagef("registry serve: %v", errSharedConflict)
	}
	var trusted []netip.Prefix
	for _, p := range strings.Split(*proxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return usagef("registry serve: --trusted-proxies: %v", err)
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		trusted = append(trusted, pfx)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("registry serve: --log-level: %v", err)
	}
	var upstreamURL *url.URL
	if *upstream != "" {
		norm, err := config.NormalizeRegistryURL(*upstream)
		if err != nil {
			return usagef("registry serve: --upstream: %v", err)
		}
		if upstreamURL, err = url.Parse(norm); err != nil {
			return usagef("registry serve: --upstream: %v", err)
		}
	}
	// Log lines are buffered and flushed every 100 ms (and at exit): one
	// write(2) per access-log line would cost more than serving the
	// request.
	logOut := newFlushWriter(e.stderr, 100*time.Millisecond)
	defer logOut.Close()
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: level}))
	if _, set := e.lookup("GOGC"); !set && *gcPercent != 0 {
		debug.SetGCPercent(*gcPercent)
	}

	// Create the lockfile only when missing: creating takes its lock file
	// beside it, which a read-only mount (a ConfigMap) does not allow.
	store, err := lockfile.OpenStore(*lockPath, !fileExists(*lockPath), e.lookup)
	if err != nil {
		return fmt.Errorf("lockfile %s: %w", *lockPath, err)
	}
	if upstreamURL != nil {
		if err := checkUpstreamHash(store, upstreamURL.String(), *rewriteHash, log); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(paths.data, 0o755); err != nil {
		return err
	}
	// Writers killed in an earlier run (SIGKILL, power loss) leave temp
	// files; this server alone writes its data directory, and it is not
	// serving yet, so every temp there is a dead writer's.
	if removed, err := atomicfile.SweepTemps(paths.data, 0); err != nil {
		log.Warn("sweeping stale temp files", "dir", paths.data, "err", err)
	} else if len(removed) > 0 {
		log.Info("removed stale temp files of killed writers", "dir", paths.data, "count", len(removed))
	}
	var st *sharedStores
	if distributed {
		if st, err = openShared(e.ctx, shared, log); err != nil {
			return err
		}
		defer st.Close()
		log.Info("distributed mode", "replica", shared.replicaID, "database", redactURL(shared.database), "blobs", redactURL(shared.blobs))
	}
	// With --database, users, tokens, revocations, scopes and the
	// signing key set are the fleet's (impl/auth/pgauth): this replica
	// registers its key, and verifies every replica's tokens.
	au, err := e.openAuth(paths, shared.database, *ttl, true, pgauth.Options{Logger: log, Replica: shared.replicaID})
	if err != nil {
		return err
	}
	defer au.Close()
	if au.KeyCreated {
		log.Info("generated signing key", "kid", au.Keys.Signer())
	}
	if err := e.ensureAdmin(au); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if au.DB != nil {
		if err := au.DB.RegisterMetrics(reg); err != nil {
			return err
		}
	}
	m, err := metrics.New(reg)
	if err != nil {
		return err
	}
	m.WatchConfig(e.ctx, store)
	// The file is the truth: follow it (see impl/configwatch). Its
	// Ready method says whether the file is valid and applied.
	watch, err := configwatch.Start(e.ctx, configwatch.Options{Path: *lockPath, Store: store, Logger: log, Metrics: m})
	if err != nil {
		return fmt.Errorf("watching %s: %w", *lockPath, err)
	}
	hdrs, err := headers.NewMiddleware(reg, store, nil)
	if err != nil {
		return err
	}
	resolver := &dnscache.Resolver{Logger: log}
	defer resolver.Close()
	var up *proxy.Upstream
	var fallback http.Handler
	// listenAddr is set once the listener exists, before any request.
	var listenAddr string
	if upstreamURL != nil {
		up = &proxy.Upstream{
			URL:      upstreamURL,
			Store:    store,
			Resolver: resolver,
			Tarballs: storage.NewFS(filepath.Join(paths.data, "uplink")),
			Logger:   log,
		}
		if *publicURL != "" {
			base := strings.TrimRight(*publicURL, "/")
			up.TarballURL = func(name, file string) string { return base + "/" + name + "/-/" + file }
		} else {
			// Without a public URL, point tarballs at the listen address:
			// the same host clients use on loopback and in tests.
			up.TarballURL = func(name, file string) string { return "http://" + listenAddr + "/" + name + "/-/" + file }
		}
		defer up.Close()
		fallback = up.Handler()
	}
	classes := &ratelimit.Classes{
		Read:    ratelimit.Limiter{Limit: *rateRead},
		Publish: ratelimit.Limiter{Limit: *ratePublish},
		Login:   ratelimit.Limiter{Limit: *rateLogin},
	}
	lim, err := openLimits(e.ctx, shared.redis, classes, reg, log)
	if err != nil {
		return err
	}
	defer lim.Close()
	fleetView := startFleet(e.ctx, st, shared.replicaID, store, reg, log)
	if distributed && lim.redis == nil {
		warnUnshared(e.ctx, fleetView, classes, log)
	}
	ropts := registry.Options{
		Store:          store,
		Auth:           au,
		Logger:         log,
		Registerer:     reg,
		Metrics:        m,
		Limits:         lim.classes,
		Lockout:        lim.logins,
		TrustedProxies: trusted,
		PublicURL:      *publicURL,
		Upstream:       *upstream,
		Fallback:       fallback,
		Wrap: func(h http.Handler) http.Handler {
			hdrs.Next = h
			return hdrs
		},
		OpenRegistration:       *openReg,
		MaxPublishBytes:        maxBytes,
		MaxConcurrentPublishes: *maxConcPublish,
		AccessLog:              *accessLog,
		ReadyChecks:            []registry.ReadyCheck{configReadyCheck(watch)},
		DrainPeriod:            *drain,
		CacheEntries:           *cacheEntries,
		TarballCacheBytes:      tarCacheBytes,
	}
	if distributed {
		ropts.Shared = true
		ropts.Docs, ropts.Blobs, ropts.Search = st.docs, st.blobs, st.search
		ropts.CacheTTL, ropts.StoreTimeout = shared.cacheTTL, shared.storeTimeout
	} else {
		pkgs := filepath.Join(paths.data, "packages")
		ropts.Docs, ropts.Blobs = docs.NewFS(pkgs), blobs.NewFS(pkgs)
	}
	srv, err := registry.New(e.ctx, ropts)
	if err != nil {
		return err
	}
	regURL := *upstream
	if regURL == "" && store.Load().RegistryHash == config.DefaultRegistryHash {
		regURL = config.DefaultRegistry
	}
	ticketKeys, err := paths.ticketKeys(au)
	if err != nil {
		return err
	}
	dash, err := dashboard.New(e.ctx, dashboard.Options{
		Store:      store,
		Gatherer:   reg,
		Registerer: reg,
		Authorize: func(r *http.Request) (string, bool) {
			id, _ := registry.IdentityFrom(r.Context())
			return id.User, id.Role == registry.RoleAdmin
		},
		ClientAddr: func(r *http.Request) string { return ratelimit.ClientIP(r, trusted).String() },
		Status: func() dashboard.Status {
			st := dashboard.Status{DNS: new(dashboard.DNSStatus(resolver.Stats()))}
			if up != nil {
				st.Uplink = new(dashboard.UplinkStatus(up.Status()))
			}
			return st
		},
		RegistryURL: regURL,
		Fleet:       fleetView,
		TicketKeys:  ticketKeys,
		Redis:       lim.redisClient(),
		Logger:      log,
		File:        func() dashboard.FileStatus { return fileStatus(watch.Status()) },
		Sources:     config.Sources(e.lookup),
	})
	if err != nil {
		return err
	}
	dash.Mount(srv.Mux)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	listenAddr = ln.Addr().String()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	c := store.Load()
	log.Info("registry listening", "addr", "http://"+ln.Addr().String(), "data", paths.data,
		"lockfile", *lockPath, "flags", c.FeatureFlags.String())
	notifySystemd(e.ctx, sdnotify.FromEnv(e.lookup), listenAddr, log)
	err = srv.Serve(e.ctx, ln)
	log.Info("registry stopped")
	return err
}

// fileStatus is the dashboard's view of the watcher's status.
func fileStatus(st configwatch.Status) dashboard.FileStatus {
	f := dashboard.FileStatus{Path: st.Path, Valid: st.Valid, Applied: st.Applied, Error: st.Code(), Since: st.Since}
	if st.Err != nil {
		f.Detail = st.Err.Error()
	}
	if off := st.Offset(); off != codes.NoOffset {
		f.Offset = &off
	}
	if st.Valid {
		c := st.File
		f.Config = &c
	}
	return f
}

// checkUpstreamHash refuses an upstream whose hash is not the lockfile's
// registryHash (the config would then describe another registry than the
// one served), unless rewrite is set: then the lockfile is updated.
func checkUpstreamHash(store *config.Store, upstream string, rewrite bool, log *slog.Logger) error {
	want, err := config.RegistryHash(upstream)
	if err != nil {
		return err
	}
	have := store.Load().RegistryHash
	if have == want {
		return nil
	}
	if !rewrite {
		return fmt.Errorf("upstream %s hashes to 0x%08x but the lockfile's registryHash is 0x%08x; "+
			"pass --rewrite-registry-hash to record the upstream in the lockfile, or run `bun13 config set registry %s`",
			upstream, want, have, upstream)
	}
	if _, err := store.Update(func(c config.Config) (config.Config, error) { c.RegistryHash = want; return c, nil }); err != nil {
		return fmt.Errorf("rewriting the registry hash: %w", err)
	}
	log.Warn("rewrote the lockfile's registry hash for the upstream", "upstream", upstream, "old", fmt.Sprintf("0x%08x", have), "new", fmt.Sprintf("0x%08x", want))
	return nil
}

// ensureAdmin creates the admin user, with a random one-time password
// printed once, when the users file (or the shared database: exactly one
// of the replicas starting at once) has no user at all.
func (e *env) ensureAdmin(a *registry.Auth) error {
	pw, err := a.EnsureAdmin(e.ctx, defaultAdminUser, time.Now())
	if err != nil || pw == "" {
		return err
	}
	fmt.Fprintf(e.stdout, "created user %q (role admin) with one-time password: %s\n", defaultAdminUser, pw)
	fmt.Fprintf(e.stdout, "change it with: bun13 user passwd %s\n", defaultAdminUser)
	return nil
}

func envInt(e *env, name string, def int) int {
	if v, ok := e.lookup(name); ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

func envBool(e *env, name string) bool {
	v, _ := e.lookup(name)
	b, _ := strconv.ParseBool(v)
	return b
}

func envFalse(e *env, name string) bool {
	v, ok := e.lookup(name)
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err == nil && !b
}

func envDuration(e *env, name string, def time.Duration) time.Duration {
	if v, ok := e.lookup(name); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// parseBytes reads 1234, 64KiB, 50MiB, 1GiB (also KB/MB/GB as powers of 1024).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = v, u.m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// readPassword reads one line from r (stdin): never from argv, where other
// users could read it from the process list.
func readPassword(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for b.Len() <= 1024 {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			b.WriteByte(buf[0])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	pw := strings.TrimSuffix(b.String(), "\r")
	if pw == "" {
		return "", usagef("no password on standard input")
	}
	return pw, nil
}

// flushWriter buffers writes and flushes them every interval, when the
// buffer fills, and on Close. Each Write is kept whole, so JSON lines never
// interleave.
type flushWriter struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newFlushWriter(w io.Writer, every time.Duration) *flushWriter {
	f := &flushWriter{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				f.mu.Lock()
				f.w.Flush()
				f.mu.Unlock()
			case <-f.stop:
				return
			}
		}
	}()
	return f
}

func (f *flushWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.w.Write(p)
}

// Close stops the flusher and flushes what is left.
func (f *flushWriter) Close() error {
	close(f.stop)
	<-f.done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.w.Flush()
}
