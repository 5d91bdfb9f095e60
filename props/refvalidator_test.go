package props

import (
	"encoding/base64"
	"encoding/binary"
	"hash/crc64"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/bun13/bun13/impl/codes"
)

// refValidate is a deliberately simple second reading of SPEC section 3,
// written for the property tests only: no shared code with impl/lockfile,
// regular expressions where the SPEC gives rules, one step per table row.
// It returns the first failing check's code and offset, or ("", 0).
func refValidate(b []byte) (codes.Code, int) {
	table := crc64.MakeTable(crc64.ECMA)
	u32 := func(off int) uint32 { return binary.BigEndian.Uint32(b[off : off+4]) }
	u64 := func(off int) uint64 { return binary.BigEndian.Uint64(b[off : off+8]) }

	if len(b) < 64 {
		return codes.Truncated, len(b)
	}
	if string(b[0:4]) != "BUN1" {
		return codes.BadMagic, 0
	}
	if crc64.Checksum(b[0:17], table) != u64(17) {
		return codes.HeaderChecksum, 17
	}
	version := b[4]
	if version > 2 {
		return codes.UnsupportedVersion, 4
	}
	if u32(5) == 0 {
		return codes.RegistryHash, 5
	}
	masks := map[byte]uint32{0: 0, 1: 0xff, 2: 0x3ff}
	if u32(9)&^masks[version] != 0 {
		return codes.UnknownFeature, 9
	}
	if b[13] > 2 {
		return codes.TerminalMode, 13
	}
	if b[14] == 0 {
		return codes.TerminalSize, 14
	}
	if b[15] == 0 {
		return codes.TerminalSize, 15
	}
	if b[16] != 0 {
		return codes.Reserved, 16
	}
	for i := 29; i < 56; i++ {
		if b[i] != 0 {
			return codes.Reserved, 29
		}
	}
	body := append(append([]byte{}, b[25:29]...), b[64:]...)
	if crc64.Checksum(body, table) != u64(56) {
		return codes.BodyChecksum, 56
	}

	count := int64(u32(25))
	depField := 64 + count*64
	if depField+4 > int64(len(b)) {
		return codes.Package, 64
	}
	depCount := int64(u32(int(depField)))
	strField := depField + 4 + depCount*4
	if strField+4 > int64(len(b)) {
		return codes.Package, int(depField)
	}
	strBytes := int64(u32(int(strField)))
	strStart := strField + 4
	if strStart+strBytes > int64(len(b)) {
		return codes.Package, int(strField)
	}
	if strStart+strBytes < int64(len(b)) {
		return codes.TrailingData, int(strStart + strBytes)
	}
	strs := b[strStart : strStart+strBytes]
	deps := make([]uint32, depCount)
	for i := range deps {
		deps[i] = u32(int(depField) + 4 + 4*i)
	}

	var prevName, prevVersion string
	for i := int64(0); i < count; i++ {
		rec := int(64 + i*64)
		var fields [4]string
		for f := 0; f < 4; f++ {
			at := rec + 8*f
			off, n := uint64(u32(at)), uint64(u32(at+4))
			if off+n > uint64(len(strs)) {
				return codes.Package, at
			}
			s := strs[off : off+n]
			if !utf8.Valid(s) || !refRules[f](string(s)) {
				return codes.Package, at
			}
			fields[f] = string(s)
		}
		first, n := uint64(u32(rec+32)), uint64(u32(rec+36))
		if first+n > uint64(depCount) {
			return codes.Package, rec + 32
		}
		for k := first; k < first+n; k++ {
			d := deps[k]
			if uint64(d) >= uint64(count) || int64(d) == i || (k > first && d <= deps[k-1]) {
				return codes.Package, rec + 32
			}
		}
		if u32(rec+40)&^7 != 0 {
			return codes.Package, rec + 40
		}
		for k := rec + 44; k < rec+64; k++ {
			if b[k] != 0 {
				return codes.Package, rec + 44
			}
		}
		if i > 0 && !(fields[0] > prevName || (fields[0] == prevName && fields[1] > prevVersion)) {
			return codes.Package, rec
		}
		prevName, prevVersion = fields[0], fields[1]
	}
	return "", 0
}

var (
	// The official semver.org regular expression.
	semverRE  = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
	segmentRE = regexp.MustCompile(`^[A-Za-z0-9\-~!*'()][A-Za-z0-9\-._~!*'()]*$`)
)

var refRules = [4]func(string) bool{
	func(s string) bool { // name
		if len(s) < 1 || len(s) > 214 {
			return false
		}
		if strings.HasPrefix(s, "@") {
			scope, pkg, ok := strings.Cut(s[1:], "/")
			return ok && segmentRE.MatchString(scope) && segmentRE.MatchString(pkg)
		}
		return segmentRE.MatchString(s)
	},
	func(s string) bool { return len(s) <= 256 && semverRE.MatchString(s) }, // version
	func(s string) bool { // resolved
		if len(s) > 2048 || !(strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")) {
			return false
		}
		for i := 0; i < len(s); i++ {
			if s[i] < 0x21 || s[i] > 0x7e {
				return false
			}
		}
		return true
	},
	func(s string) bool { // integrity
		alg, digest, ok := strings.Cut(s, "-")
		sizes := map[string]int{"sha512": 64, "sha384": 48, "sha256": 32, "sha1": 20}
		size, known := sizes[alg]
		if !ok || !known {
			return false
		}
		raw, err := base64.StdEncoding.DecodeString(digest)
		return err == nil && len(raw) == size && base64.StdEncoding.EncodeToString(raw) == digest
	},
}
