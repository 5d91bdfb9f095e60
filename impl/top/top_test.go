package top

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/dashboard"
)

func testView() view {
	p50, p99, ratio, read := 0.00092, 0.0246, 0.978, 1e-9
	return view{
		url: "http://127.0.0.1:4873", user: "root", admin: true,
		cfg: config.Default(), haveCfg: true, state: "live", mode: config.Raw,
		now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		stats: &dashboard.Stats{
			Metrics: true, Window: 60, QuantileWindow: 10,
			Requests:  dashboard.Counter{Total: 12345, Rate: 237, Recent: 9000},
			P50:       &p50,
			P99:       &p99,
			Errors5xx: dashboard.Counter{Total: 3, Recent: 1},
			DNS:       &dashboard.DNSStats{DNSStatus: dashboard.DNSStatus{Hits: 978, Misses: 22, Entries: 37}, HitRatio: &ratio},
			Uplink:    &dashboard.UplinkStatus{URL: "https://registry.npmjs.org", Up: true},
			Clients:   2, Terminals: map[string]int{"raw": 1},
			ConfigReadSeconds: &read,
			History:           []float64{0, 10, 20, 40, 80, 40, 20},
		},
	}
}

var sgrRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestTopScreenFits(t *testing.T) {
	v := testView()
	for _, size := range [][2]int{{24, 80}, {20, 72}, {40, 200}, {5, 30}, {1, 10}, {13, 40}} {
		rows, cols := size[0], size[1]
		plain := screen(v, rows, cols, false, "q quit")
		colored := screen(v, rows, cols, true, "q quit")
		if len(plain) > rows {
			t.Errorf("%dx%d: %d lines", rows, cols, len(plain))
		}
		for i, l := range plain {
			if n := utf8.RuneCountInString(l); n > cols {
				t.Errorf("%dx%d: line %d has %d runes: %q", rows, cols, i, n, l)
			}
			if strings.Contains(l, "\x1b") {
				t.Errorf("%dx%d: escape code without colour: %q", rows, cols, l)
			}
			if got := sgrRE.ReplaceAllString(colored[i], ""); got != l {
				t.Errorf("%dx%d: colour changes the text:\n%q\n%q", rows, cols, got, l)
			}
		}
		if rows > 1 && plain[len(plain)-1] != "q quit"[:min(6, cols)] {
			t.Errorf("%dx%d: last line %q, want the help", rows, cols, plain[len(plain)-1])
		}
	}
}

func TestTopScreenContent(t *testing.T) {
	got := strings.Join(screen(testView(), 24, 80, false, "q quit · r refresh"), "\n")
	for _, want := range []string{
		"bun13 top  http://127.0.0.1:4873  root (admin)", "live  03:04:05",
		"requests  237/s   p50 920µs   p99 25ms   9,000 in 60s",
		"5xx       1 in 60s (3 total)", "97.8% hits, 37 entries", "uplink    up registry.npmjs.org",
		"config    01 5e9b6bd5 000000b8 01 18 50 00",
		"version 1   registry 0x5e9b6bd5   terminal cooked 24x80",
		"flags     0x000000b8 COMPRESSION DNS_CACHE RATE_LIMIT METRICS",
		"2 clients · 1 terminal (1 raw)   config read 1.0ns",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("screen lacks %q:\n%s", want, got)
		}
	}
	// Before the first sample and config: placeholders, no panic.
	empty := strings.Join(screen(view{state: "connecting"}, 24, 80, false, ""), "\n")
	if !strings.Contains(empty, "waiting for the first sample") || !strings.Contains(empty, "waiting for the config") {
		t.Errorf("empty screen:\n%s", empty)
	}
}

// TestTopFileBanner: while the lockfile on disk is invalid, the screen
// says so with its code and offset, and the plain line carries file=CODE@OFF;
// a healthy file shows neither.
func TestTopFileBanner(t *testing.T) {
	v := testView()
	off := 16
	v.stats.ConfigFile = &dashboard.FileStatus{Path: "bun.lockb", Error: "header-checksum", Offset: &off}
	got := strings.Join(screen(v, 24, 80, false, ""), "\n")
	if !strings.Contains(got, "! lockfile invalid: header-checksum at offset 16") || !strings.Contains(got, "last good config") {
		t.Errorf("no banner for an invalid file:\n%s", got)
	}
	if line := joinFields(statsFields(v), 200); !strings.Contains(line, "file=header-checksum@16") {
		t.Errorf("stats line lacks the file state: %q", line)
	}
	v.stats.ConfigFile = &dashboard.FileStatus{Path: "bun.lockb", Valid: true, Applied: true}
	got = strings.Join(screen(v, 24, 80, false, ""), "\n")
	if strings.Contains(got, "lockfile") {
		t.Errorf("banner for a healthy file:\n%s", got)
	}
	if line := joinFields(statsFields(v), 200); strings.Contains(line, "file=") {
		t.Errorf("file state for a healthy file: %q", line)
	}
}

func TestTopSpark(t *testing.T) {
	got := spark([]float64{0, 4, 8, 16}, 6, 2)
	// The top is 1.2 × the peak of 16: 16 eighths of height stand for
	// 19.2, so 4, 8 and 16 are 3, 7 and 13 eighths.
	want := []string{
		"     ▅",
		"  ▁▃▇█",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("spark (-want +got):\n%s", d)
	}
	// Wider history than the chart: the newest samples win.
	if got := spark([]float64{100, 0, 0}, 2, 1); got[0] != "▁▁" {
		t.Errorf("newest samples: %q", got)
	}
	if got := spark(nil, 3, 1); got[0] != "   " {
		t.Errorf("no history: %q", got)
	}
}

func TestTopFields(t *testing.T) {
	v := testView()
	line := joinFields(statsFields(v), 80)
	if want := "03:04:05 req/s=237 p50=920µs p99=25ms 5xx=1 4xx=0 429=0 auth=0 dns=97.8%"; line != want {
		t.Errorf("stats line\n got %q\nwant %q", line, want)
	}
	if line := joinFields(statsFields(v), 200); !strings.HasSuffix(line, "uplink=up") {
		t.Errorf("wide stats line %q", line)
	}
	// Whole fields only, and a field longer than the line is cut.
	if got := joinFields([]string{"abc", "defgh", "ij"}, 8); got != "abc" {
		t.Errorf("joinFields = %q", got)
	}
	if got := joinFields([]string{"abcdefgh"}, 4); got != "abcd" {
		t.Errorf("joinFields = %q", got)
	}
	cfg := joinFields(configFields(v), 200)
	if !strings.Contains(cfg, "config flags=0x000000b8 version=1 registry=0x5e9b6bd5 terminal=cooked;24x80 crc=0x") {
		t.Errorf("config line %q", cfg)
	}
}

func TestTopFormats(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		got, want string
	}{
		{fmtSeconds(nil), "–"},
		{fmtSeconds(f(4e-10)), "0.4ns"},
		{fmtSeconds(f(0.00092)), "920µs"},
		{fmtSeconds(f(0.00246)), "2.46ms"},
		{fmtSeconds(f(0.25)), "250ms"},
		{fmtSeconds(f(2.5)), "2.50s"},
		{fmtRate(0), "0"},
		{fmtRate(2.345), "2.3"},
		{fmtRate(1234567), "1,234,567"},
		{fmtCount(-1234), "-1,234"},
		{fmtWindow(60), "60s"},
		{fmtWindow(120), "2m"},
		{host("https://registry.npmjs.org/some/path"), "registry.npmjs.org"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestTopPickMode(t *testing.T) {
	for _, tc := range []struct {
		cfg           config.Mode
		inTTY, outTTY bool
		want          config.Mode
	}{
		{config.Raw, true, true, config.Raw},
		{config.Raw, false, true, config.Cooked}, // keys need a terminal
		{config.Raw, true, false, config.None},   // escape codes need one
		{config.Cooked, false, true, config.Cooked},
		{config.Cooked, true, false, config.None},
		{config.None, true, true, config.None},
	} {
		c := config.Default()
		c.TerminalMode = tc.cfg
		s := &session{cfg: c, inTTY: tc.inTTY, outTTY: tc.outTTY}
		if got := s.pickMode(); got != tc.want {
			t.Errorf("%v in=%v out=%v: %v, want %v", tc.cfg, tc.inTTY, tc.outTTY, got, tc.want)
		}
	}
	// An override beats the server's config.
	s := &session{cfg: config.Default(), override: true, oMode: config.Raw, oRows: 10, oCols: 40, inTTY: true, outTTY: true}
	if m, r, c := s.terminal(); m != config.Raw || r != 10 || c != 40 {
		t.Errorf("override: %v %d %d", m, r, c)
	}
}

func TestTopWSURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:4873":         "ws://127.0.0.1:4873/_dashboard/ws",
		"https://reg.example/npm/":      "wss://reg.example/npm/_dashboard/ws",
		"http://127.0.0.1:4873/?x=1#f":  "ws://127.0.0.1:4873/_dashboard/ws",
		"ftp://127.0.0.1":               "",
		"127.0.0.1:4873":                "",
		"http://[::1]:4873/_dashboard/": "ws://[::1]:4873/_dashboard/_dashboard/ws",
	} {
		got, err := wsURL(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("wsURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
