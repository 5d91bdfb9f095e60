package dashboard

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/store/fleet"
	"github.com/bun13/bun13/impl/store/fleet/heartbeat"
)

// testFleet is three replicas, r3 running another config (METRICS
// toggled), r2 answering.
func testFleet(t *testing.T) (*fleet.Memory, config.Config, config.Config) {
	t.Helper()
	st := &fleet.Memory{}
	common := config.Default()
	other := common
	other.FeatureFlags ^= config.Metrics
	started := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, r := range []struct {
		id  string
		c   config.Config
		ver string
	}{{"r1", common, "v1.4.0"}, {"r2", common, "v1.4.0"}, {"r3", other, "v1.5.0-rc1"}} {
		if err := st.Beat(context.Background(), fleet.Replica{ID: r.id, Version: r.ver, Config: [fleet.ConfigSize]byte(r.c.Bytes()), Started: started}); err != nil {
			t.Fatal(err)
		}
	}
	return st, common, other
}

type failingFleet struct{ fleet.Memory }

func (*failingFleet) List(context.Context, time.Duration) ([]fleet.Replica, error) {
	return nil, errors.New("connection refused")
}

func TestDashboardAPIFleet(t *testing.T) {
	st, common, other := testFleet(t)
	e := newEnv(t, Options{Fleet: &heartbeat.View{Store: st, Self: "r2"}, Interval: 10 * time.Millisecond})
	resp, body := e.do("GET", Prefix+"/api/fleet", "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET api/fleet: %d %s", resp.StatusCode, body)
	}
	var s heartbeat.Snapshot
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	cb, ob := common.Bytes(), other.Bytes()
	if s.Self != "r2" || s.Drifting != 1 || len(s.Replicas) != 3 || s.Common != hex.EncodeToString(cb[:]) {
		t.Fatalf("fleet %s", body)
	}
	r3 := s.Replicas[2]
	if r3.ID != "r3" || !r3.Drift || r3.Hex != hex.EncodeToString(ob[:]) || r3.Config == nil || *r3.Config != other || r3.Version != "v1.5.0-rc1" || r3.Seen.IsZero() {
		t.Errorf("r3 %+v", r3)
	}
	if s.Replicas[0].Drift || s.Replicas[1].Drift || !s.Replicas[1].Self {
		t.Errorf("r1, r2 %+v", s.Replicas[:2])
	}
	// The raw JSON has the fields the page and bun13 top read.
	var raw struct {
		Replicas []map[string]json.RawMessage `json:"replicas"`
	}
	json.Unmarshal([]byte(body), &raw)
	for _, k := range []string{"id", "version", "hex", "config", "started", "seen", "drift"} {
		if _, ok := raw.Replicas[0][k]; !ok {
			t.Errorf("replica JSON lacks %q: %s", k, body)
		}
	}

	// The stats carry the same listing, once the sampler has one.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body := e.do("GET", Prefix+"/api/stats", "", "")
		var st Stats
		json.Unmarshal([]byte(body), &st)
		if st.Fleet != nil {
			if st.Fleet.Drifting != 1 || len(st.Fleet.Replicas) != 3 {
				t.Errorf("stats fleet %+v", st.Fleet)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("stats never carried the fleet")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDashboardAPIFleetAbsentOrFailing(t *testing.T) {
	e := newEnv(t, Options{})
	if resp, body := e.do("GET", Prefix+"/api/fleet", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("without a fleet view: %d %s", resp.StatusCode, body)
	}
	e = newEnv(t, Options{Fleet: &heartbeat.View{Store: &failingFleet{}, Self: "r1"}})
	resp, body := e.do("GET", Prefix+"/api/fleet", "", "")
	var s heartbeat.Snapshot
	json.Unmarshal([]byte(body), &s)
	if resp.StatusCode != http.StatusServiceUnavailable || s.Error == "" || s.Replicas == nil {
		t.Errorf("store failing: %d %s", resp.StatusCode, body)
	}
}
