package cases

import (
	"encoding/binary"

	"github.com/bun13/bun13/impl/config"
)

// Byte positions of SPEC section 3, used to aim mutations. The reference
// decoder is never asked where things are: the mutations must hit the
// SPEC's offsets, and the kit's tests check that the reference agrees.
const (
	OffMagic        = 0x00
	OffVersion      = 0x04
	OffRegistryHash = 0x05
	OffFeatureFlags = 0x09
	OffTerminalMode = 0x0D
	OffRows         = 0x0E
	OffCols         = 0x0F
	OffConfigRes    = 0x10
	OffHeaderCRC    = 0x11
	OffPackageCount = 0x19
	OffReserved     = 0x1D
	OffBodyCRC      = 0x38
	HeaderSize      = 0x40
	RecordSize      = 0x40

	RecName      = 0x00
	RecVersion   = 0x08
	RecResolved  = 0x10
	RecIntegrity = 0x18
	RecDeps      = 0x20
	RecDepsCount = 0x24
	RecFlags     = 0x28
	RecReserved  = 0x2C
)

var be = binary.BigEndian

// Layout is where a file's body sections sit according to its own counts;
// OK is false when they do not fit the file.
type Layout struct {
	Count    int
	DepOff   int // the depCount field
	DepCount int
	StrOff   int // the strBytes field
	StrStart int
	StrEnd   int
	OK       bool
}

// LayoutOf reads b's counts. It never panics.
func LayoutOf(b []byte) Layout {
	var l Layout
	if len(b) < HeaderSize {
		return l
	}
	l.Count = int(be.Uint32(b[OffPackageCount:]))
	l.DepOff = HeaderSize + l.Count*RecordSize
	if l.DepOff+4 > len(b) {
		return l
	}
	l.DepCount = int(be.Uint32(b[l.DepOff:]))
	l.StrOff = l.DepOff + 4 + 4*l.DepCount
	if l.StrOff+4 > len(b) {
		return l
	}
	l.StrStart = l.StrOff + 4
	l.StrEnd = l.StrStart + int(be.Uint32(b[l.StrOff:]))
	l.OK = l.StrEnd <= len(b)
	return l
}

// Rec is the offset of record i.
func Rec(i int) int { return HeaderSize + i*RecordSize }

// ResealHeader rewrites the header CRC64 to match bytes 0x00..0x10.
func ResealHeader(b []byte) []byte {
	if len(b) >= OffHeaderCRC+8 {
		cb := (*[config.Size]byte)(b[OffVersion : OffVersion+config.Size])
		be.PutUint64(b[OffHeaderCRC:], config.HeaderChecksum(cb))
	}
	return b
}

// FixBody rewrites the body CRC64 over 0x19..0x1C and 0x40..end.
func FixBody(b []byte) []byte {
	if len(b) >= HeaderSize {
		crc := config.CRC64(b[OffPackageCount : OffPackageCount+4])
		be.PutUint64(b[OffBodyCRC:], config.CRC64Update(crc, b[HeaderSize:]))
	}
	return b
}

// Fix reseals both checksums.
func Fix(b []byte) []byte { return FixBody(ResealHeader(b)) }

// PutU32 writes v at off if it fits.
func PutU32(b []byte, off int, v uint32) {
	if off >= 0 && off+4 <= len(b) {
		be.PutUint32(b[off:], v)
	}
}

// U32 reads the u32 at off, or 0.
func U32(b []byte, off int) uint32 {
	if off >= 0 && off+4 <= len(b) {
		return be.Uint32(b[off:])
	}
	return 0
}

// AppendString appends s to the string table of a file whose table ends
// the file, grows strBytes, and returns the new bytes and s's offset in the
// table. A file whose layout does not fit is returned unchanged.
func AppendString(b []byte, s string) ([]byte, uint32) {
	l := LayoutOf(b)
	if !l.OK || l.StrEnd != len(b) {
		return b, 0
	}
	off := uint32(l.StrEnd - l.StrStart)
	b = append(b, s...)
	PutU32(b, l.StrOff, off+uint32(len(s)))
	return b, off
}

// SetString points record i's string field (RecName, RecVersion, ...) at a
// new copy of s appended to the string table.
func SetString(b []byte, i, field int, s string) []byte {
	b, off := AppendString(b, s)
	PutU32(b, Rec(i)+field, off)
	PutU32(b, Rec(i)+field+4, uint32(len(s)))
	return b
}

// StringOf returns record i's string field, or "".
func StringOf(b []byte, i, field int) string {
	l := LayoutOf(b)
	if !l.OK {
		return ""
	}
	off, n := int(U32(b, Rec(i)+field)), int(U32(b, Rec(i)+field+4))
	if off+n > l.StrEnd-l.StrStart {
		return ""
	}
	return string(b[l.StrStart+off : l.StrStart+off+n])
}

// SetDeps rewrites record i's dependency slice to ds: the indices are
// written in place when the slice keeps its length, else appended to the
// dependency table (moving the string table). The body CRC is not fixed.
func SetDeps(b []byte, i int, ds []uint32) []byte {
	l := LayoutOf(b)
	if !l.OK {
		return b
	}
	r := Rec(i)
	first, n := int(U32(b, r+RecDeps)), int(U32(b, r+RecDepsCount))
	if n == len(ds) && first+n <= l.DepCount {
		for k, d := range ds {
			PutU32(b, l.DepOff+4+4*(first+k), d)
		}
		return b
	}
	// Insert the new indices at the end of the dependency table.
	at := l.StrOff
	ins := make([]byte, 4*len(ds))
	for k, d := range ds {
		be.PutUint32(ins[4*k:], d)
	}
	out := make([]byte, 0, len(b)+len(ins))
	out = append(out, b[:at]...)
	out = append(out, ins...)
	out = append(out, b[at:]...)
	PutU32(out, l.DepOff, uint32(l.DepCount+len(ds)))
	PutU32(out, r+RecDeps, uint32(l.DepCount))
	PutU32(out, r+RecDepsCount, uint32(len(ds)))
	return out
}

// SwapRecords exchanges records i and j.
func SwapRecords(b []byte, i, j int) []byte {
	a, c := Rec(i), Rec(j)
	if a+RecordSize > len(b) || c+RecordSize > len(b) || i == j {
		return b
	}
	var tmp [RecordSize]byte
	copy(tmp[:], b[a:a+RecordSize])
	copy(b[a:a+RecordSize], b[c:c+RecordSize])
	copy(b[c:c+RecordSize], tmp[:])
	return b
}
