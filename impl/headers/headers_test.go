package headers

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
)

// seed is headers.json's "seed-config".
var seed = config.Config{Version: 1, RegistryHash: 0x3b8b5a5a, FeatureFlags: 0x3, TerminalMode: config.Cooked, Rows: 24, Cols: 80}

func TestVectors(t *testing.T) {
	raw, err := os.ReadFile("../../fixtures/headers.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors map[string]map[string]string
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	want := map[string]config.Config{"seed-config": seed}
	if len(vectors) != len(want) {
		t.Errorf("headers.json has %d vectors, the test knows %d", len(vectors), len(want))
	}
	for name, v := range vectors {
		t.Run(name, func(t *testing.T) {
			h := http.Header{}
			for k, val := range v {
				h.Set(k, val)
			}
			got, err := Validate(h)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if d := cmp.Diff(want[name], got); d != "" {
				t.Errorf("Validate mismatch (-want +got):\n%s", d)
			}
			if d := cmp.Diff(h, FromConfig(got)); d != "" {
				t.Errorf("FromConfig mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func randomConfig(r *rand.Rand) config.Config {
	v := uint8(r.IntN(3))
	return config.Config{
		Version:      v,
		RegistryHash: r.Uint32() | 1,
		FeatureFlags: config.Flags(r.Uint32()) & config.Mask(v),
		TerminalMode: config.Mode(r.IntN(3)),
		Rows:         uint8(1 + r.IntN(255)),
		Cols:         uint8(1 + r.IntN(255)),
	}
}

// hexRef is the obvious digit-by-digit parser hex8 must agree with.
func hexRef(s string) (uint64, bool) {
	var v uint64
	for i := range len(s) {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | uint64(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

func TestHex8(t *testing.T) {
	// Every byte at every position, around a few bases, covers each
	// lane's range checks and carries.
	for _, base := range []string{"0123abcd", "ffffffff", "00000000", "9a9a9a9a", "f0f0f0f0"} {
		for pos := range 8 {
			for c := range 256 {
				b := []byte(base)
				b[pos] = byte(c)
				got, ok := hex8(string(b))
				want, wok := hexRef(string(b))
				if ok != wok || (ok && got != want) {
					t.Fatalf("hex8(%q) = 0x%x, %v; want 0x%x, %v", b, got, ok, want, wok)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 100000 {
		v := r.Uint32()
		s := fmt.Sprintf("%08x", v)
		if got, ok := hex8(s); !ok || got != uint64(v) {
			t.Fatalf("hex8(%q) = 0x%x, %v", s, got, ok)
		}
	}
}

// with returns the headers of c with name's values replaced (none: deleted).
func with(c config.Config, name string, values ...string) http.Header {
	h := FromConfig(c)
	if len(values) == 0 {
		delete(h, name)
	} else {
		h[name] = values
	}
	return h
}

func TestValidateErrors(t *testing.T) {
	v2 := config.Config{Version: 2, RegistryHash: 1, FeatureFlags: config.Offline, TerminalMode: config.Raw, Rows: 1, Cols: 255}
	v0 := config.Config{Version: 0, RegistryHash: 0xffffffff, TerminalMode: config.None, Rows: 255, Cols: 1}
	multi := func(muts ...func(http.Header)) http.Header {
		h := FromConfig(seed)
		for _, m := range muts {
			m(h)
		}
		return h
	}
	set := func(name string, vals ...string) func(http.Header) {
		return func(h http.Header) { h[name] = vals }
	}
	del := func(name string) func(http.Header) { return func(h http.Header) { delete(h, name) } }
	tests := []struct {
		name     string
		h        http.Header
		wantCode codes.Code
		wantName string
	}{
		// header-missing: the first absent in table order.
		{"missing/all", http.Header{}, codes.HeaderMissing, Version},
		{"missing/nil", nil, codes.HeaderMissing, Version},
		{"missing/version", with(seed, Version), codes.HeaderMissing, Version},
		{"missing/registry", with(seed, RegistryHash), codes.HeaderMissing, RegistryHash},
		{"missing/flags", with(seed, FeatureFlags), codes.HeaderMissing, FeatureFlags},
		{"missing/terminal", with(seed, Terminal), codes.HeaderMissing, Terminal},
		{"missing/checksum", with(seed, Checksum), codes.HeaderMissing, Checksum},
		{"missing/empty-slice", multi(set(FeatureFlags)), codes.HeaderMissing, FeatureFlags},
		{"missing/first-of-two", multi(del(Checksum), del(Terminal)), codes.HeaderMissing, Terminal},
		{"missing/before-format", multi(set(Version, "x"), del(Checksum)), codes.HeaderMissing, Checksum},

		// X-Bun-Config-Version.
		{"version/empty", with(seed, Version, ""), codes.HeaderFormat, Version},
		{"version/blank", with(seed, Version, " \t "), codes.HeaderFormat, Version},
		{"version/leading-zero", with(seed, Version, "01"), codes.HeaderFormat, Version},
		{"version/double-zero", with(seed, Version, "00"), codes.HeaderFormat, Version},
		{"version/plus", with(seed, Version, "+1"), codes.HeaderFormat, Version},
		{"version/minus", with(seed, Version, "-1"), codes.HeaderFormat, Version},
		{"version/fraction", with(seed, Version, "1.0"), codes.HeaderFormat, Version},
		{"version/hex", with(seed, Version, "0x1"), codes.HeaderFormat, Version},
		{"version/word", with(seed, Version, "one"), codes.HeaderFormat, Version},
		{"version/inner-space", with(seed, Version, "1 1"), codes.HeaderFormat, Version},
		{"version/cr", with(seed, Version, "1\r"), codes.HeaderFormat, Version},
		{"version/nbsp", with(seed, Version, "1\u00a0"), codes.HeaderFormat, Version},
		{"version/fullwidth", with(seed, Version, "１"), codes.HeaderFormat, Version},
		{"version/3", with(seed, Version, "3"), codes.HeaderRange, Version},
		{"version/300", with(seed, Version, "300"), codes.HeaderRange, Version},
		{"version/huge", with(seed, Version, "99999999999999999999999"), codes.HeaderRange, Version},
		{"version/repeated", with(seed, Version, "1", "1"), codes.HeaderFormat, Version},

		// X-Bun-Registry-Hash.
		{"registry/no-prefix", with(seed, RegistryHash, "3b8b5a5a"), codes.HeaderFormat, RegistryHash},
		{"registry/upper-prefix", with(seed, RegistryHash, "0X3b8b5a5a"), codes.HeaderFormat, RegistryHash},
		{"registry/upper-digits", with(seed, RegistryHash, "0x3B8B5A5A"), codes.HeaderFormat, RegistryHash},
		{"registry/short", with(seed, RegistryHash, "0x3b8b5a5"), codes.HeaderFormat, RegistryHash},
		{"registry/long", with(seed, RegistryHash, "0x03b8b5a5a"), codes.HeaderFormat, RegistryHash},
		{"registry/not-hex", with(seed, RegistryHash, "0x3b8b5a5g"), codes.HeaderFormat, RegistryHash},
		{"registry/sign", with(seed, RegistryHash, "0x-b8b5a5a"), codes.HeaderFormat, RegistryHash},
		{"registry/decimal", with(seed, RegistryHash, "999999999"), codes.HeaderFormat, RegistryHash},
		{"registry/zero", with(seed, RegistryHash, "0x00000000"), codes.HeaderRange, RegistryHash},
		{"registry/repeated", with(seed, RegistryHash, "0x3b8b5a5a", "0x3b8b5a5a"), codes.HeaderFormat, RegistryHash},

		// X-Bun-Feature-Flags, against the version header's mask.
		{"flags/no-prefix", with(seed, FeatureFlags, "00000003"), codes.HeaderFormat, FeatureFlags},
		{"flags/upper", with(seed, FeatureFlags, "0x0000000B"), codes.HeaderFormat, FeatureFlags},
		{"flags/short", with(seed, FeatureFlags, "0x3"), codes.HeaderFormat, FeatureFlags},
		{"flags/names", with(seed, FeatureFlags, "DEBUG"), codes.HeaderFormat, FeatureFlags},
		{"flags/v2-bit-in-v1", with(seed, FeatureFlags, "0x00000100"), codes.HeaderRange, FeatureFlags},
		{"flags/undefined-in-v2", with(v2, FeatureFlags, "0x00000400"), codes.HeaderRange, FeatureFlags},
		{"flags/high-bit-in-v2", with(v2, FeatureFlags, "0x80000000"), codes.HeaderRange, FeatureFlags},
		{"flags/any-in-v0", with(v0, FeatureFlags, "0x00000001"), codes.HeaderRange, FeatureFlags},
		{"flags/repeated", with(seed, FeatureFlags, "0x00000003", "0x00000003"), codes.HeaderFormat, FeatureFlags},

		// X-Bun-Terminal: MODE is format, ROWS and COLS are decimal then 1..255.
		{"terminal/upper-mode", with(seed, Terminal, "COOKED;24x80"), codes.HeaderFormat, Terminal},
		{"terminal/unknown-mode", with(seed, Terminal, "tty;24x80"), codes.HeaderFormat, Terminal},
		{"terminal/numeric-mode", with(seed, Terminal, "1;24x80"), codes.HeaderFormat, Terminal},
		{"terminal/mode-only", with(seed, Terminal, "cooked"), codes.HeaderFormat, Terminal},
		{"terminal/no-size", with(seed, Terminal, "cooked;"), codes.HeaderFormat, Terminal},
		{"terminal/no-x", with(seed, Terminal, "cooked;24"), codes.HeaderFormat, Terminal},
		{"terminal/no-cols", with(seed, Terminal, "cooked;24x"), codes.HeaderFormat, Terminal},
		{"terminal/no-rows", with(seed, Terminal, "cooked;x80"), codes.HeaderFormat, Terminal},
		{"terminal/zero-rows-padded", with(seed, Terminal, "cooked;024x80"), codes.HeaderFormat, Terminal},
		{"terminal/zero-cols-padded", with(seed, Terminal, "cooked;24x080"), codes.HeaderFormat, Terminal},
		{"terminal/upper-x", with(seed, Terminal, "cooked;24X80"), codes.HeaderFormat, Terminal},
		{"terminal/colon", with(seed, Terminal, "cooked:24x80"), codes.HeaderFormat, Terminal},
		{"terminal/inner-space", with(seed, Terminal, "cooked; 24x80"), codes.HeaderFormat, Terminal},
		{"terminal/space-before-semicolon", with(seed, Terminal, "cooked ;24x80"), codes.HeaderFormat, Terminal},
		{"terminal/plus", with(seed, Terminal, "cooked;+24x80"), codes.HeaderFormat, Terminal},
		{"terminal/three-dims", with(seed, Terminal, "cooked;24x80x1"), codes.HeaderFormat, Terminal},
		{"terminal/two-modes", with(seed, Terminal, "raw;cooked;24x80"), codes.HeaderFormat, Terminal},
		{"terminal/zero-rows", with(seed, Terminal, "cooked;0x80"), codes.HeaderRange, Terminal},
		{"terminal/zero-cols", with(seed, Terminal, "cooked;24x0"), codes.HeaderRange, Terminal},
		{"terminal/256-rows", with(seed, Terminal, "cooked;256x80"), codes.HeaderRange, Terminal},
		{"terminal/300-cols", with(seed, Terminal, "raw;24x300"), codes.HeaderRange, Terminal},
		{"terminal/huge-rows", with(seed, Terminal, "none;99999999999x1"), codes.HeaderRange, Terminal},
		{"terminal/repeated", with(seed, Terminal, "cooked;24x80", "cooked;24x80"), codes.HeaderFormat, Terminal},

		// X-Bun-Config-Checksum: format, then the CRC64 of what the others describe.
		{"checksum/short", with(seed, Checksum, "0x12cab69b58a0c07"), codes.HeaderFormat, Checksum},
		{"checksum/upper", with(seed, Checksum, "0x12CAB69B58A0C073"), codes.HeaderFormat, Checksum},
		{"checksum/no-prefix", with(seed, Checksum, "12cab69b58a0c073"), codes.HeaderFormat, Checksum},
		{"checksum/decimal", with(seed, Checksum, strconv.FormatUint(seed.Checksum(), 10)), codes.HeaderFormat, Checksum},
		{"checksum/mismatch", with(seed, Checksum, "0x12cab69b58a0c072"), codes.HeaderChecksum, Checksum},
		{"checksum/of-other-config", with(seed, Checksum, fmt.Sprintf("0x%016x", v2.Checksum())), codes.HeaderChecksum, Checksum},
		{"checksum/value-changed", with(seed, Terminal, "cooked;25x80"), codes.HeaderChecksum, Checksum},
		{"checksum/repeated", with(seed, Checksum, "0x12cab69b58a0c073", "0x12cab69b58a0c073"), codes.HeaderFormat, Checksum},

		// Order across headers.
		{"order/version-before-registry", multi(set(Version, "01"), set(RegistryHash, "x")), codes.HeaderFormat, Version},
		{"order/version-range-before-registry-format", multi(set(Version, "7"), set(RegistryHash, "x")), codes.HeaderRange, Version},
		{"order/registry-range-before-flags-format", multi(set(RegistryHash, "0x00000000"), set(FeatureFlags, "x")), codes.HeaderRange, RegistryHash},
		{"order/flags-before-terminal", multi(set(FeatureFlags, "0x00000400"), set(Terminal, "x")), codes.HeaderRange, FeatureFlags},
		{"order/terminal-before-checksum", multi(set(Terminal, "cooked;0x80"), set(Checksum, "x")), codes.HeaderRange, Terminal},
		{"order/format-before-checksum-mismatch", multi(set(Checksum, "0x0000000000000000"), set(Terminal, "x")), codes.HeaderFormat, Terminal},
		{"order/repeat-at-its-turn", multi(set(Terminal, "a", "b"), set(Version, "9")), codes.HeaderRange, Version},
		{"order/repeat-before-later-format", multi(set(RegistryHash, "a", "b"), set(Terminal, "x")), codes.HeaderFormat, RegistryHash},

		// Raw maps: other spellings count, several spellings are a repeat.
		{"raw/two-spellings", func() http.Header {
			h := FromConfig(seed)
			delete(h, Terminal)
			h["x-bun-terminal"] = []string{"cooked;24x80"}
			h["X-BUN-TERMINAL"] = []string{"cooked;24x80"}
			return h
		}(), codes.HeaderFormat, Terminal},
		{"raw/lower-missing", func() http.Header {
			h := http.Header{}
			for k, v := range FromConfig(seed) {
				if k != RegistryHash {
					h[strings.ToLower(k)] = v
				}
			}
			return h
		}(), codes.HeaderMissing, RegistryHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Validate(tt.h)
			if err == nil {
				t.Fatalf("Validate(%v) = %+v, want %s", tt.h, c, tt.wantCode)
			}
			var ce *codes.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T (%v) is not a *codes.Error", err, err)
			}
			if ce.Code != tt.wantCode || ce.Name != tt.wantName {
				t.Errorf("Validate = %v, want %s: %s", err, tt.wantCode, tt.wantName)
			}
			if !errors.Is(err, tt.wantCode) {
				t.Errorf("errors.Is(%v, %s) = false", err, tt.wantCode)
			}
			if ce.Offset != codes.NoOffset {
				t.Errorf("header error has offset %d", ce.Offset)
			}
			if c != (config.Config{}) {
				t.Errorf("failed Validate returned %+v", c)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	trimmed := FromConfig(seed)
	for k, v := range trimmed {
		trimmed[k] = []string{" \t" + v[0] + "\t "}
	}
	lower := http.Header{}
	for k, v := range FromConfig(seed) {
		lower[strings.ToLower(k)] = v
	}
	mixed := http.Header{"Accept": {"*/*"}, "User-Agent": {"npm/10"}}
	for k, v := range FromConfig(seed) {
		mixed[strings.ToUpper(k)] = v
	}
	// A canonical key wins over another spelling: net/http never makes both.
	shadowed := FromConfig(seed)
	shadowed["x-bun-config-version"] = []string{"junk"}
	tests := []struct {
		name string
		h    http.Header
		want config.Config
	}{
		{"seed", FromConfig(seed), seed},
		{"spaces-and-tabs", trimmed, seed},
		{"lower-case-keys", lower, seed},
		{"upper-case-keys-among-others", mixed, seed},
		{"canonical-shadows-other-spelling", shadowed, seed},
		{"version-0", FromConfig(config.Config{Version: 0, RegistryHash: 1, TerminalMode: config.None, Rows: 1, Cols: 1}),
			config.Config{Version: 0, RegistryHash: 1, TerminalMode: config.None, Rows: 1, Cols: 1}},
		{"version-2-all-flags", FromConfig(config.Config{Version: 2, RegistryHash: 0xffffffff, FeatureFlags: 0x3ff, TerminalMode: config.Raw, Rows: 255, Cols: 255}),
			config.Config{Version: 2, RegistryHash: 0xffffffff, FeatureFlags: 0x3ff, TerminalMode: config.Raw, Rows: 255, Cols: 255}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Validate(tt.h)
			if err != nil {
				t.Fatalf("Validate(%v): %v", tt.h, err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Validate mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		c := randomConfig(r)
		h := FromConfig(c)
		got, err := Validate(h)
		if err != nil {
			t.Fatalf("Validate(FromConfig(%+v)) = %v (%v)", c, err, h)
		}
		if got != c {
			t.Fatalf("Validate(FromConfig(%+v)) = %+v", c, got)
		}
		if want := c.Terminal(); h.Get(Terminal) != want {
			t.Fatalf("X-Bun-Terminal = %q, config says %q", h.Get(Terminal), want)
		}
		if want := c.FeatureFlags.Hex(); h.Get(FeatureFlags) != want {
			t.Fatalf("X-Bun-Feature-Flags = %q, config says %q", h.Get(FeatureFlags), want)
		}
	}
}

// TestOneCharChange: any one-character change to any header value of a
// valid set is rejected, whether it breaks the format, the range or only
// the checksum.
func TestOneCharChange(t *testing.T) {
	configs := []config.Config{
		seed,
		{Version: 2, RegistryHash: 0x5e9b6bd5, FeatureFlags: 0x3ff, TerminalMode: config.Raw, Rows: 255, Cols: 1},
		{Version: 0, RegistryHash: 0x00000001, TerminalMode: config.None, Rows: 9, Cols: 100},
	}
	var alphabet []byte
	for c := 0; c < 0x80; c++ {
		alphabet = append(alphabet, byte(c))
	}
	alphabet = append(alphabet, 0xa0, 0xff)
	for _, c := range configs {
		base := FromConfig(c)
		for _, name := range Names {
			orig := base.Get(name)
			try := func(v string) {
				h := base.Clone()
				h[name] = []string{v}
				if got, err := Validate(h); err == nil {
					t.Errorf("%s: %q -> %q accepted as %+v", name, orig, v, got)
				}
			}
			for i := range len(orig) {
				try(orig[:i] + orig[i+1:]) // deletion
				for _, b := range alphabet {
					if b != orig[i] {
						try(orig[:i] + string(b) + orig[i+1:]) // substitution
					}
				}
			}
			for i := 0; i <= len(orig); i++ {
				for _, b := range alphabet {
					if (i == 0 || i == len(orig)) && (b == ' ' || b == '\t') {
						continue // surrounding blanks are trimmed: the same value
					}
					try(orig[:i] + string(b) + orig[i:]) // insertion
				}
			}
		}
	}
}

func TestValidateOne(t *testing.T) {
	tests := []struct {
		name, value string
		wantCode    codes.Code // "" valid
		wantName    string
	}{
		{Version, "2", "", ""},
		{Version, " 0\t", "", ""},
		{Version, "02", codes.HeaderFormat, Version},
		{Version, "3", codes.HeaderRange, Version},
		{"x-bun-config-version", "300", codes.HeaderRange, Version},
		{RegistryHash, "0xdeadbeef", "", ""},
		{RegistryHash, "0xDEADBEEF", codes.HeaderFormat, RegistryHash},
		{RegistryHash, "0x00000000", codes.HeaderRange, RegistryHash},
		{FeatureFlags, "0x000003ff", "", ""}, // alone: the version-2 mask
		{FeatureFlags, "0x00000400", codes.HeaderRange, FeatureFlags},
		{FeatureFlags, "0x3ff", codes.HeaderFormat, FeatureFlags},
		{"X-BUN-TERMINAL", "raw;1x255", "", ""},
		{Terminal, "Raw;1x255", codes.HeaderFormat, Terminal},
		{Terminal, "raw;1x256", codes.HeaderRange, Terminal},
		{Terminal, "cooked;0x80", codes.HeaderRange, Terminal},
		{Terminal, "cooked;024x80", codes.HeaderFormat, Terminal},
		{Checksum, "0x0000000000000000", "", ""}, // alone: format only
		{Checksum, "0x12cab69b58a0c073 ", "", ""},
		{Checksum, "0x12cab69b58a0c07", codes.HeaderFormat, Checksum},
	}
	for _, tt := range tests {
		err := ValidateOne(tt.name, tt.value)
		var ce *codes.Error
		switch {
		case tt.wantCode == "" && err != nil:
			t.Errorf("ValidateOne(%q, %q) = %v, want nil", tt.name, tt.value, err)
		case tt.wantCode == "":
		case !errors.As(err, &ce):
			t.Errorf("ValidateOne(%q, %q) = %v, want %s", tt.name, tt.value, err, tt.wantCode)
		case ce.Code != tt.wantCode || ce.Name != tt.wantName:
			t.Errorf("ValidateOne(%q, %q) = %v, want %s: %s", tt.name, tt.value, err, tt.wantCode, tt.wantName)
		}
	}
	err := ValidateOne("X-Bun-Config", "1")
	if !errors.Is(err, ErrUnknownHeader) || codes.Of(err) != "" {
		t.Errorf("ValidateOne(unknown name) = %v, want ErrUnknownHeader without a code", err)
	}
}

func TestPresent(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want bool
	}{
		{"nil", nil, false},
		{"empty", http.Header{}, false},
		{"others", http.Header{"Accept": {"*/*"}, "X-Bun-Other": {"1"}, "X-Bun": {"1"}}, false},
		{"empty-slice", http.Header{Terminal: {}}, false},
		{"one", http.Header{Checksum: {"x"}}, true},
		{"empty-value", http.Header{Version: {""}}, true},
		{"raw-lower", http.Header{"x-bun-feature-flags": {"0x00000000"}}, true},
		{"raw-upper", http.Header{"X-BUN-REGISTRY-HASH": {"0x00000001"}}, true},
		{"all", FromConfig(seed), true},
	}
	for _, tt := range tests {
		if got := Present(tt.h); got != tt.want {
			t.Errorf("Present(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCanonical(t *testing.T) {
	for _, n := range Names {
		for _, s := range []string{n, strings.ToLower(n), strings.ToUpper(n)} {
			if got, ok := Canonical(s); !ok || got != n {
				t.Errorf("Canonical(%q) = %q, %v", s, got, ok)
			}
		}
		if got := http.CanonicalHeaderKey(n); got != n {
			t.Errorf("%q is not canonical (net/http says %q)", n, got)
		}
	}
	if _, ok := Canonical("X-Bun-Config"); ok {
		t.Error("Canonical accepts a prefix")
	}
}

func TestSet(t *testing.T) {
	h := http.Header{"Accept": {"*/*"}, Version: {"9", "9"}, "X-Bun-Terminal": {"junk"}}
	Set(h, seed)
	want := FromConfig(seed)
	want["Accept"] = []string{"*/*"}
	if d := cmp.Diff(want, h); d != "" {
		t.Errorf("Set mismatch (-want +got):\n%s", d)
	}
	// The five values share one backing array; appending to one must
	// not clobber the next.
	h[Version] = append(h[Version], "x")
	if got := h.Get(RegistryHash); got != "0x3b8b5a5a" {
		t.Errorf("appending to %s changed %s to %q", Version, RegistryHash, got)
	}
}

func TestValidateAllocs(t *testing.T) {
	h := FromConfig(seed)
	if n := testing.AllocsPerRun(100, func() { _, _ = Validate(h) }); n != 0 {
		t.Errorf("Validate allocates %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = Present(h) }); n != 0 {
		t.Errorf("Present allocates %v times, want 0", n)
	}
}

// request returns headers as a server sees them: the five among the usual
// ones of an npm client.
func request(n int) http.Header {
	h := FromConfig(seed)
	common := []string{"Accept", "Accept-Encoding", "Authorization", "Connection", "Host", "Npm-Auth-Type",
		"Npm-Command", "Npm-Scope", "Npm-Session", "Pacote-Version", "Referer", "User-Agent", "X-Forwarded-For",
		"X-Forwarded-Proto", "X-Request-Id"}
	for i := 0; len(h) < n; i++ {
		h.Set(common[i], "value")
	}
	return h
}

func BenchmarkValidate(b *testing.B) {
	for _, n := range []int{5, 20} {
		b.Run(fmt.Sprintf("headers=%d", n), func(b *testing.B) {
			h := request(n)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Validate(h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPresent(b *testing.B) {
	for _, tc := range []struct {
		name string
		h    http.Header
	}{
		{"case=present", request(20)},
		{"case=absent", func() http.Header {
			h := request(20)
			for _, n := range Names {
				delete(h, n)
			}
			return h
		}()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Present(tc.h)
			}
		})
	}
}

func BenchmarkFromConfig(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = FromConfig(seed)
	}
}
