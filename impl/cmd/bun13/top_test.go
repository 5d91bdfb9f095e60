package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/testenv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/dashboard"
	"github.com/bun13/bun13/impl/metrics"
	"github.com/bun13/bun13/impl/store/fleet"
	"github.com/bun13/bun13/impl/store/fleet/heartbeat"
)

// testFleet is three replicas heartbeating, replica-c with DEBUG toggled
// against the others' c.
func testFleet(t *testing.T, c config.Config) *fleet.Memory {
	t.Helper()
	st := &fleet.Memory{}
	other := c
	other.FeatureFlags ^= config.Debug
	for i, cfg := range []config.Config{c, c, other} {
		r := fleet.Replica{ID: "replica-" + string(rune('a'+i)), Version: "test", Config: [fleet.ConfigSize]byte(cfg.Bytes()), Started: time.Now()}
		if err := st.Beat(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// topServer is a dashboard behind a loopback server, with some registry
// traffic on its metrics, for bun13 top to watch.
type topServer struct {
	url   string
	store *config.Store
	reg   *prometheus.Registry
}

func newTopServer(t *testing.T, c config.Config) *topServer {
	t.Helper()
	store, err := config.NewStore(c)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	// Steady traffic with an error now and then, until the test ends.
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for k := range 3 + i%5 {
				m.Request("GET", "/:name", 200, time.Duration(1+k)*time.Millisecond)
			}
			if i%10 == 0 {
				m.Request("GET", "/:name", 503, 30*time.Millisecond)
				m.AuthFailure("expired")
			}
		}
	}()
	d, err := dashboard.New(ctx, dashboard.Options{
		Store:      store,
		Fleet:      &heartbeat.View{Store: testFleet(t, c), Self: "replica-a"},
		Gatherer:   reg,
		Registerer: reg,
		Logger:     slog.New(slog.DiscardHandler),
		Status: func() dashboard.Status {
			return dashboard.Status{
				DNS:    &dashboard.DNSStatus{Hits: 97, Misses: 3, Entries: 12},
				Uplink: &dashboard.UplinkStatus{URL: "https://registry.npmjs.org", Up: true, Requests: 3},
			}
		},
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	t.Cleanup(cancel)
	return &topServer{url: srv.URL, store: store, reg: reg}
}

// value reads one sample of the server's metrics, 0 when absent.
func (s *topServer) value(t *testing.T, name, labels string) float64 {
	t.Helper()
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			if strings.Join(ls, ",") == labels {
				if g := m.GetGauge(); g != nil {
					return g.GetValue()
				}
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTopNoneMode(t *testing.T) {
	srv := newTopServer(t, config.Default())
	out := &regLogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := &env{stdin: strings.NewReader(""), stdout: out, stderr: &regLogBuffer{},
		lookup: func(string) (string, bool) { return "", false }, ctx: ctx}
	done := make(chan int, 1)
	// The output is not a terminal: plain lines whatever the config says.
	go func() { done <- e.main([]string{"top", "--url", srv.url}) }()
	waitUntil(t, "three stats lines", 10*time.Second, func() bool { return strings.Count(out.String(), "req/s=") >= 3 })
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("top exited %d", code)
	}
	got := out.String()
	if strings.Contains(got, "\x1b") {
		t.Errorf("escape codes in none mode: %q", got)
	}
	for _, want := range []string{`config flags=0x000000b8`, `req/s=[1-9]`, `p99=[0-9.]+ms`, `5xx=[1-9]`, `dns=97\.0%`, `drift=replica-c req/s=`} {
		if !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
		if n := len([]rune(l)); n > 80 {
			t.Errorf("line of %d runes, config allows 80: %q", n, l)
		}
	}
}

func TestTopUsage(t *testing.T) {
	_, stderr, code := cliRun(t, "", nil, "", "top", "--terminal", "fancy;24x80")
	if code != 2 || !strings.Contains(stderr, "--terminal") {
		t.Errorf("bad --terminal: %d %q", code, stderr)
	}
	_, stderr, code = cliRun(t, "", nil, "", "top", "--url", "http://127.0.0.1:1", "extra")
	if code != 2 {
		t.Errorf("extra argument: %d %q", code, stderr)
	}
	// Nothing listens on port 1: a clear error, not a hang.
	_, stderr, code = cliRun(t, "", nil, "", "top", "--url", "http://127.0.0.1:1")
	if code != 2 || !strings.Contains(stderr, "cannot reach") {
		t.Errorf("unreachable: %d %q", code, stderr)
	}
}

// tmuxPane runs a shell script in a detached tmux session of a fixed
// size, on a tmux server of its own.
type tmuxPane struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T, cols, rows int, script string) *tmuxPane {
	t.Helper()
	testenv.LookPath(t, "tmux", "apt-get install -y tmux")
	p := &tmuxPane{t: t, socket: fmt.Sprintf("bun13-top-%d-%d", os.Getpid(), time.Now().UnixNano())}
	p.run("-f", "/dev/null", "new-session", "-d", "-s", "top", "-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows),
		"sh", "-c", script)
	t.Cleanup(func() { exec.Command("tmux", "-L", p.socket, "kill-server").Run() })
	return p
}

func (p *tmuxPane) run(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", p.socket}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

func (p *tmuxPane) capture() string { return p.run("capture-pane", "-p", "-t", "top") }

// waitScreen waits until the pane shows every string in want.
func (p *tmuxPane) waitScreen(want ...string) string {
	p.t.Helper()
	var screen string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		screen = p.capture()
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(screen, w)
		}
		if ok {
			return screen
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("pane never showed %q; last screen:\n%s", want, screen)
	return ""
}

// childPID is the process the pane's shell runs (bun13).
func (p *tmuxPane) childPID() int {
	p.t.Helper()
	sh := strings.TrimSpace(p.run("display-message", "-p", "-t", "top", "#{pane_pid}"))
	var pid int
	waitUntil(p.t, "bun13 to start", 10*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join("/proc", sh, "task", sh, "children"))
		if err != nil {
			return false
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return false
		}
		pid, err = strconv.Atoi(f[0])
		return err == nil
	})
	return pid
}

// buildBun13 builds the command into a temp dir.
func buildBun13(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bun13")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// topScript runs bun13 top in the pane, then reports how it exited and
// the terminal's state the moment after: what a shell would inherit.
func topScript(bin, url string, extra ...string) string {
	return fmt.Sprintf("%s top --url %s %s; echo EXIT=$?; stty -a | tr -s ' ;\\n' '\\n\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; echo; echo STTY-DONE; sleep 60",
		bin, url, strings.Join(extra, " "))
}

var (
	cookedRE = regexp.MustCompile(`(^|\s)icanon(\s|$)`)
	echoRE   = regexp.MustCompile(`(^|\s)echo(\s|$)`)
)

func checkRestored(t *testing.T, screen string) {
	t.Helper()
	if !strings.Contains(screen, "EXIT=0") {
		t.Errorf("bun13 top did not exit 0:\n%s", screen)
	}
	if !cookedRE.MatchString(screen) || !echoRE.MatchString(screen) {
		t.Errorf("terminal not back in cooked mode with echo:\n%s", screen)
	}
}

// TestTopTmux runs the built command in real terminals: tmux panes of a
// fixed size. One build serves every case.
func TestTopTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	testenv.LookPath(t, "tmux", "apt-get install -y tmux")
	bin := buildBun13(t)
	t.Run("raw", func(t *testing.T) { testTopTmuxRaw(t, bin) })
	t.Run("signals", func(t *testing.T) { testTopTmuxSignals(t, bin) })
	t.Run("cooked", func(t *testing.T) { testTopTmuxCooked(t, bin) })
}

func testTopTmuxRaw(t *testing.T, bin string) {
	c := config.Default()
	c.TerminalMode, c.Rows, c.Cols = config.Raw, 24, 80
	srv := newTopServer(t, c)
	// The pane is smaller than the config's 24x80: the view is clipped.
	p := newTmux(t, 72, 20, topScript(bin, srv.url))
	screen := p.waitScreen("bun13 top", "requests", "5xx", "p99", "config", "q quit", "1 replica DRIFTING", "! replica-c")
	t.Logf("screen:\n%s", screen)
	lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
	if len(lines) != 20 || !strings.Contains(lines[19], "q quit") {
		t.Errorf("want 20 lines with the key help last, got %d:\n%s", len(lines), screen)
	}
	for _, l := range lines {
		if n := len([]rune(l)); n > 72 {
			t.Errorf("line wider than the pane: %d %q", n, l)
		}
	}
	if !strings.Contains(screen, strings.Repeat("─", 72)) {
		t.Errorf("rules are not the pane's width:\n%s", screen)
	}
	waitUntil(t, "the raw session to be announced", 5*time.Second, func() bool {
		return srv.value(t, "bun_terminal_sessions", "mode=raw") == 1
	})

	// A config change shows up live.
	srv.store.Update(func(c config.Config) (config.Config, error) {
		c.FeatureFlags |= config.Debug
		return c, nil
	})
	p.waitScreen("DEBUG COMPRESSION")

	// r refreshes, q quits; the shell finds its terminal as it left it.
	p.run("send-keys", "-t", "top", "r")
	p.run("send-keys", "-t", "top", "q")
	screen = p.waitScreen("STTY-DONE")
	checkRestored(t, screen)
	waitUntil(t, "the session to end", 5*time.Second, func() bool {
		return srv.value(t, "bun_terminal_sessions", "mode=raw") == 0
	})
	if n := srv.value(t, "bun_terminal_mode_leaks_total", ""); n != 0 {
		t.Errorf("a clean exit counted as %v leaks", n)
	}
}

func testTopTmuxSignals(t *testing.T, bin string) {
	c := config.Default()
	c.TerminalMode = config.Raw
	srv := newTopServer(t, c)

	// SIGTERM (and SIGINT, the same path) restore the terminal.
	p := newTmux(t, 100, 30, topScript(bin, srv.url))
	p.waitScreen("requests", "q quit")
	waitUntil(t, "the raw session", 5*time.Second, func() bool { return srv.value(t, "bun_terminal_sessions", "mode=raw") == 1 })
	if err := syscall.Kill(p.childPID(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	checkRestored(t, p.waitScreen("STTY-DONE"))
	if n := srv.value(t, "bun_terminal_mode_leaks_total", ""); n != 0 {
		t.Errorf("SIGTERM counted as %v leaks", n)
	}

	// SIGKILL cannot be caught: the terminal stays raw, and the server
	// counts the leak that TerminalModeLeak alerts on.
	p2 := newTmux(t, 100, 30, topScript(bin, srv.url))
	p2.waitScreen("requests", "q quit")
	waitUntil(t, "the raw session", 5*time.Second, func() bool { return srv.value(t, "bun_terminal_sessions", "mode=raw") == 1 })
	if err := syscall.Kill(p2.childPID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	screen := p2.waitScreen("STTY-DONE")
	if !strings.Contains(screen, "-icanon") {
		t.Errorf("after SIGKILL the terminal should still be raw (the leak the alert is about):\n%s", screen)
	}
	waitUntil(t, "the leak to be counted", 5*time.Second, func() bool {
		return srv.value(t, "bun_terminal_mode_leaks_total", "") == 1
	})
}

func testTopTmuxCooked(t *testing.T, bin string) {
	srv := newTopServer(t, config.Default()) // cooked 24x80
	p := newTmux(t, 100, 30, topScript(bin, srv.url))
	screen := p.waitScreen("requests", "type q⏎ to quit")
	t.Logf("screen:\n%s", screen)
	waitUntil(t, "the cooked session to be announced", 5*time.Second, func() bool {
		return srv.value(t, "bun_terminal_sessions", "mode=cooked") == 1
	})
	for _, l := range strings.Split(screen, "\n") {
		if n := len([]rune(l)); n > 80 {
			t.Errorf("line wider than the config's 80 columns: %d %q", n, l)
		}
	}
	p.run("send-keys", "-t", "top", "q", "Enter")
	checkRestored(t, p.waitScreen("STTY-DONE"))
}
