package dashboard

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bun13/bun13/impl/metrics"
)

var inf = math.Inf(1)

func TestDashboardQuantile(t *testing.T) {
	prev := map[float64]float64{0.1: 10, 1: 20, inf: 20}
	for _, tc := range []struct {
		name string
		q    float64
		cur  map[float64]float64
		want float64
		ok   bool
	}{
		{"nothing new", 0.5, map[float64]float64{0.1: 10, 1: 20, inf: 20}, 0, false},
		// 10 new requests, all in (0.1, 1]: the median is halfway.
		{"inside a bucket", 0.5, map[float64]float64{0.1: 10, 1: 30, inf: 30}, 0.55, true},
		// 10 new in the lowest bucket: interpolated from 0.
		{"lowest bucket", 0.5, map[float64]float64{0.1: 20, 1: 30, inf: 30}, 0.05, true},
		// The rank falls in +Inf: the largest finite bound, as Prometheus.
		{"+Inf bucket", 0.99, map[float64]float64{0.1: 10, 1: 20, inf: 30}, 1, true},
		// A counter reset counts from zero.
		{"reset", 0.5, map[float64]float64{0.1: 4, 1: 4, inf: 4}, 0.05, true},
	} {
		got, ok := quantile(tc.q, tc.cur, prev)
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: quantile = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestDashboardSeries checks rates, windows and history against a
// registry whose counters the test moves, at times it chooses.
func TestDashboardSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	own := func(route string) bool { return route != "/_*" }
	se := newSeries(3, 2, 4)
	se.hasGather = true
	t0 := time.Unix(1000, 0)
	take := func(sec int) Stats {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		return se.add(reduce(t0.Add(time.Duration(sec)*time.Second), mfs, own))
	}
	first := take(0)
	if first.Requests.Rate != 0 || first.P50 != nil || len(first.History) != 0 {
		t.Errorf("first sample: %+v", first)
	}
	for sec := 1; sec <= 5; sec++ {
		for range sec * 10 {
			m.Request("GET", "/:name", 200, 2*time.Millisecond)
		}
		m.Request("GET", "/_*", 500, time.Minute) // the dashboard's own: ignored
		st := take(sec)
		if want := float64(sec * 10); st.Requests.Rate != want {
			t.Errorf("t=%d: rate %v, want %v", sec, st.Requests.Rate, want)
		}
		if st.Errors5xx.Total != 0 {
			t.Errorf("t=%d: own route counted as 5xx", sec)
		}
	}
	st := take(6) // nothing new in the last second
	// Window 3 samples: seconds 4, 5 and 6 added 40 + 50 + 0.
	if st.Requests.Recent != 90 || st.Window != 3 {
		t.Errorf("recent %v over %vs, want 90 over 3s", st.Requests.Recent, st.Window)
	}
	// Quantiles cover 2 samples: still the 50 requests of second 5.
	if st.P50 == nil || *st.P50 <= 0.001 || *st.P50 > 0.0025 || st.QuantileWindow != 2 {
		t.Errorf("p50 %v over %vs", st.P50, st.QuantileWindow)
	}
	if want := []float64{30, 40, 50, 0}; len(st.History) != 4 || st.History[0] != want[0] || st.History[3] != want[3] {
		t.Errorf("history %v, want %v", st.History, want)
	}
}
