package cases

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/bun13/bun13/impl/frame"
)

const specFrame = "SPEC 4: frame layout, types and decode errors in order"

// Frame is the 14 bytes of a frame with the given fields and a correct CRC8.
func Frame(typ byte, off uint32, val uint64) []byte {
	b := make([]byte, frame.Size)
	b[0] = typ
	binary.LittleEndian.PutUint32(b[1:], off)
	binary.LittleEndian.PutUint64(b[5:], val)
	b[13] = frame.CRC8(b[:13])
	return b
}

// badCRC is f with its checksum off by one bit.
func badCRC(f []byte) []byte { f[13] ^= 0x01; return f }

type frameCase struct {
	name string
	b    []byte
	code string
}

// frameCases covers every type and every error of section 4, with pairs of
// faults where the earlier check must win.
func frameCases() []frameCase {
	var out []frameCase
	add := func(name string, b []byte, code string) { out = append(out, frameCase{name, b, code}) }
	fields := []struct {
		name  string
		off   uint32
		width uint
	}{{"version", 0x04, 1}, {"registry-hash", 0x05, 4}, {"feature-flags", 0x09, 4}, {"terminal-mode", 0x0D, 1}, {"rows", 0x0E, 1}, {"cols", 0x0F, 1}}
	for _, f := range fields {
		maxv := uint64(1)<<(8*f.width) - 1
		add("set-"+f.name+"-zero", Frame(0x01, f.off, 0), "")
		add("set-"+f.name+"-max", Frame(0x01, f.off, maxv), "")
		add("set-"+f.name+"-too-wide", Frame(0x01, f.off, maxv+1), "frame-value")
		add("set-"+f.name+"-high-bit", Frame(0x01, f.off, 1<<63), "frame-value")
	}
	add("seed-set-terminal-raw", []byte{0x01, 13, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0x7a}, "")
	for _, t := range []struct {
		name string
		typ  byte
	}{{"flags-enable", 0x02}, {"flags-disable", 0x03}} {
		add(t.name+"-debug", Frame(t.typ, 0x09, 1), "")
		add(t.name+"-all-defined", Frame(t.typ, 0x09, 0x3ff), "")
		add(t.name+"-u32-max", Frame(t.typ, 0x09, 0xffffffff), "")
		add(t.name+"-zero", Frame(t.typ, 0x09, 0), "")
		add(t.name+"-too-wide", Frame(t.typ, 0x09, 1<<32), "frame-value")
		add(t.name+"-offset-mode", Frame(t.typ, 0x0D, 1), "frame-offset")
		add(t.name+"-offset-zero", Frame(t.typ, 0, 1), "frame-offset")
	}
	add("snapshot", Frame(0x04, 0, 0), "")
	add("snapshot-offset", Frame(0x04, 4, 0), "frame-offset")
	add("snapshot-value", Frame(0x04, 0, 1), "frame-value")
	add("snapshot-offset-and-value", Frame(0x04, 0x10000, 1<<40), "frame-offset")
	add("ack", Frame(0x81, 0x0D, 0x995dc9bbdf1939fa), "")
	add("ack-any-offset", Frame(0x81, 0xffffffff, 0xffffffffffffffff), "")
	add("ack-zero", Frame(0x81, 0, 0), "")
	for code := uint64(1); code <= 8; code++ {
		add(fmt.Sprintf("nak-%d", code), Frame(0x82, 0x09, code), "")
	}
	add("nak-unknown-code", Frame(0x82, 0x12345678, 999), "")
	for _, off := range []uint32{0x00, 0x03, 0x10, 0x11, 0x19, 0xffffffff} {
		add(fmt.Sprintf("set-offset-0x%02x", off), Frame(0x01, off, 0), "frame-offset")
	}
	for _, typ := range []byte{0x00, 0x05, 0x7f, 0x80, 0x83, 0xff, 0x41} {
		add(fmt.Sprintf("type-0x%02x", typ), Frame(typ, 0x0D, 1), "frame-type")
	}
	for _, typ := range []byte{0x01, 0x02, 0x04, 0x81, 0x82} {
		add(fmt.Sprintf("checksum-type-0x%02x", typ), badCRC(Frame(typ, 0x09, 1)), "frame-checksum")
	}
	add("checksum-zero", []byte{0x01, 0x0d, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0}, "frame-checksum")
	add("checksum-init-ff", func() []byte {
		// The CRC8 a wrong init of 0xff would give: init matters.
		b := Frame(0x01, 0x0d, 2)
		c := byte(0xff)
		for _, x := range b[:13] {
			c ^= x
			for range 8 {
				if c&0x80 != 0 {
					c = c<<1 ^ 0x07
				} else {
					c <<= 1
				}
			}
		}
		b[13] = c
		return b
	}(), "frame-checksum")
	for _, n := range []int{0, 1, 13, 15, 28} {
		b := make([]byte, n)
		copy(b, Frame(0x04, 0, 0))
		add(fmt.Sprintf("length-%d", n), b, "frame-length")
	}
	// Pairs: the earlier check wins.
	add("order-length-before-checksum", badCRC(Frame(0x01, 0x0d, 2))[:13], "frame-length")
	add("order-checksum-before-type", badCRC(Frame(0x09, 0x0d, 2)), "frame-checksum")
	add("order-type-before-offset", Frame(0x09, 0x77, 2), "frame-type")
	add("order-offset-before-value", Frame(0x01, 0x77, 1<<40), "frame-offset")
	return out
}

// RandFrame is a frame with random fields: mostly a known type at a field
// offset with a value near its width, sometimes anything; the checksum is
// right four times in five.
func RandFrame(r *rand.Rand) []byte {
	types := []byte{0x01, 0x02, 0x03, 0x04, 0x81, 0x82}
	offs := []uint32{0x04, 0x05, 0x09, 0x0D, 0x0E, 0x0F, 0, 0x10}
	typ := types[r.IntN(len(types))]
	if r.IntN(10) == 0 {
		typ = byte(r.UintN(256))
	}
	off := offs[r.IntN(len(offs))]
	if typ == 0x04 && r.IntN(4) != 0 {
		off = 0 // a snapshot's offset must be 0: reach its value check
	}
	if r.IntN(10) == 0 {
		off = r.Uint32()
	}
	var val uint64
	switch r.IntN(4) {
	case 0:
		val = uint64(r.UintN(256))
	case 1:
		val = uint64(r.Uint32())
	case 2:
		val = r.Uint64()
	}
	b := Frame(typ, off, val)
	if r.IntN(5) == 0 {
		b[13] ^= byte(1 + r.UintN(255))
	}
	return b
}
