package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/dashboard"
	"github.com/bun13/bun13/impl/store/fleet"
	"github.com/bun13/bun13/impl/store/fleet/heartbeat"
)

// fleetServer answers /-/ping and the dashboard (config and fleet) of a
// registry whose fleet store holds st.
func fleetServer(t *testing.T, c config.Config, st fleet.Store) string {
	t.Helper()
	store, err := config.NewStore(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d, err := dashboard.New(ctx, dashboard.Options{Store: store, Fleet: &heartbeat.View{Store: st, Self: "replica-a"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/ping", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) })
	d.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestStatusFleet(t *testing.T) {
	dir := t.TempDir()
	cliRun(t, dir, nil, "", "config", "init")
	c := config.Default()

	// Three replicas, replica-c on another config: status names it and
	// exits 1, though this lockfile agrees with the replica that answered.
	url := fleetServer(t, c, testFleet(t, c))
	out, errs, code := cliRun(t, dir, nil, "", "status", "--registry", url)
	if code != 1 || !strings.Contains(out, "agrees with this lockfile") ||
		!strings.Contains(out, "fleet     3 replicas, 1 DRIFTING from the common config 015e9b6bd5000000b801185000") ||
		!regexp.MustCompile(`(?m)^  DRIFT\s+replica-c\s+test\s+015e9b6bd5000000b901185000\s+DEBUG\|`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^\s+replica-a \(answered\)\s+test\s+015e9b6bd5000000b801185000`).MatchString(out) {
		t.Errorf("status, drifting fleet: %d %q\n%s", code, errs, out)
	}
	// The drifting replica is listed first.
	if i, j := strings.Index(out, "replica-c"), strings.Index(out, "replica-a"); i < 0 || j < 0 || i > j {
		t.Errorf("drifting replica not first:\n%s", out)
	}
	out, _, code = cliRun(t, dir, nil, "", "status", "--registry", url, "--json")
	var rep statusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 {
		t.Fatalf("--json: %d %v\n%s", code, err, out)
	}
	if f := rep.Server.Fleet; f == nil || f.Drifting != 1 || len(f.Replicas) != 3 || !f.Replicas[2].Drift || f.Replicas[2].ID != "replica-c" {
		t.Errorf("--json fleet %+v", rep.Server.Fleet)
	}

	// One config: exit 0.
	one := &fleet.Memory{}
	for _, id := range []string{"replica-a", "replica-b"} {
		one.Beat(context.Background(), fleet.Replica{ID: id, Version: "test", Config: [fleet.ConfigSize]byte(c.Bytes())})
	}
	out, errs, code = cliRun(t, dir, nil, "", "status", "--registry", fleetServer(t, c, one))
	if code != 0 || !strings.Contains(out, "fleet     2 replicas, all on config 015e9b6bd5000000b801185000") || strings.Contains(out, "DRIFT") {
		t.Errorf("status, agreeing fleet: %d %q\n%s", code, errs, out)
	}
}
