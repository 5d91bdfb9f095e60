package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/frame"
)

func init() { commands["frame"] = runFrameCmd }

func runFrameCmd(e *env, args []string) error {
	if len(args) == 0 {
		return usagef("frame: want decode or encode")
	}
	switch args[0] {
	case "decode":
		return frameDecode(e, args[1:])
	case "encode":
		return frameEncode(e, args[1:])
	}
	return usagef("frame: unknown subcommand %q", args[0])
}

// frameDecode prints {"type":T,"offset":N,"value":N}. Text that is not hex
// is a usage error; hex of the wrong length is the frame's own
// frame-length, since that is what a server receiving it would report.
func frameDecode(e *env, args []string) error {
	pos, err := parseInterspersed(newFlags("frame decode"), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("frame decode HEX")
	}
	b, err := hex.DecodeString(strings.TrimSpace(pos[0]))
	if err != nil {
		return usagef("frame decode: %q is not hex: %v", pos[0], err)
	}
	f, err := frame.Decode(b)
	if err != nil {
		return err
	}
	out, err := json.Marshal(f)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s\n", out)
	return nil
}

// frameEncode prints the 14 bytes as lowercase hex. It refuses, with the
// code Decode would give, any frame that would not decode: what it prints
// can always be sent.
func frameEncode(e *env, args []string) error {
	fs := newFlags("frame encode")
	typ := fs.String("type", "", "set, flags-enable, flags-disable, snapshot, ack or nak (or the type byte)")
	off := fs.String("offset", "0", "the offset, decimal or 0x-hex")
	val := fs.String("value", "0", "the value, decimal or 0x-hex")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *typ == "" {
		return usagef("frame encode --type T [--offset O] [--value V]")
	}
	var f frame.Frame
	if f.Type, err = frameType(*typ); err != nil {
		return err
	}
	o, err := number(*off, 32)
	if err != nil {
		return numberError(err, "offset", *off, codes.FrameOffset)
	}
	f.Offset = uint32(o)
	if f.Value, err = number(*val, 64); err != nil {
		return numberError(err, "value", *val, codes.FrameValue)
	}
	b, err := frame.Marshal(f)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%x\n", b)
	return nil
}

// frameType reads a SPEC type name or a type byte. Anything else is
// frame-type: it names no frame the encoder could produce.
func frameType(s string) (frame.Type, error) {
	if t, ok := frame.ParseType(s); ok {
		return t, nil
	}
	if n, err := number(s, 8); err == nil && frame.Type(n).Known() {
		return frame.Type(n), nil
	}
	return 0, codes.At(codes.FrameType, 0, "unknown frame type %q, want set, flags-enable, flags-disable, snapshot, ack or nak", s)
}

// number reads decimal or 0x-hex. A leading 0 is decimal, not octal as
// strconv's base 0 would have it.
func number(s string, bits int) (uint64, error) {
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		return strconv.ParseUint(h, 16, bits)
	}
	return strconv.ParseUint(s, 10, bits)
}

// numberError makes a number too big for its field the frame's own error
// (the wire cannot carry it) and anything unreadable a usage error.
func numberError(err error, what, s string, code codes.Code) error {
	if errors.Is(err, strconv.ErrRange) {
		off := 1
		if code == codes.FrameValue {
			off = 5
		}
		return codes.At(code, off, "%s %s does not fit the frame's field", what, s)
	}
	return usagef("frame encode: --%s %q: want decimal or 0x-hex", what, s)
}
