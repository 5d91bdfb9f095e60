// Package cases builds the conformance kit's cases (SPEC sections 2 to 5)
// and their expected results, which it takes from the reference code
// (impl/lockfile, impl/frame, impl/headers, impl/config) in process: the
// golden vectors and the corruption matrix, lockfiles generated at every
// field rule's edges, mutations aimed at every error code and offset of the
// validation order with checksums fixed up, frames of every type and error,
// and header sets of every error.
//
// Generation is seeded: the same seed and count give the same cases, in
// the same order, with the same names.
package cases

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Area is one command of the SPEC's CLI contract (section 7) that the kit
// drives.
type Area string

// The areas, in report order.
const (
	LockfileDecode  Area = "lockfile decode"
	LockfileEncode  Area = "lockfile encode"
	ConfigValidate  Area = "config validate"
	FrameDecode     Area = "frame decode"
	HeadersValidate Area = "headers validate"
)

// Areas lists every area in report order.
var Areas = []Area{LockfileDecode, LockfileEncode, ConfigValidate, FrameDecode, HeadersValidate}

// Groups are the --only names and the areas each selects.
var Groups = map[string][]Area{
	"lockfile": {LockfileDecode, LockfileEncode},
	"config":   {ConfigValidate},
	"frame":    {FrameDecode},
	"headers":  {HeadersValidate},
}

// ParseOnly reads a --only list ("lockfile,frame"); "" selects every area.
func ParseOnly(s string) (map[Area]bool, error) {
	out := map[Area]bool{}
	if strings.TrimSpace(s) == "" {
		for _, a := range Areas {
			out[a] = true
		}
		return out, nil
	}
	for _, g := range strings.Split(s, ",") {
		as, ok := Groups[strings.TrimSpace(g)]
		if !ok {
			return nil, fmt.Errorf("--only: unknown area %q (want lockfile, config, frame, headers)", g)
		}
		for _, a := range as {
			out[a] = true
		}
	}
	return out, nil
}

// NoOffset marks a result without a byte offset.
const NoOffset = -1

// Want is a command's result as the SPEC's CLI contract defines it: the
// exit status, and either the output (JSON printed, or bytes written by
// encode) or the error's SPEC code, byte offset and header name.
type Want struct {
	Exit   int             `json:"exit"`
	Code   string          `json:"error,omitempty"`
	Offset int             `json:"offset"`
	Name   string          `json:"header,omitempty"`
	JSON   json.RawMessage `json:"json,omitempty"`
	Output []byte          `json:"-"`
}

// Valid reports whether the reference accepts the input.
func (w Want) Valid() bool { return w.Exit == 0 }

// String is a one-line form of w for reports.
func (w Want) String() string {
	if w.Exit == 0 {
		switch {
		case w.JSON != nil:
			return "exit 0, " + compact(w.JSON)
		case w.Output != nil:
			return fmt.Sprintf("exit 0, %d bytes written", len(w.Output))
		}
		return "exit 0"
	}
	s := fmt.Sprintf("exit %d, error: %s", w.Exit, w.Code)
	if w.Name != "" {
		s += ": " + w.Name
	}
	if w.Offset != NoOffset {
		s += fmt.Sprintf(" at offset %d (0x%02x)", w.Offset, w.Offset)
	}
	if w.JSON != nil {
		s += ", " + compact(w.JSON)
	}
	return s
}

func compact(b []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return string(b)
	}
	s := buf.String()
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}

// Intent is what a generated case aims at; the kit's own tests hold the
// reference's answer equal to it, so a case that stops reaching its check
// is noticed.
type Intent struct {
	Code   string
	Offset int
}

// Case is one input for one area with the reference's result.
type Case struct {
	// Name is unique and stable for a seed: "lockfile-decode/mut/terminal-size-cols".
	Name string
	Area Area
	// Spec names the SPEC section and rule that decides the case.
	Spec string
	// Input is the lockfile (decode, validate), the JSON form (encode) or
	// the frame bytes (frame decode).
	Input []byte
	// Args are the arguments after `headers validate`.
	Args []string
	// Unsorted marks encoder input given out of order: the SPEC lets an
	// encoder reject it, with any SPEC code, instead of sorting it.
	Unsorted bool
	Want     Want
	Intent   *Intent
}

// Command is the implementation's command line for c; in names the input
// file and out the output file of encode.
func (c *Case) Command(in, out string) []string {
	switch c.Area {
	case LockfileDecode:
		return []string{"lockfile", "decode", in}
	case LockfileEncode:
		return []string{"lockfile", "encode", "-o", out, in}
	case ConfigValidate:
		return []string{"config", "validate", "--file", in, "--json"}
	case FrameDecode:
		return []string{"frame", "decode", fmt.Sprintf("%x", c.Input)}
	case HeadersValidate:
		return append([]string{"headers", "validate"}, c.Args...)
	}
	panic("cases: unknown area " + string(c.Area))
}

// InputExt is the file extension of c's input file ("" when the input is
// on the command line).
func (c *Case) InputExt() string {
	switch c.Area {
	case LockfileDecode, ConfigValidate:
		return ".lockb"
	case LockfileEncode:
		return ".json"
	}
	return ""
}
