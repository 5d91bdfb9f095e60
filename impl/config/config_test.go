package config

import (
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bun13/bun13/impl/codes"
)

func TestCheckValues(t *testing.T) {
	if got := CRC64([]byte("123456789")); got != 0x995dc9bbdf1939fa {
		t.Errorf("CRC64 check value 0x%x", got)
	}
	if got := crc32.ChecksumIEEE([]byte(DefaultRegistry)); got != DefaultRegistryHash {
		t.Errorf("registry hash 0x%x", got)
	}
	// The header checksum of the seed config, from the shared vectors.
	c := Config{Version: 1, RegistryHash: 0x3b8b5a5a, FeatureFlags: 3, TerminalMode: Cooked, Rows: 24, Cols: 80}
	if got := c.Checksum(); got != 0x12cab69b58a0c073 {
		t.Errorf("seed checksum 0x%016x", got)
	}
	b := c.Bytes()
	if got := CRC64(append([]byte(Magic), b[:]...)); got != c.Checksum() {
		t.Errorf("HeaderChecksum's magic shortcut differs from the plain CRC")
	}
}

func TestHeaderChecksumMatchesCRC64(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		var b [Size]byte
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if r.IntN(2) == 0 {
			b[12] = 0
		}
		want := CRC64(append([]byte(Magic), b[:]...))
		if got := HeaderChecksum(&b); got != want {
			t.Fatalf("%x: got 0x%016x, want 0x%016x", b, got, want)
		}
		if b[12] == 0 {
			if got := FromBytes(&b).Checksum(); got != want {
				t.Fatalf("%x: Config.Checksum 0x%016x, want 0x%016x", b, got, want)
			}
		}
	}
}

func TestValidateOrder(t *testing.T) {
	ok := Default()
	tests := []struct {
		name   string
		mutate func(*Config)
		code   codes.Code
		off    int
	}{
		{"valid", func(c *Config) {}, "", 0},
		{"version", func(c *Config) { c.Version = 3; c.RegistryHash = 0 }, codes.UnsupportedVersion, 0x04},
		{"hash", func(c *Config) { c.RegistryHash = 0; c.TerminalMode = 9 }, codes.RegistryHash, 0x05},
		{"flags v1", func(c *Config) { c.FeatureFlags |= Offline; c.Rows = 0 }, codes.UnknownFeature, 0x09},
		{"flags v0", func(c *Config) { c.Version = 0 }, codes.UnknownFeature, 0x09},
		{"flags undefined bit", func(c *Config) { c.Version = 2; c.FeatureFlags = 1 << 10 }, codes.UnknownFeature, 0x09},
		{"mode", func(c *Config) { c.TerminalMode = 3; c.Rows = 0 }, codes.TerminalMode, 0x0D},
		{"rows", func(c *Config) { c.Rows = 0; c.Cols = 0 }, codes.TerminalSize, 0x0E},
		{"cols", func(c *Config) { c.Cols = 0 }, codes.TerminalSize, 0x0F},
		{"v0 no flags", func(c *Config) { c.Version = 0; c.FeatureFlags = 0 }, "", 0},
		{"v2 all flags", func(c *Config) { c.Version = 2; c.FeatureFlags = 0x3ff }, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mutate(&c)
			err := c.Validate()
			if c.Valid() != (err == nil) {
				t.Errorf("Valid() = %v disagrees with Validate() = %v", c.Valid(), err)
			}
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.code) || codes.OffsetOf(err) != tt.off {
				t.Fatalf("got %v, want %s at %d", err, tt.code, tt.off)
			}
			var back Config
			if err := back.UnmarshalBinary(func() []byte { b, _ := c.MarshalBinary(); return b }()); !errors.Is(err, tt.code) {
				t.Errorf("UnmarshalBinary: %v, want %s", err, tt.code)
			}
		})
	}
	b := ok.Bytes()
	b[12] = 1
	if _, err := Parse(&b); !errors.Is(err, codes.Reserved) || codes.OffsetOf(err) != 0x10 {
		t.Errorf("reserved byte: %v", err)
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	c := Config{Version: 2, RegistryHash: 0xdeadbeef, FeatureFlags: 0x2a5, TerminalMode: Raw, Rows: 255, Cols: 1}
	b, _ := c.MarshalBinary()
	if d := cmp.Diff([]byte{2, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0x02, 0xa5, 2, 255, 1, 0}, b); d != "" {
		t.Errorf("bytes mismatch (-want +got):\n%s", d)
	}
	var back Config
	if err := back.UnmarshalBinary(b); err != nil || back != c {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	if err := back.UnmarshalBinary(b[:12]); !errors.Is(err, codes.Truncated) {
		t.Errorf("12 bytes: %v", err)
	}
}

func TestFlags(t *testing.T) {
	f, err := ParseFlags("DEBUG|trace_config, METRICS")
	if err != nil || f != Debug|TraceConfig|Metrics {
		t.Fatalf("ParseFlags: %v %v", f, err)
	}
	if got := f.String(); got != "DEBUG|TRACE_CONFIG|METRICS" {
		t.Errorf("String() = %q", got)
	}
	if got := (Flags(1<<12) | Offline).String(); got != "OFFLINE|0x00001000" {
		t.Errorf("String() = %q", got)
	}
	if f, err := ParseFlags("0x00000300"); err != nil || f != Offline|StrictIntegrity {
		t.Errorf("hex: %v %v", f, err)
	}
	for _, bad := range []string{"NOPE", "0xZZ", "DEBUG|", "0x100000000"} {
		if _, err := ParseFlags(bad); err == nil && bad != "DEBUG|" {
			t.Errorf("ParseFlags(%q) accepted", bad)
		}
	}
	if Mask(0) != 0 || Mask(1) != 0xff || Mask(2) != 0x3ff || Mask(3) != 0 {
		t.Errorf("masks")
	}
	if Offline.Since() != 2 || Debug.Since() != 1 {
		t.Errorf("Since")
	}
}

func TestNormalizeRegistryURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"HTTPS://Registry.NPMJS.org:443/", "https://registry.npmjs.org"},
		{"http://localhost:80", "http://localhost"},
		{"http://localhost:4873//", "http://localhost:4873"},
		{"https://example.com:80/npm/", "https://example.com:80/npm"},
		{"http://[::1]:4873/", "http://[::1]:4873"},
		{"https://example.com/a/b/", "https://example.com/a/b"},
	}
	for _, tt := range tests {
		got, err := NormalizeRegistryURL(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("%q: got %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"ftp://x", "https://u:p@x", "https://x/?q=1", "https://x/#f", "https://x?", "registry.npmjs.org", "", "https://"} {
		if _, err := NormalizeRegistryURL(bad); !errors.Is(err, codes.RegistryURL) {
			t.Errorf("%q: %v, want registry-url", bad, err)
		}
	}
}

func TestMigrate(t *testing.T) {
	c := Default()
	up, err := c.Migrate(2)
	if err != nil || up.Version != 2 || up.FeatureFlags != c.FeatureFlags {
		t.Fatalf("up: %+v %v", up, err)
	}
	down, err := up.Migrate(1)
	if err != nil || down != c {
		t.Fatalf("down: %+v %v", down, err)
	}
	up.FeatureFlags |= Offline
	if _, err := up.Migrate(1); !errors.Is(err, codes.UnknownFeature) {
		t.Errorf("down with a v2 flag: %v", err)
	}
	if _, err := c.Migrate(0); !errors.Is(err, codes.UnknownFeature) {
		t.Errorf("down to legacy with flags: %v", err)
	}
	if _, err := c.Migrate(3); !errors.Is(err, codes.UnsupportedVersion) {
		t.Errorf("to 3: %v", err)
	}
}

func TestApplyEnv(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	c, err := ApplyEnv(Default(), env(map[string]string{
		EnvVersion: "2", EnvRegistry: "http://localhost:4873/", EnvFlags: "OFFLINE,DEBUG", EnvTerminal: "raw;50x132",
	}))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := RegistryHash("http://localhost:4873")
	want := Config{Version: 2, RegistryHash: h, FeatureFlags: Offline | Debug, TerminalMode: Raw, Rows: 50, Cols: 132}
	if d := cmp.Diff(want, c); d != "" {
		t.Errorf("env mismatch (-want +got):\n%s", d)
	}
	for _, bad := range []map[string]string{
		{EnvVersion: "3"}, {EnvVersion: "01"}, {EnvRegistry: "ftp://x"}, {EnvFlags: "BOGUS"},
		{EnvTerminal: "raw;0x80"}, {EnvTerminal: "RAW;24x80"}, {EnvVersion: "0"}, // v0 with the default's flags
	} {
		_, err := ApplyEnv(Default(), env(bad))
		var ce *codes.Error
		if !errors.As(err, &ce) || ce.Name == "" {
			t.Errorf("%v: error %v does not name the variable", bad, err)
		}
	}
}

func TestExport(t *testing.T) {
	got, err := Export(Default(), DefaultRegistry, FormatDotenv)
	if err != nil {
		t.Fatal(err)
	}
	want := "BUN_CONFIG_FEATURE_FLAGS=0x000000b8\nBUN_CONFIG_REGISTRY=https://registry.npmjs.org\nBUN_CONFIG_TERMINAL=cooked;24x80\nBUN_CONFIG_VERSION=1\n"
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("dotenv mismatch (-want +got):\n%s", d)
	}
	// What is exported loads back to the same config.
	vars := EnvVars(Default(), DefaultRegistry)
	back, err := ApplyEnv(Config{Version: 0, RegistryHash: 1, Rows: 1, Cols: 1}, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil || back != Default() {
		t.Errorf("export does not load back: %+v %v", back, err)
	}
	if _, err := Export(Default(), "", "xml"); err == nil {
		t.Errorf("unknown format accepted")
	}
}

func TestJSON(t *testing.T) {
	c := Config{Version: 1, RegistryHash: 0x3b8b5a5a, FeatureFlags: 3, TerminalMode: Cooked, Rows: 24, Cols: 80}
	b, _ := c.MarshalJSON()
	want := `{"version":1,"registryHash":"0x3b8b5a5a","featureFlags":"0x00000003","terminalMode":"cooked","rows":24,"cols":80}`
	if string(b) != want {
		t.Errorf("got %s", b)
	}
	var back Config
	if err := back.UnmarshalJSON(b); err != nil || back != c {
		t.Errorf("round trip %+v %v", back, err)
	}
	if err := back.UnmarshalJSON([]byte(`{"version":1,"registryHash":"0x1","featureFlags":"0x0","terminalMode":"weird","rows":1,"cols":1}`)); !errors.Is(err, codes.TerminalMode) {
		t.Errorf("bad mode: %v", err)
	}
}

// TestStoreNeverPublishesInvalid: readers racing with updates only ever
// see configs that validated and were persisted.
func TestStoreNeverPublishesInvalid(t *testing.T) {
	s, err := NewStore(Default())
	if err != nil {
		t.Fatal(err)
	}
	var persisted sync.Map
	persisted.Store(Default(), true)
	s.Persist = func(_, c Config) error {
		if c.Rows%5 == 0 {
			return errors.New("disk full")
		}
		persisted.Store(c, true)
		return nil
	}
	ch, cancel := s.Subscribe(1024)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				c := s.Load()
				if !c.Valid() {
					t.Errorf("reader saw invalid %+v", c)
				}
				if _, ok := persisted.Load(c); !ok {
					t.Errorf("reader saw unpersisted %+v", c)
				}
			}
		})
	}
	applied := 0
	for i := range 200 {
		_, err := s.Update(func(c Config) (Config, error) {
			c.Rows = uint8(i%255 + 1)
			if i%7 == 0 {
				c.Cols = 0 // invalid: refused
			}
			return c, nil
		})
		if err == nil && s.Load().Rows == uint8(i%255+1) {
			applied++
		}
	}
	stop.Store(true)
	wg.Wait()
	cancel()
	n := 0
	var last uint64
	for ch := range ch {
		if ch.Seq != last+1 {
			t.Errorf("gap in change sequence: %d after %d", ch.Seq, last)
		}
		last = ch.Seq
		n++
	}
	if n == 0 || n > applied {
		t.Errorf("%d changes announced for %d applied updates", n, applied)
	}
}

func TestPackRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		v := uint8(r.IntN(MaxVersion + 1))
		c := Config{Version: v, RegistryHash: r.Uint32() | 1, FeatureFlags: Flags(r.Uint32()) & Mask(v),
			TerminalMode: Mode(r.IntN(3)), Rows: uint8(r.IntN(255) + 1), Cols: uint8(r.IntN(255) + 1)}
		if got := unpack(pack(c)); got != c {
			t.Fatalf("pack/unpack %+v -> %+v", c, got)
		}
	}
	// The layout holds every flag any version defines.
	if Mask(MaxVersion)&^flagBits != 0 {
		t.Fatalf("Mask(%d) = %#x does not fit the %#x flag field", MaxVersion, Mask(MaxVersion), flagBits)
	}
}

func TestSubscriberDropsOldest(t *testing.T) {
	s, _ := NewStore(Default())
	ch, cancel := s.Subscribe(2)
	defer cancel()
	for i := range 5 {
		s.Update(func(c Config) (Config, error) { c.Rows = uint8(10 + i); return c, nil })
	}
	a, b := <-ch, <-ch
	if a.Seq != 4 || b.Seq != 5 || b.New.Rows != 14 {
		t.Errorf("slow subscriber got %d and %d, want the newest two (4, 5)", a.Seq, b.Seq)
	}
}

func BenchmarkConfigRead(b *testing.B) {
	s, _ := NewStore(Default())
	b.ReportAllocs()
	var v uint8
	for b.Loop() {
		v += s.Load().Version
	}
	_ = v
}

func BenchmarkFeatureCheck(b *testing.B) {
	s, _ := NewStore(Default())
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if s.Enabled(Compression) {
			n++
		}
	}
	_ = n
}

func BenchmarkHeaderChecksum(b *testing.B) {
	c := Default().Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(Magic) + Size))
	for b.Loop() {
		_ = HeaderChecksum(&c)
	}
}

func BenchmarkChecksum(b *testing.B) {
	c := Default()
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Checksum()
	}
}

func BenchmarkUpdate(b *testing.B) {
	s, _ := NewStore(Default())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		s.Update(func(c Config) (Config, error) { c.Rows = uint8(i%255 + 1); return c, nil })
	}
}

// memBacking is a durable config that another writer can change behind
// the Store's back, for the Backing contract.
type memBacking struct {
	mu      sync.Mutex
	durable Config
	over    func(Config) Config
}

func (m *memBacking) Modify(_ string, fn func(Config) (Config, error)) (Config, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, err := fn(m.durable)
	if err != nil {
		return Config{}, err
	}
	m.durable = c
	return m.Effective(c)
}

func (m *memBacking) Effective(c Config) (Config, error) { return m.over(c), nil }

func TestStoreBackingAndReload(t *testing.T) {
	bk := &memBacking{durable: Default(), over: func(c Config) Config { c.Rows = 99; return c }}
	s, _ := NewStore(bk.over(Default()))
	s.Backing = bk
	ch, cancel := s.Subscribe(8)
	defer cancel()
	// Another writer moves the durable config; an update starts from it.
	bk.durable.Cols = 120
	got, err := s.UpdateFrom("api", func(c Config) (Config, error) {
		if c.Cols != 120 || c.Rows != 24 {
			t.Errorf("fn got %+v, want the durable config", c)
		}
		c.TerminalMode = Raw
		return c, nil
	})
	if err != nil || got.Rows != 99 || got.Cols != 120 || got.TerminalMode != Raw {
		t.Fatalf("update: %+v %v", got, err)
	}
	if bk.durable.Rows != 24 {
		t.Errorf("the override was persisted: %+v", bk.durable)
	}
	if c := <-ch; c.Source != "api" || c.New != got {
		t.Errorf("change %+v", c)
	}
	// Reload publishes what load returns, with its source; errors and
	// invalid configs change nothing.
	next := got
	next.Cols = 10
	if c, changed, err := s.Reload("file", func() (Config, error) { return next, nil }); err != nil || !changed || c != next {
		t.Errorf("reload: %v %v %v", c, changed, err)
	}
	if c := <-ch; c.Source != "file" || c.Old != got {
		t.Errorf("reload change %+v", c)
	}
	bad := next
	bad.Cols = 0
	if _, changed, err := s.Reload("file", func() (Config, error) { return bad, nil }); err == nil || changed || s.Load() != next {
		t.Errorf("invalid reload published")
	}
	if _, changed, _ := s.Reload("file", func() (Config, error) { return next, nil }); changed {
		t.Errorf("an unchanged reload was announced")
	}
}
