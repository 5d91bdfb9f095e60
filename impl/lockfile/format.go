// Package lockfile reads and writes the BUN1 lockfile (bun.lockb) of SPEC section 3.
package lockfile

// The 64-byte header. All integers are big-endian.
const (
	offMagic        = 0x00 // 4: "BUN1" (42 55 4e 31)
	offConfig       = 0x04 // 13: the config (config.Size bytes, SPEC section 2)
	offHeaderCRC    = 0x11 // 8: CRC64 over bytes 0x00..0x10 (magic + config)
	offPackageCount = 0x19 // 4: number of package records
	offReserved     = 0x1D // 27: reserved, all zero
	offBodyCRC      = 0x38 // 8: CRC64 over 0x19..0x1C, then 0x40..end of file
	HeaderSize      = 0x40 // the body starts here

	reservedLen = offBodyCRC - offReserved // 27
)

// A package record: 64 bytes, offsets inside the record. A string ref is a
// u32 offset and a u32 length into the string table's bytes.
const (
	recName      = 0x00 // 8: name string ref
	recVersion   = 0x08 // 8: version string ref
	recResolved  = 0x10 // 8: resolved (tarball URL) string ref
	recIntegrity = 0x18 // 8: integrity (SRI) string ref
	recDepsFirst = 0x20 // 4: first index into the dependency table
	recDepsCount = 0x24 // 4: number of dependency indices
	recFlags     = 0x28 // 4: bit 0 dev, bit 1 optional, bit 2 peer
	recReserved  = 0x2C // 20: reserved, zero
	RecordSize   = 0x40
)

// Field limits of SPEC section 3.
const (
	MaxNameLen     = 214
	MaxVersionLen  = 256
	MaxResolvedLen = 2048
)
