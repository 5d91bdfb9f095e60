package headers

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
)

// Middleware validates the config headers of requests that carry any of
// them (SPEC section 5). An invalid set gets 400 with a JSON body naming
// the code and the header, and the request goes no further. A valid set is
// counted by the client's config version, and as config drift when the
// client's registry hash is not the server's. Requests without the headers
// pass through untouched.
type Middleware struct {
	// Next handles every request that passes.
	Next http.Handler
	// Store is the server's live config, for drift; nil counts no drift.
	Store *config.Store

	byVersion [config.MaxVersion + 1]prometheus.Counter
	drift     prometheus.Counter
	invalid   *prometheus.CounterVec
}

// NewMiddleware registers the middleware's metrics on reg:
//
//	bun_config_client_requests_total{version}  requests with a valid header set, by client config version
//	bun_config_drift_total                     of those, the ones whose registry hash differs from the server's
//	bun_config_header_errors_total{code}       requests refused for their config headers
func NewMiddleware(reg prometheus.Registerer, store *config.Store, next http.Handler) (*Middleware, error) {
	byVersion := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bun_config_client_requests_total",
		Help: "Requests carrying a valid set of X-Bun config headers, by the client's config version.",
	}, []string{"version"})
	m := &Middleware{
		Next:  next,
		Store: store,
		drift: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bun_config_drift_total",
			Help: "Requests whose X-Bun-Registry-Hash differs from the server's registry hash.",
		}),
		invalid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bun_config_header_errors_total",
			Help: "Requests refused for invalid X-Bun config headers, by SPEC code.",
		}, []string{"code"}),
	}
	for _, c := range []prometheus.Collector{byVersion, m.drift, m.invalid} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Resolve the labelled children once: the hot path then costs an
	// atomic add, not a label hash.
	for v := range m.byVersion {
		m.byVersion[v] = byVersion.WithLabelValues(strconv.Itoa(v))
	}
	for _, c := range []codes.Code{codes.HeaderMissing, codes.HeaderFormat, codes.HeaderRange, codes.HeaderChecksum} {
		m.invalid.WithLabelValues(string(c))
	}
	return m, nil
}

// headerError is the 400 body.
type headerError struct {
	Error  string `json:"error"`
	Header string `json:"header"`
	Detail string `json:"detail"`
}

func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !presentCanonical(r.Header) {
		m.Next.ServeHTTP(w, r)
		return
	}
	c, err := Validate(r.Header)
	if err != nil {
		var ce *codes.Error
		body := headerError{Error: string(codes.Of(err)), Detail: err.Error()}
		if errors.As(err, &ce) {
			body.Header, body.Detail = ce.Name, ce.Detail
		}
		m.invalid.WithLabelValues(body.Error).Inc()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(body)
		return
	}
	m.byVersion[c.Version].Inc()
	if m.Store != nil && c.RegistryHash != m.Store.Load().RegistryHash {
		m.drift.Inc()
	}
	m.Next.ServeHTTP(w, r)
}

// presentCanonical is Present for a header map net/http built, whose keys
// are always canonical: one pass over the request's few keys, instead of
// Present's case-folding scan that raw maps need (about 200 ns on a
// request without the headers, which is nearly every request).
func presentCanonical(h http.Header) bool {
	for k := range h {
		switch k {
		case Version, RegistryHash, FeatureFlags, Terminal, Checksum:
			return true
		}
	}
	return false
}
