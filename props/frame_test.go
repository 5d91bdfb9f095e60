package props

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/frame"
)

// specMasks is SPEC section 2's flag masks, written out here rather than
// taken from config.Mask so that a wrong mask in config cannot hide itself.
var specMasks = [...]uint32{0x000, 0x0ff, 0x3ff}

// specValid is SPEC section 2's validity, read independently of
// config.Valid for the same reason.
func specValid(c config.Config) bool {
	return c.Version <= 2 && c.RegistryHash != 0 && uint32(c.FeatureFlags)&^specMasks[c.Version] == 0 &&
		c.TerminalMode <= 2 && c.Rows != 0 && c.Cols != 0
}

// longRun reports whether the properties run with their default counts or
// more: the checks that every kind of case was reached hold only then, and
// a quick run with a small PROPS_COUNT would fail them by chance.
func longRun() bool {
	n, err := strconv.Atoi(os.Getenv("PROPS_COUNT"))
	return err != nil || n >= 1000
}

// refConfigCode is SPEC section 2's first failing check of c and the
// lockfile offset it is reported at, or "".
func refConfigCode(c config.Config) (codes.Code, int) {
	switch {
	case c.Version > 2:
		return codes.UnsupportedVersion, 0x04
	case c.RegistryHash == 0:
		return codes.RegistryHash, 0x05
	case uint32(c.FeatureFlags)&^specMasks[c.Version] != 0:
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

// genAnyConfig generates configs near the edges of validity, valid or
// not, with several fields wrong at once so that the order of the checks
// shows.
func genAnyConfig() gopter.Gen {
	return gopter.DeriveGen(
		func(ver uint8, hash, flags uint32, mode, rows, cols uint8) config.Config {
			return config.Config{Version: ver, RegistryHash: hash, FeatureFlags: config.Flags(flags), TerminalMode: config.Mode(mode), Rows: rows, Cols: cols}
		},
		func(c config.Config) (uint8, uint32, uint32, uint8, uint8, uint8) {
			return c.Version, c.RegistryHash, uint32(c.FeatureFlags), uint8(c.TerminalMode), c.Rows, c.Cols
		},
		gen.UInt8Range(0, 3), gen.UInt32Range(0, 2), gen.UInt32Range(0, 0x7ff),
		gen.UInt8Range(0, 3), gen.UInt8Range(0, 2), gen.UInt8Range(0, 2),
	)
}

// section2Codes are the codes Apply may refuse a well-formed request with.
var section2Codes = map[codes.Code]bool{
	codes.UnsupportedVersion: true, codes.RegistryHash: true, codes.UnknownFeature: true,
	codes.TerminalMode: true, codes.TerminalSize: true,
}

// genValidConfig generates valid configs like genConfig, but through
// DeriveGen so that a failing config shrinks field by field. Every
// projection is the identity on valid values, which DeriveGen's mapping
// back up relies on.
func genValidConfig() gopter.Gen {
	return gopter.DeriveGen(
		func(ver uint8, hash, flags uint32, mode, rows, cols uint8) config.Config {
			ver %= 3
			return config.Config{
				Version:      ver,
				RegistryHash: max(hash, 1),
				FeatureFlags: config.Flags(flags & specMasks[ver]),
				TerminalMode: config.Mode(mode % 3),
				Rows:         max(rows, 1),
				Cols:         max(cols, 1),
			}
		},
		func(c config.Config) (uint8, uint32, uint32, uint8, uint8, uint8) {
			return c.Version, c.RegistryHash, uint32(c.FeatureFlags), uint8(c.TerminalMode), c.Rows, c.Cols
		},
		gen.UInt8(), gen.UInt32(), gen.UInt32(), gen.UInt8(), gen.UInt8(), gen.UInt8(),
	)
}

// setOffsets are the lockfile offsets a SET may carry, in config order.
var setOffsets = [...]uint32{
	config.OffsetVersion, config.OffsetRegistryHash, config.OffsetFeatureFlags,
	config.OffsetTerminalMode, config.OffsetRows, config.OffsetCols,
}

// Frame kinds of genFrameCase: 0..5 SET at setOffsets[kind], then these.
const (
	kindEnable = len(setOffsets) + iota
	kindDisable
	kindSnapshot
	kindAck
	kindNak
)

// frameCase is a valid config and a frame that is valid for it: a request
// Apply must accept, or a reply (ACK, NAK) it must refuse.
type frameCase struct {
	Config config.Config
	Frame  frame.Frame
}

func (fc frameCase) String() string {
	return fmt.Sprintf("config %+v, frame {%s offset 0x%02x value 0x%x}", fc.Config, fc.Frame.Type, fc.Frame.Offset, fc.Frame.Value)
}

func (fc frameCase) kind() int {
	switch fc.Frame.Type {
	case frame.TypeSet:
		return slices.Index(setOffsets[:], fc.Frame.Offset)
	case frame.TypeFlagsEnable:
		return kindEnable
	case frame.TypeFlagsDisable:
		return kindDisable
	case frame.TypeSnapshot:
		return kindSnapshot
	case frame.TypeAck:
		return kindAck
	}
	return kindNak
}

// genFrameCase generates frame cases of kinds lo..hi. A SET carries a
// value that keeps the config valid (a version whose mask holds the
// config's flags, a non-zero hash, flags within the mask, a mode 0..2,
// rows and cols 1..255); FLAGS_ENABLE/DISABLE a mask within the version's.
func genFrameCase(lo, hi int) gopter.Gen {
	return gopter.DeriveGen(
		func(c config.Config, kind int, off uint32, val uint64) frameCase {
			f := frame.Frame{Offset: config.OffsetFeatureFlags}
			mask := uint64(specMasks[c.Version])
			switch kind {
			case kindEnable:
				f.Type, f.Value = frame.TypeFlagsEnable, val&mask
			case kindDisable:
				f.Type, f.Value = frame.TypeFlagsDisable, val&mask
			case kindSnapshot:
				f = frame.Frame{Type: frame.TypeSnapshot}
			case kindAck:
				f = frame.Ack(off, val)
			case kindNak:
				if val < 1 || val > 8 {
					val = val%8 + 1
				}
				f = frame.Nak(off, frame.NakCode(val))
			default:
				f = frame.Frame{Type: frame.TypeSet, Offset: setOffsets[kind], Value: setValue(c, setOffsets[kind], val)}
			}
			return frameCase{c, f}
		},
		func(fc frameCase) (config.Config, int, uint32, uint64) {
			var off uint32
			if fc.Frame.Type == frame.TypeAck || fc.Frame.Type == frame.TypeNak {
				off = fc.Frame.Offset
			}
			return fc.Config, fc.kind(), off, fc.Frame.Value
		},
		genValidConfig(), gen.IntRange(lo, hi), gen.UInt32(), gen.UInt64(),
	)
}

// setValue projects v onto the values a SET at off may carry for c.
func setValue(c config.Config, off uint32, v uint64) uint64 {
	switch off {
	case config.OffsetVersion:
		if v %= 3; uint32(c.FeatureFlags)&^specMasks[v] != 0 {
			return uint64(c.Version) // a version that holds c's flags
		}
		return v
	case config.OffsetRegistryHash:
		return max(uint64(uint32(v)), 1)
	case config.OffsetFeatureFlags:
		return v & uint64(specMasks[c.Version])
	case config.OffsetTerminalMode:
		return v % 3
	}
	return max(uint64(uint8(v)), 1) // rows, cols
}

// genSealedFrame generates 14 frame bytes with a correct CRC8 from a type,
// offset and value, which DeriveGen maps back from the bytes to shrink.
func genSealedFrame() gopter.Gen {
	return gopter.DeriveGen(
		func(typ uint8, off uint32, val uint64) []byte {
			b := frame.Encode(frame.Frame{Type: frame.Type(typ), Offset: off, Value: val})
			b[13] = refCRC8(b[:13])
			return b[:]
		},
		func(b []byte) (uint8, uint32, uint64) {
			f := frame.Frame{Type: frame.Type(b[0])}
			for i := 4; i >= 1; i-- {
				f.Offset = f.Offset<<8 | uint32(b[i])
			}
			for i := 12; i >= 5; i-- {
				f.Value = f.Value<<8 | uint64(b[i])
			}
			return uint8(f.Type), f.Offset, f.Value
		},
		// Mostly known types, field offsets and narrow values: uniform
		// bytes would almost never get past frame-type.
		gen.Weighted([]gen.WeightedGen{
			{Weight: 8, Gen: gen.OneConstOf(uint8(0x01), uint8(0x02), uint8(0x03), uint8(0x04), uint8(0x81), uint8(0x82))},
			{Weight: 1, Gen: gen.UInt8()},
		}),
		gen.Weighted([]gen.WeightedGen{
			{Weight: 8, Gen: gen.OneConstOf(uint32(0), uint32(0x04), uint32(0x05), uint32(0x09), uint32(0x0D), uint32(0x0E), uint32(0x0F), uint32(0x10))},
			{Weight: 1, Gen: gen.UInt32Range(0, 0x20)},
			{Weight: 1, Gen: gen.UInt32()},
		}),
		gen.OneGenOf(gen.UInt64Range(0, 3), gen.UInt64Range(0, 0xff), gen.UInt64Range(0, 0x3ff), gen.UInt64Range(0, 1<<32-1), gen.UInt64(),
			// One past each field's width, where an off-by-one shift hides.
			gen.OneConstOf(uint64(0x100), uint64(0x1ff), uint64(1<<32), uint64(1<<33-1), uint64(1<<40))),
	)
}

// refCRC8 is CRC-8/SMBUS bit by bit, independent of the package's tables.
func refCRC8(b []byte) byte {
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

func TestFrameRoundTrip(t *testing.T) {
	p := newProps(t, 5000)
	p.Property("decode(encode(f)) == f for valid frames", prop.ForAll(func(fc frameCase) string {
		b := frame.Encode(fc.Frame)
		if b[13] != refCRC8(b[:13]) {
			return fmt.Sprintf("Encode's CRC8 0x%02x, the SPEC's 0x%02x", b[13], refCRC8(b[:13]))
		}
		got, err := frame.Decode(b[:])
		if err != nil {
			return fmt.Sprintf("decode of % x: %v", b, err)
		}
		if m, err := frame.Marshal(fc.Frame); err != nil || m != b {
			return fmt.Sprintf("Marshal = % x, %v; Encode = % x", m, err, b)
		}
		return cmp.Diff(fc.Frame, got)
	}, genFrameCase(0, kindNak)))
	accepted := 0
	p.Property("encode(decode(b)) == b for 14 bytes that decode", prop.ForAll(func(b []byte) string {
		f, err := frame.Decode(b)
		if err != nil {
			return ""
		}
		accepted++
		got := frame.Encode(f)
		return cmp.Diff(b, got[:])
	}, genSealedFrame()))
	p.TestingRun(t)
	t.Logf("%d generated frames decoded", accepted)
	if accepted == 0 && longRun() {
		t.Error("no generated frame decoded: the round trip proved nothing")
	}
}

// refFrameCode is SPEC section 4's first failing decode check of b, or "",
// read from the SPEC's table rather than from the package's constants.
func refFrameCode(b []byte) codes.Code {
	if len(b) != 14 {
		return codes.FrameLength
	}
	if refCRC8(b[:13]) != b[13] {
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

func TestFrameDecodeVerdict(t *testing.T) {
	p := newProps(t, 10000)
	seen := map[codes.Code]int{}
	p.Property("Decode reports SPEC section 4's first failing check", prop.ForAll(func(b []byte, cut int) string {
		// cut 0 keeps the frame whole; 1..3 corrupt the CRC or the length.
		switch cut {
		case 1:
			b = slices.Clone(b)
			b[13]++
		case 2:
			b = b[:len(b)-1-int(b[0]%13)]
		case 3:
			b = append(slices.Clone(b), b[0])
		}
		_, err := frame.Decode(b)
		want := refFrameCode(b)
		seen[want]++
		if codes.Of(err) != want {
			return fmt.Sprintf("Decode(% x) = %v, the SPEC says %q", b, err, want)
		}
		return ""
	}, genSealedFrame(), gen.Weighted([]gen.WeightedGen{{Weight: 7, Gen: gen.Const(0)}, {Weight: 1, Gen: gen.IntRange(1, 3)}})))
	p.TestingRun(t)
	t.Logf("verdicts reached: %v", seen)
	for _, c := range []codes.Code{"", codes.FrameLength, codes.FrameChecksum, codes.FrameType, codes.FrameOffset, codes.FrameValue} {
		if seen[c] == 0 && longRun() {
			t.Errorf("no generated frame reached %q", c)
		}
	}
}

func TestFrameApplyInverse(t *testing.T) {
	p := newProps(t, 3000)
	p.Property("Apply then Apply(Inverse) restores the config", prop.ForAll(func(fc frameCase) string {
		c, f := fc.Config, fc.Frame
		n, err := frame.Apply(c, f)
		if f.Type == frame.TypeAck || f.Type == frame.TypeNak {
			if codes.Of(err) != codes.FrameType || n != c {
				return fmt.Sprintf("a reply was applied: %+v, %v", n, err)
			}
			return ""
		}
		if err != nil {
			return fmt.Sprintf("a request valid for the config was refused: %v", err)
		}
		if d := cmp.Diff(applied(c, f), n); d != "" {
			return "Apply (-want +got):\n" + d
		}
		inv := frame.Inverse(c, f)
		if err := inv.Check(); err != nil {
			return fmt.Sprintf("inverse %+v is not a valid frame: %v", inv, err)
		}
		back, err := frame.Apply(n, inv)
		if err != nil {
			return fmt.Sprintf("inverse %+v refused: %v", inv, err)
		}
		return cmp.Diff(c, back)
	}, genFrameCase(0, kindNak)))
	p.Property("FLAGS_ENABLE and FLAGS_DISABLE are idempotent", prop.ForAll(func(fc frameCase) string {
		once, err := frame.Apply(fc.Config, fc.Frame)
		if err != nil {
			return err.Error()
		}
		twice, err := frame.Apply(once, fc.Frame)
		if err != nil {
			return err.Error()
		}
		return cmp.Diff(once, twice)
	}, genFrameCase(kindEnable, kindDisable)))
	seen := map[codes.Code]int{}
	p.Property("no accepted frame leaves an invalid config", prop.ForAll(func(c config.Config, b []byte) string {
		f, err := frame.Decode(b)
		if err != nil {
			return ""
		}
		n, err := frame.Apply(c, f)
		seen[codes.Of(err)]++
		if err != nil {
			want := section2Codes[codes.Of(err)] ||
				codes.Of(err) == codes.FrameType && (f.Type == frame.TypeAck || f.Type == frame.TypeNak)
			if !want {
				return fmt.Sprintf("refused without a SPEC code for it: %v", err)
			}
			if n != c {
				return fmt.Sprintf("refused (%v) but changed the config to %+v", err, n)
			}
			return ""
		}
		if !n.Valid() || !specValid(n) {
			return fmt.Sprintf("left an invalid config %+v", n)
		}
		return cmp.Diff(applied(c, f), n)
	}, genValidConfig(), genSealedFrame()))
	p.Property("Apply refuses with SPEC section 2's first failing check", prop.ForAll(func(c config.Config, b []byte) string {
		f, err := frame.Decode(b)
		if err != nil || f.Type == frame.TypeAck || f.Type == frame.TypeNak {
			return ""
		}
		n, err := frame.Apply(c, f)
		want, wantOff := refConfigCode(applied(c, f))
		if codes.Of(err) != want || (err != nil && codes.OffsetOf(err) != wantOff) {
			return fmt.Sprintf("Apply = %v, want %q at 0x%02x", err, want, wantOff)
		}
		if err != nil && n != c {
			return fmt.Sprintf("refused (%v) but changed the config to %+v", err, n)
		}
		return ""
	}, genAnyConfig(), genSealedFrame()))
	p.TestingRun(t)
	t.Logf("Apply outcomes of random accepted frames: %v", seen)
	if (seen[""] == 0 || len(seen) < 3) && longRun() {
		t.Errorf("random frames reached too few Apply outcomes: %v", seen)
	}
}

// applied is what a request does to c by SPEC section 4, ignoring validity.
func applied(c config.Config, f frame.Frame) config.Config {
	switch f.Type {
	case frame.TypeSet:
		switch f.Offset {
		case config.OffsetVersion:
			c.Version = uint8(f.Value)
		case config.OffsetRegistryHash:
			c.RegistryHash = uint32(f.Value)
		case config.OffsetFeatureFlags:
			c.FeatureFlags = config.Flags(f.Value)
		case config.OffsetTerminalMode:
			c.TerminalMode = config.Mode(f.Value)
		case config.OffsetRows:
			c.Rows = uint8(f.Value)
		case config.OffsetCols:
			c.Cols = uint8(f.Value)
		}
	case frame.TypeFlagsEnable:
		c.FeatureFlags |= config.Flags(f.Value)
	case frame.TypeFlagsDisable:
		c.FeatureFlags &^= config.Flags(f.Value)
	}
	return c
}

func TestFrameBitFlipRejected(t *testing.T) {
	p := newProps(t, 1000)
	// CRC8's polynomial has more than one term, so it detects every
	// single-bit error: each flip must fail the checksum, not a later check.
	p.Property("every single-bit flip of a valid frame is frame-checksum", prop.ForAll(func(fc frameCase) string {
		b := frame.Encode(fc.Frame)
		for i := range frame.Size * 8 {
			m := b
			m[i/8] ^= 1 << (i % 8)
			_, err := frame.Decode(m[:])
			if codes.Of(err) != codes.FrameChecksum || codes.OffsetOf(err) != 13 {
				return fmt.Sprintf("flip of bit %d of byte %d: got %v, want frame-checksum at 13", i%8, i/8, err)
			}
		}
		return ""
	}, genFrameCase(0, kindNak)))
	p.TestingRun(t)
}
