package headers

// Tests written against the mutants gremlins left alive (fuzz/README.md,
// "Mutation score"): exact edges of each header's grammar and range.
// Helpers carry an mt prefix so they cannot collide with the package's
// other test files.

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
)

func TestDecimalEdges(t *testing.T) {
	for s, want := range map[string]uint64{
		"0": 0, "1": 1, "9": 9, "10": 10, "255": 255, "256": 256, "4294967295": 4294967295,
		"4294967296": saturated, "4294967297": saturated, "99999999999999999999999": saturated,
	} {
		if got, ok := decimal(s); !ok || got != want {
			t.Errorf("decimal(%q) = %d, %v, want %d", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "00", "01", "/", ":", "1/", "1:", "-1", "+1", " 1", "1 "} {
		if _, ok := decimal(s); ok {
			t.Errorf("decimal(%q) accepted", s)
		}
	}
	// Every single byte: only the ten digits are decimals.
	for c := 0; c < 256; c++ {
		_, ok := decimal(string([]byte{byte(c)}))
		if ok != (c >= '0' && c <= '9') {
			t.Errorf("decimal(%q) = %v", rune(c), ok)
		}
	}
}

func TestTrimEdges(t *testing.T) {
	for in, want := range map[string]string{
		"": "", " ": "", "\t": "", " \t ": "", "a": "a", " a": "a", "a ": "a", "\ta\t": "a", " a b ": "a b",
		"\ra": "\ra", "a\r": "a\r", "\u00a0a": "\u00a0a", "\na": "\na",
	} {
		if got := trim(in); got != want {
			t.Errorf("trim(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHexNEdges(t *testing.T) {
	for s, want := range map[string]uint64{"0x00000000": 0, "0xffffffff": 0xffffffff, "0x0000000a": 10} {
		if got, ok := hexN(s, 8); !ok || got != want {
			t.Errorf("hexN(%q, 8) = 0x%x, %v", s, got, ok)
		}
	}
	if got, ok := hexN("0x0123456789abcdef", 16); !ok || got != 0x0123456789abcdef {
		t.Errorf("hexN 16 = 0x%x, %v", got, ok)
	}
	for _, s := range []string{"0x0000000", "0x000000000", "1x00000000", "0X00000000", "0y00000000", "00000000ab", ""} {
		if _, ok := hexN(s, 8); ok {
			t.Errorf("hexN(%q, 8) accepted", s)
		}
	}
	for _, s := range []string{"0x0123456789abcdeg", "0xg123456789abcdef", "0x0123456789abcde", "0x0123456789abcdef0"} {
		if _, ok := hexN(s, 16); ok {
			t.Errorf("hexN(%q, 16) accepted", s)
		}
	}
}

func TestTerminalEdges(t *testing.T) {
	type res struct {
		mode       config.Mode
		rows, cols uint64
		ok         bool
	}
	for s, want := range map[string]res{
		"cooked;1x1":     {config.Cooked, 1, 1, true},
		"raw;255x255":    {config.Raw, 255, 255, true},
		"none;0x256":     {config.None, 0, 256, true},
		"cooked;":        {ok: false},
		"raw;":           {ok: false},
		"none;":          {ok: false},
		"cooked":         {ok: false},
		"raw":            {ok: false},
		"none":           {ok: false},
		"ra":             {ok: false},
		"":               {ok: false},
		"cooked;24":      {ok: false},
		"cooked;x80":     {ok: false},
		"cooked;24x":     {ok: false},
		"cooked;24x80x1": {ok: false},
		"cooked:24x80":   {ok: false},
		"rawr;24x80":     {ok: false},
		"nonex;24x80":    {ok: false},
		"cookedx24x80":   {ok: false},
	} {
		m, r, c, ok := terminal(s)
		if ok != want.ok || (ok && (m != want.mode || r != want.rows || c != want.cols)) {
			t.Errorf("terminal(%q) = %v %d %d %v, want %+v", s, m, r, c, ok, want)
		}
	}
	for v, code := range map[string]codes.Code{
		"cooked;1x1": "", "cooked;255x255": "", "cooked;0x1": codes.HeaderRange, "cooked;1x0": codes.HeaderRange,
		"cooked;256x1": codes.HeaderRange, "cooked;1x256": codes.HeaderRange, "cooked;24x": codes.HeaderFormat,
	} {
		if err := ValidateOne(Terminal, v); codes.Of(err) != code {
			t.Errorf("ValidateOne(Terminal, %q) = %v, want %q", v, err, code)
		}
	}
}

func TestVersionHeaderEdges(t *testing.T) {
	for v, code := range map[string]codes.Code{"0": "", "1": "", "2": "", "3": codes.HeaderRange, "255": codes.HeaderRange, "01": codes.HeaderFormat} {
		if err := ValidateOne(Version, v); codes.Of(err) != code {
			t.Errorf("ValidateOne(Version, %q) = %v, want %q", v, err, code)
		}
	}
	for v, code := range map[string]codes.Code{"0x00000001": "", "0x00000000": codes.HeaderRange, "0xffffffff": ""} {
		if err := ValidateOne(RegistryHash, v); codes.Of(err) != code {
			t.Errorf("ValidateOne(RegistryHash, %q) = %v, want %q", v, err, code)
		}
	}
}

// TestSetUnreadableMode: a mode past raw is written as its number, which
// Validate then rejects as a format error; the other headers stay right.
func TestSetUnreadableMode(t *testing.T) {
	c := config.Config{Version: 1, RegistryHash: 0xabcdef01, FeatureFlags: 0x3, TerminalMode: 3, Rows: 24, Cols: 80}
	h := FromConfig(c)
	if got := h.Get(Terminal); got != "3;24x80" {
		t.Fatalf("Terminal header %q", got)
	}
	if h.Get(Version) != "1" || h.Get(RegistryHash) != "0xabcdef01" || h.Get(FeatureFlags) != "0x00000003" {
		t.Fatalf("headers %v", h)
	}
	_, err := Validate(h)
	var ce *codes.Error
	if codes.Of(err) != codes.HeaderFormat || !strings.Contains(err.Error(), Terminal) {
		t.Fatalf("Validate = %v (%v)", err, ce)
	}
	c.TerminalMode = config.Raw
	if got := FromConfig(c).Get(Terminal); got != "raw;24x80" {
		t.Fatalf("raw Terminal header %q", got)
	}
}

// TestGetFoldEdges: a raw map with a non-canonical key is read; a key of
// another length, an empty value list and the canonical key itself are
// not counted twice.
func TestGetFoldEdges(t *testing.T) {
	h := http.Header{"x-bun-config-version": {"1"}, "X-BUN-CONFIG-VERSIO": {"9"}, "X-Bun-Config-VersionX": {"9"}}
	if v, n := get(h, Version); v != "1" || n != 1 {
		t.Errorf("get = %q, %d", v, n)
	}
	h = http.Header{"x-bun-config-version": {"1"}, "X-BUN-CONFIG-VERSION": {"2"}}
	if _, n := get(h, Version); n != 2 {
		t.Errorf("two spellings counted %d", n)
	}
	h = http.Header{Version: {}, "x-bun-config-version": {"1"}}
	if v, n := get(h, Version); v != "1" || n != 1 {
		t.Errorf("empty canonical list: %q, %d", v, n)
	}
	h = http.Header{Version: {"1", "2"}}
	if _, n := get(h, Version); n != 2 {
		t.Errorf("repeated canonical: %d", n)
	}
	if v, n := get(http.Header{"x-bun-config-version": {}}, Version); v != "" || n != 0 {
		t.Errorf("empty raw list: %q, %d", v, n)
	}
	for k, want := range map[string]bool{"x-bun-terminal": true, "X-BUN-TERMINAL": true, "x-bun-": false, "y-bun-terminal": false, "x-bun-terminals": false, "X-Bun-Other": false} {
		if got := Present(http.Header{k: {"v"}}); got != want {
			t.Errorf("Present(%q) = %v", k, got)
		}
	}
	if Present(http.Header{"x-bun-terminal": {}}) || Present(http.Header{Terminal: {}}) {
		t.Error("Present with no values")
	}
}

// TestMiddlewareDriftCount: drift is counted per request whose registry
// hash differs from the server's, and never for a matching one; a
// middleware without a store counts none.
func TestMiddlewareDriftCount(t *testing.T) {
	store, err := config.NewStore(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	other := config.Default()
	other.RegistryHash = 0x12345678
	for _, withStore := range []bool{true, false} {
		var s *config.Store
		if withStore {
			s = store
		}
		m, err := NewMiddleware(prometheus.NewRegistry(), s, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		if err != nil {
			t.Fatal(err)
		}
		want := 0.0
		for i, c := range []config.Config{config.Default(), other, other, config.Default()} {
			r := httptest.NewRequest("GET", "/", nil)
			for k, v := range FromConfig(c) {
				r.Header[k] = v
			}
			w := httptest.NewRecorder()
			m.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("request %d: %d", i, w.Code)
			}
			if withStore && c.RegistryHash != store.Load().RegistryHash {
				want++
			}
			if got := testutil.ToFloat64(m.drift); got != want {
				t.Fatalf("store %v, after request %d: drift %v, want %v", withStore, i, got, want)
			}
		}
	}
}
