package dashboard

import (
	"bytes"
	"context"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/lockfile"
	"github.com/bun13/bun13/impl/store/fleet/heartbeat"
)

// Prefix is where the dashboard lives; SPEC section 8 fixes it.
const Prefix = "/_dashboard"

//go:embed web
var webFS embed.FS

// Options configure a Dashboard. Store is required; every other zero field
// has the default its comment gives.
type Options struct {
	// Store is the live config the dashboard shows and changes.
	Store *config.Store
	// Gatherer supplies the numbers: the registry's metrics (names in
	// impl/metrics). Nil shows the config alone, and api/metrics is 404.
	Gatherer prometheus.Gatherer
	// Registerer receives the dashboard's own metrics (see the package
	// doc). Nil keeps them on a private registry, unexported.
	Registerer prometheus.Registerer
	// Authorize says who a request speaks for and whether it may change
	// the config. Nil makes every client an anonymous reader.
	Authorize func(*http.Request) (user string, admin bool)
	// Status reports the DNS cache and the uplink, once per sample. Nil
	// shows neither.
	Status func() Status
	// RegistryURL is the registry whose hash the config carries, when
	// known: env export includes it, and the page names it when the
	// hashes agree.
	RegistryURL string
	// OriginPatterns are the other origins whose pages may open the
	// WebSocket (websocket.AcceptOptions). Nil means same-origin only.
	OriginPatterns []string
	// Logger receives connection and update logs. Nil means
	// slog.Default().
	Logger *slog.Logger
	// File reports the lockfile the live config follows (the config
	// watcher's view): its validity is shown as a banner and in
	// api/config. Nil shows neither.
	File func() FileStatus
	// Sources says, per config field, whether the live value comes from
	// the file or from an environment variable (config.Sources). Nil
	// means every field from the file.
	Sources []config.FieldSource
	// Fleet lists the registry's replicas and their config drift
	// (package store/fleet/heartbeat): api/fleet and the stats' fleet
	// field. Nil leaves both out (api/fleet is 404).
	Fleet *heartbeat.View
	// TicketKeys sign and verify WebSocket tickets, so that a ticket
	// issued by one replica is redeemed by any other sharing the keys.
	// Nil means a key of this process alone (single-node).
	TicketKeys TicketKeys
	// Redis, when set, makes tickets single-use across the fleet (SET NX
	// on the ticket's nonce); without it each process refuses a second
	// use of a ticket it has seen, which is enough for a single node.
	Redis redis.UniversalClient

	// Interval is the time between stats samples. Zero means 1 s.
	Interval time.Duration
	// Window is what the Recent counts cover. Zero means 60 s.
	Window time.Duration
	// QuantileWindow is what p50 and p99 cover: one second holds too few
	// requests on a quiet registry. Zero means 10 s.
	QuantileWindow time.Duration
	// History is how many request-rate samples Stats carries for the
	// sparkline. Zero means 120.
	History int
	// ProbeInterval is the time between config read timings, ProbeReads
	// the reads timed in each. Zero means 5 s and 1000.
	ProbeInterval time.Duration
	ProbeReads    int
	// CountRoute says which route labels of bun_http_* count as the
	// registry's traffic in Stats. Nil means every route not beginning
	// with "/_".
	CountRoute func(route string) bool

	// FrameRate and FrameBurst bound the messages one connection may send
	// (a token bucket); frames past it get NAK 8. Zero means 10 per
	// second with bursts of 20.
	FrameRate  float64
	FrameBurst int
	// MaxQueue is how many messages may wait for a client before it is
	// closed as too slow. Zero means 64.
	MaxQueue int
	// MaxMessage caps a received message in bytes; a larger one closes
	// the connection. Zero means 1024.
	MaxMessage int64
	// WriteTimeout bounds one write to a client. Zero means 5 s.
	WriteTimeout time.Duration
	// MaxBody caps a POST body. Zero means 4 KiB.
	MaxBody int64

	// Now is the clock of the rate limits and tickets. Nil means
	// time.Now.
	Now func() time.Time
	// ClientAddr is the client address tickets are budgeted per (the
	// registry passes its trusted-proxy-aware client IP). Nil means the
	// connection's remote host.
	ClientAddr func(*http.Request) string
}

// Dashboard serves the paths under Prefix. Create it with New.
type Dashboard struct {
	o       Options
	ctx     context.Context
	log     *slog.Logger
	mux     *http.ServeMux
	m       *dashMetrics
	hub     *hub
	tickets *tickets

	registryHash *uint32 // of RegistryURL, so the page can name the config's registry

	latest   atomic.Pointer[[]byte] // JSON of the newest Stats
	readSecs atomic.Uint64          // math.Float64bits of the newest probe; 0 before the first
}

// New builds a Dashboard and starts its sampler and config watcher, which
// run until ctx ends.
func New(ctx context.Context, o Options) (*Dashboard, error) {
	if o.Store == nil {
		return nil, errors.New("dashboard: Options.Store is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Interval, time.Second)
	def(&o.Window, time.Minute)
	def(&o.QuantileWindow, 10*time.Second)
	def(&o.ProbeInterval, 5*time.Second)
	def(&o.WriteTimeout, 5*time.Second)
	if o.History <= 0 {
		o.History = 120
	}
	if o.ProbeReads <= 0 {
		o.ProbeReads = 1000
	}
	if o.FrameRate <= 0 {
		o.FrameRate = 10
	}
	if o.FrameBurst <= 0 {
		o.FrameBurst = 20
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 64
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = 1024
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 4 << 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CountRoute == nil {
		o.CountRoute = func(route string) bool { return !strings.HasPrefix(route, "/_") }
	}
	if o.Authorize == nil {
		o.Authorize = func(*http.Request) (string, bool) { return "", false }
	}
	reg := o.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("dashboard: metrics: %w", err)
	}
	d := &Dashboard{o: o, ctx: ctx, log: o.Logger, m: m}
	if d.log == nil {
		d.log = slog.Default()
	}
	d.log = d.log.With("component", "dashboard")
	d.tickets = newTickets(o.TicketKeys, o.Redis, d.log)
	d.tickets.errs = m.ticketStore
	if o.RegistryURL != "" {
		h, err := config.RegistryHash(o.RegistryURL)
		if err != nil {
			return nil, fmt.Errorf("dashboard: RegistryURL: %w", err)
		}
		d.registryHash = &h
	}
	d.hub = newHub(d)
	d.routes()

	// Subscribe before the first sample so that no change made while
	// New returns is missed by the broadcast.
	changes, cancel := o.Store.Subscribe(64)
	se := newSeries(steps(o.Window, o.Interval), steps(o.QuantileWindow, o.Interval), o.History)
	se.hasGather = o.Gatherer != nil
	d.probe()
	d.publish(se.add(d.gather()))
	go d.watchConfig(changes, cancel)
	go d.sampleLoop(se)
	go func() {
		<-ctx.Done()
		d.hub.closeAll()
	}()
	return d, nil
}

// steps is how many samples of interval fit in w, at least 1.
func steps(w, interval time.Duration) int {
	return max(1, int((w+interval/2)/interval))
}

// Mount registers the dashboard on mux for Prefix and everything under it
// (the registry's Server.Mux). More specific patterns already on mux, such
// as the registry's own /_dashboard/api/metrics, keep precedence.
func (d *Dashboard) Mount(mux *http.ServeMux) {
	mux.Handle(Prefix, d)
	mux.Handle(Prefix+"/", d)
}

// ServeHTTP implements http.Handler.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mux.ServeHTTP(w, r)
}

func (d *Dashboard) routes() {
	mux := http.NewServeMux()
	page := http.HandlerFunc(d.servePage)
	mux.Handle("GET "+Prefix, page)
	mux.Handle("GET "+Prefix+"/{$}", page)
	assets, _ := fs.Sub(webFS, "web")
	mux.Handle("GET "+Prefix+"/assets/", http.StripPrefix(Prefix+"/assets/", noCache(http.FileServerFS(assets))))
	mux.HandleFunc("GET "+Prefix+"/api/config", d.getConfig)
	mux.HandleFunc("POST "+Prefix+"/api/config", d.postConfig)
	mux.HandleFunc("GET "+Prefix+"/api/env", d.getEnv)
	mux.HandleFunc("GET "+Prefix+"/api/stats", d.getStats)
	mux.HandleFunc("GET "+Prefix+"/api/metrics", d.getMetrics)
	mux.HandleFunc("GET "+Prefix+"/api/fleet", d.getFleet)
	mux.HandleFunc("POST "+Prefix+"/api/ticket", d.postTicket)
	mux.HandleFunc("GET "+Prefix+"/ws", d.serveWS)
	d.mux = mux
}

// securityHeaders lock the page to its own scripts and styles: it renders
// values an admin can set, and nothing else should run beside it.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		// The assets change with the binary, which has no version in
		// their names: revalidate, never trust a stale copy.
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

func (d *Dashboard) servePage(w http.ResponseWriter, r *http.Request) {
	b, err := webFS.ReadFile("web/index.html")
	if err != nil {
		http.Error(w, "page missing from the build", http.StatusInternalServerError)
		return
	}
	securityHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}

// sources maps each config field to "file" or the variable overriding it.
func (d *Dashboard) sources() map[string]string {
	src := map[string]string{}
	for _, f := range config.Fields {
		src[f] = config.SourceFile
	}
	for _, fs := range d.o.Sources {
		src[fs.Field] = fs.Source
	}
	return src
}

// FileStatus is the state of the lockfile on disk, as the config watcher
// last saw it.
type FileStatus struct {
	Path string `json:"path"`
	// Valid is false while the file is missing, unreadable or invalid
	// by the SPEC; the live config is then the last good one.
	Valid bool `json:"valid"`
	// Applied is true when the live config is the file's (with the
	// environment's overrides).
	Applied bool   `json:"applied"`
	Error   string `json:"error,omitempty"`  // SPEC code, or "io"
	Offset  *int   `json:"offset,omitempty"` // where the SPEC code has one
	Detail  string `json:"detail,omitempty"`
	// Config is the file's own config (before overrides) when valid.
	Config *config.Config `json:"-"`
	Since  time.Time      `json:"since"`
}

// configBody is the GET api/config answer: the SPEC JSON fields, then the
// 13 bytes in hex and the header CRC64 (of the live config), then per
// field where its value comes from, and the file's state.
func (d *Dashboard) configBody(c config.Config) []byte {
	j, _ := c.MarshalJSON()
	b := c.Bytes()
	j = j[:len(j)-1] // reopen the object
	j = fmt.Appendf(j, `,"hex":%q,"checksum":"0x%016x"`, hex.EncodeToString(b[:]), c.Checksum())
	sj, _ := json.Marshal(d.sources())
	j = fmt.Appendf(j, `,"sources":%s`, sj)
	if d.o.File != nil {
		st := d.o.File()
		v := struct {
			FileStatus
			Hex      string `json:"hex,omitempty"`
			Checksum string `json:"checksum,omitempty"`
		}{FileStatus: st}
		if st.Config != nil {
			fb := st.Config.Bytes()
			v.Hex = hex.EncodeToString(fb[:])
			v.Checksum = fmt.Sprintf("0x%016x", st.Config.Checksum())
		}
		fj, _ := json.Marshal(v)
		j = fmt.Appendf(j, `,"file":%s`, fj)
	}
	return append(j, '}')
}

func writeJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
}

func writeError(w http.ResponseWriter, status int, code, detail string, offset int) {
	v := struct {
		Error  string `json:"error"`
		Offset *int   `json:"offset,omitempty"`
		Detail string `json:"detail,omitempty"`
	}{Error: code, Detail: detail}
	if offset != codes.NoOffset {
		v.Offset = &offset
	}
	b, _ := json.Marshal(v)
	writeJSON(w, status, b)
}

func (d *Dashboard) getConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, d.configBody(d.o.Store.Load()))
}

// configKeys are the fields a POST may set.
var configKeys = []string{"version", "registryHash", "featureFlags", "terminalMode", "rows", "cols"}

// errConflict is a POST whose preconditions name another config.
var errConflict = errors.New("the live config is not the one the request was made against")

// badRequest is a POST body that is not a config, as opposed to a valid
// body naming an invalid config (a SPEC code) or a failed write.
type badRequest struct{ err error }

func (e badRequest) Error() string { return e.err.Error() }

func (d *Dashboard) postConfig(w http.ResponseWriter, r *http.Request) {
	user, admin := d.o.Authorize(r)
	if !admin {
		if user == "" {
			writeError(w, http.StatusUnauthorized, "unauthorized", "changing the config needs an admin token", codes.NoOffset)
			return
		}
		writeError(w, http.StatusForbidden, "unauthorized", "changing the config needs the admin role", codes.NoOffset)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, d.o.MaxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "bad-request", err.Error(), codes.NoOffset)
		return
	}
	var req map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil || dec.More() || req == nil {
		writeError(w, http.StatusBadRequest, "bad-request", "want one JSON object", codes.NoOffset)
		return
	}
	var wantHex, wantSum string
	for k, v := range req {
		switch k {
		case "sources", "file":
			// What GET shows beside the config; a body copied from GET
			// carries them, and they are not settable.
		case "hex", "checksum":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				writeError(w, http.StatusBadRequest, "bad-request", k+" must be a string", codes.NoOffset)
				return
			}
			if k == "hex" {
				wantHex = s
			} else {
				wantSum = s
			}
		default:
			if !containsKey(k) {
				writeError(w, http.StatusBadRequest, "bad-request", fmt.Sprintf("unknown field %q", k), codes.NoOffset)
				return
			}
		}
	}
	// cur is the config as it is on disk at this moment (under the
	// file's lock, when the Store has a Backing), not the in-memory
	// copy: a precondition naming the state the client saw fails when
	// the file moved since, and only the fields named are changed.
	next, err := d.o.Store.UpdateFrom("api", func(cur config.Config) (config.Config, error) {
		if !matches(d.o.Store, cur, wantHex, wantSum) {
			return cur, errConflict
		}
		// Merge in the JSON form so that each field keeps its SPEC
		// parsing and error code.
		j, _ := cur.MarshalJSON()
		var merged map[string]json.RawMessage
		json.Unmarshal(j, &merged)
		for _, k := range configKeys {
			if v, ok := req[k]; ok {
				merged[k] = v
			}
		}
		mj, _ := json.Marshal(merged)
		var c config.Config
		if err := c.UnmarshalJSON(mj); err != nil {
			if codes.Of(err) == "" {
				// A missing or mistyped field: the request's fault,
				// not the disk's.
				return cur, badRequest{err}
			}
			return cur, err
		}
		return c, nil
	})
	switch {
	case err == nil:
		d.log.Info("config update accepted", "via", "api", "user", user, "flags", next.FeatureFlags.String())
		writeJSON(w, http.StatusOK, d.configBody(next))
	case errors.Is(err, errConflict):
		writeError(w, http.StatusConflict, "conflict", err.Error(), codes.NoOffset)
	case errors.Is(err, lockfile.ErrFileInvalid):
		writeError(w, http.StatusConflict, "lockfile-invalid", err.Error(), codes.NoOffset)
	case codes.Of(err) != "":
		var ce *codes.Error
		off, detail := codes.NoOffset, ""
		if errors.As(err, &ce) {
			off, detail = ce.Offset, ce.Detail
		}
		writeError(w, http.StatusBadRequest, string(codes.Of(err)), detail, off)
	case errors.As(err, new(badRequest)):
		writeError(w, http.StatusBadRequest, "bad-request", err.Error(), codes.NoOffset)
	default:
		d.log.Error("config update not persisted", "via", "api", "user", user, "err", err)
		writeError(w, http.StatusInternalServerError, "persist-failed", "the lockfile could not be written", codes.NoOffset)
	}
}

// matches reports whether the preconditions (hex and checksum, "" for
// none) name the durable config cur: either its own bytes or the live
// config it makes with the environment's overrides (what GET showed).
func matches(s *config.Store, cur config.Config, wantHex, wantSum string) bool {
	if wantHex == "" && wantSum == "" {
		return true
	}
	cands := []config.Config{cur}
	if eff, err := s.Effective(cur); err == nil && eff != cur {
		cands = append(cands, eff)
	}
	for _, c := range cands {
		b := c.Bytes()
		if (wantHex == "" || wantHex == hex.EncodeToString(b[:])) &&
			(wantSum == "" || wantSum == fmt.Sprintf("0x%016x", c.Checksum())) {
			return true
		}
	}
	return false
}

func containsKey(k string) bool {
	for _, c := range configKeys {
		if c == k {
			return true
		}
	}
	return false
}

func (d *Dashboard) getEnv(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = config.FormatShell
	}
	b, err := config.Export(d.o.Store.Load(), d.o.RegistryURL, format)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad-request", "format must be shell, dotenv or json", codes.NoOffset)
		return
	}
	if format == config.FormatJSON {
		writeJSON(w, http.StatusOK, bytes.TrimRight(b, "\n"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

func (d *Dashboard) getStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, *d.latest.Load())
}

// getFleet answers the fleet: 200 with the listing, 503 with the last good
// one (possibly empty) and its error when the fleet store cannot be read.
func (d *Dashboard) getFleet(w http.ResponseWriter, r *http.Request) {
	if d.o.Fleet == nil {
		writeError(w, http.StatusNotFound, "not-found", "this registry keeps no fleet view", codes.NoOffset)
		return
	}
	snap, err := d.o.Fleet.Fleet(r.Context())
	status := http.StatusOK
	if err != nil {
		d.log.Warn("fleet listing failed", "err", err)
		status = http.StatusServiceUnavailable
	}
	b, _ := json.Marshal(snap)
	writeJSON(w, status, b)
}

func (d *Dashboard) getMetrics(w http.ResponseWriter, r *http.Request) {
	// The same rule as the registry's /metrics: METRICS off hides them.
	if d.o.Gatherer == nil || !d.o.Store.Enabled(config.Metrics) {
		http.NotFound(w, r)
		return
	}
	promhttp.HandlerFor(d.o.Gatherer, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// clientAddr is the address a request's tickets are budgeted for and bound
// to.
func (d *Dashboard) clientAddr(r *http.Request) string {
	if d.o.ClientAddr != nil {
		return d.o.ClientAddr(r)
	}
	return clientAddr(r)
}

func (d *Dashboard) postTicket(w http.ResponseWriter, r *http.Request) {
	user, admin := d.o.Authorize(r)
	t, why := d.tickets.issue(user, admin, d.clientAddr(r), d.o.Now())
	switch why {
	case ticketAddrCap:
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusTooManyRequests, "too-many-tickets", "too many tickets outstanding for this address", codes.NoOffset)
		return
	case ticketFull:
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusServiceUnavailable, "busy", "too many tickets outstanding", codes.NoOffset)
		return
	case ticketNoKey:
		writeError(w, http.StatusServiceUnavailable, "busy", "no ticket signing key", codes.NoOffset)
		return
	}
	b, _ := json.Marshal(struct {
		Ticket string `json:"ticket"`
		User   string `json:"user"`
		Admin  bool   `json:"admin"`
	}{t, user, admin})
	writeJSON(w, http.StatusOK, b)
}

// gather takes one sample of the Gatherer (a zero sample without one).
func (d *Dashboard) gather() sample {
	now := d.o.Now()
	if d.o.Gatherer == nil {
		return sample{at: now, buckets: map[float64]float64{}}
	}
	mfs, err := d.o.Gatherer.Gather()
	if err != nil {
		// Gather returns what it could alongside the error; a partial
		// sample beats a gap in the graph.
		d.log.Debug("gather", "err", err)
	}
	return reduce(now, mfs, d.o.CountRoute)
}

// probe times ProbeReads config reads: what ConfigReadLatency alerts on.
func (d *Dashboard) probe() {
	n := d.o.ProbeReads
	var sink uint8
	start := time.Now()
	for range n {
		sink ^= d.o.Store.Load().Rows
	}
	el := time.Since(start)
	_ = sink
	per := max(el.Seconds(), 1e-9) / float64(n)
	d.m.readSeconds.Set(per)
	d.readSecs.Store(math.Float64bits(per))
}

func (d *Dashboard) sampleLoop(se *series) {
	tick := time.NewTicker(d.o.Interval)
	defer tick.Stop()
	probe := time.NewTicker(d.o.ProbeInterval)
	defer probe.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-probe.C:
			d.probe()
		case <-tick.C:
			st := se.add(d.gather())
			d.publish(st)
		}
	}
}

// publish completes st with the hooks and the hub, keeps it for
// api/stats and sends it to every client.
func (d *Dashboard) publish(st Stats) {
	if d.o.Status != nil {
		s := d.o.Status()
		st.DNS = dnsStats(s.DNS)
		st.Uplink = s.Uplink
	}
	if bits := d.readSecs.Load(); bits != 0 {
		st.ConfigReadSeconds = new(math.Float64frombits(bits))
	}
	if d.o.File != nil {
		f := d.o.File()
		st.ConfigFile = &f
	}
	if d.o.Fleet != nil {
		if f, ok := d.o.Fleet.Peek(d.ctx); ok {
			st.Fleet = &f
		}
	}
	st.Clients, st.Terminals = d.hub.counts()
	b, err := json.Marshal(st)
	if err != nil {
		d.log.Error("stats not encodable", "err", err)
		return
	}
	d.latest.Store(&b)
	d.hub.broadcast(textMsg(b))
}
