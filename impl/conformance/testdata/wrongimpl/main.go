// Command wrongimpl is a second implementation of the SPEC's CLI (section
// 7) for the conformance kit's tests, with one deliberate defect chosen
// by -defect (none: no defect). It prints its results in its own words,
// not bun13's (compact JSON, "error: CODE (offset 0xNN)", header names in
// lower case), so the tests also show that the kit compares values, not
// text.
//
//	wrongimpl -defect NAME lockfile decode FILE
//	wrongimpl -defect NAME lockfile encode -o OUT IN
//	wrongimpl -defect NAME config validate --file F --json
//	wrongimpl -defect NAME frame decode HEX
//	wrongimpl -defect NAME headers validate 'Name: value'...
package main

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/frame"
	"github.com/bun13/bun13/impl/headers"
	"github.com/bun13/bun13/impl/lockfile"
)

// defects, each a bug a real implementation could have.
var defects = map[string]string{
	"none":                   "no defect",
	"refuses-unsorted":       "not a defect: encoder input out of order refused, as the SPEC allows",
	"rows-offset":            "terminal-size for cols reported at the rows offset 0x0e",
	"crc8-init":              "frame CRC8 computed with init 0xff instead of 0",
	"header-upper-hex":       "upper-case hex accepted in header values",
	"unsorted-deps":          "dependencies not in ascending order accepted",
	"flags-unsorted":         "package flags printed in reverse order",
	"trailing-accepted":      "bytes after the string table ignored",
	"version-255":            "versions of 256 bytes refused (limit taken as 255)",
	"body-crc-no-count":      "body CRC64 computed without the packageCount bytes",
	"hash-before-version":    "registry-hash checked before unsupported-version",
	"header-missing-last":    "header-missing names the last absent header, not the first",
	"snapshot-value":         "SNAPSHOT frames with a non-zero value accepted",
	"depsfirst-zero":         "encoder writes depsFirst 0 for records without dependencies",
	"terminal-255":           "rows or cols of 255 refused (range taken as 1..254)",
	"header-tabs-kept":       "header values trimmed of spaces but not tabs",
	"encode-no-string-dedup": "encoder writes every string, even one already in the table",
	"trusts-package-count":   "records indexed by packageCount before the layout check: panics past the end",
}

func main() {
	fs := flag.NewFlagSet("wrongimpl", flag.ContinueOnError)
	defect := fs.String("defect", "none", "the defect to inject")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if _, ok := defects[*defect]; !ok {
		fmt.Fprintf(os.Stderr, "wrongimpl: unknown defect %q\n", *defect)
		os.Exit(2)
	}
	w := &impl{defect: *defect}
	os.Exit(w.run(fs.Args()))
}

type impl struct{ defect string }

func (w *impl) is(d string) bool { return w.defect == d }

func fail(err error) int {
	var ce *codes.Error
	if errors.As(err, &ce) {
		s := "error: " + string(ce.Code)
		if ce.Name != "" && strings.HasPrefix(ce.Name, "X-Bun") {
			s += ": " + strings.ToLower(ce.Name)
		}
		if ce.Offset != codes.NoOffset {
			s += fmt.Sprintf(" (offset 0x%02x)", ce.Offset)
		}
		fmt.Fprintln(os.Stderr, s)
		return 1
	}
	fmt.Fprintln(os.Stderr, "wrongimpl:", err)
	return 2
}

func (w *impl) run(args []string) int {
	switch {
	case len(args) == 3 && args[0] == "lockfile" && args[1] == "decode":
		b, err := os.ReadFile(args[2])
		if err != nil {
			return fail(err)
		}
		lf, err := w.decode(b)
		if err != nil {
			return fail(err)
		}
		j, _ := lf.MarshalJSON()
		if w.is("flags-unsorted") {
			j = reverseFlags(j)
		}
		fmt.Printf("%s\n", j)
		return 0
	case len(args) == 5 && args[0] == "lockfile" && args[1] == "encode" && args[2] == "-o":
		j, err := os.ReadFile(args[4])
		if err != nil {
			return fail(err)
		}
		var lf lockfile.Lockfile
		if err := json.Unmarshal(j, &lf); err != nil {
			return fail(err)
		}
		b, err := w.encode(&lf)
		if err != nil {
			return fail(err)
		}
		if err := os.WriteFile(args[3], b, 0o644); err != nil {
			return fail(err)
		}
		return 0
	case len(args) == 5 && args[0] == "config" && args[1] == "validate" && args[2] == "--file" && args[4] == "--json":
		b, err := os.ReadFile(args[3])
		if err != nil {
			return fail(err)
		}
		lf, err := w.decode(b)
		if err == nil {
			_, err = config.ApplyEnv(lf.Config, os.LookupEnv)
		}
		if err == nil {
			fmt.Println(`{"valid": true, "error": null}`)
			return 0
		}
		var ce *codes.Error
		if !errors.As(err, &ce) {
			return fail(err)
		}
		if ce.Offset == codes.NoOffset {
			fmt.Printf("{\"valid\": false, \"error\": %q}\n", ce.Code)
		} else {
			fmt.Printf("{\"offset\": %d, \"valid\": false, \"error\": %q}\n", ce.Offset, ce.Code)
		}
		return 1
	case len(args) == 3 && args[0] == "frame" && args[1] == "decode":
		b, err := hex.DecodeString(args[2])
		if err != nil {
			return fail(err)
		}
		f, err := w.frame(b)
		if err != nil {
			return fail(err)
		}
		fmt.Printf("{\"value\": %d, \"type\": %q, \"offset\": %d}\n", f.Value, f.Type, f.Offset)
		return 0
	case len(args) >= 3 && args[0] == "headers" && args[1] == "validate":
		if err := w.headers(args[2:]); err != nil {
			return fail(err)
		}
		fmt.Println("valid")
		return 0
	}
	fmt.Fprintf(os.Stderr, "wrongimpl: usage: %q\n", args)
	return 2
}

var be = binary.BigEndian

// layout finds the body sections of b, or ok false.
func layout(b []byte) (count, depOff, depCount, strOff, strEnd int, ok bool) {
	count = int(be.Uint32(b[0x19:]))
	depOff = 0x40 + 64*count
	if depOff+4 > len(b) {
		return
	}
	depCount = int(be.Uint32(b[depOff:]))
	strOff = depOff + 4 + 4*depCount
	if strOff+4 > len(b) {
		return
	}
	strEnd = strOff + 4 + int(be.Uint32(b[strOff:]))
	return count, depOff, depCount, strOff, strEnd, strEnd <= len(b)
}

func fixBody(b []byte) {
	crc := config.CRC64(b[0x19:0x1d])
	be.PutUint64(b[0x38:], config.CRC64Update(crc, b[0x40:]))
}

func (w *impl) decode(in []byte) (*lockfile.Lockfile, error) {
	b := append([]byte(nil), in...)
	_, herr := lockfile.DecodeHeader(b)
	switch {
	case w.is("hash-before-version") && len(b) >= 64 && string(b[:4]) == "BUN1" && herr != nil &&
		codes.Of(herr) == codes.UnsupportedVersion && be.Uint32(b[5:]) == 0:
		return nil, codes.At(codes.RegistryHash, 5, "registry hash is zero")
	case w.is("terminal-255") && herr == nil && (b[0x0e] == 255 || b[0x0f] == 255):
		return nil, codes.At(codes.TerminalSize, 0x0e, "rows and cols must be 1..254")
	case w.is("body-crc-no-count") && herr == nil:
		if be.Uint64(b[0x38:]) != config.CRC64(b[0x40:]) {
			return nil, codes.At(codes.BodyChecksum, 0x38, "body checksum mismatch")
		}
		fixBody(b)
	case w.is("trusts-package-count") && herr == nil:
		// Read every record's flags word first, trusting the count.
		count := int(be.Uint32(b[0x19:]))
		recs := b[0x40:]
		for i := 0; i < count && i < 1<<20; i++ {
			_ = recs[64*i+0x28] // panics: index out of range
		}
	case w.is("unsorted-deps") && herr == nil:
		if count, depOff, depCount, _, _, ok := layout(b); ok && count < len(b)/64 {
			sane := true
			crc := config.CRC64Update(config.CRC64(b[0x19:0x1d]), b[0x40:])
			for i := range count {
				r := 0x40 + 64*i
				first, n := int(be.Uint32(b[r+0x20:])), int(be.Uint32(b[r+0x24:]))
				if first+n > depCount {
					sane = false
					break
				}
				ds := make([]uint32, n)
				for k := range ds {
					ds[k] = be.Uint32(b[depOff+4+4*(first+k):])
				}
				slices.Sort(ds)
				for k, d := range ds {
					be.PutUint32(b[depOff+4+4*(first+k):], d)
				}
			}
			if sane && crc == be.Uint64(b[0x38:]) {
				fixBody(b)
			}
		}
	}
	lf, err := lockfile.Decode(b)
	var ce *codes.Error
	if errors.As(err, &ce) {
		switch {
		case w.is("rows-offset") && ce.Code == codes.TerminalSize && ce.Offset == 0x0f:
			ce.Offset = 0x0e
		case w.is("trailing-accepted") && ce.Code == codes.TrailingData:
			b = b[:ce.Offset]
			fixBody(b)
			return lockfile.Decode(b)
		}
		return nil, ce
	}
	if err == nil && w.is("version-255") {
		for i, p := range lf.Packages {
			if len(p.Version) == 256 {
				return nil, codes.At(codes.Package, 0x40+64*i+8, "version is longer than 255 bytes")
			}
		}
	}
	return lf, err
}

// reverseFlags reverses every package's flags list in the JSON form.
func reverseFlags(j []byte) []byte {
	var v map[string]any
	if json.Unmarshal(j, &v) != nil {
		return j
	}
	for _, p := range v["packages"].([]any) {
		m := p.(map[string]any)
		fl := m["flags"].([]any)
		slices.Reverse(fl)
	}
	out, _ := json.Marshal(v)
	return out
}

func (w *impl) encode(lf *lockfile.Lockfile) ([]byte, error) {
	if w.is("refuses-unsorted") {
		for i := 1; i < len(lf.Packages); i++ {
			a, c := lf.Packages[i-1], lf.Packages[i]
			if a.Name > c.Name || (a.Name == c.Name && a.Version > c.Version) {
				return nil, codes.At(codes.Package, codes.NoOffset, "packages[%d] is out of order", i)
			}
		}
	}
	b, err := lockfile.Encode(lf)
	if err != nil {
		return nil, err
	}
	count, _, _, _, _, _ := layout(b)
	switch {
	case w.is("depsfirst-zero"):
		for i := range count {
			r := 0x40 + 64*i
			if be.Uint32(b[r+0x24:]) == 0 {
				be.PutUint32(b[r+0x20:], 0)
			}
		}
		fixBody(b)
	case w.is("encode-no-string-dedup"):
		// Rewrite the string table with every field's own copy.
		dec, err := lockfile.Decode(b)
		if err != nil {
			return nil, err
		}
		_, _, _, strOff, _, _ := layout(b)
		var tab []byte
		for i, p := range dec.Packages {
			r := 0x40 + 64*i
			for k, s := range []string{p.Name, p.Version, p.Resolved, p.Integrity} {
				be.PutUint32(b[r+8*k:], uint32(len(tab)))
				be.PutUint32(b[r+8*k+4:], uint32(len(s)))
				tab = append(tab, s...)
			}
		}
		b = be.AppendUint32(b[:strOff], uint32(len(tab)))
		b = append(b, tab...)
		fixBody(b)
	}
	return b, nil
}

func crc8init(b []byte, init byte) byte {
	c := init
	for _, x := range b {
		c ^= x
		for range 8 {
			if c&0x80 != 0 {
				c = c<<1 ^ 0x07
			} else {
				c <<= 1
			}
		}
	}
	return c
}

func (w *impl) frame(in []byte) (frame.Frame, error) {
	b := append([]byte(nil), in...)
	if w.is("crc8-init") && len(b) == frame.Size {
		if crc8init(b[:13], 0xff) != b[13] {
			return frame.Frame{}, codes.At(codes.FrameChecksum, 13, "checksum mismatch")
		}
		b[13] = frame.CRC8(b[:13])
	}
	f, err := frame.Decode(b)
	if w.is("snapshot-value") && codes.Of(err) == codes.FrameValue && b[0] == 0x04 {
		return frame.Frame{Type: frame.TypeSnapshot, Value: binary.LittleEndian.Uint64(b[5:])}, nil
	}
	return f, err
}

func (w *impl) headers(args []string) error {
	h := http.Header{}
	for _, a := range args {
		name, value, _ := strings.Cut(a, ":")
		canon, ok := headers.Canonical(strings.Trim(name, " \t"))
		if !ok {
			return fmt.Errorf("unknown header %q", name)
		}
		if w.is("header-upper-hex") && canon != headers.Version && canon != headers.Terminal {
			value = strings.ToLower(value)
		}
		if w.is("header-tabs-kept") {
			if t := strings.Trim(value, " "); strings.HasPrefix(t, "\t") || strings.HasSuffix(t, "\t") {
				value = "\x00" + value // a tab left in the value: a format error
			}
		}
		h[canon] = append(h[canon], value)
	}
	if len(args) == 1 {
		for name, vals := range h {
			return headers.ValidateOne(name, vals[0])
		}
	}
	_, err := headers.Validate(h)
	if w.is("header-missing-last") && codes.Of(err) == codes.HeaderMissing {
		for i := len(headers.Names) - 1; i >= 0; i-- {
			if _, ok := h[headers.Names[i]]; !ok {
				return codes.Named(codes.HeaderMissing, headers.Names[i], "missing")
			}
		}
	}
	return err
}
