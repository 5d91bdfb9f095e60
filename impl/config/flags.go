package config

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"github.com/bun13/bun13/impl/codes"
)

// Flags is the feature-flag word (SPEC section 2).
type Flags uint32

// Feature flags by bit. Bits 0-7 exist from version 1, bits 8-9 from version 2.
const (
	Debug                 Flags = 1 << 0
	TraceConfig           Flags = 1 << 1
	DisableIsolatedLinker Flags = 1 << 2
	Compression           Flags = 1 << 3
	DNSCache              Flags = 1 << 4
	RateLimit             Flags = 1 << 5
	AuthRequired          Flags = 1 << 6
	Metrics               Flags = 1 << 7
	Offline               Flags = 1 << 8
	StrictIntegrity       Flags = 1 << 9
)

// flagNames is indexed by bit.
var flagNames = [...]string{
	"DEBUG", "TRACE_CONFIG", "DISABLE_ISOLATED_LINKER", "COMPRESSION",
	"DNS_CACHE", "RATE_LIMIT", "AUTH_REQUIRED", "METRICS", "OFFLINE", "STRICT_INTEGRITY",
}

// masks is the set of defined flags per version.
var masks = [MaxVersion + 1]Flags{0x000, 0x0ff, 0x3ff}

// Mask returns the flags defined in version v (0 for an unknown version).
func Mask(v uint8) Flags {
	if int(v) >= len(masks) {
		return 0
	}
	return masks[v]
}

// AllFlags lists every named flag in bit order.
func AllFlags() []Flags {
	out := make([]Flags, len(flagNames))
	for i := range out {
		out[i] = 1 << i
	}
	return out
}

// Name is the SPEC name of a single flag, or "0x..." for an unnamed bit.
func (f Flags) Name() string {
	if bits.OnesCount32(uint32(f)) == 1 {
		if i := bits.TrailingZeros32(uint32(f)); i < len(flagNames) {
			return flagNames[i]
		}
	}
	return fmt.Sprintf("0x%08x", uint32(f))
}

// Since is the first version that defines flag f (a single flag), or -1.
func (f Flags) Since() int {
	for v := range masks {
		if masks[v]&f == f && f != 0 {
			return v
		}
	}
	return -1
}

// String prints the set flags as DEBUG|TRACE_CONFIG, unnamed bits as hex,
// and "0" for none.
func (f Flags) String() string {
	if f == 0 {
		return "0"
	}
	var parts []string
	for i := range 32 {
		if bit := Flags(1) << i; f&bit != 0 {
			parts = append(parts, bit.Name())
		}
	}
	return strings.Join(parts, "|")
}

// Hex prints f as the SPEC's 0x + 8 lowercase hex digits.
func (f Flags) Hex() string { return fmt.Sprintf("0x%08x", uint32(f)) }

// ParseFlagName returns the flag called name (case-insensitive).
func ParseFlagName(name string) (Flags, bool) {
	for i, n := range flagNames {
		if strings.EqualFold(n, name) {
			return 1 << i, true
		}
	}
	return 0, false
}

// ParseFlags reads "0x0000000b", "DEBUG|METRICS", "DEBUG,METRICS" or "" /
// "0" (none). It does not check the flags against a version.
func ParseFlags(s string) (Flags, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		v, err := strconv.ParseUint(s[2:], 16, 32)
		if err != nil {
			return 0, fmt.Errorf("bad hex flags %q", s)
		}
		return Flags(v), nil
	}
	var f Flags
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == '|' || r == ',' }) {
		bit, ok := ParseFlagName(strings.TrimSpace(p))
		if !ok {
			return 0, fmt.Errorf("unknown flag %q", strings.TrimSpace(p))
		}
		f |= bit
	}
	return f, nil
}

// Mode is the terminal mode.
type Mode uint8

// Terminal modes.
const (
	None   Mode = 0
	Cooked Mode = 1
	Raw    Mode = 2
)

var modeNames = [...]string{"none", "cooked", "raw"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ParseMode reads none, cooked or raw (exact, lower-case).
func ParseMode(s string) (Mode, bool) {
	for i, n := range modeNames {
		if s == n {
			return Mode(i), true
		}
	}
	return 0, false
}

// Terminal formats the terminal fields as X-Bun-Terminal does: cooked;24x80.
func (c Config) Terminal() string {
	return fmt.Sprintf("%s;%dx%d", c.TerminalMode, c.Rows, c.Cols)
}

// ParseSize reads "ROWSxCOLS" with both decimal 1..255, no leading zeros.
func ParseSize(s string) (rows, cols uint8, err error) {
	r, cs, ok := strings.Cut(s, "x")
	if !ok {
		return 0, 0, codes.Named(codes.TerminalSize, "", "size %q is not ROWSxCOLS", s)
	}
	rv, err := ParseDecimal(r)
	if err != nil {
		return 0, 0, codes.Named(codes.TerminalSize, "", "rows %q: %v", r, err)
	}
	cv, err := ParseDecimal(cs)
	if err != nil {
		return 0, 0, codes.Named(codes.TerminalSize, "", "cols %q: %v", cs, err)
	}
	if rv < 1 || rv > 255 || cv < 1 || cv > 255 {
		return 0, 0, codes.Named(codes.TerminalSize, "", "size %dx%d out of 1..255", rv, cv)
	}
	return uint8(rv), uint8(cv), nil
}

// ParseTerminal reads MODE;ROWSxCOLS.
func ParseTerminal(s string) (Mode, uint8, uint8, error) {
	m, size, ok := strings.Cut(s, ";")
	if !ok {
		return 0, 0, 0, codes.Named(codes.TerminalMode, "", "terminal %q is not MODE;ROWSxCOLS", s)
	}
	mode, ok := ParseMode(m)
	if !ok {
		return 0, 0, 0, codes.Named(codes.TerminalMode, "", "terminal mode %q, want none, cooked or raw", m)
	}
	rows, cols, err := ParseSize(size)
	if err != nil {
		return 0, 0, 0, err
	}
	return mode, rows, cols, nil
}

// ParseDecimal reads 0|[1-9][0-9]* up to 9 digits (no sign, no leading zeros).
func ParseDecimal(s string) (int, error) {
	if s == "" || len(s) > 9 {
		return 0, fmt.Errorf("not a decimal of 1..9 digits")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("leading zero")
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("not a decimal")
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, nil
}
