package frame

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
)

func TestCRC8(t *testing.T) {
	if got := CRC8([]byte("123456789")); got != 0xf4 {
		t.Errorf("CRC8(123456789) = 0x%02x, want 0xf4", got)
	}
	// crc13 must agree with the byte-at-a-time CRC on every input, not
	// only on the check string.
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		var p [Size]byte
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		if got, want := crc13(&p), CRC8(p[:offCRC]); got != want {
			t.Fatalf("crc13(% x) = 0x%02x, CRC8 = 0x%02x", p[:offCRC], got, want)
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVectors(t *testing.T) {
	raw, err := os.ReadFile("../../fixtures/frames.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors map[string]string
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	want := map[string]Frame{
		"seed-set-terminal-raw": {Type: TypeSet, Offset: config.OffsetTerminalMode, Value: uint64(config.Raw)},
		"flags-enable-debug":    {Type: TypeFlagsEnable, Offset: config.OffsetFeatureFlags, Value: uint64(config.Debug)},
		"snapshot":              {Type: TypeSnapshot},
		"set-registry-hash":     {Type: TypeSet, Offset: config.OffsetRegistryHash, Value: uint64(config.DefaultRegistryHash)},
	}
	if len(vectors) != len(want) {
		t.Errorf("frames.json has %d vectors, the test knows %d", len(vectors), len(want))
	}
	for name, h := range vectors {
		t.Run(name, func(t *testing.T) {
			b := mustHex(t, h)
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(%s): %v", h, err)
			}
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expected frame for vector %q", name)
			}
			if d := cmp.Diff(w, got); d != "" {
				t.Errorf("Decode mismatch (-want +got):\n%s", d)
			}
			if e := Encode(got); hex.EncodeToString(e[:]) != h {
				t.Errorf("Encode = %x, want %s", e, h)
			}
		})
	}
}

// TestDesignNotesExample decodes the design notes' only frame:
// [0x01, 13, 0,0,0, 2, 0,0,0,0,0,0,0, checksum], "set terminalMode to raw".
func TestDesignNotesExample(t *testing.T) {
	b := []byte{0x01, 13, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0}
	b[13] = CRC8(b[:13])
	f, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(Frame{Type: TypeSet, Offset: 13, Value: 2}, f); d != "" {
		t.Errorf("Decode mismatch (-want +got):\n%s", d)
	}
	got, err := Apply(config.Default(), f)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	want.TerminalMode = config.Raw
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Apply mismatch (-want +got):\n%s", d)
	}
}

// messWith returns a copy of a valid frame changed by mutate, with its
// checksum recomputed unless keepCRC.
func messWith(f Frame, keepCRC bool, mutate func(b []byte)) []byte {
	e := Encode(f)
	b := e[:]
	mutate(b)
	if !keepCRC && len(b) == Size {
		b[offCRC] = CRC8(b[:offCRC])
	}
	return b
}

func TestDecodeErrors(t *testing.T) {
	set := Frame{Type: TypeSet, Offset: config.OffsetRows, Value: 24}
	putOffset := func(o uint32) func([]byte) {
		return func(b []byte) { b[1], b[2], b[3], b[4] = byte(o), byte(o>>8), byte(o>>16), byte(o>>24) }
	}
	putValue := func(v uint64) func([]byte) {
		return func(b []byte) {
			for i := range 8 {
				b[offValue+i] = byte(v >> (8 * i))
			}
		}
	}
	both := func(fs ...func([]byte)) func([]byte) {
		return func(b []byte) {
			for _, f := range fs {
				f(b)
			}
		}
	}
	tests := []struct {
		name       string
		in         []byte
		wantCode   codes.Code
		wantOffset int
	}{
		{"empty", nil, codes.FrameLength, 0},
		{"short", messWith(set, false, func([]byte) {})[:13], codes.FrameLength, 13},
		{"long", append(messWith(set, false, func([]byte) {}), 0), codes.FrameLength, 14},
		{"checksum", messWith(set, true, func(b []byte) { b[offCRC] ^= 1 }), codes.FrameChecksum, 13},
		{"checksum/value-bit", messWith(set, true, func(b []byte) { b[12] ^= 0x80 }), codes.FrameChecksum, 13},
		{"checksum-before-type", messWith(set, true, func(b []byte) { b[0] = 0x7f }), codes.FrameChecksum, 13},
		{"type/zero", messWith(set, false, func(b []byte) { b[0] = 0 }), codes.FrameType, 0},
		{"type/5", messWith(set, false, func(b []byte) { b[0] = 5 }), codes.FrameType, 0},
		{"type/0x80", messWith(set, false, func(b []byte) { b[0] = 0x80 }), codes.FrameType, 0},
		{"type/0x83", messWith(set, false, func(b []byte) { b[0] = 0x83 }), codes.FrameType, 0},
		{"type-before-offset", messWith(set, false, both(func(b []byte) { b[0] = 9 }, putOffset(0x99))), codes.FrameType, 0},
		{"set/offset-0", messWith(set, false, putOffset(0)), codes.FrameOffset, 1},
		{"set/offset-reserved", messWith(set, false, putOffset(config.OffsetReserved)), codes.FrameOffset, 1},
		{"set/offset-mid-field", messWith(set, false, putOffset(0x06)), codes.FrameOffset, 1},
		{"set/offset-high-byte", messWith(set, false, putOffset(0x0100000d)), codes.FrameOffset, 1},
		{"offset-before-value", messWith(set, false, both(putOffset(0x11), putValue(1<<40))), codes.FrameOffset, 1},
		{"set/u8-256", messWith(set, false, putValue(256)), codes.FrameValue, 5},
		{"set/version-0x100", messWith(Frame{Type: TypeSet, Offset: config.OffsetVersion}, false, putValue(0x100)), codes.FrameValue, 5},
		{"set/u32-2^32", messWith(Frame{Type: TypeSet, Offset: config.OffsetRegistryHash}, false, putValue(1<<32)), codes.FrameValue, 5},
		{"set/flags-top-byte", messWith(Frame{Type: TypeSet, Offset: config.OffsetFeatureFlags}, false, putValue(1<<63)), codes.FrameValue, 5},
		{"enable/offset", messWith(Frame{Type: TypeFlagsEnable, Offset: config.OffsetVersion, Value: 1}, false, func([]byte) {}), codes.FrameOffset, 1},
		{"disable/offset", messWith(Frame{Type: TypeFlagsDisable, Offset: 0, Value: 1}, false, func([]byte) {}), codes.FrameOffset, 1},
		{"enable/value", messWith(Frame{Type: TypeFlagsEnable, Offset: 9, Value: 1 << 32}, false, func([]byte) {}), codes.FrameValue, 5},
		{"disable/value", messWith(Frame{Type: TypeFlagsDisable, Offset: 9, Value: ^uint64(0)}, false, func([]byte) {}), codes.FrameValue, 5},
		{"snapshot/offset", messWith(Frame{Type: TypeSnapshot, Offset: 9}, false, func([]byte) {}), codes.FrameOffset, 1},
		{"snapshot/offset-and-value", messWith(Frame{Type: TypeSnapshot, Offset: 9, Value: 1}, false, func([]byte) {}), codes.FrameOffset, 1},
		{"snapshot/value", messWith(Frame{Type: TypeSnapshot, Value: 1}, false, func([]byte) {}), codes.FrameValue, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Decode(tt.in)
			if err == nil {
				t.Fatalf("Decode(% x) = %+v, want %s", tt.in, f, tt.wantCode)
			}
			if !errors.Is(err, tt.wantCode) {
				t.Errorf("Decode(% x) = %v, want %s", tt.in, err, tt.wantCode)
			}
			var ce *codes.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *codes.Error", err)
			}
			if ce.Offset != tt.wantOffset {
				t.Errorf("offset = %d, want %d", ce.Offset, tt.wantOffset)
			}
			if f != (Frame{}) {
				t.Errorf("failed Decode returned %+v, want the zero Frame", f)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	tests := []Frame{
		{Type: TypeSet, Offset: config.OffsetVersion, Value: 0xff}, // fits; range is Apply's business
		{Type: TypeSet, Offset: config.OffsetRegistryHash, Value: 0xffffffff},
		{Type: TypeSet, Offset: config.OffsetFeatureFlags, Value: 0xffffffff},
		{Type: TypeSet, Offset: config.OffsetTerminalMode, Value: 0xff},
		{Type: TypeSet, Offset: config.OffsetRows, Value: 0},
		{Type: TypeSet, Offset: config.OffsetCols, Value: 255},
		{Type: TypeFlagsEnable, Offset: 9, Value: 0},
		{Type: TypeFlagsDisable, Offset: 9, Value: 0xffffffff},
		{Type: TypeSnapshot},
		{Type: TypeAck, Offset: 0xffffffff, Value: ^uint64(0)},
		{Type: TypeNak, Offset: 0x0d, Value: 1234567},
	}
	for _, want := range tests {
		e := Encode(want)
		got, err := Decode(e[:])
		if err != nil {
			t.Errorf("Decode(Encode(%+v)): %v", want, err)
			continue
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("round trip mismatch (-want +got):\n%s", d)
		}
		if err := want.Check(); err != nil {
			t.Errorf("Check(%+v) = %v, want nil", want, err)
		}
	}
}

// TestDecodeAnyBytes checks on random frames that Decode and Check agree
// and that whatever decodes encodes back to the same bytes.
func TestDecodeAnyBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	okCount := 0
	for range 200000 {
		var p [Size]byte
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		// Bias toward valid types, field offsets and small values.
		p[0] = []byte{1, 2, 3, 4, 0x81, 0x82, byte(r.Uint32())}[r.IntN(7)]
		if r.IntN(2) == 0 {
			p[1], p[2], p[3], p[4] = []byte{0, 4, 5, 9, 13, 14, 15, 16}[r.IntN(8)], 0, 0, 0
		}
		for i := 5 + r.IntN(9); i < 13; i++ {
			p[i] = 0
		}
		p[13] = CRC8(p[:13])
		f, err := Decode(p[:])
		if err != nil {
			continue
		}
		okCount++
		if e := Encode(f); e != p {
			t.Fatalf("Encode(Decode(% x)) = % x", p, e)
		}
	}
	if okCount < 1000 {
		t.Errorf("only %d random frames decoded; the generator is too weak", okCount)
	}
}

func TestDecodeAllocs(t *testing.T) {
	e := Encode(Frame{Type: TypeSet, Offset: 0x0d, Value: 2})
	if n := testing.AllocsPerRun(100, func() { _, _ = Decode(e[:]) }); n != 0 {
		t.Errorf("Decode allocates %v times, want 0", n)
	}
}

func TestApply(t *testing.T) {
	base := config.Default() // v1, flags 0xb8, cooked 24x80
	v2 := base
	v2.Version = 2
	v2.FeatureFlags |= config.Offline
	with := func(f func(*config.Config)) config.Config {
		c := base
		f(&c)
		return c
	}
	tests := []struct {
		name     string
		in       config.Config
		f        Frame
		want     config.Config
		wantCode codes.Code
	}{
		{"set/version-2", base, Frame{TypeSet, 0x04, 2}, with(func(c *config.Config) { c.Version = 2 }), ""},
		{"set/version-3", base, Frame{TypeSet, 0x04, 3}, base, codes.UnsupportedVersion},
		{"set/version-0-with-flags", base, Frame{TypeSet, 0x04, 0}, base, codes.UnknownFeature},
		{"set/version-1-with-v2-flag", v2, Frame{TypeSet, 0x04, 1}, v2, codes.UnknownFeature},
		{"set/registry", base, Frame{TypeSet, 0x05, 0x3b8b5a5a}, with(func(c *config.Config) { c.RegistryHash = 0x3b8b5a5a }), ""},
		{"set/registry-0", base, Frame{TypeSet, 0x05, 0}, base, codes.RegistryHash},
		{"set/flags", base, Frame{TypeSet, 0x09, 0xff}, with(func(c *config.Config) { c.FeatureFlags = 0xff }), ""},
		{"set/flags-v2-in-v1", base, Frame{TypeSet, 0x09, 0x100}, base, codes.UnknownFeature},
		{"set/mode-raw", base, Frame{TypeSet, 0x0d, 2}, with(func(c *config.Config) { c.TerminalMode = config.Raw }), ""},
		{"set/mode-3", base, Frame{TypeSet, 0x0d, 3}, base, codes.TerminalMode},
		{"set/rows", base, Frame{TypeSet, 0x0e, 255}, with(func(c *config.Config) { c.Rows = 255 }), ""},
		{"set/rows-0", base, Frame{TypeSet, 0x0e, 0}, base, codes.TerminalSize},
		{"set/cols", base, Frame{TypeSet, 0x0f, 1}, with(func(c *config.Config) { c.Cols = 1 }), ""},
		{"set/cols-0", base, Frame{TypeSet, 0x0f, 0}, base, codes.TerminalSize},
		{"set/bad-offset", base, Frame{TypeSet, 0x10, 0}, base, codes.FrameOffset},
		{"set/too-wide", base, Frame{TypeSet, 0x0e, 256}, base, codes.FrameValue},
		{"enable", base, Frame{TypeFlagsEnable, 9, 0x3}, with(func(c *config.Config) { c.FeatureFlags |= 3 }), ""},
		{"enable/already-set", base, Frame{TypeFlagsEnable, 9, uint64(config.Metrics)}, base, ""},
		{"enable/v2-flag-in-v1", base, Frame{TypeFlagsEnable, 9, uint64(config.Offline)}, base, codes.UnknownFeature},
		{"enable/v2-flag-in-v2", v2, Frame{TypeFlagsEnable, 9, uint64(config.StrictIntegrity)}, func() config.Config {
			c := v2
			c.FeatureFlags |= config.StrictIntegrity
			return c
		}(), ""},
		{"enable/undefined-bit", v2, Frame{TypeFlagsEnable, 9, 1 << 10}, v2, codes.UnknownFeature},
		{"disable", base, Frame{TypeFlagsDisable, 9, uint64(config.Metrics | config.Debug)}, with(func(c *config.Config) { c.FeatureFlags &^= config.Metrics }), ""},
		{"disable/undefined-bits", base, Frame{TypeFlagsDisable, 9, 0xffffffff}, with(func(c *config.Config) { c.FeatureFlags = 0 }), ""},
		{"disable/bad-offset", base, Frame{TypeFlagsDisable, 4, 1}, base, codes.FrameOffset},
		{"snapshot", base, Frame{TypeSnapshot, 0, 0}, base, ""},
		{"snapshot/of-invalid", with(func(c *config.Config) { c.Rows = 0 }), Frame{TypeSnapshot, 0, 0}, with(func(c *config.Config) { c.Rows = 0 }), codes.TerminalSize},
		{"set/repairs-invalid", with(func(c *config.Config) { c.Rows = 0 }), Frame{TypeSet, 0x0e, 24}, base, ""},
		{"ack", base, Ack(0x0d, 1), base, codes.FrameType},
		{"nak", base, Nak(0x0d, NakInvalidConfig), base, codes.FrameType},
		{"unknown-type", base, Frame{0x42, 0, 0}, base, codes.FrameType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Apply(tt.in, tt.f)
			if c := codes.Of(err); c != tt.wantCode {
				t.Errorf("Apply code = %q (%v), want %q", c, err, tt.wantCode)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Apply mismatch (-want +got):\n%s", d)
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

func randomRequest(r *rand.Rand) Frame {
	offsets := []uint32{0x04, 0x05, 0x09, 0x0d, 0x0e, 0x0f}
	switch r.IntN(4) {
	case 0:
		return Frame{Type: TypeFlagsEnable, Offset: 9, Value: uint64(1 << r.IntN(11))}
	case 1:
		return Frame{Type: TypeFlagsDisable, Offset: 9, Value: uint64(r.Uint32() & 0x7ff)}
	}
	off := offsets[r.IntN(len(offsets))]
	v := uint64(r.IntN(4)) // small values hit the interesting edges of 1-byte fields
	if fieldWidth(off) == 4 {
		v = uint64(r.Uint32() & []uint32{0, 0x3ff, 0xffffffff}[r.IntN(3)])
	}
	return Frame{Type: TypeSet, Offset: off, Value: v}
}

// TestApplyProperties: every accepted request leaves a valid config that
// Inverse takes back; every refused one leaves the config unchanged.
func TestApplyProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var accepted, refused int
	for range 100000 {
		old, f := randomConfig(r), randomRequest(r)
		got, err := Apply(old, f)
		if err != nil {
			refused++
			if got != old {
				t.Fatalf("Apply(%+v, %+v) failed (%v) but changed the config to %+v", old, f, err, got)
			}
			if ref := func() config.Config { c := old; setOrMask(&c, f); return c }(); ref.Valid() {
				t.Fatalf("Apply(%+v, %+v) refused a valid result %+v: %v", old, f, ref, err)
			}
			continue
		}
		accepted++
		if !got.Valid() {
			t.Fatalf("Apply(%+v, %+v) = invalid %+v", old, f, got)
		}
		inv := Inverse(old, f)
		back, err := Apply(got, inv)
		if err != nil {
			t.Fatalf("Apply(%+v, Inverse = %+v): %v", got, inv, err)
		}
		if d := cmp.Diff(old, back); d != "" {
			t.Fatalf("Inverse of %+v did not restore (-want +got):\n%s", f, d)
		}
		e := Encode(f)
		if d, err := Decode(e[:]); err != nil || d != f {
			t.Fatalf("Decode(Encode(%+v)) = %+v, %v", f, d, err)
		}
	}
	if accepted < 1000 || refused < 1000 {
		t.Errorf("accepted %d, refused %d: the generator misses a side", accepted, refused)
	}
}

// setOrMask is Apply without validation, written independently of setField.
func setOrMask(c *config.Config, f Frame) {
	b := c.Bytes()
	switch f.Type {
	case TypeSet:
		i := int(f.Offset) - config.LockfileOffset
		if fieldWidth(f.Offset) == 4 {
			b[i], b[i+1], b[i+2], b[i+3] = byte(f.Value>>24), byte(f.Value>>16), byte(f.Value>>8), byte(f.Value)
		} else {
			b[i] = byte(f.Value)
		}
		*c = config.FromBytes(&b)
	case TypeFlagsEnable:
		c.FeatureFlags |= config.Flags(f.Value)
	case TypeFlagsDisable:
		c.FeatureFlags &^= config.Flags(f.Value)
	}
}

func TestAckNak(t *testing.T) {
	c := config.Default()
	if d := cmp.Diff(Frame{Type: TypeAck, Offset: 0x0d, Value: c.Checksum()}, Ack(0x0d, c.Checksum())); d != "" {
		t.Errorf("Ack mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(Frame{Type: TypeNak, Offset: 0x42, Value: 6}, Nak(0x42, NakInvalidConfig)); d != "" {
		t.Errorf("Nak mismatch (-want +got):\n%s", d)
	}
	names := map[NakCode]string{}
	for c := NakFrameChecksum; c <= NakRateLimited; c++ {
		names[c] = c.String()
	}
	want := map[NakCode]string{1: "frame-checksum", 2: "frame-type", 3: "frame-offset", 4: "frame-value",
		5: "unauthorized", 6: "invalid-config", 7: "persist-failed", 8: "rate-limited"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("NAK names mismatch (-want +got):\n%s", d)
	}
	if got := NakCode(9).String(); got != "nak(9)" {
		t.Errorf("NakCode(9) = %q", got)
	}
}

func TestNakFor(t *testing.T) {
	decodeErr := func(b []byte) error { _, err := Decode(b); return err }
	applyErr := func(f Frame) error { _, err := Apply(config.Default(), f); return err }
	good := Encode(Frame{Type: TypeSnapshot})
	bad := good
	bad[offCRC] ^= 1
	tests := []struct {
		name string
		err  error
		want NakCode
	}{
		{"nil", nil, 0},
		{"length", decodeErr(good[:3]), NakFrameChecksum},
		{"checksum", decodeErr(bad[:]), NakFrameChecksum},
		{"type", applyErr(Frame{Type: 0x10}), NakFrameType},
		{"offset", applyErr(Frame{Type: TypeSet, Offset: 1}), NakFrameOffset},
		{"value", applyErr(Frame{Type: TypeSet, Offset: 4, Value: 1000}), NakFrameValue},
		{"unsupported-version", applyErr(Frame{Type: TypeSet, Offset: 4, Value: 3}), NakInvalidConfig},
		{"registry-hash", applyErr(Frame{Type: TypeSet, Offset: 5}), NakInvalidConfig},
		{"unknown-feature", applyErr(Frame{Type: TypeFlagsEnable, Offset: 9, Value: 1 << 9}), NakInvalidConfig},
		{"terminal-mode", applyErr(Frame{Type: TypeSet, Offset: 13, Value: 7}), NakInvalidConfig},
		{"terminal-size", applyErr(Frame{Type: TypeSet, Offset: 15}), NakInvalidConfig},
		{"unauthorized", fmt.Errorf("token expired: %w", ErrUnauthorized), NakUnauthorized},
		{"rate-limited", ErrRateLimited, NakRateLimited},
		{"persist", errors.New("write bun.lockb: disk full"), NakPersistFailed},
	}
	for _, tt := range tests {
		if got := NakFor(tt.err); got != tt.want {
			t.Errorf("NakFor(%s: %v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestTypeNames(t *testing.T) {
	for _, ty := range []Type{TypeSet, TypeFlagsEnable, TypeFlagsDisable, TypeSnapshot, TypeAck, TypeNak} {
		got, ok := ParseType(ty.String())
		if !ok || got != ty {
			t.Errorf("ParseType(%q) = %v, %v", ty.String(), got, ok)
		}
	}
	if _, ok := ParseType("SET"); ok {
		t.Error("ParseType accepts upper case")
	}
	if s := Type(0x42).String(); s != "type(0x42)" {
		t.Errorf("Type(0x42) = %q", s)
	}
	b, err := json.Marshal(Frame{Type: TypeFlagsDisable, Offset: 9, Value: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"flags-disable","offset":9,"value":1099511627776}`; string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
	if _, err := json.Marshal(Frame{Type: 0x42}); !errors.Is(err, codes.FrameType) {
		t.Errorf("JSON of an unknown type: %v, want frame-type", err)
	}
}

func TestMarshal(t *testing.T) {
	if _, err := Marshal(Frame{Type: TypeSnapshot, Value: 1}); !errors.Is(err, codes.FrameValue) {
		t.Errorf("Marshal(snapshot value 1) = %v, want frame-value", err)
	}
	f := Frame{Type: TypeSet, Offset: 0x0e, Value: 50}
	b, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var g Frame
	if err := g.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if g != f {
		t.Errorf("binary round trip = %+v, want %+v", g, f)
	}
	if got := AppendEncode([]byte{0xaa}, f); len(got) != 15 || got[0] != 0xaa || [Size]byte(got[1:]) != Encode(f) {
		t.Errorf("AppendEncode = % x", got)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"010d00000002000000000000007a", // frames.json: set terminal raw
		"0209000000010000000000000087", // frames.json: flags-enable DEBUG
		"040000000000000000000000005e", // frames.json: snapshot
		"0105000000d56b9b5e0000000037", // frames.json: set registry hash
		"",                             // frame-length
	} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode(b)
		if err != nil {
			return
		}
		e := Encode(d)
		if string(e[:]) != string(b) {
			t.Fatalf("Encode(Decode(% x)) = % x", b, e)
		}
		if err := d.Check(); err != nil {
			t.Fatalf("decoded %+v fails Check: %v", d, err)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	e := Encode(Frame{Type: TypeSet, Offset: config.OffsetTerminalMode, Value: uint64(config.Raw)})
	b.ReportAllocs()
	b.SetBytes(Size)
	for b.Loop() {
		if _, err := Decode(e[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	f := Frame{Type: TypeSet, Offset: config.OffsetTerminalMode, Value: uint64(config.Raw)}
	b.ReportAllocs()
	b.SetBytes(Size)
	for b.Loop() {
		_ = Encode(f)
	}
}

func BenchmarkApply(b *testing.B) {
	c := config.Default()
	f := Frame{Type: TypeFlagsEnable, Offset: config.OffsetFeatureFlags, Value: uint64(config.Debug)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Apply(c, f); err != nil {
			b.Fatal(err)
		}
	}
}
