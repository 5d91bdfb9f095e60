package dashboard

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/frame"
)

// dashMetrics are the collectors the dashboard owns (see the package doc).
type dashMetrics struct {
	sessions    *prometheus.GaugeVec
	leaks       prometheus.Counter
	readSeconds prometheus.Gauge
	clients     prometheus.Gauge
	slow        prometheus.Counter
	frames      *prometheus.CounterVec
	ticketStore prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*dashMetrics, error) {
	m := &dashMetrics{
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bun_terminal_sessions",
			Help: "Terminal clients (bun13 top) connected to the dashboard, by the terminal mode they announced.",
		}, []string{"mode"}),
		leaks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bun_terminal_mode_leaks_total",
			Help: "Terminal clients in raw mode that disconnected without announcing the terminal restored.",
		}),
		readSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bun_config_read_seconds",
			Help: "Mean duration of one live config read, timed over a batch of reads.",
		}),
		clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bun_dashboard_clients",
			Help: "Open dashboard WebSocket connections.",
		}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bun_dashboard_slow_clients_total",
			Help: "Dashboard WebSocket connections closed because they did not keep up.",
		}),
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bun_dashboard_frames_total",
			Help: "Config frames received over the dashboard WebSocket, by reply: ack or the NAK name.",
		}, []string{"result"}),
		ticketStore: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bun_dashboard_ticket_store_errors_total",
			Help: "WebSocket ticket redemptions whose fleet-wide single-use check (Redis) failed and were decided by this replica alone.",
		}),
	}
	for _, c := range []prometheus.Collector{m.sessions, m.leaks, m.readSeconds, m.clients, m.slow, m.frames, m.ticketStore} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Alert rules compare these series; they must exist at zero before
	// the first terminal connects, or "absent" and "== 0" disagree.
	for _, mode := range []config.Mode{config.None, config.Cooked, config.Raw} {
		m.sessions.WithLabelValues(mode.String())
	}
	m.frames.WithLabelValues("ack")
	for c := frame.NakFrameChecksum; c <= frame.NakRateLimited; c++ {
		m.frames.WithLabelValues(c.String())
	}
	return m, nil
}
