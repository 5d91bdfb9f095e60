package dashboard

import (
	"math"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/bun13/bun13/impl/store/fleet/heartbeat"
)

// Stats is one sample of the registry's numbers: what the page shows and
// bun13 top prints. Counters are cumulative in Total; Rate is per second
// over the last Interval and Recent the increase over the last Window.
type Stats struct {
	Type     string    `json:"type"` // "stats"
	Time     time.Time `json:"time"`
	Interval float64   `json:"interval"` // seconds since the previous sample
	Window   float64   `json:"window"`   // seconds the Recent counts cover

	// Metrics is false when the dashboard has no Gatherer: every number
	// below but the DNS, uplink and terminal ones is then zero.
	Metrics bool `json:"metrics"`

	Requests Counter `json:"requests"`
	// P50 and P99 are request latencies in seconds, interpolated in the
	// latency histogram's buckets over the last QuantileWindow seconds,
	// as Prometheus' histogram_quantile does; nil when no request ended
	// in that window.
	P50            *float64 `json:"p50"`
	P99            *float64 `json:"p99"`
	QuantileWindow float64  `json:"quantileWindow"`
	Errors5xx      Counter  `json:"errors5xx"`
	Errors4xx      Counter  `json:"errors4xx"` // 429 not included: see RateLimited
	RateLimited    Counter  `json:"rateLimited"`
	AuthFailures   Counter  `json:"authFailures"`
	ConfigReads    Counter  `json:"configReads"`
	// ConfigReadSeconds is the mean duration of one Store.Load in the
	// latest probe (nil before the first).
	ConfigReadSeconds *float64 `json:"configReadSeconds"`

	Packages     float64 `json:"packages"`
	Versions     float64 `json:"versions"`
	TarballBytes float64 `json:"tarballBytes"`

	DNS    *DNSStats     `json:"dns,omitempty"`
	Uplink *UplinkStatus `json:"uplink,omitempty"`

	// ConfigFile is the lockfile's state (nil without Options.File); the
	// page shows a banner while it is not valid.
	ConfigFile *FileStatus `json:"configFile,omitempty"`

	// Fleet is the registry's replicas and their drift, as api/fleet
	// answers (nil without Options.Fleet, or before its first listing).
	Fleet *heartbeat.Snapshot `json:"fleet,omitempty"`

	Clients   int            `json:"clients"`   // open WebSocket connections
	Terminals map[string]int `json:"terminals"` // terminal clients by announced mode

	// History is the request rate of the latest samples, oldest first,
	// for the sparkline; it holds up to HistoryCap of them.
	History    []float64 `json:"history"`
	HistoryCap int       `json:"historyCap"`
}

// Counter is a cumulative count with its recent movement.
type Counter struct {
	Total  float64 `json:"total"`
	Rate   float64 `json:"rate"`   // per second over the last interval
	Recent float64 `json:"recent"` // increase over the window
}

// Status is what the Status hook reports; either part may be nil.
type Status struct {
	DNS    *DNSStatus    `json:"dns,omitempty"`
	Uplink *UplinkStatus `json:"uplink,omitempty"`
}

// DNSStatus has the fields of dnscache.Stats, so that one converts to the
// other.
type DNSStatus struct {
	Hits         uint64 `json:"hits"`
	NegativeHits uint64 `json:"negativeHits"`
	Misses       uint64 `json:"misses"`
	Lookups      uint64 `json:"lookups"`
	StaleServed  uint64 `json:"staleServed"`
	Evictions    uint64 `json:"evictions"`
	Entries      int    `json:"entries"`
}

// DNSStats is a DNSStatus with its hit ratio, Hits / (Hits + NegativeHits
// + Misses) since the cache started, nil before its first lookup.
type DNSStats struct {
	DNSStatus
	HitRatio *float64 `json:"hitRatio"`
}

// UplinkStatus has the fields of proxy.Status, so that one converts to the
// other.
type UplinkStatus struct {
	URL         string    `json:"url"`
	Up          bool      `json:"up"`
	Offline     bool      `json:"offline"`
	LastSuccess time.Time `json:"lastSuccess"`
	LastFailure time.Time `json:"lastFailure"`
	LastError   string    `json:"lastError"`
	Requests    uint64    `json:"requests"`
	Failures    uint64    `json:"failures"`
	CacheHits   uint64    `json:"cacheHits"`
	Misses      uint64    `json:"misses"`
	Revalidated uint64    `json:"revalidated"`
	StaleServed uint64    `json:"staleServed"`
	Packuments  int       `json:"packuments"`
	CacheBytes  int64     `json:"cacheBytes"`
}

// sample is one Gather reduced to the counters Stats derives from.
type sample struct {
	at                 time.Time
	requests           float64
	r4xx, r5xx         float64
	rateLimited        float64
	authFailures       float64
	configReads        float64
	packages, versions float64
	tarballBytes       float64
	buckets            map[float64]float64 // upper bound -> cumulative count; +Inf is the total
}

// reduce sums the families the dashboard knows across their label sets.
// count says which route labels are the registry's own traffic.
func reduce(at time.Time, mfs []*dto.MetricFamily, count func(route string) bool) sample {
	s := sample{at: at, buckets: map[float64]float64{}}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "bun_http_requests_total":
			for _, m := range mf.GetMetric() {
				if !count(label(m, "route")) {
					continue
				}
				v := m.GetCounter().GetValue()
				s.requests += v
				switch st := label(m, "status"); {
				case st == "429":
				case strings.HasPrefix(st, "4"):
					s.r4xx += v
				case strings.HasPrefix(st, "5"):
					s.r5xx += v
				}
			}
		case "bun_http_request_duration_seconds":
			for _, m := range mf.GetMetric() {
				if !count(label(m, "route")) {
					continue
				}
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					s.buckets[b.GetUpperBound()] += float64(b.GetCumulativeCount())
				}
				s.buckets[math.Inf(1)] += float64(h.GetSampleCount())
			}
		case "bun_rate_limited_total":
			s.rateLimited = sumCounters(mf)
		case "bun_auth_failures_total":
			s.authFailures = sumCounters(mf)
		case "bun_config_reads_total":
			s.configReads = sumCounters(mf)
		case "bun_registry_packages":
			s.packages = sumGauges(mf)
		case "bun_registry_versions":
			s.versions = sumGauges(mf)
		case "bun_registry_tarball_bytes":
			s.tarballBytes = sumGauges(mf)
		}
	}
	return s
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func sumCounters(mf *dto.MetricFamily) float64 {
	var t float64
	for _, m := range mf.GetMetric() {
		t += m.GetCounter().GetValue()
	}
	return t
}

func sumGauges(mf *dto.MetricFamily) float64 {
	var t float64
	for _, m := range mf.GetMetric() {
		t += m.GetGauge().GetValue()
	}
	return t
}

// increase is cur - prev for a counter, taking a drop as a restart from
// zero, as Prometheus' increase() does.
func increase(cur, prev float64) float64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// quantile interpolates the q-quantile of the requests between two
// cumulative bucket snapshots, as histogram_quantile does: linearly inside
// the bucket holding the rank, the lowest bucket starting at 0, and a rank
// in the +Inf bucket reported as the largest finite bound. It returns
// false when no request was observed in between.
func quantile(q float64, cur, prev map[float64]float64) (float64, bool) {
	bounds := make([]float64, 0, len(cur))
	for b := range cur {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	if len(bounds) == 0 {
		return 0, false
	}
	delta := make([]float64, len(bounds))
	for i, b := range bounds {
		delta[i] = increase(cur[b], prev[b])
	}
	// Cumulative counts must not decrease; label sets that appeared
	// between the samples can make deltas ragged, so smooth them.
	for i := 1; i < len(delta); i++ {
		delta[i] = max(delta[i], delta[i-1])
	}
	total := delta[len(delta)-1]
	if total <= 0 {
		return 0, false
	}
	rank := q * total
	for i, b := range bounds {
		if delta[i] < rank {
			continue
		}
		if math.IsInf(b, 1) {
			if i == 0 {
				return 0, false
			}
			return bounds[i-1], true
		}
		lower, below := 0.0, 0.0
		if i > 0 {
			lower, below = bounds[i-1], delta[i-1]
		}
		in := delta[i] - below
		if in <= 0 {
			return b, true
		}
		return lower + (b-lower)*(rank-below)/in, true
	}
	return bounds[len(bounds)-1], true
}

// series turns a run of samples into Stats. It keeps what the rates,
// windows and history need and nothing more.
type series struct {
	window    int // samples in the Recent window
	qwindow   int // samples in the quantile window
	keep      int // history length
	samples   []sample
	history   []float64
	hasGather bool
}

func newSeries(window, qwindow, history int) *series {
	return &series{window: window, qwindow: qwindow, keep: history}
}

// add appends s and returns the Stats it completes. The hook-fed and hub
// fields are the caller's.
func (se *series) add(s sample) Stats {
	se.samples = append(se.samples, s)
	if n := max(se.window, se.qwindow) + 1; len(se.samples) > n {
		se.samples = slices.Delete(se.samples, 0, len(se.samples)-n)
	}
	cur := s
	prev := cur
	if len(se.samples) > 1 {
		prev = se.samples[len(se.samples)-2]
	}
	old := se.samples[max(0, len(se.samples)-1-se.window)]
	qold := se.samples[max(0, len(se.samples)-1-se.qwindow)]
	dt := cur.at.Sub(prev.at).Seconds()
	counter := func(f func(sample) float64) Counter {
		c := Counter{Total: f(cur), Recent: increase(f(cur), f(old))}
		if dt > 0 {
			c.Rate = increase(f(cur), f(prev)) / dt
		}
		return c
	}
	st := Stats{
		Type:           "stats",
		Time:           cur.at,
		Interval:       dt,
		Window:         cur.at.Sub(old.at).Seconds(),
		QuantileWindow: cur.at.Sub(qold.at).Seconds(),
		Metrics:        se.hasGather,
		Requests:       counter(func(s sample) float64 { return s.requests }),
		Errors5xx:      counter(func(s sample) float64 { return s.r5xx }),
		Errors4xx:      counter(func(s sample) float64 { return s.r4xx }),
		RateLimited:    counter(func(s sample) float64 { return s.rateLimited }),
		AuthFailures:   counter(func(s sample) float64 { return s.authFailures }),
		ConfigReads:    counter(func(s sample) float64 { return s.configReads }),
		Packages:       cur.packages,
		Versions:       cur.versions,
		TarballBytes:   cur.tarballBytes,
	}
	if v, ok := quantile(0.5, cur.buckets, qold.buckets); ok {
		st.P50 = &v
	}
	if v, ok := quantile(0.99, cur.buckets, qold.buckets); ok {
		st.P99 = &v
	}
	// The first sample has no interval: no rate to plot yet.
	if len(se.samples) > 1 {
		se.history = append(se.history, st.Requests.Rate)
		if len(se.history) > se.keep {
			se.history = slices.Delete(se.history, 0, len(se.history)-se.keep)
		}
	}
	st.HistoryCap = se.keep
	st.History = slices.Clone(se.history)
	if st.History == nil {
		st.History = []float64{}
	}
	return st
}

// dnsStats adds the hit ratio to a DNS status.
func dnsStats(d *DNSStatus) *DNSStats {
	if d == nil {
		return nil
	}
	out := &DNSStats{DNSStatus: *d}
	if n := d.Hits + d.NegativeHits + d.Misses; n > 0 {
		r := float64(d.Hits) / float64(n)
		out.HitRatio = &r
	}
	return out
}
