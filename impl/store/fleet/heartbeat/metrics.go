package heartbeat

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	replicasDesc = prometheus.NewDesc("bun_fleet_replicas",
		"Replicas heartbeating into the fleet store, as this replica's latest listing saw them.", nil, nil)
	driftingDesc = prometheus.NewDesc("bun_fleet_drifting_replicas",
		"Replicas of the fleet whose 13-byte config differs from the one most replicas run.", nil, nil)
)

// Collector exports a View's latest listing as bun_fleet_replicas and
// bun_fleet_drifting_replicas. A scrape never waits on the fleet store:
// it reads the cached listing (refreshing it in the background when
// stale) and exports nothing before the first one.
type Collector struct {
	View *View
	// Context bounds the background refreshes; nil means
	// context.Background().
	Context context.Context
}

var _ prometheus.Collector = Collector{}

// Describe implements prometheus.Collector.
func (c Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- replicasDesc
	ch <- driftingDesc
}

// Collect implements prometheus.Collector.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	s, ok := c.View.Peek(ctx)
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(replicasDesc, prometheus.GaugeValue, float64(len(s.Replicas)))
	ch <- prometheus.MustNewConstMetric(driftingDesc, prometheus.GaugeValue, float64(s.Drifting))
}
