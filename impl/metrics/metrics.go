// Package metrics defines the registry's Prometheus metrics on a registry the caller passes in.
//
// Nothing here is global: [New] registers every collector on the given
// prometheus.Registerer, so tests and several servers in one process each
// get their own. The request path is the hot one: [Metrics.Request] keeps
// the labelled children it has seen in a sync.Map so a request costs two
// atomic adds and a map load, not a label hash and a lock.
//
// Exposed names:
//
//	bun_http_requests_total{method,route,status}            counter
//	bun_http_request_duration_seconds{method,route,status}  histogram
//	bun_auth_failures_total{reason}                         counter
//	bun_rate_limited_total{class}                           counter
//	bun_registry_packages                                   gauge
//	bun_registry_versions                                   gauge
//	bun_registry_tarball_bytes                              gauge
//	bun_config_info{version,registry_hash,feature_flags}    gauge, always 1
//	bun_config_reads_total                                  counter
//	bun_config_updates_total{source}                        counter
//	bun_config_file_valid                                   gauge, 1 or 0
//
// route is always a route template ("/:name", "/:name/-/:file"), never a
// raw path, so a client cannot create series at will.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bun13/bun13/impl/config"
)

// DurationBuckets are the latency histogram's upper bounds in seconds:
// fine below a millisecond, where a cached packument is served, and up to
// ten seconds for large publishes.
var DurationBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Metrics holds the collectors. The zero value is not usable; use New. A
// nil *Metrics is valid and records nothing, so callers need no checks.
type Metrics struct {
	gatherer prometheus.Gatherer

	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	authFailures *prometheus.CounterVec
	rateLimited  *prometheus.CounterVec
	packages     prometheus.Gauge
	versions     prometheus.Gauge
	tarballBytes prometheus.Gauge
	configInfo   *prometheus.GaugeVec
	configReads  prometheus.Counter
	configUpdate *prometheus.CounterVec
	fileValid    prometheus.Gauge

	children sync.Map // reqKey -> *reqChildren

	infoMu sync.Mutex
	info   prometheus.Labels // current bun_config_info labels
}

type reqKey struct {
	method, route string
	status        int
}

type reqChildren struct {
	count prometheus.Counter
	dur   prometheus.Observer
}

// New creates the metrics and registers them on reg. If reg is also a
// prometheus.Gatherer (a *prometheus.Registry is), Handler serves it.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bun_http_requests_total",
			Help: "HTTP requests served, by method, route template and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bun_http_request_duration_seconds",
			Help:    "HTTP request latency, by method, route template and status.",
			Buckets: DurationBuckets,
		}, []string{"method", "route", "status"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bun_auth_failures_total",
			Help: "Requests refused for failed authentication, by reason.",
		}, []string{"reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bun_rate_limited_total",
			Help: "Requests refused by a rate limit, by class.",
		}, []string{"class"}),
		packages: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bun_registry_packages",
			Help: "Packages stored with at least one live version.",
		}),
		versions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bun_registry_versions",
			Help: "Live package versions stored.",
		}),
		tarballBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bun_registry_tarball_bytes",
			Help: "Bytes of tarballs of live versions stored.",
		}),
		configInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bun_config_info",
			Help: "The live 13-byte config; always 1.",
		}, []string{"version", "registry_hash", "feature_flags"}),
		configReads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bun_config_reads_total",
			Help: "Reads of the live config (one per request).",
		}),
		configUpdate: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bun_config_updates_total",
			Help: "Changes applied to the live config, by source: file (the lockfile changed on disk: another process, an editor, a ConfigMap), cli, rollback, api, websocket.",
		}, []string{"source"}),
		fileValid: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bun_config_file_valid",
			Help: "1 while the lockfile on disk is valid and its config applied; 0 while it is missing or invalid and the last good config is served.",
		}),
	}
	for _, c := range []prometheus.Collector{
		m.requests, m.duration, m.authFailures, m.rateLimited, m.packages,
		m.versions, m.tarballBytes, m.configInfo, m.configReads, m.configUpdate,
		m.fileValid,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	if g, ok := reg.(prometheus.Gatherer); ok {
		m.gatherer = g
	}
	// The store was loaded from a valid file, or there is no file.
	m.fileValid.Set(1)
	for _, src := range UpdateSources {
		m.configUpdate.WithLabelValues(src)
	}
	return m, nil
}

// Request records one served request.
func (m *Metrics) Request(method, route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	method = Method(method)
	if http.StatusText(status) == "" {
		status = 0 // one "other" series for unknown codes
	}
	k := reqKey{method, route, status}
	c, ok := m.children.Load(k)
	if !ok {
		route = Route(route)
		k.route = route
		s := Status(status)
		c, _ = m.children.LoadOrStore(k, &reqChildren{
			count: m.requests.WithLabelValues(method, route, s),
			dur:   m.duration.WithLabelValues(method, route, s),
		})
	}
	rc := c.(*reqChildren)
	rc.count.Inc()
	rc.dur.Observe(d.Seconds())
}

// AuthFailure counts a refused authentication; reason is a short fixed
// word (auth.Reason), never user input.
func (m *Metrics) AuthFailure(reason string) {
	if m == nil {
		return
	}
	m.authFailures.WithLabelValues(reason).Inc()
}

// RateLimited counts a request refused by the limiter of class.
func (m *Metrics) RateLimited(class string) {
	if m == nil {
		return
	}
	m.rateLimited.WithLabelValues(class).Inc()
}

// AddStored adjusts the stored package, version and tarball byte gauges.
func (m *Metrics) AddStored(packages, versions int, tarballBytes int64) {
	if m == nil {
		return
	}
	m.packages.Add(float64(packages))
	m.versions.Add(float64(versions))
	m.tarballBytes.Add(float64(tarballBytes))
}

// SetStored sets the stored gauges to totals read from a shared store
// (where AddStored's per-process deltas would count only this replica's
// writes).
func (m *Metrics) SetStored(packages, versions, tarballBytes int64) {
	if m == nil {
		return
	}
	m.packages.Set(float64(packages))
	m.versions.Set(float64(versions))
	m.tarballBytes.Set(float64(tarballBytes))
}

// ConfigRead counts one read of the live config.
func (m *Metrics) ConfigRead() {
	if m == nil {
		return
	}
	m.configReads.Inc()
}

// SetConfig makes c the config bun_config_info reports.
func (m *Metrics) SetConfig(c config.Config) {
	if m == nil {
		return
	}
	l := prometheus.Labels{
		"version":       strconv.Itoa(int(c.Version)),
		"registry_hash": "0x" + hex8(c.RegistryHash),
		"feature_flags": c.FeatureFlags.Hex(),
	}
	m.infoMu.Lock()
	defer m.infoMu.Unlock()
	if m.info != nil {
		m.configInfo.Delete(m.info)
	}
	m.info = l
	m.configInfo.With(l).Set(1)
}

func hex8(v uint32) string {
	const digits = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// UpdateSources are the source labels of bun_config_updates_total that
// exist from the start (at zero); "other" stands for a change whose
// updater named no source.
var UpdateSources = []string{"file", "cli", "rollback", "api", "websocket", "other"}

func sourceLabel(s string) string {
	for _, k := range UpdateSources {
		if k == s {
			return s
		}
	}
	switch s {
	case "repair", "migrate", "init", "import":
		return "cli"
	}
	return "other"
}

// ConfigUpdated counts one change of the live config from source and
// reports it.
func (m *Metrics) ConfigUpdated(source string, c config.Config) {
	if m == nil {
		return
	}
	m.configUpdate.WithLabelValues(sourceLabel(source)).Inc()
	m.SetConfig(c)
}

// SetConfigFileValid sets bun_config_file_valid.
func (m *Metrics) SetConfigFileValid(ok bool) {
	if m == nil {
		return
	}
	v := 0.0
	if ok {
		v = 1
	}
	m.fileValid.Set(v)
}

// WatchConfig sets bun_config_info from s now and on every change until
// ctx ends, counting changes in bun_config_updates_total. It returns once
// subscribed; the watching goroutine ends with ctx.
func (m *Metrics) WatchConfig(ctx context.Context, s *config.Store) {
	if m == nil {
		return
	}
	ch, cancel := s.Subscribe(16)
	m.SetConfig(s.Load())
	go func() {
		defer cancel()
		var last uint64
		for {
			select {
			case <-ctx.Done():
				return
			case c, ok := <-ch:
				if !ok {
					return
				}
				// A receiver that fell behind loses changes; Seq still
				// counts them.
				n := uint64(1)
				if last != 0 && c.Seq > last {
					n = c.Seq - last
				}
				last = c.Seq
				m.configUpdate.WithLabelValues(sourceLabel(c.Source)).Add(float64(n))
				m.SetConfig(c.New)
			}
		}
	}()
}

// Handler serves the Prometheus text exposition of the registry New was
// given, or 404 when it is not a Gatherer.
func (m *Metrics) Handler() http.Handler {
	if m == nil || m.gatherer == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})
}
