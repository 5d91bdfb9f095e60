package config

// Tests written against the mutants gremlins left alive (fuzz/README.md,
// "Mutation score"): exact boundaries of every field, both sides of every
// branch. Helpers carry an mt prefix so they cannot collide with the
// package's other test files.

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/bun13/bun13/impl/codes"
)

func mtGood() Config {
	return Config{Version: 2, RegistryHash: 1, FeatureFlags: 0x3ff, TerminalMode: Raw, Rows: 1, Cols: 1}
}

// TestValidateEdges: each field one step inside and one step outside its
// range, through Validate, Valid and Parse, which must agree.
func TestValidateEdges(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		code codes.Code
		off  int
	}{
		{"all at their lower edges", func(c *Config) { c.Version, c.FeatureFlags, c.TerminalMode = 0, 0, None }, "", 0},
		{"version 2", func(c *Config) {}, "", 0},
		{"version 3", func(c *Config) { c.Version = 3; c.FeatureFlags = 0 }, codes.UnsupportedVersion, OffsetVersion},
		{"version 255", func(c *Config) { c.Version = 255; c.FeatureFlags = 0 }, codes.UnsupportedVersion, OffsetVersion},
		{"hash 0", func(c *Config) { c.RegistryHash = 0 }, codes.RegistryHash, OffsetRegistryHash},
		{"hash max", func(c *Config) { c.RegistryHash = 0xffffffff }, "", 0},
		{"v2 all flags", func(c *Config) { c.FeatureFlags = 0x3ff }, "", 0},
		{"v2 bit 10", func(c *Config) { c.FeatureFlags = 0x400 }, codes.UnknownFeature, OffsetFeatureFlags},
		{"v1 bit 7", func(c *Config) { c.Version = 1; c.FeatureFlags = 0x80 }, "", 0},
		{"v1 bit 8", func(c *Config) { c.Version = 1; c.FeatureFlags = 0x100 }, codes.UnknownFeature, OffsetFeatureFlags},
		{"v0 bit 0", func(c *Config) { c.Version = 0; c.FeatureFlags = 1 }, codes.UnknownFeature, OffsetFeatureFlags},
		{"mode raw", func(c *Config) { c.TerminalMode = Raw }, "", 0},
		{"mode 3", func(c *Config) { c.TerminalMode = 3 }, codes.TerminalMode, OffsetTerminalMode},
		{"rows 0", func(c *Config) { c.Rows = 0 }, codes.TerminalSize, OffsetRows},
		{"rows 255", func(c *Config) { c.Rows = 255 }, "", 0},
		{"cols 0", func(c *Config) { c.Cols = 0 }, codes.TerminalSize, OffsetCols},
		{"cols 255", func(c *Config) { c.Cols = 255 }, "", 0},
		{"rows and cols 0: rows first", func(c *Config) { c.Rows, c.Cols = 0, 0 }, codes.TerminalSize, OffsetRows},
		{"mode and rows: mode first", func(c *Config) { c.TerminalMode, c.Rows = 3, 0 }, codes.TerminalMode, OffsetTerminalMode},
		{"flags and mode: flags first", func(c *Config) { c.FeatureFlags, c.TerminalMode = 0x400, 3 }, codes.UnknownFeature, OffsetFeatureFlags},
		{"hash and flags: hash first", func(c *Config) { c.RegistryHash, c.FeatureFlags = 0, 0x400 }, codes.RegistryHash, OffsetRegistryHash},
		{"version and hash: version first", func(c *Config) { c.Version, c.RegistryHash = 3, 0 }, codes.UnsupportedVersion, OffsetVersion},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mtGood()
			tc.edit(&c)
			err := c.Validate()
			if codes.Of(err) != tc.code || (tc.code != "" && codes.OffsetOf(err) != tc.off) {
				t.Fatalf("Validate = %v, want %q at %d", err, tc.code, tc.off)
			}
			if c.Valid() != (tc.code == "") {
				t.Fatalf("Valid = %v, Validate = %v", c.Valid(), err)
			}
			b := c.Bytes()
			p, perr := Parse(&b)
			if codes.Of(perr) != tc.code || (tc.code == "" && p != c) {
				t.Fatalf("Parse = %+v, %v, want %q", p, perr, tc.code)
			}
			b[offReserved] = 1
			_, perr = Parse(&b)
			want := tc.code
			if want == "" {
				want = codes.Reserved
			}
			if codes.Of(perr) != want {
				t.Fatalf("Parse with the reserved byte set = %v, want %q", perr, want)
			}
		})
	}
}

func TestMaskEdges(t *testing.T) {
	for v, want := range map[uint8]Flags{0: 0, 1: 0xff, 2: 0x3ff, 3: 0, 255: 0} {
		if got := Mask(v); got != want {
			t.Errorf("Mask(%d) = 0x%x, want 0x%x", v, got, want)
		}
	}
	if len(masks) != MaxVersion+1 {
		t.Errorf("%d masks for versions 0..%d", len(masks), MaxVersion)
	}
}

func TestBinaryEdges(t *testing.T) {
	c := mtGood()
	out, err := c.AppendBinary([]byte{0xaa})
	if err != nil || len(out) != 1+Size || out[0] != 0xaa {
		t.Fatalf("AppendBinary = %x, %v", out, err)
	}
	var back Config
	if err := back.UnmarshalBinary(out[1:]); err != nil || back != c {
		t.Fatalf("UnmarshalBinary of AppendBinary: %+v, %v", back, err)
	}
	for _, n := range []int{0, Size - 1, Size + 1} {
		err := back.UnmarshalBinary(make([]byte, n))
		if codes.Of(err) != codes.Truncated || codes.OffsetOf(err) != n {
			t.Errorf("UnmarshalBinary of %d bytes: %v", n, err)
		}
	}
	if err := back.UnmarshalBinary(make([]byte, Size)); codes.Of(err) != codes.RegistryHash {
		t.Errorf("UnmarshalBinary of 13 zero bytes: %v", err)
	}
}

func TestCRC64Update(t *testing.T) {
	whole := CRC64([]byte("BUN1config"))
	if got := CRC64Update(CRC64([]byte("BUN1")), []byte("config")); got != whole {
		t.Fatalf("CRC64Update = 0x%x, want 0x%x", got, whole)
	}
}

func TestEnabledAndStoreFields(t *testing.T) {
	c := mtGood()
	c.FeatureFlags = Debug | Metrics | StrictIntegrity
	if !c.Enabled(Debug) || !c.Enabled(Debug|Metrics) || c.Enabled(Debug|Offline) || !c.Enabled(0) {
		t.Error("Config.Enabled")
	}
	s, err := NewStore(c)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version() != 2 || s.RegistryHash() != 1 || s.Flags() != c.FeatureFlags {
		t.Errorf("Store fields %d 0x%x 0x%x", s.Version(), s.RegistryHash(), s.Flags())
	}
	if !s.Enabled(Debug|StrictIntegrity) || s.Enabled(Offline) || s.Enabled(Debug|Offline) || !s.Enabled(0) {
		t.Error("Store.Enabled")
	}
	c.RegistryHash = 0xfedcba98
	c.Version = 1
	c.FeatureFlags = 0xff
	s2, _ := NewStore(c)
	if s2.Version() != 1 || s2.RegistryHash() != 0xfedcba98 || s2.Flags() != 0xff || !s2.Enabled(0xff) {
		t.Errorf("Store fields %d 0x%x 0x%x", s2.Version(), s2.RegistryHash(), s2.Flags())
	}
	if _, err := NewStore(Config{}); codes.Of(err) != codes.RegistryHash {
		t.Errorf("NewStore of an invalid config: %v", err)
	}
}

func TestMigrateEdges(t *testing.T) {
	c := mtGood()
	c.FeatureFlags = Debug
	for _, to := range []uint8{0, 1, 2} {
		got, err := c.Migrate(to)
		if to == 0 {
			if codes.Of(err) != codes.UnknownFeature {
				t.Errorf("Migrate(0) with DEBUG: %v", err)
			}
			continue
		}
		if err != nil || got.Version != to || got.FeatureFlags != Debug {
			t.Errorf("Migrate(%d) = %+v, %v", to, got, err)
		}
	}
	if _, err := c.Migrate(MaxVersion + 1); codes.Of(err) != codes.UnsupportedVersion {
		t.Errorf("Migrate(3): %v", err)
	}
	c.FeatureFlags = Offline
	if _, err := c.Migrate(1); codes.Of(err) != codes.UnknownFeature {
		t.Errorf("Migrate(1) with OFFLINE: %v", err)
	}
	// Up with flags that the lower version lacks is never refused, and the
	// same version is a no-op even when set flags are past its mask.
	v1 := mtGood()
	v1.Version, v1.FeatureFlags = 1, 0xff
	if got, err := v1.Migrate(2); err != nil || got.Version != 2 {
		t.Errorf("Migrate up: %+v, %v", got, err)
	}
	if got, err := c.Migrate(2); err != nil || got != c {
		t.Errorf("Migrate to the same version: %+v, %v", got, err)
	}
	bad := mtGood()
	bad.Rows = 0
	if _, err := bad.Migrate(1); codes.Of(err) != codes.TerminalSize {
		t.Errorf("Migrate of an invalid config: %v", err)
	}
}

func TestFlagHelpers(t *testing.T) {
	all := AllFlags()
	if len(all) != 10 || all[0] != Debug || all[9] != StrictIntegrity {
		t.Fatalf("AllFlags = %v", all)
	}
	for f, want := range map[Flags]int{Debug: 1, Metrics: 1, Offline: 2, StrictIntegrity: 2, 1 << 10: -1, 0: -1, Debug | Offline: 2} {
		if got := f.Since(); got != want {
			t.Errorf("%v.Since() = %d, want %d", f, got, want)
		}
	}
	for f, want := range map[Flags]string{0: "0", Debug: "DEBUG", StrictIntegrity: "STRICT_INTEGRITY", 1 << 10: "0x00000400",
		Debug | 1<<31: "DEBUG|0x80000000", 3: "DEBUG|TRACE_CONFIG"} {
		if got := f.String(); got != want {
			t.Errorf("String(0x%x) = %q, want %q", uint32(f), got, want)
		}
	}
	if got := Flags(3).Name(); got != "0x00000003" {
		t.Errorf("Name of two bits = %q", got)
	}
	for s, want := range map[string]Flags{"": 0, "0": 0, " 0x3ff ": 0x3ff, "0X1": 1, "debug|Metrics": Debug | Metrics, "DEBUG,OFFLINE": Debug | Offline} {
		if got, err := ParseFlags(s); err != nil || got != want {
			t.Errorf("ParseFlags(%q) = 0x%x, %v", s, got, err)
		}
	}
	for _, s := range []string{"0x", "0x1ffffffff", "0xg", "DEBUG|NOPE", "1"} {
		if _, err := ParseFlags(s); err == nil {
			t.Errorf("ParseFlags(%q) accepted", s)
		}
	}
}

func TestModeAndSizeEdges(t *testing.T) {
	for m, want := range map[Mode]string{None: "none", Cooked: "cooked", Raw: "raw", 3: "mode(3)", 255: "mode(255)"} {
		if got := m.String(); got != want {
			t.Errorf("Mode(%d) = %q", m, got)
		}
	}
	for s, want := range map[string]Mode{"none": None, "cooked": Cooked, "raw": Raw} {
		if got, ok := ParseMode(s); !ok || got != want {
			t.Errorf("ParseMode(%q) = %v, %v", s, got, ok)
		}
	}
	if _, ok := ParseMode("RAW"); ok {
		t.Error("ParseMode is not exact")
	}
	good := map[string][2]uint8{"1x1": {1, 1}, "255x255": {255, 255}, "24x80": {24, 80}, "9x10": {9, 10}}
	for s, want := range good {
		r, c, err := ParseSize(s)
		if err != nil || r != want[0] || c != want[1] {
			t.Errorf("ParseSize(%q) = %d, %d, %v", s, r, c, err)
		}
	}
	for _, s := range []string{"0x1", "1x0", "256x1", "1x256", "01x1", "1x01", "x1", "1x", "1", "1x1x1", "/x1", ":x1", "1x/", "1x:", "1234567890x1"} {
		if _, _, err := ParseSize(s); codes.Of(err) != codes.TerminalSize {
			t.Errorf("ParseSize(%q): %v", s, err)
		}
	}
	for s, want := range map[string]int{"0": 0, "9": 9, "10": 10, "999999999": 999999999, "255": 255} {
		if got, err := ParseDecimal(s); err != nil || got != want {
			t.Errorf("ParseDecimal(%q) = %d, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "1234567890", "00", "01", "-1", "+1", "1a", "/", ":", "1 "} {
		if _, err := ParseDecimal(s); err == nil {
			t.Errorf("ParseDecimal(%q) accepted", s)
		}
	}
	for s, ok := range map[string]bool{"raw;1x1": true, "none;255x255": true, "raw;0x1": false, "tty;1x1": false, "raw": false} {
		_, _, _, err := ParseTerminal(s)
		if (err == nil) != ok {
			t.Errorf("ParseTerminal(%q): %v", s, err)
		}
	}
	if got := (Config{TerminalMode: Cooked, Rows: 24, Cols: 80}).Terminal(); got != "cooked;24x80" {
		t.Errorf("Terminal() = %q", got)
	}
}

func TestJSONEdges(t *testing.T) {
	base := map[string]any{"version": 2, "registryHash": "0x00000001", "featureFlags": "0x000003ff", "terminalMode": "raw", "rows": 1, "cols": 255}
	decode := func(edit func(map[string]any)) error {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		edit(m)
		b, _ := json.Marshal(m)
		var c Config
		return json.Unmarshal(b, &c)
	}
	cases := []struct {
		name string
		edit func(map[string]any)
		code codes.Code
	}{
		{"edges accepted", func(map[string]any) {}, ""},
		{"version 255 is a byte", func(m map[string]any) { m["version"] = 255 }, ""},
		{"version 256", func(m map[string]any) { m["version"] = 256 }, codes.UnsupportedVersion},
		{"version -1", func(m map[string]any) { m["version"] = -1 }, codes.UnsupportedVersion},
		{"version 0", func(m map[string]any) { m["version"] = 0 }, ""},
		{"rows 0", func(m map[string]any) { m["rows"] = 0 }, codes.TerminalSize},
		{"rows 256", func(m map[string]any) { m["rows"] = 256 }, codes.TerminalSize},
		{"rows 255", func(m map[string]any) { m["rows"] = 255 }, ""},
		{"cols 0", func(m map[string]any) { m["cols"] = 0 }, codes.TerminalSize},
		{"cols 256", func(m map[string]any) { m["cols"] = 256 }, codes.TerminalSize},
		{"cols 1", func(m map[string]any) { m["cols"] = 1 }, ""},
		{"hash 0x", func(m map[string]any) { m["registryHash"] = "0x" }, codes.RegistryHash},
		{"hash 0x1", func(m map[string]any) { m["registryHash"] = "0x1" }, ""},
		{"hash 9 digits", func(m map[string]any) { m["registryHash"] = "0x000000001" }, codes.RegistryHash},
		{"hash 8 digits", func(m map[string]any) { m["registryHash"] = "0xffffffff" }, ""},
		{"hash without 0x", func(m map[string]any) { m["registryHash"] = "00000001" }, codes.RegistryHash},
		{"flags not hex", func(m map[string]any) { m["featureFlags"] = "0xzz" }, codes.UnknownFeature},
		{"mode", func(m map[string]any) { m["terminalMode"] = "tty" }, codes.TerminalMode},
	}
	for _, tc := range cases {
		err := decode(tc.edit)
		if codes.Of(err) != tc.code || (tc.code == "" && err != nil) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.code)
		}
	}
	for _, missing := range []string{"version", "rows", "cols"} {
		if err := decode(func(m map[string]any) { delete(m, missing) }); err == nil {
			t.Errorf("without %s: accepted", missing)
		}
	}
}

func TestApplyEnvEdges(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	base := mtGood()
	base.FeatureFlags = 0
	for _, tc := range []struct {
		kv   []string
		code codes.Code
		name string
	}{
		{[]string{EnvVersion, "2"}, "", ""},
		{[]string{EnvVersion, " 0 "}, "", ""},
		{[]string{EnvVersion, "3"}, codes.UnsupportedVersion, EnvVersion},
		{[]string{EnvVersion, "x"}, codes.UnsupportedVersion, EnvVersion},
		{[]string{EnvRegistry, "ftp://x"}, codes.RegistryURL, EnvRegistry},
		{[]string{EnvFlags, "NOPE"}, codes.UnknownFeature, EnvFlags},
		{[]string{EnvTerminal, "raw;0x1"}, codes.TerminalSize, EnvTerminal},
		{[]string{EnvTerminal, "tty;1x1"}, codes.TerminalMode, EnvTerminal},
		{[]string{EnvVersion, "0", EnvFlags, "DEBUG"}, codes.UnknownFeature, EnvVersion + "," + EnvFlags},
	} {
		_, err := ApplyEnv(base, env(tc.kv...))
		var ce *codes.Error
		if codes.Of(err) != tc.code || (tc.code != "" && (!errors.As(err, &ce) || ce.Name != tc.name)) {
			t.Errorf("%v: %v, want %q naming %q", tc.kv, err, tc.code, tc.name)
		}
	}
	bad := base
	bad.Rows = 0
	if _, err := ApplyEnv(bad, env()); codes.Of(err) != codes.TerminalSize || strings.Contains(err.Error(), "environment") {
		t.Errorf("invalid file, no variables: %v", err)
	}
}

func TestExportFormats(t *testing.T) {
	c := Config{Version: 2, RegistryHash: 0xab, FeatureFlags: Debug, TerminalMode: Raw, Rows: 1, Cols: 255}
	sh, err := Export(c, "https://r.example/it's", FormatShell)
	if err != nil {
		t.Fatal(err)
	}
	// Only the variables the loader reads are exported (no registry hash:
	// ApplyEnv ignores it, so sourcing it would change nothing).
	wantSh := "export BUN_CONFIG_FEATURE_FLAGS='0x00000001'\nexport BUN_CONFIG_REGISTRY='https://r.example/it'\\''s'\n" +
		"export BUN_CONFIG_TERMINAL='raw;1x255'\nexport BUN_CONFIG_VERSION='2'\n"
	if string(sh) != wantSh {
		t.Errorf("shell export:\n%s\nwant\n%s", sh, wantSh)
	}
	js, err := Export(c, "", FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(js, &m); err != nil || len(m) != 3 || m[EnvTerminal] != "raw;1x255" || !strings.HasSuffix(string(js), "}\n") {
		t.Errorf("json export %s: %v", js, err)
	}
	if _, ok := m[EnvRegistry]; ok {
		t.Error("json export names a registry it was not given")
	}
}

// TestStorePersistOutcome: a Persist that succeeds sees the old and new
// configs and the new one is published and announced; one that fails
// leaves the store and subscribers as they were and returns its error.
func TestStorePersistOutcome(t *testing.T) {
	start := mtGood()
	s, err := NewStore(start)
	if err != nil {
		t.Fatal(err)
	}
	ch, cancel := s.Subscribe(4)
	defer cancel()
	var calls [][2]Config
	s.Persist = func(old, new Config) error { calls = append(calls, [2]Config{old, new}); return nil }
	next := start
	next.Rows = 99
	got, err := s.Update(func(Config) (Config, error) { return next, nil })
	if err != nil || got != next || s.Load() != next || len(calls) != 1 || calls[0] != [2]Config{start, next} {
		t.Fatalf("successful persist: %+v, %v, store %+v, calls %v", got, err, s.Load(), calls)
	}
	if c := <-ch; c.Old != start || c.New != next || c.Seq != 1 {
		t.Fatalf("announced %+v", c)
	}
	boom := errors.New("disk full")
	s.Persist = func(old, new Config) error { return boom }
	third := next
	third.Cols = 7
	got, err = s.Update(func(Config) (Config, error) { return third, nil })
	if !errors.Is(err, boom) || got != next || s.Load() != next {
		t.Fatalf("failed persist: %+v, %v, store %+v", got, err, s.Load())
	}
	select {
	case c := <-ch:
		t.Fatalf("a failed update was announced: %+v", c)
	default:
	}
}
