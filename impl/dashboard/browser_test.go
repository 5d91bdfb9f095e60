package dashboard

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/testenv"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/frame"
	"github.com/bun13/bun13/impl/store/fleet/heartbeat"
)

var update = flag.Bool("update", false, "also write the browser screenshots to testdata/")

// chromium finds the browser: BUN13_CHROMIUM, else chromium on PATH.
func chromium(t *testing.T) string {
	if p := os.Getenv("BUN13_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Missing(t, "chromium", "apt-get install -y chromium")
	return ""
}

// artifactDir is where screenshots go: $BUN13_ARTIFACTS or a temp dir.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("BUN13_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func TestDashboardBrowser(t *testing.T) {
	exe := chromium(t)
	fl, _, _ := testFleet(t)
	e := newEnv(t, Options{
		Fleet:       &heartbeat.View{Store: fl, Self: "r2", TTL: time.Hour},
		Interval:    100 * time.Millisecond,
		History:     60, // full after 6 s: the screenshot shows a whole sparkline
		RegistryURL: config.DefaultRegistry,
		Status: func() Status {
			return Status{
				DNS:    &DNSStatus{Hits: 9412, NegativeHits: 3, Misses: 211, Lookups: 198, Entries: 37},
				Uplink: &UplinkStatus{URL: "https://registry.npmjs.org", Up: true, LastSuccess: time.Now().Add(-2 * time.Second), Requests: 211},
			}
		},
	})

	// Registry traffic with a shape, so the sparkline has something to
	// draw: a slow wave of requests, a few errors and refusals.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			n := 2 + int(2*math.Sin(float64(i)/12)+float64(i%7)/3)
			for k := range n {
				d := time.Duration(800+(k*i)%3000) * time.Microsecond
				e.metrics.Request("GET", "/:name", 200, d)
			}
			if i%40 == 0 {
				e.metrics.Request("GET", "/:name", 404, time.Millisecond)
			}
			if i%90 == 0 {
				e.metrics.Request("PUT", "/:name", 429, time.Millisecond)
				e.metrics.RateLimited("publish")
			}
		}
	}()

	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	defer cancel()
	bctx, cancel := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	// The token travels in the fragment, as a link printed by the
	// registry would carry it.
	url := e.srv.URL + Prefix + "#token=" + strings.TrimPrefix(adminToken, "Bearer ")
	want := e.store.Load()
	t0 := time.Now()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("browser started in %v", time.Since(t0))
	t0 = time.Now()
	if err := chromedp.Do(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	t.Logf("navigated in %v", time.Since(t0))
	if err := chromedp.Do(bctx,
		chromedp.WaitVisible(chromedp.CSS("#bytes .cell")),
		waitText("#f-flags", want.FeatureFlags.Hex()),
		waitText("#who", "root · admin"),
		waitText("#verified", "✓ verified"),
		waitText("#f-url", "https://registry.npmjs.org"),
	); err != nil {
		t.Fatalf("page did not show the config: %v", err)
	}

	// The fleet table: three replicas, r3 highlighted as drifting (its
	// row's background is the drift colour, not the others').
	if err := chromedp.Do(bctx,
		chromedp.WaitVisible(chromedp.CSS(`#fleet-rows tr[data-drift="true"]`)),
		waitText("#fleet-note", "3 replicas · 1 drifting"),
	); err != nil {
		t.Fatalf("page did not show the fleet: %v", err)
	}
	probe, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`(() => {
		const rows = [...document.querySelectorAll('#fleet-rows tr')];
		const bg = (r) => getComputedStyle(r.querySelector('td')).backgroundColor;
		return rows.map((r) => r.dataset.id + '|' + (r.dataset.drift || '') + '|' + bg(r) + '|' + r.textContent);
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if len(probe) != 3 {
		t.Fatalf("fleet rows %q", probe)
	}
	plain := strings.Split(probe[0], "|")[2]
	for _, row := range probe {
		f := strings.SplitN(row, "|", 4)
		drift := f[0] == "r3"
		if (f[1] == "true") != drift || (f[2] != plain) != drift || strings.Contains(f[3], "drift") != drift {
			t.Errorf("fleet row %q: drift should be highlighted on r3 only (plain background %s)", row, plain)
		}
	}
	if !strings.Contains(probe[1], "this replica") || !strings.Contains(probe[2], "v1.5.0-rc1") {
		t.Errorf("fleet rows %q", probe)
	}

	// Another client flips DEBUG; the page must show it within a second.
	other := e.dial(adminToken)
	other.snapshot(config.Config{})
	start := time.Now()
	other.send(frame.Frame{Type: frame.TypeFlagsEnable, Offset: config.OffsetFeatureFlags, Value: uint64(config.Debug)})
	next := want
	next.FeatureFlags |= config.Debug
	wctx, wcancel := context.WithTimeout(bctx, time.Second)
	err = chromedp.Do(wctx,
		waitText("#f-flags", next.FeatureFlags.Hex()),
		chromedp.WaitVisible(chromedp.CSS(`#flag-0 .switch[aria-checked="true"]`)),
	)
	wcancel()
	if err != nil {
		t.Fatalf("page did not show DEBUG within 1s: %v", err)
	}
	t.Logf("page updated %v after the other client's frame", time.Since(start).Round(time.Millisecond))

	// The page's own toggles speak the frame protocol: turn TRACE_CONFIG
	// on from the browser and see the Store follow.
	if err := chromedp.Do(bctx,
		chromedp.WaitEnabled(chromedp.CSS("#flag-1 .switch")),
		chromedp.Click(chromedp.CSS("#flag-1 .switch")),
	); err != nil {
		t.Fatal(err)
	}
	eventually(t, "TRACE_CONFIG from the browser", func() bool { return e.store.Enabled(config.TraceConfig) })
	if err := chromedp.Do(bctx,
		waitText("#verified", "✓ verified"),
		chromedp.WaitVisible(chromedp.CSS(`#flag-1 .switch[aria-checked="true"]`)),
		chromedp.Click(chromedp.CSS("#env summary")),
		waitText("#env-text", "BUN_CONFIG_FEATURE_FLAGS"),
		// Let the sparkline fill and the highlight of the change fade.
		chromedp.Sleep(3*time.Second),
	); err != nil {
		t.Fatal(err)
	}

	dir := artifactDir(t)
	for _, scheme := range []string{"light", "dark"} {
		_, err := chromedp.Call(bctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		if err != nil {
			t.Fatal(err)
		}
		// One stats tick redraws the canvas in the scheme's colours.
		if err := chromedp.Do(bctx, chromedp.Sleep(300*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		name := "dashboard.png"
		if scheme == "dark" {
			name = "dashboard-dark.png"
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
		if *update {
			if err := os.WriteFile(filepath.Join("testdata", name), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// waitText waits until the element's text contains want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		var got string
		for {
			var err error
			got, err = chromedp.Text(chromedp.CSS(sel))(ctx, tg)
			if err != nil {
				return chromedp.Void{}, err
			}
			if strings.Contains(got, want) {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, fmt.Errorf("%s shows %q, want %q: %w", sel, got, want, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}
