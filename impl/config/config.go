// Package config is the 13-byte config: its fields, binary form, validation, flags, registry hash and migration.
package config

import (
	"encoding/binary"
	"hash/crc64"

	"github.com/bun13/bun13/impl/codes"
)

// The 13 config bytes, as offsets into the config (SPEC section 2). The
// lockfile places them at LockfileOffset + these.
const (
	offVersion  = 0  // u8: 0, 1 or 2
	offRegistry = 1  // u32 BE: CRC-32/IEEE of the normalized registry URL, not 0
	offFlags    = 5  // u32 BE: feature flags, only bits defined for the version
	offMode     = 9  // u8: terminal mode 0 none, 1 cooked, 2 raw
	offRows     = 10 // u8: 1..255
	offCols     = 11 // u8: 1..255
	offReserved = 12 // u8: 0

	// Size is the length of the binary config.
	Size = 13
	// LockfileOffset is where the config starts in a BUN1 lockfile.
	LockfileOffset = 4
)

// Lockfile offsets of the config fields, as reported in errors and used by
// frames (SPEC section 4).
const (
	OffsetVersion      = LockfileOffset + offVersion  // 0x04
	OffsetRegistryHash = LockfileOffset + offRegistry // 0x05
	OffsetFeatureFlags = LockfileOffset + offFlags    // 0x09
	OffsetTerminalMode = LockfileOffset + offMode     // 0x0D
	OffsetRows         = LockfileOffset + offRows     // 0x0E
	OffsetCols         = LockfileOffset + offCols     // 0x0F
	OffsetReserved     = LockfileOffset + offReserved // 0x10
)

// Magic opens every lockfile and every header checksum's input.
const Magic = "BUN1"

// MaxVersion is the newest config version this implementation knows.
const MaxVersion = 2

// Config is the 13-byte config as a value. The reserved byte is not a field:
// a valid config always has it zero.
type Config struct {
	Version      uint8
	RegistryHash uint32
	FeatureFlags Flags
	TerminalMode Mode
	Rows         uint8
	Cols         uint8
}

// DefaultRegistry is the registry of the default config.
const DefaultRegistry = "https://registry.npmjs.org"

// DefaultRegistryHash is RegistryHash(DefaultRegistry).
const DefaultRegistryHash uint32 = 0x5e9b6bd5

// Default is the config `bun13 config init` writes: version 1, the public
// npm registry, COMPRESSION|DNS_CACHE|RATE_LIMIT|METRICS, cooked 24x80.
func Default() Config {
	return Config{
		Version:      1,
		RegistryHash: DefaultRegistryHash,
		FeatureFlags: Compression | DNSCache | RateLimit | Metrics,
		TerminalMode: Cooked,
		Rows:         24,
		Cols:         80,
	}
}

// Put writes the 13 bytes of c into b.
func (c Config) Put(b *[Size]byte) {
	b[offVersion] = c.Version
	binary.BigEndian.PutUint32(b[offRegistry:], c.RegistryHash)
	binary.BigEndian.PutUint32(b[offFlags:], uint32(c.FeatureFlags))
	b[offMode] = uint8(c.TerminalMode)
	b[offRows] = c.Rows
	b[offCols] = c.Cols
	b[offReserved] = 0
}

// Bytes returns the 13 bytes of c.
func (c Config) Bytes() [Size]byte {
	var b [Size]byte
	c.Put(&b)
	return b
}

// MarshalBinary returns the 13 bytes of c. It does not validate.
func (c Config) MarshalBinary() ([]byte, error) {
	b := c.Bytes()
	return b[:], nil
}

// AppendBinary appends the 13 bytes of c to b.
func (c Config) AppendBinary(b []byte) ([]byte, error) {
	a := c.Bytes()
	return append(b, a[:]...), nil
}

// UnmarshalBinary decodes and validates exactly 13 bytes. Errors carry
// lockfile offsets, like Validate.
func (c *Config) UnmarshalBinary(b []byte) error {
	if len(b) != Size {
		return codes.At(codes.Truncated, len(b), "config is %d bytes, want %d", len(b), Size)
	}
	d, err := Parse((*[Size]byte)(b))
	if err != nil {
		return err
	}
	*c = d
	return nil
}

// Parse decodes and validates 13 bytes.
func Parse(b *[Size]byte) (Config, error) {
	c := FromBytes(b)
	if c.Valid() && b[offReserved] == 0 {
		return c, nil
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	if b[offReserved] != 0 {
		return Config{}, codes.At(codes.Reserved, OffsetReserved, "reserved config byte is 0x%02x, want 0", b[offReserved])
	}
	return c, nil
}

// FromBytes decodes 13 bytes without validating them. The reserved byte is
// not kept; check it separately when it matters.
func FromBytes(b *[Size]byte) Config {
	return Config{
		Version:      b[offVersion],
		RegistryHash: binary.BigEndian.Uint32(b[offRegistry:]),
		FeatureFlags: Flags(binary.BigEndian.Uint32(b[offFlags:])),
		TerminalMode: Mode(b[offMode]),
		Rows:         b[offRows],
		Cols:         b[offCols],
	}
}

// Validate checks c against SPEC section 2, in the SPEC's order, and
// returns a *codes.Error carrying the field's lockfile offset.
func (c Config) Validate() error {
	switch {
	case c.Version > MaxVersion:
		return codes.At(codes.UnsupportedVersion, OffsetVersion, "version %d, want 0..%d", c.Version, MaxVersion)
	case c.RegistryHash == 0:
		return codes.At(codes.RegistryHash, OffsetRegistryHash, "registry hash is zero")
	case c.FeatureFlags&^Mask(c.Version) != 0:
		return codes.At(codes.UnknownFeature, OffsetFeatureFlags, "flags 0x%08x set bits 0x%08x not defined in version %d",
			uint32(c.FeatureFlags), uint32(c.FeatureFlags&^Mask(c.Version)), c.Version)
	case c.TerminalMode > Raw:
		return codes.At(codes.TerminalMode, OffsetTerminalMode, "terminal mode %d, want 0..2", uint8(c.TerminalMode))
	case c.Rows == 0:
		return codes.At(codes.TerminalSize, OffsetRows, "rows is 0, want 1..255")
	case c.Cols == 0:
		return codes.At(codes.TerminalSize, OffsetCols, "cols is 0, want 1..255")
	}
	return nil
}

// Valid reports whether Validate returns nil, without building an error.
func (c Config) Valid() bool {
	return c.Version <= MaxVersion && c.RegistryHash != 0 && c.FeatureFlags&^Mask(c.Version) == 0 &&
		c.TerminalMode <= Raw && c.Rows != 0 && c.Cols != 0
}

// Enabled reports whether every flag in f is set.
func (c Config) Enabled(f Flags) bool { return c.FeatureFlags&f == f }

// crcTable is CRC-64/XZ's table; read-only after init.
var crcTable = crc64.MakeTable(crc64.ECMA)

// magicCRC is the CRC64 state after the 4 magic bytes: every header checksum
// starts with them, so starting from here saves a quarter of the work.
var magicCRC = crc64.Checksum([]byte(Magic), crcTable)

// CRC64 is the SPEC's CRC-64/XZ of b.
func CRC64(b []byte) uint64 { return crc64.Checksum(b, crcTable) }

// CRC64Update continues a CRC64 over more bytes.
func CRC64Update(crc uint64, b []byte) uint64 { return crc64.Update(crc, crcTable, b) }

// Migrate returns c moved to version to, one step at a time. Up keeps every
// field; down is refused with unknown-feature when a set flag is not defined
// in the target version.
func (c Config) Migrate(to uint8) (Config, error) {
	if to > MaxVersion {
		return c, codes.At(codes.UnsupportedVersion, OffsetVersion, "target version %d, want 0..%d", to, MaxVersion)
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	if extra := c.FeatureFlags &^ Mask(to); to < c.Version && extra != 0 {
		return c, codes.At(codes.UnknownFeature, OffsetFeatureFlags, "flags %s are not defined in version %d", extra, to)
	}
	c.Version = to
	return c, nil
}
