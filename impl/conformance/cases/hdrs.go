package cases

import (
	"fmt"
	"strings"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/headers"
)

const specHeaders = "SPEC 5: header formats, ranges and validation order"

// HeaderValues are the five values describing c, in table order.
func HeaderValues(c config.Config) [5]string {
	return [5]string{
		fmt.Sprint(c.Version),
		fmt.Sprintf("0x%08x", c.RegistryHash),
		fmt.Sprintf("0x%08x", uint32(c.FeatureFlags)),
		fmt.Sprintf("%s;%dx%d", c.TerminalMode, c.Rows, c.Cols),
		fmt.Sprintf("0x%016x", c.Checksum()),
	}
}

// HeaderArgs are 'Name: value' arguments for the five values.
func HeaderArgs(v [5]string) []string {
	out := make([]string, 5)
	for i, n := range headers.Names {
		out[i] = n + ": " + v[i]
	}
	return out
}

// seedConfig is the config of the vectors' headers.json (v1, 0x3b8b5a5a,
// DEBUG|TRACE_CONFIG, cooked 24x80).
var seedConfig = config.Config{Version: 1, RegistryHash: 0x3b8b5a5a, FeatureFlags: 3, TerminalMode: config.Cooked, Rows: 24, Cols: 80}

type headerCase struct {
	name string
	args []string
	code string
	hdr  string // the header the error names
}

// with returns the seed's values with value i replaced and the checksum
// recomputed unless i is the checksum.
func with(c config.Config, i int, v string) []string {
	vals := HeaderValues(c)
	vals[i] = v
	return HeaderArgs(vals)
}

func without(args []string, drop ...int) []string {
	var out []string
	for i, a := range args {
		keep := true
		for _, d := range drop {
			keep = keep && d != i
		}
		if keep {
			out = append(out, a)
		}
	}
	return out
}

// headerCases covers every header error of section 5, names in any case,
// surrounding whitespace, and single headers checked alone.
func headerCases() []headerCase {
	var out []headerCase
	add := func(name string, args []string, code string, hdr int) {
		h := ""
		if hdr >= 0 {
			h = headers.Names[hdr]
		}
		out = append(out, headerCase{name, args, code, h})
	}
	seed := HeaderArgs(HeaderValues(seedConfig))
	add("seed-config", seed, "", -1)
	lower := make([]string, 5)
	upper := make([]string, 5)
	mixed := make([]string, 5)
	for i, a := range seed {
		n, v, _ := strings.Cut(a, ":")
		lower[i] = strings.ToLower(n) + ":" + v
		upper[i] = strings.ToUpper(n) + ":" + v
		mixed[i] = "x-BUN-" + n[len("X-Bun-"):] + ":" + v
	}
	add("names-lower-case", lower, "", -1)
	add("names-upper-case", upper, "", -1)
	add("names-mixed-case", mixed, "", -1)
	vals := HeaderValues(seedConfig)
	spaced := make([]string, 5)
	for i, n := range headers.Names {
		pad := []string{"  ", "\t", " \t ", "\t\t", " "}[i]
		spaced[i] = n + ":" + pad + vals[i] + pad
	}
	add("values-surrounded-by-spaces-and-tabs", spaced, "", -1)
	add("value-no-space-after-colon", append([]string{headers.Names[0] + ":" + vals[0]}, seed[1:]...), "", -1)
	add("order-reversed", []string{seed[4], seed[3], seed[2], seed[1], seed[0]}, "", -1)
	for i := range 5 {
		add("missing-"+strings.ToLower(headers.Names[i][6:]), without(seed, i), "header-missing", i)
	}
	add("missing-two-first-wins", without(seed, 1, 3), "header-missing", 1)
	add("missing-three", seed[3:], "header-missing", 0)
	add("order-missing-before-format", without(with(seedConfig, 0, "01"), 2), "header-missing", 2)

	v := func(i int, s, code, name string) { add(name, with(seedConfig, i, s), code, i) }
	v(0, "01", "header-format", "version-leading-zero")
	v(0, "+1", "header-format", "version-plus")
	v(0, "1.0", "header-format", "version-decimal-point")
	v(0, "", "header-format", "version-empty")
	v(0, "one", "header-format", "version-word")
	v(0, "3", "header-range", "version-3")
	v(0, "300", "header-range", "version-300")
	v(0, "99999999999999999999", "header-range", "version-huge")
	v(1, "0x3B8B5A5A", "header-format", "registry-hash-upper-case-hex")
	v(1, "0X3b8b5a5a", "header-format", "registry-hash-upper-case-x")
	v(1, "3b8b5a5a", "header-format", "registry-hash-no-prefix")
	v(1, "0x3b8b5a5", "header-format", "registry-hash-7-digits")
	v(1, "0x03b8b5a5a", "header-format", "registry-hash-9-digits")
	v(1, "0x3b8b5a5g", "header-format", "registry-hash-not-hex")
	v(1, "0x00000000", "header-range", "registry-hash-zero")
	v(2, "0x0000000A", "header-format", "feature-flags-upper-case-hex")
	v(2, "0x3", "header-format", "feature-flags-short")
	v(2, "0x00000100", "header-range", "feature-flags-v2-bit-on-v1")
	v(2, "0x80000000", "header-range", "feature-flags-bit31")
	v(3, "COOKED;24x80", "header-format", "terminal-mode-upper-case")
	v(3, "tty;24x80", "header-format", "terminal-mode-unknown")
	v(3, "cooked;024x80", "header-format", "terminal-rows-leading-zero")
	v(3, "cooked;24x", "header-format", "terminal-cols-missing")
	v(3, "cooked;24X80", "header-format", "terminal-upper-x")
	v(3, "cooked 24x80", "header-format", "terminal-no-semicolon")
	v(3, "cooked;24x80;", "header-format", "terminal-trailing-semicolon")
	v(3, "cooked;0x80", "header-range", "terminal-rows-zero")
	v(3, "cooked;24x0", "header-range", "terminal-cols-zero")
	v(3, "cooked;256x80", "header-range", "terminal-rows-256")
	v(3, "cooked;24x256", "header-range", "terminal-cols-256")
	v(4, "0x12CAB69B58A0C073", "header-format", "checksum-upper-case-hex")
	v(4, "0x12cab69b58a0c07", "header-format", "checksum-15-digits")
	v(4, "0x12cab69b58a0c074", "header-checksum", "checksum-mismatch")
	v(4, "0x0000000000000000", "header-checksum", "checksum-zero")
	add("value-trailing-cr", with(seedConfig, 0, "1\r"), "header-format", 0)
	add("value-nbsp", with(seedConfig, 0, "\u00a01"), "header-format", 0)
	// Flags are checked against the version header's mask.
	v0 := seedConfig
	v0.Version, v0.FeatureFlags = 0, 0
	add("feature-flags-v0-zero", HeaderArgs(HeaderValues(v0)), "", -1)
	add("feature-flags-v0-debug", with(v0, 2, "0x00000001"), "header-range", 2)
	v2 := seedConfig
	v2.Version, v2.FeatureFlags = 2, 0x3ff
	add("feature-flags-v2-all", HeaderArgs(HeaderValues(v2)), "", -1)
	add("feature-flags-v2-bit10", with(v2, 2, "0x00000400"), "header-range", 2)
	edge := seedConfig
	edge.Rows, edge.Cols, edge.TerminalMode = 255, 1, config.None
	add("terminal-none-255x1", HeaderArgs(HeaderValues(edge)), "", -1)
	edge.TerminalMode, edge.Rows, edge.Cols = config.Raw, 1, 255
	add("terminal-raw-1x255", HeaderArgs(HeaderValues(edge)), "", -1)
	// Pairs: table order, then format before range, then the checksum.
	add("order-version-before-hash", withN(seedConfig, map[int]string{1: "0x00000000", 0: "01"}), "header-format", 0)
	add("order-version-range-before-hash-format", withN(seedConfig, map[int]string{1: "0xZZ", 0: "7"}), "header-range", 0)
	add("order-terminal-before-checksum", withN(seedConfig, map[int]string{4: "0x0000000000000001", 3: "raw;0x0"}), "header-range", 3)
	add("order-flags-before-terminal", withN(seedConfig, map[int]string{3: "x", 2: "0xffffffff"}), "header-range", 2)
	// One header alone: format and range only, flags against the v2 mask.
	one := func(name string, i int, val, code string) {
		hdr := -1
		if code != "" {
			hdr = i
		}
		add("alone-"+name, []string{headers.Names[i] + ": " + val}, code, hdr)
	}
	one("version", 0, "2", "")
	one("version-range", 0, "3", "header-range")
	one("version-format", 0, "00", "header-format")
	one("registry-hash", 1, "0xffffffff", "")
	one("registry-hash-zero", 1, "0x00000000", "header-range")
	one("feature-flags-v2-mask", 2, "0x000003ff", "")
	one("feature-flags-bit10", 2, "0x00000400", "header-range")
	one("feature-flags-upper", 2, "0x000003FF", "header-format")
	one("terminal", 3, "raw;1x255", "")
	one("terminal-range", 3, "raw;1x256", "header-range")
	one("checksum-any-value", 4, "0x0123456789abcdef", "")
	one("checksum-format", 4, "0x0123456789ABCDEF", "header-format")
	one("lower-case-name", 3, "none;1x1", "")
	add("alone-lower-case-name-error", []string{"x-bun-terminal: none;0x1"}, "header-range", 3)
	add("alone-padded", []string{headers.Names[0] + ":\t 2 \t"}, "", -1)
	return out
}

// withN replaces several of c's values (the checksum stays c's).
func withN(c config.Config, repl map[int]string) []string {
	vals := HeaderValues(c)
	for i, v := range repl {
		vals[i] = v
	}
	return HeaderArgs(vals)
}
