package fleet_test

import (
	"testing"
	"time"

	"github.com/bun13/bun13/impl/store/fleet"
	"github.com/bun13/bun13/impl/store/fleet/fleettest"
)

func TestMemoryConformance(t *testing.T) {
	fleettest.Run(t, func(t *testing.T, n int) []fleet.Store {
		s := &fleet.Memory{}
		out := make([]fleet.Store, n)
		for i := range out {
			out[i] = s // one process: one store
		}
		return out
	})
}

func TestDrift(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := func(b byte) (x [fleet.ConfigSize]byte) { x[0] = b; return x }
	for _, tc := range []struct {
		name   string
		rs     []fleet.Replica
		common byte
		diff   []string
	}{
		{"none", nil, 0, nil},
		{"all agree", []fleet.Replica{{ID: "a", Config: c(1)}, {ID: "b", Config: c(1)}}, 1, nil},
		{"majority", []fleet.Replica{{ID: "a", Config: c(2)}, {ID: "b", Config: c(1)}, {ID: "c", Config: c(1)}}, 1, []string{"a"}},
		{"tie: earliest start wins", []fleet.Replica{{ID: "a", Config: c(2), Started: t0.Add(time.Hour)}, {ID: "b", Config: c(1), Started: t0}}, 1, []string{"a"}},
		{"tie, same start: lowest id wins", []fleet.Replica{{ID: "b", Config: c(1), Started: t0}, {ID: "a", Config: c(2), Started: t0}}, 2, []string{"b"}},
	} {
		common, diff := fleet.Drift(tc.rs)
		var ids []string
		for _, r := range diff {
			ids = append(ids, r.ID)
		}
		if common != c(tc.common) || len(ids) != len(tc.diff) || (len(ids) > 0 && ids[0] != tc.diff[0]) {
			t.Errorf("%s: common %v differing %v; want %v, %v", tc.name, common[0], ids, tc.common, tc.diff)
		}
	}
}
