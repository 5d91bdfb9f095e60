package registry

import (
	"context"
	"net/http"
	"time"
)

// Liveness and readiness.
//
// GET /-/healthz answers 200 while the process serves requests at all
// (liveness: restart the process when it stops answering). GET /-/readyz
// answers 200 when every readiness check passes and 503 otherwise, and
// 503 from the moment shutdown begins (readiness: send traffic here or
// not). Both are public (no token, even under AUTH_REQUIRED) and their
// bodies are JSON:
//
//	{"status":"ok"}
//	{"ready":true,"checks":[{"name":"storage","ok":true},{"name":"config","ok":true}]}
//	{"ready":false,"draining":true,"checks":[...]}
//	{"ready":false,"checks":[{"name":"storage","ok":false,"error":"..."}]}

// ReadyCheck is one condition of readiness: Check returns nil when it
// holds. Checks run on every GET /-/readyz, one after the other, under
// ReadyTimeout in all; they must be cheap (a probe runs every few
// seconds).
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// ReadyTimeout bounds the checks of one readiness request.
const ReadyTimeout = 2 * time.Second

// readyChecks are the server's own checks (the data directory; or, when
// Shared, the database and the blob store) followed by
// Options.ReadyChecks.
func (s *Server) readyChecks() []ReadyCheck {
	var cs []ReadyCheck
	if !s.shared {
		// One data directory holds both: one check.
		cs = append(cs, ReadyCheck{Name: "storage", Check: s.blobStore.Ping})
		return append(cs, s.opts.ReadyChecks...)
	}
	if p, ok := s.docStore.(interface{ Ping(context.Context) error }); ok {
		cs = append(cs, ReadyCheck{Name: "database", Check: p.Ping})
	}
	cs = append(cs, ReadyCheck{Name: "blobs", Check: s.blobStore.Ping})
	return append(cs, s.opts.ReadyChecks...)
}

type checkResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Ready runs the readiness checks and reports whether the server should
// receive traffic: false while draining or when any check fails.
func (s *Server) Ready(ctx context.Context) (ready, draining bool, results []checkResult) {
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	draining = s.draining.Load()
	ready = !draining
	for _, c := range s.checks {
		r := checkResult{Name: c.Name, OK: true}
		if err := c.Check(ctx); err != nil {
			r.OK, r.Error, ready = false, err.Error(), false
		}
		results = append(results, r)
	}
	return ready, draining, results
}

// Draining reports whether shutdown has begun (readiness is then false).
func (s *Server) Draining() bool { return s.draining.Load() }

func (c *call) healthz() {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		c.methodNotAllowed("GET, HEAD")
		return
	}
	c.w.Header().Set("Cache-Control", "no-store")
	c.json(http.StatusOK, map[string]string{"status": "ok"})
}

func (c *call) readyz() {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		c.methodNotAllowed("GET, HEAD")
		return
	}
	ready, draining, results := c.s.Ready(c.r.Context())
	body := struct {
		Ready    bool          `json:"ready"`
		Draining bool          `json:"draining,omitempty"`
		Checks   []checkResult `json:"checks"`
	}{ready, draining, results}
	if body.Checks == nil {
		body.Checks = []checkResult{}
	}
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
		for _, r := range results {
			if !r.OK {
				c.errMsg = r.Name + ": " + r.Error
				break
			}
		}
		if draining && c.errMsg == "" {
			c.errMsg = "draining"
		}
	}
	c.w.Header().Set("Cache-Control", "no-store")
	c.json(status, body)
}
