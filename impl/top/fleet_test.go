package top

import (
	"strings"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/store/fleet"
	"github.com/bun13/bun13/impl/store/fleet/heartbeat"
)

func testFleetSnapshot(now time.Time, n int, drifting ...string) *heartbeat.Snapshot {
	common, other := config.Default(), config.Default()
	other.FeatureFlags ^= config.Metrics
	var rs []fleet.Replica
	for i := range n {
		id := "replica-" + string(rune('a'+i))
		c := common
		for _, d := range drifting {
			if d == id {
				c = other
			}
		}
		rs = append(rs, fleet.Replica{ID: id, Version: "v1.4.0", Config: [fleet.ConfigSize]byte(c.Bytes()), Started: now.Add(-time.Hour), Seen: now.Add(-2 * time.Second)})
	}
	s := heartbeat.Describe(rs, "replica-a", now)
	return &s
}

func TestTopFleet(t *testing.T) {
	v := testView()
	v.stats.Fleet = testFleetSnapshot(v.now, 3, "replica-c")
	plain := screen(v, 30, 100, false, "q quit")
	got := strings.Join(plain, "\n")
	for _, want := range []string{
		"fleet     3 replicas, 1 replica DRIFTING from 015e9b6bd5000000b801185000",
		"! replica-c      v1.4.0       015e9b6bd50000003801185000 DRIFT  seen 2s ago",
		"  replica-a*     v1.4.0       015e9b6bd5000000b801185000  seen 2s ago",
		"  replica-b      v1.4.0       015e9b6bd5000000b801185000  seen 2s ago",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("screen lacks %q:\n%s", want, got)
		}
	}
	// The drifting replica is listed first and drawn in red.
	colored := strings.Join(screen(v, 30, 100, true, "q quit"), "\n")
	if !strings.Contains(colored, "\x1b[31m! replica-c") {
		t.Errorf("drifting replica not red:\n%q", colored)
	}
	if strings.Contains(colored, "\x1b[31m  replica-a") {
		t.Errorf("a replica in agreement drawn red")
	}
	if line := joinFields(statsFields(v), 80); !strings.HasPrefix(line, "03:04:05 drift=replica-c req/s=") {
		t.Errorf("stats line %q: the drift alert goes first", line)
	}
	if line := joinFields(statsFields(v), 300); !strings.HasSuffix(line, " fleet=3") {
		t.Errorf("stats line %q", line)
	}

	// Agreement: no red, no drift field.
	v.stats.Fleet = testFleetSnapshot(v.now, 2)
	got = strings.Join(screen(v, 30, 100, false, ""), "\n")
	if !strings.Contains(got, "fleet     2 replicas, one config") || strings.Contains(got, "DRIFT") {
		t.Errorf("agreeing fleet:\n%s", got)
	}
	if line := joinFields(statsFields(v), 300); !strings.Contains(line, "fleet=2") || strings.Contains(line, "drift=") {
		t.Errorf("stats line %q", line)
	}

	// A big fleet: the drifting replica among twenty is still shown.
	v.stats.Fleet = testFleetSnapshot(v.now, 20, "replica-t")
	got = strings.Join(screen(v, 40, 100, false, ""), "\n")
	if !strings.Contains(got, "! replica-t") || !strings.Contains(got, "… 15 more replicas") {
		t.Errorf("big fleet:\n%s", got)
	}
	// Still fits every size.
	for _, size := range [][2]int{{24, 80}, {13, 40}, {5, 30}} {
		if out := screen(v, size[0], size[1], false, "q"); len(out) > size[0] {
			t.Errorf("%v: %d lines", size, len(out))
		}
	}
}
