package fuzz

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc64"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/headers"
)

// headerNames is SPEC section 5's table order.
var headerNames = [5]string{
	"X-Bun-Config-Version", "X-Bun-Registry-Hash", "X-Bun-Feature-Flags", "X-Bun-Terminal", "X-Bun-Config-Checksum",
}

// The SPEC's formats as regular expressions: a second reading of section
// 5 that shares no code with impl/headers.
var (
	reDecimal  = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)
	reHex8     = regexp.MustCompile(`^0x[0-9a-f]{8}$`)
	reHex16    = regexp.MustCompile(`^0x[0-9a-f]{16}$`)
	reTerminal = regexp.MustCompile(`^(none|cooked|raw);(0|[1-9][0-9]*)x(0|[1-9][0-9]*)$`)
)

// refTrim drops the spaces and tabs the SPEC trims, and nothing else.
func refTrim(s string) string { return strings.Trim(s, " \t") }

// refDecimal reads a decimal of any length, capped: a long one is still a
// decimal, only out of range.
func refDecimal(s string) uint64 {
	if len(s) > 10 {
		return 1 << 40
	}
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// refHeader is one header's format then range check; mask is the flag
// mask to hold X-Bun-Feature-Flags to. It returns the code and the value.
func refHeader(i int, v string, mask uint32) (codes.Code, uint64) {
	switch i {
	case 0:
		if !reDecimal.MatchString(v) {
			return codes.HeaderFormat, 0
		}
		n := refDecimal(v)
		if n > 2 {
			return codes.HeaderRange, 0
		}
		return "", n
	case 1, 2:
		if !reHex8.MatchString(v) {
			return codes.HeaderFormat, 0
		}
		n, _ := strconv.ParseUint(v[2:], 16, 32)
		if (i == 1 && n == 0) || (i == 2 && uint32(n)&^mask != 0) {
			return codes.HeaderRange, 0
		}
		return "", n
	case 3:
		m := reTerminal.FindStringSubmatch(v)
		if m == nil {
			return codes.HeaderFormat, 0
		}
		rows, cols := refDecimal(m[2]), refDecimal(m[3])
		if rows < 1 || rows > 255 || cols < 1 || cols > 255 {
			return codes.HeaderRange, 0
		}
		var mode uint64
		switch m[1] {
		case "cooked":
			mode = 1
		case "raw":
			mode = 2
		}
		return "", mode<<16 | rows<<8 | cols
	}
	if !reHex16.MatchString(v) {
		return codes.HeaderFormat, 0
	}
	n, _ := strconv.ParseUint(v[2:], 16, 64)
	return "", n
}

var crcTable = crc64.MakeTable(crc64.ECMA)

// refHeaders validates five trimmed values as a full set, in the SPEC's
// order, and returns the config or the code and the header it names.
func refHeaders(v [5]string) (config.Config, codes.Code, string) {
	var n [5]uint64
	mask := uint32(0)
	for i := range v {
		code, x := refHeader(i, v[i], mask)
		if code != "" {
			return config.Config{}, code, headerNames[i]
		}
		n[i] = x
		if i == 0 {
			mask = frameMasks[x]
		}
	}
	c := config.Config{
		Version: uint8(n[0]), RegistryHash: uint32(n[1]), FeatureFlags: config.Flags(n[2]),
		TerminalMode: config.Mode(n[3] >> 16), Rows: uint8(n[3] >> 8), Cols: uint8(n[3]),
	}
	b := []byte("BUN1\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	b[4] = c.Version
	binary.BigEndian.PutUint32(b[5:], c.RegistryHash)
	binary.BigEndian.PutUint32(b[9:], uint32(c.FeatureFlags))
	b[13], b[14], b[15] = byte(c.TerminalMode), c.Rows, c.Cols
	if crc64.Checksum(b, crcTable) != n[4] {
		return config.Config{}, codes.HeaderChecksum, headerNames[4]
	}
	return c, "", ""
}

// headerSets reads the valid header sets of fixtures/headers.json.
func headerSets(f *testing.F) [][5]string {
	var sets map[string]map[string]string
	raw, err := os.ReadFile("../fixtures/headers.json")
	if err != nil {
		f.Fatal(err)
	}
	if err := json.Unmarshal(raw, &sets); err != nil {
		f.Fatal(err)
	}
	var out [][5]string
	for _, set := range sets {
		var v [5]string
		for i, name := range headerNames {
			v[i] = set[name]
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		f.Fatal("no header set in fixtures/headers.json")
	}
	return out
}

func FuzzHeaders(f *testing.F) {
	sets := headerSets(f)
	for _, v := range sets {
		f.Add(v[0], v[1], v[2], v[3], v[4])
	}
	s := sets[0]
	v2 := headers.FromConfig(config.Config{Version: 2, RegistryHash: 1, FeatureFlags: 0x3ff, TerminalMode: config.Raw, Rows: 255, Cols: 255})
	f.Add(v2.Get(headerNames[0]), v2.Get(headerNames[1]), v2.Get(headerNames[2]), v2.Get(headerNames[3]), v2.Get(headerNames[4]))
	f.Add(" \t"+s[0]+"\t ", "\t"+s[1], s[2]+" ", " "+s[3]+" ", "\t"+s[4]+"\t") // padding is trimmed: valid
	f.Add("0"+s[0], s[1], s[2], s[3], s[4])                                    // "01": header-format, not 1
	f.Add("300", s[1], s[2], s[3], s[4])                                       // 300: header-range
	f.Add("99999999999999999999", s[1], s[2], s[3], s[4])                      // a decimal past u64: header-range
	f.Add(s[0], strings.ToUpper(s[1]), s[2], s[3], s[4])                       // upper-case hex: header-format
	f.Add(s[0], "0X"+s[1][2:], s[2], s[3], s[4])                               // upper-case 0X: header-format
	f.Add(s[0], "0x00000000", s[2], s[3], s[4])                                // zero hash: header-range
	f.Add(s[0], s[1], "0x00000100", s[3], s[4])                                // v2 flag at v1: header-range
	f.Add(s[0], s[1], s[2], "cooked;0x80", s[4])                               // rows 0: header-range
	f.Add(s[0], s[1], s[2], "cooked;24x300", s[4])                             // cols 300: header-range
	f.Add(s[0], s[1], s[2], "cooked;024x80", s[4])                             // leading zero rows: header-format
	f.Add(s[0], s[1], s[2], "COOKED;24x80", s[4])                              // the mode is format: header-format
	f.Add(s[0], s[1], s[2], "cooked; 24x80", s[4])                             // inner space: header-format
	f.Add(s[0], s[1], s[2], s[3], s[4][:17])                                   // 15 hex digits: header-format
	f.Add(s[0], s[1], s[2], s[3], "0x0000000000000000")                        // wrong checksum: header-checksum
	f.Add("", s[1], s[2], s[3], s[4])                                          // empty value: header-format
	f.Add(s[0], s[1], s[2], s[3], " \t ")                                      // blank checksum: header-format
	f.Add("", "", "", "", "")                                                  // all empty: the first is format
	f.Add(s[0]+"\r", s[1], s[2], s[3], s[4])                                   // CR is not trimmed: header-format
	f.Fuzz(func(t *testing.T, v0, v1, v2, v3, v4 string) {
		in := [5]string{v0, v1, v2, v3, v4}
		h := http.Header{}
		var trimmed [5]string
		for i, name := range headerNames {
			h[name] = []string{in[i]}
			trimmed[i] = refTrim(in[i])
		}
		c, err := headers.Validate(h)
		want, wantCode, wantName := refHeaders(trimmed)
		if codes.Of(err) != wantCode {
			t.Fatalf("Validate(%q) = %v, the SPEC says %q naming %s", in, err, wantCode, wantName)
		}
		if err != nil {
			var ce *codes.Error
			if !errors.As(err, &ce) || ce.Name != wantName {
				t.Fatalf("Validate(%q) = %v, the SPEC names %s", in, err, wantName)
			}
			for i, name := range headerNames {
				if name == wantName {
					break
				}
				if err := headers.ValidateOne(name, in[i]); err != nil {
					t.Fatalf("%s %q passes in the set but not alone: %v", name, in[i], err)
				}
			}
			return
		}
		if c != want {
			t.Fatalf("Validate(%q) = %+v, the SPEC reads %+v", in, c, want)
		}
		out := headers.FromConfig(c)
		for i, name := range headerNames {
			if got := out.Get(name); got != trimmed[i] {
				t.Fatalf("FromConfig gives %s %q, the input was %q", name, got, in[i])
			}
			if err := headers.ValidateOne(name, in[i]); err != nil {
				t.Fatalf("%s %q is valid in a set but not alone: %v", name, in[i], err)
			}
		}
		back, err := headers.Validate(out)
		if err != nil || back != c {
			t.Fatalf("Validate(FromConfig(%+v)) = %+v, %v", c, back, err)
		}
	})
}

func FuzzHeaderOne(f *testing.F) {
	s := headerSets(f)[0]
	for i, name := range headerNames {
		f.Add(name, s[i])
		f.Add(strings.ToLower(name), "\t"+s[i]+" ") // any case, trimmed
		f.Add(name, "")                             // empty: header-format
		f.Add(name, strings.ToUpper(s[i]))          // upper case: format, except "1"
	}
	f.Add("X-Bun-Config-Version", "01")                  // leading zero: header-format
	f.Add("X-Bun-Config-Version", "300")                 // header-range
	f.Add("X-Bun-Feature-Flags", "0x000003ff")           // alone, held to the v2 mask: valid
	f.Add("X-Bun-Feature-Flags", "0x00000400")           // beyond v2: header-range
	f.Add("X-Bun-Terminal", "cooked;0x80")               // header-range
	f.Add("X-Bun-Terminal", "raw;255x255")               // valid
	f.Add("X-Bun-Config-Checksum", "0xffffffffffffffff") // any checksum is in range alone
	f.Add("X-Bun-Config", "1")                           // not one of the five: no SPEC code
	f.Add("", "")                                        // no name
	f.Fuzz(func(t *testing.T, name, value string) {
		err := headers.ValidateOne(name, value)
		i := -1
		for k, n := range headerNames {
			if strings.EqualFold(n, name) {
				i = k
			}
		}
		if i < 0 {
			if !errors.Is(err, headers.ErrUnknownHeader) || codes.Of(err) != "" {
				t.Fatalf("ValidateOne(%q) = %v, want ErrUnknownHeader", name, err)
			}
			return
		}
		want, _ := refHeader(i, refTrim(value), frameMasks[2])
		if codes.Of(err) != want {
			t.Fatalf("ValidateOne(%q, %q) = %v, the SPEC says %q", name, value, err, want)
		}
		if err != nil {
			checkCode(t, err)
			var ce *codes.Error
			if !errors.As(err, &ce) || ce.Name != headerNames[i] {
				t.Fatalf("ValidateOne(%q, %q) = %v, want it to name %s", name, value, err, headerNames[i])
			}
		}
	})
}
