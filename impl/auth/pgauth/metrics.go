package pgauth

import "github.com/prometheus/client_golang/prometheus"

// RegisterMetrics registers the Store's gauges and counters on reg:
// bun_auth_reloads_total, bun_auth_feed_reconnects_total, bun_auth_feed_up
// and bun_auth_revocations. A process has one Store per registry.
func (s *Store) RegisterMetrics(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "bun_auth_reloads_total",
			Help: "Auth tables (users, revocations, scopes, signing keys) re-read from PostgreSQL after a change.",
		}, func() float64 { return float64(s.reloads.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "bun_auth_feed_reconnects_total",
			Help: "Reconnections of the auth change feed (LISTEN bun13_auth), each followed by a reload of every table.",
		}, func() float64 { return float64(s.lost.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "bun_auth_feed_up",
			Help: "1 while the auth change feed is connected, 0 while it reconnects (changes then arrive through the periodic check).",
		}, func() float64 {
			if s.FeedPID() != 0 {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "bun_auth_revocations",
			Help: "Revoked token IDs in this replica's copy of the revocation set.",
		}, func() float64 { return float64(s.revs.Load().Len()) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
