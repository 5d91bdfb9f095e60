package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func hostPort(t *testing.T, url string) string {
	t.Helper()
	hp, ok := strings.CutPrefix(url, "http://")
	if !ok {
		t.Fatalf("url %q", url)
	}
	return hp
}

// TestHealthCommand: bun13 health exits 0 with the readiness JSON against
// a ready server, 1 when the lockfile on disk is invalid (the config
// check) or nothing listens, 2 on a bad address; --live probes liveness,
// which an invalid lockfile does not affect.
func TestHealthCommand(t *testing.T) {
	s := serveRegistry(t)
	addr := hostPort(t, s.url)
	out, errs, code := cliRun(t, "", nil, "", "health", "--addr", addr)
	if code != 0 {
		t.Fatalf("health: %d %s", code, errs)
	}
	var body struct {
		Ready  bool
		Checks []struct {
			Name string
			OK   bool
		}
	}
	if err := json.Unmarshal([]byte(out), &body); err != nil || !body.Ready || len(body.Checks) != 2 {
		t.Fatalf("health output %q: %v", out, err)
	}
	// The address comes from BUN13_REGISTRY_ADDR too, as serve reads it;
	// a wildcard host there means the loopback.
	_, port, _ := net.SplitHostPort(addr)
	if _, errs, code := cliRun(t, "", map[string]string{"BUN13_REGISTRY_ADDR": "0.0.0.0:" + port}, "", "health"); code != 0 {
		t.Fatalf("health from BUN13_REGISTRY_ADDR: %d %s", code, errs)
	}

	// A torn lockfile on disk: not ready, the config check says why.
	lock := filepath.Join(s.dir, "bun.lockb")
	good, err := os.ReadFile(lock)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lock, good[:40], 0o644); err != nil {
		t.Fatal(err)
	}
	// The live-config watcher sees the file within a poll; wait for it.
	healthUntil := func(want int) (string, int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, errs, code := cliRun(t, "", nil, "", "health", "--addr", addr)
			if code == want || time.Now().After(deadline) {
				return errs, code
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	errs, code = healthUntil(1)
	if code != 1 || !strings.Contains(errs, "503") || !strings.Contains(errs, `"name":"config"`) {
		t.Fatalf("health with a torn lockfile: %d %s", code, errs)
	}
	if _, errs, code := cliRun(t, "", nil, "", "health", "--live", "--addr", addr); code != 0 {
		t.Fatalf("health --live: %d %s", code, errs)
	}
	if err := os.WriteFile(lock, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if errs, code := healthUntil(0); code != 0 {
		t.Fatalf("health after the lockfile is restored: %d %s", code, errs)
	}

	s.stop()
	if _, errs, code := cliRun(t, "", nil, "", "health", "--addr", addr, "--timeout", "2s"); code != 1 || !strings.Contains(errs, "unhealthy") {
		t.Fatalf("health with no server: %d %s", code, errs)
	}
	if _, _, code := cliRun(t, "", nil, "", "health", "--addr", "no-port"); code != 2 {
		t.Fatalf("health --addr no-port: %d, want 2", code)
	}
}

func TestProbeAddr(t *testing.T) {
	for in, want := range map[string]string{
		":4873": "127.0.0.1:4873", "0.0.0.0:1": "127.0.0.1:1", "[::]:2": "[::1]:2",
		"10.0.0.5:3": "10.0.0.5:3", "localhost:4": "localhost:4",
	} {
		if got, err := probeAddr(in); err != nil || got != want {
			t.Errorf("probeAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Path: "github.com/bun13/bun13", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"}}}
	v := readBuildVersion(bi, true)
	want := buildVersion{Version: "v1.2.3", Commit: "0123456789abcdef", Time: "2026-01-02T03:04:05Z", Modified: true, Go: "go1.99.1", Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if v != want {
		t.Fatalf("readBuildVersion = %+v, want %+v", v, want)
	}
	if v := readBuildVersion(nil, false); v.Version != "(unknown)" || v.Go != runtime.Version() {
		t.Fatalf("without build info: %+v", v)
	}
	out, errs, code := cliRun(t, "", nil, "", "version")
	if code != 0 || !strings.HasPrefix(out, "bun13 ") || !strings.Contains(out, runtime.Version()) {
		t.Fatalf("version: %d %q %s", code, out, errs)
	}
	out, _, code = cliRun(t, "", nil, "", "version", "--json")
	var j buildVersion
	if code != 0 || json.Unmarshal([]byte(out), &j) != nil || j.Go != runtime.Version() {
		t.Fatalf("version --json: %d %q", code, out)
	}
}

func TestHealthVersionHelp(t *testing.T) {
	for _, cmd := range []string{"health", "version"} {
		out, errs, code := cliRun(t, "", nil, "", cmd, "--help")
		if code != 0 || !strings.Contains(out, "usage: bun13 "+cmd) {
			t.Errorf("%s --help: %d %q %q", cmd, code, out, errs)
		}
	}
}
