package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-cmp/cmp"

	"github.com/bun13/bun13/impl/conformance/cases"
)

// Got is an implementation's result read the SPEC's way.
type Got struct {
	Exit   int
	Code   string // after "error: " on the first stderr line
	Name   string // the header name after the code, headers only
	Offset int    // the offset the error line shows, or NoOffset
	JSON   any    // stdout parsed as JSON, nil if it is not JSON
	Output []byte // encode's output file
	Line   string // the first stderr line
	Stdout string
	// Died says why the command has no exit status: it timed out or a
	// signal killed it.
	Died string
}

var (
	codeRE   = regexp.MustCompile(`^error: ([a-z][a-z0-9-]*)(?::\s*([A-Za-z][A-Za-z0-9-]*))?`)
	offsetRE = regexp.MustCompile(`(?i)\boffset\b\D{0,3}?(0x[0-9a-f]+|[0-9]+)`)
)

// Parse reads a result: the code (and header name) after "error: " on the
// first stderr line, any byte offset that line shows ("offset N" or
// "offset 0xN"), and stdout as JSON.
func Parse(area cases.Area, r Result) Got {
	g := Got{Exit: r.Exit, Offset: cases.NoOffset, Output: r.Output, Line: FirstLine(r.Stderr), Stdout: string(r.Stdout)}
	switch {
	case r.TimedOut:
		g.Exit, g.Died = -1, "timed out"
	case r.Signal != "":
		g.Exit, g.Died = -1, "killed by signal "+r.Signal
	}
	if m := codeRE.FindStringSubmatch(g.Line); m != nil {
		g.Code = m[1]
		if area == cases.HeadersValidate {
			g.Name = m[2]
		}
		if om := offsetRE.FindStringSubmatch(g.Line[len("error: ")+len(m[1]):]); om != nil {
			if v, err := strconv.ParseInt(om[1], 0, 64); err == nil {
				g.Offset = int(v)
			}
		}
	}
	if v, ok := parseJSON(r.Stdout); ok {
		g.JSON = v
	}
	return g
}

// parseJSON reads exactly one JSON value with numbers kept exact.
func parseJSON(b []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err == nil {
		return nil, false // more than one value
	}
	return normalize(v), true
}

// Number is a JSON number by value, as an exact rational ("15", "1/2").
type Number string

// normalize makes numbers comparable by value: 1, 1.0 and 1e0 are equal.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		r, ok := new(big.Rat).SetString(string(x))
		if !ok {
			return string(x)
		}
		return Number(r.RatString())
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalize(x[k])
		}
	}
	return v
}

// WantJSON is the reference's JSON, normalized like Got.JSON.
func WantJSON(w cases.Want) any {
	v, _ := parseJSON(w.JSON)
	return v
}

// dropNulls removes "error" and "offset" from a validate verdict where the
// SPEC lets them be omitted or null.
func dropNulls(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	for _, k := range []string{"error", "offset"} {
		if x, ok := m[k]; ok && x == nil {
			delete(m, k)
		}
	}
	return m
}

// Compare decides whether got agrees with the case's reference answer,
// and if not, says why.
func Compare(c *cases.Case, got Got) (bool, string) {
	w := c.Want
	if got.Died != "" {
		return false, got.Died
	}
	if c.Area == cases.LockfileEncode && c.Unsorted && got.Exit == 1 {
		if got.Code == "" {
			return false, fmt.Sprintf("refused unsorted input, but the first stderr line %q has no `error: CODE`", got.Line)
		}
		return true, "" // the SPEC lets an encoder refuse unsorted input
	}
	if got.Exit != w.Exit {
		return false, fmt.Sprintf("exit %d, want %d", got.Exit, w.Exit)
	}
	// config validate --json reports in its JSON, compared below.
	if w.Exit != 0 && c.Area != cases.ConfigValidate {
		if got.Code != w.Code {
			if got.Code == "" {
				return false, fmt.Sprintf("first stderr line %q does not begin `error: %s`", got.Line, w.Code)
			}
			return false, fmt.Sprintf("error %s, want %s", got.Code, w.Code)
		}
		if c.Area == cases.HeadersValidate && w.Name != "" && !strings.EqualFold(got.Name, w.Name) {
			if got.Name == "" {
				return false, fmt.Sprintf("error %s names no header, want %s", got.Code, w.Name)
			}
			return false, fmt.Sprintf("error %s names header %s, want %s", got.Code, got.Name, w.Name)
		}
		if c.Area == cases.LockfileDecode && got.Offset != cases.NoOffset && got.Offset != w.Offset {
			return false, fmt.Sprintf("error %s at offset %d (0x%02x), want offset %d (0x%02x)", got.Code, got.Offset, got.Offset, w.Offset, w.Offset)
		}
	}
	switch c.Area {
	case cases.LockfileDecode, cases.FrameDecode:
		if w.Exit == 0 {
			return jsonAgree(WantJSON(w), got)
		}
	case cases.ConfigValidate:
		return jsonAgree(dropNulls(WantJSON(w)), Got{JSON: dropNulls(got.JSON), Stdout: got.Stdout})
	case cases.LockfileEncode:
		if w.Exit == 0 && !bytes.Equal(got.Output, w.Output) {
			if got.Output == nil {
				return false, "exit 0 but no output file written"
			}
			at := firstDiff(got.Output, w.Output)
			return false, fmt.Sprintf("wrote %d bytes, want %d; first difference outside the checksums at byte %d (0x%02x), %s", len(got.Output), len(w.Output), at, at, Describe(w.Output, at))
		}
	}
	return true, ""
}

func jsonAgree(want any, got Got) (bool, string) {
	if got.JSON == nil {
		s := got.Stdout
		if len(s) > 200 {
			s = s[:200] + "..."
		}
		return false, fmt.Sprintf("stdout is not one JSON value: %q", s)
	}
	if d := cmp.Diff(want, got.JSON); d != "" {
		if len(d) > 1500 {
			d = d[:1500] + "..."
		}
		return false, "JSON differs (-want +got):\n" + d
	}
	return true, ""
}

// firstDiff is the first byte where a and b differ, the checksums left
// out (they differ whenever anything else does), or where one ends.
func firstDiff(a, b []byte) int {
	crc := func(i int) bool {
		return (i >= cases.OffHeaderCRC && i < cases.OffHeaderCRC+8) || (i >= cases.OffBodyCRC && i < cases.OffBodyCRC+8)
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] && !crc(i) {
			return i
		}
	}
	if len(a) == len(b) {
		return cases.OffBodyCRC
	}
	return min(len(a), len(b))
}

var recFields = []struct {
	off  int
	name string
}{{0x00, "name offset"}, {0x04, "name length"}, {0x08, "version offset"}, {0x0C, "version length"}, {0x10, "resolved offset"}, {0x14, "resolved length"},
	{0x18, "integrity offset"}, {0x1C, "integrity length"}, {0x20, "depsFirst"}, {0x24, "depsCount"}, {0x28, "flags"}, {0x2C, "reserved"}}

// Describe names the field of lockfile b that byte off belongs to.
func Describe(b []byte, off int) string {
	hdr := []struct {
		end  int
		name string
	}{{0x04, "magic"}, {0x05, "version"}, {0x09, "registryHash"}, {0x0D, "featureFlags"}, {0x0E, "terminalMode"}, {0x0F, "rows"}, {0x10, "cols"},
		{0x11, "config reserved byte"}, {0x19, "CRC64"}, {0x1D, "packageCount"}, {0x38, "reserved bytes"}, {0x40, "body CRC64"}}
	if off < cases.HeaderSize {
		for _, h := range hdr {
			if off < h.end {
				return "header " + h.name
			}
		}
	}
	l := cases.LayoutOf(b)
	switch {
	case off >= len(b):
		return "past the end of the expected file"
	case !l.OK:
		return "the body"
	case off < l.DepOff:
		i, in := (off-cases.HeaderSize)/cases.RecordSize, (off-cases.HeaderSize)%cases.RecordSize
		name := ""
		for _, f := range recFields {
			if in >= f.off {
				name = f.name
			}
		}
		return fmt.Sprintf("record %d +0x%02x (%s)", i, in, name)
	case off < l.DepOff+4:
		return "depCount"
	case off < l.StrOff:
		return fmt.Sprintf("dependency table entry %d", (off-l.DepOff-4)/4)
	case off < l.StrStart:
		return "strBytes"
	}
	return fmt.Sprintf("string table byte %d", off-l.StrStart)
}
