package fuzz

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/frame"
)

// refFrameCRC is CRC-8/SMBUS bit by bit: the fuzzer's own reading of the
// SPEC, so that a wrong table or range in the package cannot agree with
// itself.
func refFrameCRC(b []byte) byte {
	var c byte
	for _, x := range b {
		c ^= x
		for range 8 {
			if c&0x80 != 0 {
				c = c<<1 ^ 0x07
			} else {
				c <<= 1
			}
		}
	}
	return c
}

// refFrameCode is SPEC section 4's first failing decode check for b, or "".
func refFrameCode(b []byte) codes.Code {
	if len(b) != 14 {
		return codes.FrameLength
	}
	if refFrameCRC(b[:13]) != b[13] {
		return codes.FrameChecksum
	}
	off := uint32(b[1]) | uint32(b[2])<<8 | uint32(b[3])<<16 | uint32(b[4])<<24
	var val uint64
	for i := 12; i >= 5; i-- {
		val = val<<8 | uint64(b[i])
	}
	switch b[0] {
	case 0x01:
		var width uint
		switch off {
		case 0x04, 0x0D, 0x0E, 0x0F:
			width = 1
		case 0x05, 0x09:
			width = 4
		default:
			return codes.FrameOffset
		}
		if val>>(8*width) != 0 {
			return codes.FrameValue
		}
	case 0x02, 0x03:
		if off != 0x09 {
			return codes.FrameOffset
		}
		if val>>32 != 0 {
			return codes.FrameValue
		}
	case 0x04:
		if off != 0 {
			return codes.FrameOffset
		}
		if val != 0 {
			return codes.FrameValue
		}
	case 0x81, 0x82:
	default:
		return codes.FrameType
	}
	return ""
}

// frameMasks is SPEC section 2's flag masks, independent of config.Mask.
var frameMasks = [...]uint32{0x000, 0x0ff, 0x3ff}

// refConfigCode is SPEC section 2's first failing check of c and the
// lockfile offset it is reported at, or "".
func refConfigCode(c config.Config) (codes.Code, int) {
	switch {
	case c.Version > 2:
		return codes.UnsupportedVersion, 0x04
	case c.RegistryHash == 0:
		return codes.RegistryHash, 0x05
	case uint32(c.FeatureFlags)&^frameMasks[c.Version] != 0:
		return codes.UnknownFeature, 0x09
	case c.TerminalMode > 2:
		return codes.TerminalMode, 0x0D
	case c.Rows == 0:
		return codes.TerminalSize, 0x0E
	case c.Cols == 0:
		return codes.TerminalSize, 0x0F
	}
	return "", 0
}

func specValid(c config.Config) bool {
	code, _ := refConfigCode(c)
	return code == ""
}

// applied is what a request does to c by SPEC section 4, valid or not.
func applied(c config.Config, f frame.Frame) config.Config {
	switch f.Type {
	case frame.TypeSet:
		switch f.Offset {
		case 0x04:
			c.Version = uint8(f.Value)
		case 0x05:
			c.RegistryHash = uint32(f.Value)
		case 0x09:
			c.FeatureFlags = config.Flags(f.Value)
		case 0x0D:
			c.TerminalMode = config.Mode(f.Value)
		case 0x0E:
			c.Rows = uint8(f.Value)
		case 0x0F:
			c.Cols = uint8(f.Value)
		}
	case frame.TypeFlagsEnable:
		c.FeatureFlags |= config.Flags(f.Value)
	case frame.TypeFlagsDisable:
		c.FeatureFlags &^= config.Flags(f.Value)
	}
	return c
}

// applyConfigs are the configs FuzzFrame applies accepted requests to: the
// default, and the extremes of the other versions, so that version and
// flag SETs meet masks both wider and narrower than their own; then
// invalid ones, whose refusals must name the SPEC's first failing field
// (the mode before the rows, the rows before the cols) even when the frame
// touched another.
var applyConfigs = []config.Config{
	config.Default(),
	{Version: 2, RegistryHash: 1, FeatureFlags: 0x3ff, TerminalMode: config.Raw, Rows: 255, Cols: 255},
	{Version: 0, RegistryHash: 0xffffffff, TerminalMode: config.None, Rows: 1, Cols: 1},
	{Version: 1, RegistryHash: 7, FeatureFlags: 0x300, TerminalMode: 3, Rows: 0, Cols: 0},
	{Version: 3, RegistryHash: 0, FeatureFlags: 0x400, TerminalMode: 0xff, Rows: 0, Cols: 0},
}

func FuzzFrame(f *testing.F) {
	var vectors map[string]string
	raw, err := os.ReadFile("../fixtures/frames.json")
	if err != nil {
		f.Fatal(err)
	}
	if err := json.Unmarshal(raw, &vectors); err != nil {
		f.Fatal(err)
	}
	for name, h := range vectors {
		b, err := hex.DecodeString(h)
		if err != nil {
			f.Fatalf("%s: %v", name, err)
		}
		f.Add(b)
	}
	sealed := func(typ byte, off uint32, val uint64) []byte {
		b := frame.Encode(frame.Frame{Type: frame.Type(typ), Offset: off, Value: val})
		return b[:]
	}
	raw13 := sealed(0x01, 0x0D, 2)
	bad := sealed(0x01, 0x0D, 2)
	bad[13] ^= 0x01
	f.Add([]byte{})                                 // empty: frame-length at 0
	f.Add(raw13[:13])                               // 13 bytes, CRC missing: frame-length
	f.Add(append(sealed(0x04, 0, 0), 0))            // 15 bytes: frame-length at the extra byte
	f.Add(bad)                                      // one CRC bit off: frame-checksum
	f.Add(sealed(0x05, 0x0D, 2))                    // unknown type 0x05: frame-type
	f.Add(sealed(0x00, 0, 0))                       // type 0, all zero: frame-type
	f.Add(sealed(0x04, 0x0D, 0))                    // SNAPSHOT with an offset: frame-offset
	f.Add(sealed(0x04, 0, 1))                       // SNAPSHOT with a value: frame-value
	f.Add(sealed(0x01, 0x10, 0))                    // SET at the reserved byte 0x10: frame-offset
	f.Add(sealed(0x01, 0x0E, 0x100))                // 0x100 into the u8 rows: frame-value
	f.Add(sealed(0x01, 0x05, 1<<32))                // 33 bits into the u32 hash: frame-value
	f.Add(sealed(0x02, 0x09, 0x3ff))                // v2 flags enabled on v1: unknown-feature on Apply
	f.Add(sealed(0x02, 0x09, 1<<32))                // a 33-bit flag mask: frame-value
	f.Add(sealed(0x03, 0x09, 0xffffffff))           // disable every bit: valid on Apply
	f.Add(sealed(0x03, 0x0D, 1))                    // FLAGS_DISABLE off 0x09: frame-offset
	f.Add(sealed(0x01, 0x04, 0))                    // SET version 0 over v1 flags: unknown-feature
	f.Add(sealed(0x01, 0x0F, 0))                    // cols 0: terminal-size on Apply
	f.Add(sealed(0x01, 0x0D, 3))                    // mode 3: terminal-mode on Apply
	f.Add(sealed(0x81, 0x0D, 0x12cab69b58a0c073))   // ACK: any offset and value
	f.Add(sealed(0x82, 0xffffffff, 0xffffffffffff)) // NAK: any offset and value
	var allocs atomic.Uint64
	f.Fuzz(func(t *testing.T, b []byte) {
		checkFrame(t, b, &allocs)
		// Most inputs stop at the checksum; fixing it reaches the later
		// checks and Apply, as FuzzLockfileResealed does for the lockfile.
		if len(b) == frame.Size {
			r := append([]byte(nil), b...)
			r[13] = refFrameCRC(r[:13])
			checkFrame(t, r, &allocs)
		}
	})
}

func checkFrame(t *testing.T, b []byte, allocs *atomic.Uint64) {
	orig := string(b)
	fr, err := frame.Decode(b)
	if string(b) != orig {
		t.Fatal("Decode modified its input")
	}
	if want := refFrameCode(b); codes.Of(err) != want {
		t.Fatalf("Decode(% x) = %v, the SPEC says %q", b, err, want)
	}
	if err != nil {
		checkCode(t, err)
		if n := frame.NakFor(err); n < frame.NakFrameChecksum || n > frame.NakFrameValue {
			t.Fatalf("decode error %v maps to NAK %v", err, n)
		}
		return
	}
	// testing.AllocsPerRun stops the world; one accepted input in 256 is
	// enough to see an allocation creep onto the success path.
	if allocs.Add(1)%256 == 1 {
		if n := testing.AllocsPerRun(8, func() { _, _ = frame.Decode(b) }); n != 0 {
			t.Fatalf("Decode of an accepted frame allocates %v times", n)
		}
	}
	if got := frame.Encode(fr); string(got[:]) != string(b) {
		t.Fatalf("Encode(Decode(b)) = % x, want % x", got, b)
	}
	if err := fr.Check(); err != nil {
		t.Fatalf("a decoded frame fails Check: %v", err)
	}
	// The CLI prints and reads frames as JSON with the type's SPEC name.
	j, err := json.Marshal(fr)
	if err != nil {
		t.Fatalf("JSON of %+v: %v", fr, err)
	}
	var back frame.Frame
	if err := json.Unmarshal(j, &back); err != nil || back != fr {
		t.Fatalf("JSON %s reads back as %+v, %v", j, back, err)
	}
	for _, c := range applyConfigs {
		checkApply(t, c, fr)
	}
}

func checkApply(t *testing.T, c config.Config, fr frame.Frame) {
	n, err := frame.Apply(c, fr)
	want, wantOff := refConfigCode(applied(c, fr))
	if fr.Type == frame.TypeAck || fr.Type == frame.TypeNak {
		want, wantOff = codes.FrameType, 0
	}
	if codes.Of(err) != want || (err != nil && codes.OffsetOf(err) != wantOff) {
		t.Fatalf("Apply(%+v, %+v) = %v, the SPEC says %q at 0x%02x", c, fr, err, want, wantOff)
	}
	if err != nil {
		if n != c {
			t.Fatalf("Apply(%+v, %+v) refused (%v) but changed the config to %+v", c, fr, err, n)
		}
		if want != codes.FrameType && frame.NakFor(err) != frame.NakInvalidConfig {
			t.Fatalf("refusal %v maps to NAK %v, want invalid-config", err, frame.NakFor(err))
		}
		return
	}
	if !n.Valid() || !specValid(n) {
		t.Fatalf("Apply(%+v, %+v) = %+v, an invalid config", c, fr, n)
	}
	if d := cmp.Diff(applied(c, fr), n); d != "" {
		t.Fatalf("Apply(%+v, %+v) (-want +got):\n%s", c, fr, d)
	}
	if fr.Type == frame.TypeFlagsEnable || fr.Type == frame.TypeFlagsDisable {
		again, err := frame.Apply(n, fr)
		if err != nil || again != n {
			t.Fatalf("%s is not idempotent: %+v then %+v (%v)", fr.Type, n, again, err)
		}
	}
	if !specValid(c) {
		return // the inverse would restore an invalid config, which Apply refuses
	}
	inv := frame.Inverse(c, fr)
	back, err := frame.Apply(n, inv)
	if err != nil {
		t.Fatalf("inverse %+v of %+v refused: %v", inv, fr, err)
	}
	if d := cmp.Diff(c, back); d != "" {
		t.Fatalf("Apply then Inverse of %+v (-want +got):\n%s", fr, d)
	}
}
