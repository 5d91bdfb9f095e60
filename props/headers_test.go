package props

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/headers"
)

// headerNames is SPEC section 5's table order, written out so that a
// reordered headers.Names cannot hide itself.
var headerNames = [...]string{
	"X-Bun-Config-Version", "X-Bun-Registry-Hash", "X-Bun-Feature-Flags", "X-Bun-Terminal", "X-Bun-Config-Checksum",
}

// respell returns h re-keyed and padded as the bits of style say, two
// bits per header for each choice: the key's case, and spaces or tabs
// before and after the value. Style 0 is h unchanged, so failures shrink
// towards the canonical form.
func respell(h http.Header, style uint64) http.Header {
	pads := [...]string{"", " ", "\t", " \t "}
	out := make(http.Header, len(h))
	for i, name := range headerNames {
		s := style >> (6 * i)
		key := name
		switch s & 3 {
		case 1:
			key = strings.ToLower(name)
		case 2:
			key = strings.ToUpper(name)
		case 3:
			key = strings.ToLower(name[:1]) + name[1:]
		}
		out[key] = []string{pads[s>>2&3] + h.Get(name) + pads[s>>4&3]}
	}
	return out
}

func TestHeadersRoundTrip(t *testing.T) {
	p := newProps(t, 3000)
	p.Property("Validate(FromConfig(c)) == c, in any key case and padding", prop.ForAll(func(c config.Config, style uint64) string {
		h := headers.FromConfig(c)
		if !headers.Present(h) {
			return "Present is false for a full set"
		}
		got, err := headers.Validate(h)
		if err != nil {
			return fmt.Sprintf("headers of a valid config rejected: %v\n%v", err, h)
		}
		if d := cmp.Diff(c, got); d != "" {
			return "round trip (-want +got):\n" + d
		}
		for _, name := range headerNames {
			if err := headers.ValidateOne(name, h.Get(name)); err != nil {
				return fmt.Sprintf("alone, %s is rejected: %v", name, err)
			}
		}
		r := respell(h, style)
		if !headers.Present(r) {
			return fmt.Sprintf("Present is false for %v", r)
		}
		got, err = headers.Validate(r)
		if err != nil {
			return fmt.Sprintf("respelled %v rejected: %v", r, err)
		}
		return cmp.Diff(c, got)
	}, genValidConfig(), gen.UInt64()))
	p.TestingRun(t)
}

// changeAlphabet holds the bytes a one-character change inserts or
// replaces with: every byte the five formats use, and near misses.
const changeAlphabet = "0123456789abcdefxABCDEFX;: \t-+.,nocekdrwaNR\x00"

func TestHeaderOneCharChange(t *testing.T) {
	p := newProps(t, 1000)
	p.Property("any one-character change to one header value is rejected", prop.ForAll(func(c config.Config, ins, rep int) string {
		h := headers.FromConfig(c)
		for hi, name := range headerNames {
			v := h.Get(name)
			var changed []string
			for i := range len(v) + 1 {
				// A space or tab at either end is trimmed away: no change.
				if ch := changeAlphabet[ins]; (ch != ' ' && ch != '\t') || (i != 0 && i != len(v)) {
					changed = append(changed, v[:i]+string(ch)+v[i:])
				}
				if i == len(v) {
					break
				}
				changed = append(changed, v[:i]+v[i+1:])
				r := changeAlphabet[rep]
				if r == v[i] {
					r = changeAlphabet[(rep+1)%len(changeAlphabet)]
				}
				changed = append(changed, v[:i]+string(r)+v[i+1:])
				// Neighbouring bytes too: version 2 -> 1 under v2 flags,
				// 9 -> : in a hex digit, and every off-by-one in a number.
				changed = append(changed, v[:i]+string(v[i]+1)+v[i+1:], v[:i]+string(v[i]-1)+v[i+1:])
			}
			for _, w := range changed {
				h[name] = []string{w}
				_, err := headers.Validate(h)
				if msg := changeRejected(err, hi); msg != "" {
					return fmt.Sprintf("%s %q -> %q: %s", name, v, w, msg)
				}
				var vals [5]string
				for i, n := range headerNames {
					vals[i] = h.Get(n)
				}
				var ce *codes.Error
				errors.As(err, &ce)
				if code, at := refHeaderSet(vals); ce.Code != code || ce.Name != at {
					return fmt.Sprintf("%s %q -> %q: %v, the SPEC says %s: %s", name, v, w, err, code, at)
				}
			}
			h[name] = []string{v}
		}
		return ""
	}, genValidConfig(), gen.IntRange(0, len(changeAlphabet)-1), gen.IntRange(0, len(changeAlphabet)-1)))
	p.TestingRun(t)
}

// changeRejected says what is wrong with err, the verdict on a set whose
// header number changed was altered: it must be rejected with a format,
// range or checksum code naming that header or a later one, since every
// header before it still holds its valid value.
func changeRejected(err error, changed int) string {
	if err == nil {
		return "accepted"
	}
	var ce *codes.Error
	if !errors.As(err, &ce) {
		return fmt.Sprintf("error without a SPEC code: %v", err)
	}
	switch ce.Code {
	case codes.HeaderFormat, codes.HeaderRange, codes.HeaderChecksum:
	default:
		return fmt.Sprintf("code %s", err)
	}
	if at := slices.Index(headerNames[:], ce.Name); at < changed {
		return fmt.Sprintf("names %q, not the changed header or a later one: %v", ce.Name, err)
	}
	return ""
}

func TestHeaderMissing(t *testing.T) {
	p := newProps(t, 2000)
	p.Property("a missing header is header-missing naming the first absent one", prop.ForAll(func(c config.Config, missing, empty uint8) string {
		for i, name := range headerNames {
			h := headers.FromConfig(c)
			h.Del(name)
			_, err := headers.Validate(h)
			if msg := missingIs(err, name); msg != "" {
				return fmt.Sprintf("only %s missing: %s", name, msg)
			}
			// A name with no value at all is as absent as no name.
			h[headerNames[i]] = []string{}
			if _, err := headers.Validate(h); missingIs(err, name) != "" {
				return fmt.Sprintf("%s with an empty value list: %v", name, err)
			}
		}
		h := headers.FromConfig(c)
		first := ""
		for i, name := range headerNames {
			if missing>>i&1 == 0 {
				continue
			}
			if first == "" {
				first = name
			}
			if empty>>i&1 != 0 {
				h[name] = nil
			} else {
				h.Del(name)
			}
		}
		_, err := headers.Validate(h)
		if first == "" {
			if err != nil {
				return fmt.Sprintf("full set rejected: %v", err)
			}
			return ""
		}
		if msg := missingIs(err, first); msg != "" {
			return fmt.Sprintf("missing set %05b: %s", missing&31, msg)
		}
		if headers.Present(h) != (missing&31 != 31) {
			return fmt.Sprintf("Present = %v with missing set %05b", headers.Present(h), missing&31)
		}
		return ""
	}, genValidConfig(), gen.UInt8Range(0, 31), gen.UInt8()))
	p.TestingRun(t)
}

func missingIs(err error, name string) string {
	var ce *codes.Error
	if !errors.As(err, &ce) || ce.Code != codes.HeaderMissing || ce.Name != name {
		return fmt.Sprintf("got %v, want header-missing: %s", err, name)
	}
	return ""
}

// The SPEC's formats as regular expressions: a second reading of section
// 5 that shares no code with impl/headers.
var (
	reDecimal  = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)
	reHex8     = regexp.MustCompile(`^0x[0-9a-f]{8}$`)
	reHex16    = regexp.MustCompile(`^0x[0-9a-f]{16}$`)
	reTerminal = regexp.MustCompile(`^(none|cooked|raw);(0|[1-9][0-9]*)x(0|[1-9][0-9]*)$`)
)

// refHeaderSet validates five raw header values as SPEC section 5 says,
// and returns the first failure's code and header name, or "".
func refHeaderSet(raw [5]string) (codes.Code, string) {
	var v [5]string
	for i := range raw {
		v[i] = strings.Trim(raw[i], " \t")
	}
	dec := func(s string) uint64 {
		if len(s) > 10 {
			return 1 << 40 // a decimal still, only out of range
		}
		n, _ := strconv.ParseUint(s, 10, 64)
		return n
	}
	if !reDecimal.MatchString(v[0]) {
		return codes.HeaderFormat, headerNames[0]
	}
	ver := dec(v[0])
	if ver > 2 {
		return codes.HeaderRange, headerNames[0]
	}
	var word [2]uint64
	for i := 1; i <= 2; i++ {
		if !reHex8.MatchString(v[i]) {
			return codes.HeaderFormat, headerNames[i]
		}
		word[i-1], _ = strconv.ParseUint(v[i][2:], 16, 32)
		if (i == 1 && word[0] == 0) || (i == 2 && uint32(word[1])&^specMasks[ver] != 0) {
			return codes.HeaderRange, headerNames[i]
		}
	}
	m := reTerminal.FindStringSubmatch(v[3])
	if m == nil {
		return codes.HeaderFormat, headerNames[3]
	}
	rows, cols := dec(m[2]), dec(m[3])
	if rows < 1 || rows > 255 || cols < 1 || cols > 255 {
		return codes.HeaderRange, headerNames[3]
	}
	if !reHex16.MatchString(v[4]) {
		return codes.HeaderFormat, headerNames[4]
	}
	sum, _ := strconv.ParseUint(v[4][2:], 16, 64)
	b := make([]byte, 17)
	copy(b, "BUN1")
	b[4] = byte(ver)
	binary.BigEndian.PutUint32(b[5:], uint32(word[0]))
	binary.BigEndian.PutUint32(b[9:], uint32(word[1]))
	b[13] = byte(slices.Index([]string{"none", "cooked", "raw"}, m[1]))
	b[14], b[15] = byte(rows), byte(cols)
	if crc64.Checksum(b, crc64.MakeTable(crc64.ECMA)) != sum {
		return codes.HeaderChecksum, headerNames[4]
	}
	return "", ""
}
