package fuzz

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/lockfile"
)

// specCodes is every code the SPEC defines; a rejection must carry one.
var specCodes = map[codes.Code]bool{
	codes.Truncated: true, codes.BadMagic: true, codes.HeaderChecksum: true, codes.UnsupportedVersion: true,
	codes.RegistryHash: true, codes.UnknownFeature: true, codes.TerminalMode: true, codes.TerminalSize: true,
	codes.Reserved: true, codes.BodyChecksum: true, codes.Package: true, codes.TrailingData: true,
	codes.RegistryURL: true, codes.FrameLength: true, codes.FrameChecksum: true, codes.FrameType: true,
	codes.FrameOffset: true, codes.FrameValue: true, codes.HeaderMissing: true, codes.HeaderFormat: true,
	codes.HeaderRange: true,
}

func checkCode(t *testing.T, err error) {
	t.Helper()
	if c := codes.Of(err); !specCodes[c] {
		t.Fatalf("rejection without a SPEC code: %v", err)
	}
}

// seedFiles adds every fixture lockfile to f.
func seedFiles(f *testing.F, patterns ...string) {
	n := 0
	for _, p := range patterns {
		files, _ := filepath.Glob(p)
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			n++
		}
	}
	if n == 0 {
		f.Fatalf("no seed files match %v", patterns)
	}
}

// allocCheck measures the bytes one call of fn allocates, on every 16th
// call only: ReadMemStats stops the world, and the fuzzer must stay fast.
type allocCheck struct{ n atomic.Uint64 }

func (a *allocCheck) bounded(t *testing.T, input int, limit func(int) uint64, fn func()) {
	t.Helper()
	if a.n.Add(1)%16 != 0 {
		fn()
		return
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > limit(input) {
		t.Fatalf("allocated %d bytes for a %d-byte input (limit %d)", got, input, limit(input))
	}
}

// decodeLimit: decoding holds the string table once, the dependency table
// once and a Package (about 100 bytes) per 64-byte record, plus a small
// constant for errors.
func decodeLimit(n int) uint64 { return uint64(8*n + 16<<10) }

func reseal(b []byte) []byte {
	if len(b) >= lockfile.HeaderSize {
		var cfg [config.Size]byte
		copy(cfg[:], b[4:])
		binary.BigEndian.PutUint64(b[0x11:], config.HeaderChecksum(&cfg))
		crc := config.CRC64(b[0x19:0x1D])
		binary.BigEndian.PutUint64(b[0x38:], config.CRC64Update(crc, b[0x40:]))
	}
	return b
}

// checkReencodes: an accepted file re-encodes, and its canonical bytes
// decode to the same lockfile and are their own canonical form. The input
// itself need not be canonical: SPEC section 3 promises encode(decode(b))
// == b only for b a canonical writer produced, and lists no error for a
// valid file laid out otherwise (strings not shared, or overlapping, as in
// testdata/fuzz/FuzzLockfileResealed/, which the libFuzzer build found).
func checkReencodes(t *testing.T, lf *lockfile.Lockfile) {
	t.Helper()
	out, err := lockfile.Encode(lf)
	if err != nil {
		t.Fatalf("accepted file does not re-encode: %v", err)
	}
	back, err := lockfile.Decode(out)
	if err != nil || !lockfile.Equal(lf, back) {
		t.Fatalf("canonical bytes of an accepted file do not decode to it (%v)", err)
	}
	again, err := lockfile.Encode(back)
	if err != nil || !bytes.Equal(again, out) {
		t.Fatalf("canonical bytes are not their own canonical form (%v)", err)
	}
}

func FuzzLockfile(f *testing.F) {
	seedFiles(f, "../fixtures/vectors/*.lockb", "../fixtures/corrupt/*.lockb")
	// A decoder that rejects everything would pass the invariants below
	// (every rejection carries a code): the golden files must decode.
	for _, name := range []string{"seed-empty", "two-packages", "forty-packages"} {
		b, _ := os.ReadFile("../fixtures/vectors/" + name + ".lockb")
		if _, err := lockfile.Decode(b); err != nil {
			f.Fatalf("golden %s rejected: %v", name, err)
		}
	}
	two, _ := os.ReadFile("../fixtures/vectors/two-packages.lockb")
	f.Add([]byte{})                                   // empty file: truncated at 0
	f.Add([]byte("BUN1"))                             // magic only
	f.Add(two[:64])                                   // header without body
	f.Add(reseal(append(two[:len(two):len(two)], 0))) // trailing byte with valid checksums
	huge := append([]byte(nil), two...)
	binary.BigEndian.PutUint32(huge[0x19:], 0xFFFFFFFF) // package count that claims 256 GiB
	f.Add(reseal(huge))
	var allocs allocCheck
	f.Fuzz(func(t *testing.T, b []byte) {
		var lf *lockfile.Lockfile
		var err error
		allocs.bounded(t, len(b), decodeLimit, func() { lf, err = lockfile.Decode(b) })
		if err != nil {
			checkCode(t, err)
			// Any rejected file that passes the header must fail the same
			// way when its checksums are made right, or later.
			return
		}
		checkReencodes(t, lf)
		j, err := json.Marshal(lf)
		if err != nil {
			t.Fatal(err)
		}
		var back lockfile.Lockfile
		if err := json.Unmarshal(j, &back); err != nil {
			t.Fatalf("JSON form does not read back: %v", err)
		}
		if !lockfile.Equal(lf, &back) {
			t.Fatalf("JSON round trip changed the lockfile")
		}
	})
}

// FuzzLockfileResealed fixes both checksums before decoding, so the fuzzer
// reaches the layout and record checks instead of stopping at a CRC.
func FuzzLockfileResealed(f *testing.F) {
	seedFiles(f, "../fixtures/vectors/*.lockb")
	var allocs allocCheck
	f.Fuzz(func(t *testing.T, b []byte) {
		b = reseal(append([]byte(nil), b...))
		var lf *lockfile.Lockfile
		var err error
		allocs.bounded(t, len(b), decodeLimit, func() { lf, err = lockfile.Decode(b) })
		if err != nil {
			checkCode(t, err)
			return
		}
		checkReencodes(t, lf)
	})
}

func FuzzRepair(f *testing.F) {
	seedFiles(f, "../fixtures/vectors/*.lockb", "../fixtures/corrupt/*.lockb")
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := append([]byte(nil), b...)
		out, rep, err := lockfile.Repair(b, nil)
		if !bytes.Equal(b, orig) {
			t.Fatal("Repair modified its input")
		}
		before, decErr := lockfile.Decode(b)
		if err != nil {
			if decErr == nil {
				t.Fatalf("Repair refused a valid file: %v", err)
			}
			return
		}
		if !rep.Repaired {
			if decErr != nil || !bytes.Equal(out, b) {
				t.Fatalf("Repair reported nothing to do for an invalid file (%v)", decErr)
			}
			return
		}
		after, err := lockfile.Decode(out)
		if err != nil {
			t.Fatalf("repaired file does not decode: %v", err)
		}
		if len(out) != len(b) || !bytes.Equal(out[0x40:], b[0x40:]) || !bytes.Equal(out[0x19:0x1D], b[0x19:0x1D]) {
			t.Fatal("Repair touched more than the header")
		}
		if len(after.Packages) != rep.Packages {
			t.Fatalf("report says %d packages kept, file has %d", rep.Packages, len(after.Packages))
		}
		_ = before
	})
}

func FuzzConfig(f *testing.F) {
	for _, c := range []config.Config{config.Default(), {Version: 2, RegistryHash: 1, FeatureFlags: 0x3ff, TerminalMode: config.Raw, Rows: 255, Cols: 255}} {
		b, _ := c.MarshalBinary()
		f.Add(b)
	}
	f.Add(make([]byte, 13))                                   // all zero: registry-hash (v0 is fine)
	f.Add([]byte{3, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0})      // version 3
	f.Add([]byte{1, 1, 1, 1, 1, 0, 0, 1, 0, 1, 24, 80, 0})    // v2 flag in v1
	f.Add([]byte{1, 1, 1, 1, 1, 0, 0, 0, 0, 0xff, 24, 80, 0}) // mode 0xff
	f.Add([]byte{1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 24, 80, 1})    // reserved
	f.Add([]byte{1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 24, 80, 0, 0}) // 14 bytes
	f.Fuzz(func(t *testing.T, b []byte) {
		var c config.Config
		err := c.UnmarshalBinary(b)
		if err != nil {
			checkCode(t, err)
			if len(b) == config.Size {
				if v := config.FromBytes((*[config.Size]byte)(b)); v.Valid() && b[12] == 0 {
					t.Fatalf("valid bytes rejected: %v", err)
				}
			}
			return
		}
		out, _ := c.MarshalBinary()
		if !bytes.Equal(out, b) {
			t.Fatalf("marshal(unmarshal(b)) = %x, want %x", out, b)
		}
		j, _ := c.MarshalJSON()
		var back config.Config
		if err := back.UnmarshalJSON(j); err != nil {
			t.Fatalf("JSON does not read back: %v", err)
		}
		if d := cmp.Diff(c, back); d != "" {
			t.Fatalf("JSON round trip (-want +got):\n%s", d)
		}
		// A file holding this config and no packages is valid.
		lf := &lockfile.Lockfile{Config: c}
		enc, err := lockfile.Encode(lf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lockfile.Decode(enc); err != nil {
			t.Fatal(err)
		}
	})
}
