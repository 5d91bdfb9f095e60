package cases

import (
	"strings"
)

// mutation is one fixed corruption of the base file aimed at one check of
// section 3's validation order: the code and offset it must reach.
type mutation struct {
	name string
	spec string
	code string
	off  int
	f    func(b []byte) []byte
}

// Section names used in reports.
const (
	specHeader = "SPEC 2 and 3: validation order (header, config fields, reserved)"
	specLayout = "SPEC 3: validation order (body checksum, layout, trailing data)"
	specRecord = "SPEC 3: field rules and validation order (records)"
	specValid  = "SPEC 3: field rules, canonical writer and JSON form"
)

func setByte(off int, v byte) func([]byte) []byte {
	return func(b []byte) []byte {
		if off < len(b) {
			b[off] = v
		}
		return b
	}
}

// flip flips the bits of mask in byte off, counted from the end when off
// is negative.
func flip(off int, mask byte) func([]byte) []byte {
	return func(b []byte) []byte {
		if off < 0 {
			off += len(b)
		}
		if off >= 0 && off < len(b) {
			b[off] ^= mask
		}
		return b
	}
}

func resealed(f func([]byte) []byte) func([]byte) []byte {
	return func(b []byte) []byte { return ResealHeader(f(b)) }
}

func fixed(f func([]byte) []byte) func([]byte) []byte {
	return func(b []byte) []byte { return FixBody(f(b)) }
}

func chain(fs ...func([]byte) []byte) func([]byte) []byte {
	return func(b []byte) []byte {
		for _, f := range fs {
			b = f(b)
		}
		return b
	}
}

func u32At(off int, v uint32) func([]byte) []byte {
	return func(b []byte) []byte { PutU32(b, off, v); return b }
}

func str(i, field int, s string) func([]byte) []byte {
	return func(b []byte) []byte { return SetString(b, i, field, s) }
}

func deps(i int, ds ...uint32) func([]byte) []byte {
	return func(b []byte) []byte { return SetDeps(b, i, ds) }
}

func truncate(n int) func([]byte) []byte {
	return func(b []byte) []byte { return b[:min(n, len(b))] }
}

// headerMutations aim at the header checks, in the SPEC's order, and at
// pairs of faults where the earlier check must win.
func headerMutations() []mutation {
	m := []mutation{
		{"truncated-empty", specHeader, "truncated", 0, truncate(0)},
		{"truncated-1", specHeader, "truncated", 1, truncate(1)},
		{"truncated-63", specHeader, "truncated", 63, truncate(63)},
		{"truncated-bad-magic", specHeader, "truncated", 10, chain(setByte(0, 'X'), truncate(10))},
		{"bad-magic-lowercase", specHeader, "bad-magic", 0, func(b []byte) []byte { copy(b[:min(4, len(b))], "bun1"); return b }},
		{"bad-magic-and-header-checksum", specHeader, "bad-magic", 0, chain(setByte(3, '2'), setByte(OffRows, 0))},
		{"header-checksum-config-byte", specHeader, "header-checksum", 0x11, setByte(OffCols, 81)},
		{"header-checksum-stored", specHeader, "header-checksum", 0x11, flip(OffHeaderCRC+7, 1)},
		{"header-checksum-reserved-config-byte", specHeader, "header-checksum", 0x11, setByte(OffConfigRes, 1)},
		{"header-checksum-before-version", specHeader, "header-checksum", 0x11, setByte(OffVersion, 9)},
		{"unsupported-version-3", specHeader, "unsupported-version", 0x04, resealed(setByte(OffVersion, 3))},
		{"unsupported-version-255", specHeader, "unsupported-version", 0x04, resealed(setByte(OffVersion, 255))},
		{"registry-hash-zero", specHeader, "registry-hash", 0x05, resealed(u32At(OffRegistryHash, 0))},
		{"unknown-feature-v0-debug", specHeader, "unknown-feature", 0x09, resealed(chain(setByte(OffVersion, 0), u32At(OffFeatureFlags, 1)))},
		{"unknown-feature-v1-offline", specHeader, "unknown-feature", 0x09, resealed(chain(setByte(OffVersion, 1), u32At(OffFeatureFlags, 0x100)))},
		{"unknown-feature-v1-strict-integrity", specHeader, "unknown-feature", 0x09, resealed(chain(setByte(OffVersion, 1), u32At(OffFeatureFlags, 0x200)))},
		{"unknown-feature-v2-bit10", specHeader, "unknown-feature", 0x09, resealed(u32At(OffFeatureFlags, 0x400))},
		{"unknown-feature-v2-bit31", specHeader, "unknown-feature", 0x09, resealed(u32At(OffFeatureFlags, 0x80000000))},
		{"terminal-mode-3", specHeader, "terminal-mode", 0x0D, resealed(setByte(OffTerminalMode, 3))},
		{"terminal-mode-ff", specHeader, "terminal-mode", 0x0D, resealed(setByte(OffTerminalMode, 0xff))},
		{"terminal-size-rows", specHeader, "terminal-size", 0x0E, resealed(setByte(OffRows, 0))},
		{"terminal-size-cols", specHeader, "terminal-size", 0x0F, resealed(setByte(OffCols, 0))},
		{"terminal-size-rows-before-cols", specHeader, "terminal-size", 0x0E, resealed(chain(setByte(OffRows, 0), setByte(OffCols, 0)))},
		{"reserved-config-byte", specHeader, "reserved", 0x10, resealed(setByte(OffConfigRes, 1))},
		{"reserved-config-byte-ff", specHeader, "reserved", 0x10, resealed(setByte(OffConfigRes, 0xff))},
		{"reserved-header-first", specHeader, "reserved", 0x1D, setByte(0x1D, 1)},
		{"reserved-header-middle", specHeader, "reserved", 0x1D, setByte(0x2A, 0x80)},
		{"reserved-header-last", specHeader, "reserved", 0x1D, setByte(0x37, 1)},
		// Pairs: the earlier check in the SPEC's order wins.
		{"order-version-before-registry-hash", specHeader, "unsupported-version", 0x04, resealed(chain(setByte(OffVersion, 3), u32At(OffRegistryHash, 0)))},
		{"order-registry-hash-before-feature", specHeader, "registry-hash", 0x05, resealed(chain(u32At(OffRegistryHash, 0), u32At(OffFeatureFlags, 0xffffffff)))},
		{"order-feature-before-terminal-mode", specHeader, "unknown-feature", 0x09, resealed(chain(u32At(OffFeatureFlags, 0x800), setByte(OffTerminalMode, 7)))},
		{"order-terminal-mode-before-size", specHeader, "terminal-mode", 0x0D, resealed(chain(setByte(OffTerminalMode, 7), setByte(OffRows, 0)))},
		{"order-cols-before-reserved", specHeader, "terminal-size", 0x0F, resealed(chain(setByte(OffCols, 0), setByte(OffConfigRes, 1)))},
		{"order-config-reserved-before-header-reserved", specHeader, "reserved", 0x10, resealed(chain(setByte(OffConfigRes, 1), setByte(0x20, 1)))},
		{"order-reserved-before-body-checksum", specHeader, "reserved", 0x1D, chain(setByte(0x30, 1), flip(OffBodyCRC, 1))},
		{"order-config-before-body-checksum", specHeader, "terminal-mode", 0x0D, resealed(chain(setByte(OffTerminalMode, 3), flip(-1, 1)))},
	}
	return m
}

// bodyMutations aim at the body checksum, the layout checks and trailing
// data; l is the base's layout.
func bodyMutations(l Layout, size int) []mutation {
	return []mutation{
		{"body-checksum-stored", specLayout, "body-checksum", 0x38, flip(OffBodyCRC+7, 0x10)},
		{"body-checksum-package-count", specLayout, "body-checksum", 0x38, u32At(OffPackageCount, uint32(l.Count+1))},
		{"body-checksum-record-byte", specLayout, "body-checksum", 0x38, flip(Rec(1)+RecFlags+3, 4)},
		{"body-checksum-last-byte", specLayout, "body-checksum", 0x38, flip(-1, 1)},
		{"body-checksum-cut", specLayout, "body-checksum", 0x38, truncate(size - 5)},
		{"body-checksum-before-layout", specLayout, "body-checksum", 0x38, u32At(OffPackageCount, 0xffffffff)},
		{"package-count-huge", specLayout, "package", 0x40, fixed(u32At(OffPackageCount, 0xffffffff))},
		{"package-count-past-end", specLayout, "package", 0x40, fixed(u32At(OffPackageCount, uint32((size-HeaderSize)/RecordSize+1)))},
		{"package-records-cut", specLayout, "package", 0x40, fixed(truncate(l.DepOff + 3))},
		{"package-header-only", specLayout, "package", 0x40, fixed(truncate(HeaderSize))},
		{"package-dep-count-huge", specLayout, "package", l.DepOff, fixed(u32At(l.DepOff, 0xffffffff))},
		{"package-dep-count-past-end", specLayout, "package", l.DepOff, fixed(u32At(l.DepOff, uint32((size-l.DepOff)/4)))},
		{"package-dep-table-cut", specLayout, "package", l.DepOff, fixed(truncate(l.StrOff + 3))},
		{"package-str-bytes-plus-one", specLayout, "package", l.StrOff, fixed(u32At(l.StrOff, uint32(l.StrEnd-l.StrStart+1)))},
		{"package-str-bytes-huge", specLayout, "package", l.StrOff, fixed(u32At(l.StrOff, 0xffffffff))},
		{"package-str-table-cut", specLayout, "package", l.StrOff, fixed(truncate(size - 1))},
		{"trailing-data-one-byte", specLayout, "trailing-data", size, fixed(func(b []byte) []byte { return append(b, 0) })},
		{"trailing-data-many", specLayout, "trailing-data", size, fixed(func(b []byte) []byte { return append(b, strings.Repeat("BUN1", 40)...) })},
		{"trailing-data-str-bytes-minus-one", specLayout, "trailing-data", size - 1, fixed(u32At(l.StrOff, uint32(l.StrEnd-l.StrStart-1)))},
		{"order-layout-before-trailing", specLayout, "package", l.DepOff, fixed(chain(u32At(l.DepOff, 0x10000), func(b []byte) []byte { return append(b, 1, 2, 3) }))},
		{"order-trailing-before-records", specLayout, "trailing-data", size, fixed(chain(str(0, RecName, ".bad"), func(b []byte) []byte {
			// The table grew by the new string; make it the trailing data.
			PutU32(b, l.StrOff, uint32(l.StrEnd-l.StrStart))
			return b
		}))},
	}
}

// nonCanonicalSHA1 decodes to 20 bytes but sets the unused low bits of the
// last digit, so it does not re-encode to itself.
const nonCanonicalSHA1 = "sha1-AAECAwQFBgcICQoLDA0ODxAREhN="

// recordMutations aim at each record check of section 3, in record i (of
// n, in a file with dep table depCount entries) and at pairs where the
// earlier field must win.
func recordMutations(i, n int) []mutation {
	r := Rec(i)
	self := uint32(i)
	other := uint32((i + 1) % n)
	long := func(k int) string { return strings.Repeat("a", k) }
	m := []mutation{
		{"name-ref-past-table", specRecord, "package", r + RecName, fixed(u32At(r+RecName, 0x7fffffff))},
		{"name-ref-length-past-table", specRecord, "package", r + RecName, fixed(u32At(r+RecName+4, 0x7fffffff))},
		{"name-ref-wraps", specRecord, "package", r + RecName, fixed(chain(u32At(r+RecName, 0xffffffff), u32At(r+RecName+4, 2)))},
		{"name-not-utf8", specRecord, "package", r + RecName, fixed(str(i, RecName, "pkg\xff"))},
		{"name-empty", specRecord, "package", r + RecName, fixed(str(i, RecName, ""))},
		{"name-215-bytes", specRecord, "package", r + RecName, fixed(str(i, RecName, long(215)))},
		{"name-scoped-215-bytes", specRecord, "package", r + RecName, fixed(str(i, RecName, "@"+long(100)+"/"+long(113)))},
		{"name-leading-dot", specRecord, "package", r + RecName, fixed(str(i, RecName, ".hidden"))},
		{"name-leading-underscore", specRecord, "package", r + RecName, fixed(str(i, RecName, "_under"))},
		{"name-scope-leading-dot", specRecord, "package", r + RecName, fixed(str(i, RecName, "@.scope/pkg"))},
		{"name-pkg-leading-underscore", specRecord, "package", r + RecName, fixed(str(i, RecName, "@scope/_pkg"))},
		{"name-space", specRecord, "package", r + RecName, fixed(str(i, RecName, "left pad"))},
		{"name-slash-unscoped", specRecord, "package", r + RecName, fixed(str(i, RecName, "a/b"))},
		{"name-scope-no-slash", specRecord, "package", r + RecName, fixed(str(i, RecName, "@scope"))},
		{"name-scope-empty", specRecord, "package", r + RecName, fixed(str(i, RecName, "@/pkg"))},
		{"name-scope-empty-pkg", specRecord, "package", r + RecName, fixed(str(i, RecName, "@scope/"))},
		{"name-two-slashes", specRecord, "package", r + RecName, fixed(str(i, RecName, "@a/b/c"))},
		{"name-utf8-letter", specRecord, "package", r + RecName, fixed(str(i, RecName, "caf\u00e9"))},
		{"version-ref-past-table", specRecord, "package", r + RecVersion, fixed(u32At(r+RecVersion, 0x10000))},
		{"version-not-utf8", specRecord, "package", r + RecVersion, fixed(str(i, RecVersion, "1.0.0-\xc0"))},
		{"version-empty", specRecord, "package", r + RecVersion, fixed(str(i, RecVersion, ""))},
		{"version-two-parts", specRecord, "package", r + RecVersion, fixed(str(i, RecVersion, "1.0"))},
		{"version-leading-zero", specRecord, "package", r + RecVersion, fixed(str(i, RecVersion, "01.0.0"))},
		{"version-prerelease-leading-zero", specRecord, "package", r + RecVersion, fixed(str(i, RecVersion, "1.0.0-01"))},
		{"version-empty-build", specRecord, "package", r + RecVersion, fixed(str(i, RecVersion, "1.0.0+"))},
		{"version-v-prefix", specRecord, "package", r + RecVersion, fixed(str(i, RecVersion, "v1.0.0"))},
		{"version-257-bytes", specRecord, "package", r + RecVersion, fixed(str(i, RecVersion, "1.0.0-"+long(251)))},
		{"resolved-ref-past-table", specRecord, "package", r + RecResolved, fixed(u32At(r+RecResolved+4, 0x10000))},
		{"resolved-not-utf8", specRecord, "package", r + RecResolved, fixed(str(i, RecResolved, "https://r/\xe2\x82"))},
		{"resolved-empty", specRecord, "package", r + RecResolved, fixed(str(i, RecResolved, ""))},
		{"resolved-ftp", specRecord, "package", r + RecResolved, fixed(str(i, RecResolved, "ftp://r/x.tgz"))},
		{"resolved-upper-scheme", specRecord, "package", r + RecResolved, fixed(str(i, RecResolved, "HTTPS://r/x.tgz"))},
		{"resolved-byte-0x20", specRecord, "package", r + RecResolved, fixed(str(i, RecResolved, "https://r/a b.tgz"))},
		{"resolved-byte-0x7f", specRecord, "package", r + RecResolved, fixed(str(i, RecResolved, "https://r/a\x7f.tgz"))},
		{"resolved-utf8", specRecord, "package", r + RecResolved, fixed(str(i, RecResolved, "https://r/\u00e9.tgz"))},
		{"resolved-2049-bytes", specRecord, "package", r + RecResolved, fixed(str(i, RecResolved, "https://r/"+long(2039)))},
		{"integrity-ref-past-table", specRecord, "package", r + RecIntegrity, fixed(u32At(r+RecIntegrity, 0xfffffff0))},
		{"integrity-not-utf8", specRecord, "package", r + RecIntegrity, fixed(str(i, RecIntegrity, "sha1-\xff"))},
		{"integrity-empty", specRecord, "package", r + RecIntegrity, fixed(str(i, RecIntegrity, ""))},
		{"integrity-md5", specRecord, "package", r + RecIntegrity, fixed(str(i, RecIntegrity, "md5-AAECAwQFBgcICQoLDA0ODw=="))},
		{"integrity-upper-alg", specRecord, "package", r + RecIntegrity, fixed(str(i, RecIntegrity, "SHA1-AAECAwQFBgcICQoLDA0ODxAREhM="))},
		{"integrity-sha512-63-bytes", specRecord, "package", r + RecIntegrity, fixed(str(i, RecIntegrity, "sha512-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+"))},
		{"integrity-sha256-as-sha512", specRecord, "package", r + RecIntegrity, fixed(str(i, RecIntegrity, "sha512-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="))},
		{"integrity-unpadded", specRecord, "package", r + RecIntegrity, fixed(str(i, RecIntegrity, "sha1-AAECAwQFBgcICQoLDA0ODxAREhM"))},
		{"integrity-non-canonical", specRecord, "package", r + RecIntegrity, fixed(str(i, RecIntegrity, nonCanonicalSHA1))},
		{"integrity-url-alphabet", specRecord, "package", r + RecIntegrity, fixed(str(i, RecIntegrity, "sha1-AAECAwQFBgcICQoLDA0ODxAREh-="))},
		{"integrity-no-digest", specRecord, "package", r + RecIntegrity, fixed(str(i, RecIntegrity, "sha256-"))},
		{"deps-index-out-of-range", specRecord, "package", r + RecDeps, fixed(deps(i, uint32(n)))},
		{"deps-index-huge", specRecord, "package", r + RecDeps, fixed(deps(i, 0xffffffff))},
		{"deps-self", specRecord, "package", r + RecDeps, fixed(deps(i, self))},
		{"deps-repeated", specRecord, "package", r + RecDeps, fixed(deps(i, other, other))},
		{"deps-descending", specRecord, "package", r + RecDeps, fixed(deps(i, descending(i, n)...))},
		{"deps-slice-past-table", specRecord, "package", r + RecDeps, fixed(chain(u32At(r+RecDeps, 0), u32At(r+RecDepsCount, 0x7fffffff)))},
		{"deps-first-past-table", specRecord, "package", r + RecDeps, fixed(chain(u32At(r+RecDeps, 0xffffffff), u32At(r+RecDepsCount, 1)))},
		{"flags-bit3", specRecord, "package", r + RecFlags, fixed(u32At(r+RecFlags, 8))},
		{"flags-bit31", specRecord, "package", r + RecFlags, fixed(u32At(r+RecFlags, 0x80000007))},
		{"reserved-first", specRecord, "package", r + RecReserved, fixed(setByte(r+RecReserved, 1))},
		{"reserved-last", specRecord, "package", r + RecReserved, fixed(setByte(r+RecordSize-1, 0x80))},
		// Pairs: the earlier field wins.
		{"order-name-before-version", specRecord, "package", r + RecName, fixed(chain(str(i, RecVersion, "x"), str(i, RecName, "")))},
		{"order-version-before-resolved", specRecord, "package", r + RecVersion, fixed(chain(str(i, RecResolved, "x"), str(i, RecVersion, "1")))},
		{"order-resolved-before-integrity", specRecord, "package", r + RecResolved, fixed(chain(str(i, RecIntegrity, "x"), str(i, RecResolved, "x")))},
		{"order-integrity-before-deps", specRecord, "package", r + RecIntegrity, fixed(chain(u32At(r+RecDepsCount, 0x7fffffff), str(i, RecIntegrity, "x")))},
		{"order-deps-before-flags", specRecord, "package", r + RecDeps, fixed(chain(u32At(r+RecFlags, 0x10), deps(i, self)))},
		{"order-flags-before-reserved", specRecord, "package", r + RecFlags, fixed(chain(setByte(r+RecReserved+5, 1), u32At(r+RecFlags, 0x10)))},
	}
	if i > 0 {
		m = append(m,
			mutation{"order-reserved-before-order", specRecord, "package", r + RecReserved, fixed(chain(setByte(r+RecReserved, 1), str(i, RecName, "@"+"aaa/a")))},
			mutation{"order-record-before-later-record", specRecord, "package", r + RecFlags, fixed(chain(u32At(r+RecFlags, 0x10), u32At(Rec(n-1)+RecFlags, 0x10)))},
		)
	}
	return m
}

// descending is two dependency indices of record i, neither i, in
// descending order.
func descending(i, n int) []uint32 {
	var ds []uint32
	for d := n - 1; d >= 0 && len(ds) < 2; d-- {
		if d != i {
			ds = append(ds, uint32(d))
		}
	}
	return ds
}

// orderMutations aim at the order check between records (section 3:
// strictly ascending by name bytes, then version bytes).
func orderMutations(n int) []mutation {
	last := Rec(n - 1)
	return []mutation{
		{"order-swapped-first-two", specRecord, "package", Rec(1), fixed(func(b []byte) []byte { return SwapRecords(b, 0, 1) })},
		{"order-swapped-last-two", specRecord, "package", last, fixed(func(b []byte) []byte { return SwapRecords(b, n-2, n-1) })},
		{"order-duplicate", specRecord, "package", Rec(1), fixed(func(b []byte) []byte {
			if Rec(2) <= len(b) {
				copy(b[Rec(1):Rec(1)+16], b[Rec(0):Rec(0)+16]) // same name and version refs
			}
			return b
		})},
		{"order-same-name-lower-version", specRecord, "package", last, fixed(func(b []byte) []byte {
			b = SetString(b, n-2, RecName, "same")
			b = SetString(b, n-2, RecVersion, "1.9.0")
			b = SetString(b, n-1, RecName, "same")
			return SetString(b, n-1, RecVersion, "1.10.0") // by bytes "1.10.0" < "1.9.0", whatever semver precedence says
		})},
		{"order-name-bytes-not-case-folded", specRecord, "package", last, fixed(func(b []byte) []byte {
			b = SetString(b, n-2, RecName, "zz")
			return SetString(b, n-1, RecName, "ZZ")
		})},
	}
}
