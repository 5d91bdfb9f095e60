package top

import (
	"strconv"
	"strings"
	"time"

	"github.com/bun13/bun13/impl/store/fleet/heartbeat"
)

// maxFleetRows is how many replicas the screen lists; more are summed up
// on one line, drifting ones first so that none is hidden.
const maxFleetRows = 6

// fleetLines is the fleet section: a summary line (the ConfigDrift
// alert's question, answered live), then one line per replica with the
// drifting ones marked. None without a fleet view.
func fleetLines(f *heartbeat.Snapshot, now time.Time) []line {
	if f == nil {
		return nil
	}
	var out []line
	var l line
	label(&l, "fleet")
	l.add(plural(len(f.Replicas), "replica"), sgrBold)
	switch {
	case f.Drifting > 0:
		l.add(", "+plural(f.Drifting, "replica")+" DRIFTING", sgrRed)
		l.add(" from "+f.Common, sgrDim)
	case len(f.Replicas) > 0:
		l.add(", one config", sgrGreen)
	}
	if f.Error != "" {
		l.add("  store unreachable: "+f.Error, sgrAmber)
	}
	out = append(out, l)
	// Drifting replicas first, then the others, each in ID order.
	rs := make([]heartbeat.Member, 0, len(f.Replicas))
	for _, drift := range []bool{true, false} {
		for _, r := range f.Replicas {
			if r.Drift == drift {
				rs = append(rs, r)
			}
		}
	}
	shown := rs
	if len(rs) > maxFleetRows {
		shown = rs[:maxFleetRows-1]
	}
	for _, r := range shown {
		var l line
		mark, sgr := "  ", ""
		if r.Drift {
			mark, sgr = "! ", sgrRed
		}
		id := r.ID
		if r.Self {
			id += "*"
		}
		l.add(mark+pad(id, 14)+" "+pad(r.Version, 12)+" "+r.Hex, sgr)
		if r.Drift {
			l.add(" DRIFT", sgrRed+";"+sgrBold)
		}
		l.add("  seen "+ago(now, r.Seen), sgrDim)
		out = append(out, l)
	}
	if len(shown) < len(rs) {
		out = append(out, line{{"  … " + plural(len(rs)-len(shown), "more replica"), sgrDim}})
	}
	return out
}

// fleetFields are the "none" mode's fields for the fleet: alerts (drift=ID,ID
// when some replicas drift, fleet-store=unreachable), which go near the
// front of the line, and fleet=N, which goes last.
func fleetFields(f *heartbeat.Snapshot) (alerts, info []string) {
	if f == nil {
		return nil, nil
	}
	var ids []string
	for _, r := range f.Replicas {
		if r.Drift {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) > 0 {
		alerts = append(alerts, "drift="+strings.Join(ids, ","))
	}
	if f.Error != "" {
		alerts = append(alerts, "fleet-store=unreachable")
	}
	return alerts, []string{"fleet=" + strconv.Itoa(len(f.Replicas))}
}

func pad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := max(0, now.Sub(t))
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m ago"
	}
	return strconv.Itoa(int(d/time.Hour)) + "h ago"
}
