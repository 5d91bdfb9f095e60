// Package frame is the 14-byte config frame of the live WebSocket (SPEC section 4).
package frame

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
)

// The wire format: 14 bytes, little-endian, unlike the big-endian config,
// because the design notes' only example frame is little-endian.
const (
	offType   = 0  // u8: a Type
	offOffset = 1  // u32 LE: lockfile offset of a config field, or echoed by ACK/NAK
	offValue  = 5  // u64 LE: the new value, a flag mask, the ACK's CRC64 or the NAK's code
	offCRC    = 13 // u8: CRC8 over bytes 0..12

	// Size is the length of every frame.
	Size = 14
)

// Type is a frame's first byte.
type Type uint8

// Frame types. Requests have the high bit clear, the server's replies set.
const (
	TypeSet          Type = 0x01 // set the field at Offset to Value
	TypeFlagsEnable  Type = 0x02 // OR Value into the feature flags (Offset 0x09)
	TypeFlagsDisable Type = 0x03 // clear Value's bits from the feature flags (Offset 0x09)
	TypeSnapshot     Type = 0x04 // ask for the current header CRC64 (Offset and Value 0)
	TypeAck          Type = 0x81 // Offset echoed, Value the new header CRC64
	TypeNak          Type = 0x82 // Offset echoed, Value a NakCode
)

var typeNames = map[Type]string{
	TypeSet:          "set",
	TypeFlagsEnable:  "flags-enable",
	TypeFlagsDisable: "flags-disable",
	TypeSnapshot:     "snapshot",
	TypeAck:          "ack",
	TypeNak:          "nak",
}

// String is the SPEC's name of t (the CLI's JSON "type"), or "type(0xNN)".
func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("type(0x%02x)", uint8(t))
}

// Known reports whether t is one of the six SPEC types.
func (t Type) Known() bool {
	_, ok := typeNames[t]
	return ok
}

// MarshalText writes the SPEC name; an unknown type has none.
func (t Type) MarshalText() ([]byte, error) {
	s, ok := typeNames[t]
	if !ok {
		return nil, codes.At(codes.FrameType, offType, "type 0x%02x has no name", uint8(t))
	}
	return []byte(s), nil
}

// UnmarshalText reads a SPEC name, as ParseType.
func (t *Type) UnmarshalText(b []byte) error {
	v, ok := ParseType(string(b))
	if !ok {
		return codes.At(codes.FrameType, offType, "unknown frame type %q", b)
	}
	*t = v
	return nil
}

// ParseType returns the type whose SPEC name is s (exact, lower case).
func ParseType(s string) (Type, bool) {
	for t, n := range typeNames {
		if n == s {
			return t, true
		}
	}
	return 0, false
}

// Frame is a decoded frame. Its JSON form is the CLI's
// {"type":"set","offset":13,"value":2}.
type Frame struct {
	Type   Type   `json:"type"`
	Offset uint32 `json:"offset"`
	Value  uint64 `json:"value"`
}

// Decode reads exactly one 14-byte frame and checks it in the SPEC's order:
// frame-length, frame-checksum, frame-type, frame-offset, frame-value.
// Errors are *codes.Error carrying the frame byte offset of the culprit
// (for frame-length, the input's length when short, as truncated does, or
// the first extra byte). It does not allocate unless it fails.
func Decode(b []byte) (Frame, error) {
	if len(b) != Size {
		return Frame{}, codes.At(codes.FrameLength, min(len(b), Size), "frame is %d bytes, want %d", len(b), Size)
	}
	p := (*[Size]byte)(b)
	if got, want := p[offCRC], crc13(p); got != want {
		return Frame{}, codes.At(codes.FrameChecksum, offCRC, "checksum 0x%02x, want 0x%02x", got, want)
	}
	f := Frame{
		Type:   Type(p[offType]),
		Offset: binary.LittleEndian.Uint32(p[offOffset:]),
		Value:  binary.LittleEndian.Uint64(p[offValue:]),
	}
	if err := f.Check(); err != nil {
		return Frame{}, err
	}
	return f, nil
}

// fieldWidth is the byte width of the config field at a lockfile offset,
// or 0 when no field a frame may SET starts there. The reserved byte 0x10
// is deliberately absent: it is not a field.
func fieldWidth(off uint32) int {
	switch off {
	case config.OffsetVersion, config.OffsetTerminalMode, config.OffsetRows, config.OffsetCols:
		return 1
	case config.OffsetRegistryHash, config.OffsetFeatureFlags:
		return 4
	}
	return 0
}

// Check applies Decode's type, offset and value rules to a frame that did
// not come off the wire, so that Encode's output and Apply's input obey the
// same contract as Decode's output.
func (f Frame) Check() error {
	switch f.Type {
	case TypeSet:
		w := fieldWidth(f.Offset)
		if w == 0 {
			return codes.At(codes.FrameOffset, offOffset, "SET offset 0x%02x is not a config field", f.Offset)
		}
		if f.Value>>(8*w) != 0 {
			return codes.At(codes.FrameValue, offValue, "value 0x%x does not fit the %d-byte field at 0x%02x", f.Value, w, f.Offset)
		}
	case TypeFlagsEnable, TypeFlagsDisable:
		if f.Offset != config.OffsetFeatureFlags {
			return codes.At(codes.FrameOffset, offOffset, "%s offset 0x%02x, want 0x%02x", f.Type, f.Offset, config.OffsetFeatureFlags)
		}
		if f.Value>>32 != 0 {
			return codes.At(codes.FrameValue, offValue, "flag mask 0x%x is wider than 32 bits", f.Value)
		}
	case TypeSnapshot:
		if f.Offset != 0 {
			return codes.At(codes.FrameOffset, offOffset, "snapshot offset 0x%02x, want 0", f.Offset)
		}
		if f.Value != 0 {
			return codes.At(codes.FrameValue, offValue, "snapshot value 0x%x, want 0", f.Value)
		}
	case TypeAck, TypeNak:
	default:
		return codes.At(codes.FrameType, offType, "unknown frame type 0x%02x", uint8(f.Type))
	}
	return nil
}

// Encode returns the wire bytes of f. It does not check f: see Check, or
// use Marshal.
func Encode(f Frame) [Size]byte {
	var b [Size]byte
	b[offType] = uint8(f.Type)
	binary.LittleEndian.PutUint32(b[offOffset:], f.Offset)
	binary.LittleEndian.PutUint64(b[offValue:], f.Value)
	b[offCRC] = crc13(&b)
	return b
}

// AppendEncode appends the wire bytes of f to b.
func AppendEncode(b []byte, f Frame) []byte {
	e := Encode(f)
	return append(b, e[:]...)
}

// Marshal returns the wire bytes of f after Check, so that its output
// always decodes back to f.
func Marshal(f Frame) ([Size]byte, error) {
	if err := f.Check(); err != nil {
		return [Size]byte{}, err
	}
	return Encode(f), nil
}

// MarshalBinary implements encoding.BinaryMarshaler with Marshal.
func (f Frame) MarshalBinary() ([]byte, error) {
	b, err := Marshal(f)
	if err != nil {
		return nil, err
	}
	return b[:], nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler with Decode.
func (f *Frame) UnmarshalBinary(b []byte) error {
	d, err := Decode(b)
	if err != nil {
		return err
	}
	*f = d
	return nil
}

// Field returns the value of the config field at a lockfile offset, as a
// SET frame would carry it.
func Field(c config.Config, off uint32) (uint64, bool) {
	switch off {
	case config.OffsetVersion:
		return uint64(c.Version), true
	case config.OffsetRegistryHash:
		return uint64(c.RegistryHash), true
	case config.OffsetFeatureFlags:
		return uint64(c.FeatureFlags), true
	case config.OffsetTerminalMode:
		return uint64(c.TerminalMode), true
	case config.OffsetRows:
		return uint64(c.Rows), true
	case config.OffsetCols:
		return uint64(c.Cols), true
	}
	return 0, false
}

// SetField writes v into the config field at a lockfile offset, the
// inverse of Field, without validating the result: a client assembling a
// snapshot from several SET frames passes through states that are not
// valid configs (Apply is the validating path). v is truncated to the
// field's width; an offset that names no field changes nothing.
func SetField(c config.Config, off uint32, v uint64) config.Config {
	setField(&c, off, v)
	return c
}

// setField assumes f passed Check, so the value fits the field.
func setField(c *config.Config, off uint32, v uint64) {
	switch off {
	case config.OffsetVersion:
		c.Version = uint8(v)
	case config.OffsetRegistryHash:
		c.RegistryHash = uint32(v)
	case config.OffsetFeatureFlags:
		c.FeatureFlags = config.Flags(v)
	case config.OffsetTerminalMode:
		c.TerminalMode = config.Mode(v)
	case config.OffsetRows:
		c.Rows = uint8(v)
	case config.OffsetCols:
		c.Cols = uint8(v)
	}
}

// Apply returns c changed by the request f. SET writes one field,
// FLAGS_ENABLE ORs the mask in, FLAGS_DISABLE clears it, SNAPSHOT changes
// nothing. The result must be valid by SPEC section 2, else Apply returns c
// unchanged and that section's *codes.Error (a SET of version 1 over a
// version-2 flag is unknown-feature, not unsupported-version). ACK and NAK
// are replies, not requests: Apply refuses them with frame-type, so a
// server that applies whatever a client sends never acts on them.
func Apply(c config.Config, f Frame) (config.Config, error) {
	if err := f.Check(); err != nil {
		return c, err
	}
	n := c
	switch f.Type {
	case TypeSet:
		setField(&n, f.Offset, f.Value)
	case TypeFlagsEnable:
		n.FeatureFlags |= config.Flags(f.Value)
	case TypeFlagsDisable:
		n.FeatureFlags &^= config.Flags(f.Value)
	case TypeSnapshot:
	default:
		return c, codes.At(codes.FrameType, offType, "%s is a reply, not a request", f.Type)
	}
	if err := n.Validate(); err != nil {
		return c, err
	}
	return n, nil
}

// Inverse returns the frame that takes Apply(old, f) back to old: a SET of
// the field f touched to its value in old. A frame that touches no field
// gets a SNAPSHOT, which changes nothing.
func Inverse(old config.Config, f Frame) Frame {
	switch f.Type {
	case TypeSet:
		if v, ok := Field(old, f.Offset); ok {
			return Frame{Type: TypeSet, Offset: f.Offset, Value: v}
		}
	case TypeFlagsEnable, TypeFlagsDisable:
		return Frame{Type: TypeSet, Offset: config.OffsetFeatureFlags, Value: uint64(old.FeatureFlags)}
	}
	return Frame{Type: TypeSnapshot}
}

// Ack is the server's reply to a request at offset that succeeded,
// carrying the header CRC64 of the config now in force.
func Ack(offset uint32, crc uint64) Frame {
	return Frame{Type: TypeAck, Offset: offset, Value: crc}
}

// Nak is the server's reply to a request at offset that failed.
func Nak(offset uint32, code NakCode) Frame {
	return Frame{Type: TypeNak, Offset: offset, Value: uint64(code)}
}

// NakCode is a NAK frame's value. It is as wide as the value so that a
// received NAK converts without losing bits.
type NakCode uint64

// NAK codes (SPEC section 4).
const (
	NakFrameChecksum NakCode = 1
	NakFrameType     NakCode = 2
	NakFrameOffset   NakCode = 3
	NakFrameValue    NakCode = 4
	NakUnauthorized  NakCode = 5
	NakInvalidConfig NakCode = 6
	NakPersistFailed NakCode = 7
	NakRateLimited   NakCode = 8
)

var nakNames = [...]string{
	NakFrameChecksum: "frame-checksum",
	NakFrameType:     "frame-type",
	NakFrameOffset:   "frame-offset",
	NakFrameValue:    "frame-value",
	NakUnauthorized:  "unauthorized",
	NakInvalidConfig: "invalid-config",
	NakPersistFailed: "persist-failed",
	NakRateLimited:   "rate-limited",
}

// String is the SPEC name of the code, or "nak(N)".
func (c NakCode) String() string {
	if c != 0 && c < NakCode(len(nakNames)) {
		return nakNames[c]
	}
	return fmt.Sprintf("nak(%d)", uint64(c))
}

// Errors a server wraps or returns so that NakFor picks their NAK codes;
// nothing in this package returns them.
var (
	ErrUnauthorized = errors.New("frame: unauthorized")
	ErrRateLimited  = errors.New("frame: rate limited")
)

// NakFor maps the error of a failed Decode, Apply or update to the NAK that
// reports it, and nil to 0 (no NAK). A wrong length has no code of its own
// and is reported as frame-checksum: the checksum cannot have been verified.
// Every section 2 code is invalid-config. Any error without a SPEC code is
// persist-failed, because in a config update the only step that fails
// without one is writing the lockfile.
func NakFor(err error) NakCode {
	if err == nil {
		return 0
	}
	switch {
	case errors.Is(err, ErrUnauthorized):
		return NakUnauthorized
	case errors.Is(err, ErrRateLimited):
		return NakRateLimited
	}
	switch codes.Of(err) {
	case codes.FrameLength, codes.FrameChecksum:
		return NakFrameChecksum
	case codes.FrameType:
		return NakFrameType
	case codes.FrameOffset:
		return NakFrameOffset
	case codes.FrameValue:
		return NakFrameValue
	case "":
		return NakPersistFailed
	}
	return NakInvalidConfig
}
