// Package headers is the five X-Bun config headers of an HTTP request (SPEC section 5).
//
// Reading of the SPEC where it leaves a choice:
//
//   - The MODE of X-Bun-Terminal is part of the format: "MODE none/cooked/raw"
//     sits in the format column, so `COOKED;24x80` and `tty;24x80` are
//     header-format, not header-range. ROWS and COLS are decimals
//     (0|[1-9][0-9]*) whose range is 1..255: `cooked;0x80` and
//     `cooked;24x300` are header-range, `cooked;024x80`, `cooked;24x`,
//     `cooked;+24x80` and `cooked 24x80` are header-format.
//   - A number too long for any integer type (`99999999999`) still matches
//     the decimal grammar, so it is header-range, like `300`.
//   - A header that carries two or more values (repeated lines, or several
//     raw-map spellings of one name) is header-format, reported at that
//     header's turn in the table order; an empty value is header-format too.
//     A name present with no value at all (an empty slice) is absent.
//   - The checksum header has no range: any 64-bit value is one; its only
//     checks are its format and, for a full set, header-checksum.
//   - Names are case-insensitive: the canonical spelling is looked up first
//     (the only spelling net/http produces), and only when it is absent are
//     other spellings in a raw map consulted.
package headers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
)

// The header names, canonical as net/http spells them.
const (
	Version      = "X-Bun-Config-Version"
	RegistryHash = "X-Bun-Registry-Hash"
	FeatureFlags = "X-Bun-Feature-Flags"
	Terminal     = "X-Bun-Terminal"
	Checksum     = "X-Bun-Config-Checksum"
)

// Names lists the headers in the SPEC's table order, which is the order of
// validation and of header-missing. The package reads its own copy, so a
// caller changing Names changes nothing here.
var Names = order

var order = [...]string{Version, RegistryHash, FeatureFlags, Terminal, Checksum}

// ErrUnknownHeader is returned (wrapped) by ValidateOne for a name that is
// not one of the five.
var ErrUnknownHeader = errors.New("headers: not an X-Bun config header")

// Canonical returns the canonical spelling of one of the five names given
// in any case.
func Canonical(name string) (string, bool) {
	for _, n := range order {
		if strings.EqualFold(n, name) {
			return n, true
		}
	}
	return "", false
}

// FromConfig returns the five headers describing c. It does not validate
// c: an invalid config gives headers that Validate rejects.
func FromConfig(c config.Config) http.Header {
	h := make(http.Header, len(order))
	Set(h, c)
	return h
}

// Set sets the five headers describing c on h, replacing any values.
func Set(h http.Header, c config.Config) {
	// One string and one backing array serve all five values, instead of
	// five of each.
	var buf [64]byte
	b := strconv.AppendUint(buf[:0], uint64(c.Version), 10)
	nv := len(b)
	b = appendHex(b, uint64(c.RegistryHash), 8)
	nr := len(b)
	b = appendHex(b, uint64(c.FeatureFlags), 8)
	nf := len(b)
	if m := c.TerminalMode; m <= config.Raw {
		b = append(b, m.String()...)
	} else {
		b = strconv.AppendUint(b, uint64(m), 10) // unreadable on purpose: Validate rejects it
	}
	b = append(b, ';')
	b = strconv.AppendUint(b, uint64(c.Rows), 10)
	b = append(b, 'x')
	b = strconv.AppendUint(b, uint64(c.Cols), 10)
	nt := len(b)
	b = appendHex(b, c.Checksum(), 16)
	s := string(b)
	v := new([5]string)
	v[0], v[1], v[2], v[3], v[4] = s[:nv], s[nv:nr], s[nr:nf], s[nf:nt], s[nt:]
	h[Version] = v[0:1:1]
	h[RegistryHash] = v[1:2:2]
	h[FeatureFlags] = v[2:3:3]
	h[Terminal] = v[3:4:4]
	h[Checksum] = v[4:5:5]
}

const hexDigits = "0123456789abcdef"

// appendHex appends 0x and n lowercase hex digits of v.
func appendHex(b []byte, v uint64, n int) []byte {
	b = append(b, '0', 'x')
	for i := n - 1; i >= 0; i-- {
		b = append(b, hexDigits[v>>(4*i)&0xf])
	}
	return b
}

// get returns the value of header name and how many values it has in any
// spelling: 0 absent, 1 the usual case, more is a format error.
func get(h http.Header, name string) (string, int) {
	if v, ok := h[name]; ok && len(v) > 0 {
		if len(v) == 1 {
			return v[0], 1
		}
		return "", len(v)
	}
	return getFold(h, name)
}

// getFold finds name in a raw map whose keys are not canonical. It is off
// the fast path: net/http only ever produces canonical keys.
func getFold(h http.Header, name string) (string, int) {
	var first string
	n := 0
	for k, v := range h {
		if len(k) != len(name) || len(v) == 0 || k == name || !strings.EqualFold(k, name) {
			continue
		}
		if n == 0 {
			first = v[0]
		}
		n += len(v)
	}
	return first, n
}

// Present reports whether h carries any of the five headers, in any
// spelling. A request without them is not a config request and is not
// validated.
func Present(h http.Header) bool {
	for _, n := range order {
		if v := h[n]; len(v) > 0 {
			return true
		}
	}
	// One pass for raw maps with other spellings; every name starts with
	// "X-Bun-", which rejects most keys after one byte.
	for k, v := range h {
		if len(v) > 0 && len(k) > 6 && (k[0] == 'x' || k[0] == 'X') && strings.EqualFold(k[:6], "x-bun-") {
			if _, ok := Canonical(k); ok {
				return true
			}
		}
	}
	return false
}

// trim drops surrounding spaces and tabs only: the SPEC keeps every other
// byte, so a trailing CR or NBSP is a format error.
func trim(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// saturated stands for any decimal too big for a field; every range check
// rejects it.
const saturated = 1 << 32

// decimal parses 0|[1-9][0-9]*, saturating instead of overflowing.
func decimal(s string) (uint64, bool) {
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		if n < saturated {
			n = n*10 + uint64(d)
		}
	}
	return min(n, saturated), true
}

// hexN parses 0x followed by exactly n (8 or 16) lowercase hex digits.
func hexN(s string, n int) (uint64, bool) {
	if len(s) != 2+n || s[0] != '0' || s[1] != 'x' {
		return 0, false
	}
	if n == 8 {
		return hex8(s[2:])
	}
	hi, okh := hex8(s[2:10])
	lo, okl := hex8(s[10:])
	return hi<<32 | lo, okh && okl
}

// Byte-lane constants for hex8.
const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// hex8 parses 8 lowercase hex digits as one 64-bit word (SWAR): digit by
// digit, the 32 hex digits of a header set are a chain of 32 dependent
// steps, a sixth of Validate's time. s must have at least 8 bytes.
func hex8(s string) (uint64, bool) {
	_ = s[7]
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	// With every byte below 0x80, b+(0x80-lo) sets bit 7 iff b >= lo and
	// b+(0x7f-hi) sets it iff b > hi, and no lane carries into the next.
	ge := func(lo uint64) uint64 { return (x + ones*(0x80-lo)) & high }
	gt := func(hi uint64) uint64 { return (x + ones*(0x7f-hi)) & high }
	digit := ge('0') &^ gt('9')
	letter := ge('a') &^ gt('f')
	ok := x&high == 0 && digit|letter == high
	// '0'..'9' and 'a'..'f' have the value (or value-9) in the low nibble.
	v := x&(ones*0x0f) + (letter>>7)*9
	// Lane 0 holds the most significant digit: merge pairs of lanes
	// into bytes, bytes into 16-bit lanes, then into 32 bits.
	v = (v<<4 | v>>8) & 0x00ff00ff00ff00ff
	v = (v<<8 | v>>16) & 0x0000ffff0000ffff
	v = (v<<16 | v>>32) & 0xffffffff
	return v, ok
}

// terminal parses MODE;ROWSxCOLS; ROWS and COLS are not range-checked.
// The mode is matched as a prefix with its ';', which is cutting at the
// first ';' since no mode contains one, without an IndexByte call.
func terminal(s string) (mode config.Mode, rows, cols uint64, ok bool) {
	var size string
	switch {
	case len(s) >= 7 && s[:7] == "cooked;":
		mode, size = config.Cooked, s[7:]
	case len(s) >= 4 && s[:4] == "raw;":
		mode, size = config.Raw, s[4:]
	case len(s) >= 5 && s[:5] == "none;":
		mode, size = config.None, s[5:]
	default:
		return 0, 0, 0, false
	}
	j := 0
	for j < len(size) && size[j] != 'x' {
		j++
	}
	if j == len(size) {
		return 0, 0, 0, false
	}
	rows, okr := decimal(size[:j])
	cols, okc := decimal(size[j+1:])
	return mode, rows, cols, okr && okc
}

func formatErr(name, v, want string) error {
	return codes.Named(codes.HeaderFormat, name, "%q, want %s", v, want)
}

func rangeErr(name, v, want string) error {
	return codes.Named(codes.HeaderRange, name, "%q, want %s", v, want)
}

// What each header's format is, for error details.
const (
	wantVersion  = "0|[1-9][0-9]*"
	wantHash32   = "0x and 8 lowercase hex digits"
	wantTerminal = "MODE;ROWSxCOLS with MODE none, cooked or raw and decimal ROWS, COLS"
	wantHash64   = "0x and 16 lowercase hex digits"
)

// The per-header checks below take the header's value and how many values
// it has (a repeated header fails its format check), run format then
// range, and build nothing on success so that Validate does not allocate.

func repeated(name string, n int) error {
	return codes.Named(codes.HeaderFormat, name, "header given %d times, want once", n)
}

func checkVersion(raw string, n int) (uint8, error) {
	if n > 1 {
		return 0, repeated(Version, n)
	}
	v := trim(raw)
	d, ok := decimal(v)
	if !ok {
		return 0, formatErr(Version, v, wantVersion)
	}
	if d > config.MaxVersion {
		return 0, rangeErr(Version, v, "0..2")
	}
	return uint8(d), nil
}

func checkRegistryHash(raw string, n int) (uint32, error) {
	if n > 1 {
		return 0, repeated(RegistryHash, n)
	}
	v := trim(raw)
	x, ok := hexN(v, 8)
	if !ok {
		return 0, formatErr(RegistryHash, v, wantHash32)
	}
	if x == 0 {
		return 0, rangeErr(RegistryHash, v, "a non-zero hash")
	}
	return uint32(x), nil
}

func checkFeatureFlags(raw string, n int, mask config.Flags) (config.Flags, error) {
	if n > 1 {
		return 0, repeated(FeatureFlags, n)
	}
	v := trim(raw)
	x, ok := hexN(v, 8)
	if !ok {
		return 0, formatErr(FeatureFlags, v, wantHash32)
	}
	if extra := config.Flags(x) &^ mask; extra != 0 {
		return 0, codes.Named(codes.HeaderRange, FeatureFlags, "%q sets bits 0x%08x outside the mask 0x%08x", v, uint32(extra), uint32(mask))
	}
	return config.Flags(x), nil
}

func checkTerminal(raw string, n int) (config.Mode, uint8, uint8, error) {
	if n > 1 {
		return 0, 0, 0, repeated(Terminal, n)
	}
	v := trim(raw)
	m, r, c, ok := terminal(v)
	if !ok {
		return 0, 0, 0, formatErr(Terminal, v, wantTerminal)
	}
	if r < 1 || r > 255 || c < 1 || c > 255 {
		return 0, 0, 0, rangeErr(Terminal, v, "ROWS and COLS in 1..255")
	}
	return m, uint8(r), uint8(c), nil
}

func checkChecksum(raw string, n int) (uint64, error) {
	if n > 1 {
		return 0, repeated(Checksum, n)
	}
	v := trim(raw)
	x, ok := hexN(v, 16)
	if !ok {
		return 0, formatErr(Checksum, v, wantHash64)
	}
	return x, nil
}

// Validate checks a full header set in the SPEC's order: header-missing
// (the first absent header in table order), then each header in that order,
// format before range, flags against the version header's mask, then
// header-checksum. Errors are *codes.Error naming the canonical header. h
// may be an http.Header or a raw map with keys in any case. Validate of a
// well-formed set with canonical keys does not allocate. Call Present
// first when a request without any of the headers is acceptable: Validate
// reports it as missing X-Bun-Config-Version.
func Validate(h http.Header) (config.Config, error) {
	var v [len(order)]string
	var n [len(order)]int
	for i, name := range order {
		v[i], n[i] = get(h, name)
		if n[i] == 0 {
			return config.Config{}, codes.Named(codes.HeaderMissing, name, "a request with any X-Bun config header needs all five")
		}
	}
	var c config.Config
	var err error
	if c.Version, err = checkVersion(v[0], n[0]); err != nil {
		return config.Config{}, err
	}
	if c.RegistryHash, err = checkRegistryHash(v[1], n[1]); err != nil {
		return config.Config{}, err
	}
	if c.FeatureFlags, err = checkFeatureFlags(v[2], n[2], config.Mask(c.Version)); err != nil {
		return config.Config{}, err
	}
	if c.TerminalMode, c.Rows, c.Cols, err = checkTerminal(v[3], n[3]); err != nil {
		return config.Config{}, err
	}
	sum, err := checkChecksum(v[4], n[4])
	if err != nil {
		return config.Config{}, err
	}
	if want := c.Checksum(); sum != want {
		return config.Config{}, codes.Named(codes.HeaderChecksum, Checksum, "0x%016x, the headers describe 0x%016x", sum, want)
	}
	return c, nil
}

// ValidateOne checks one header alone: format and range only, flags
// against the version-2 mask, the checksum header's format only. name is
// case-insensitive; a name that is not one of the five gives an error
// wrapping ErrUnknownHeader, without a SPEC code.
func ValidateOne(name, value string) error {
	canon, ok := Canonical(name)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownHeader, name)
	}
	var err error
	switch canon {
	case Version:
		_, err = checkVersion(value, 1)
	case RegistryHash:
		_, err = checkRegistryHash(value, 1)
	case FeatureFlags:
		_, err = checkFeatureFlags(value, 1, config.Mask(config.MaxVersion))
	case Terminal:
		_, _, _, err = checkTerminal(value, 1)
	case Checksum:
		_, err = checkChecksum(value, 1)
	}
	return err
}
