package props

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/lockfile"
)

// sorted returns lf's packages in canonical order with dependencies
// renumbered, the form Decode returns.
func canonical(t *testing.T, lf *lockfile.Lockfile) (*lockfile.Lockfile, []byte, string) {
	b, err := lockfile.Encode(lf)
	if err != nil {
		return nil, nil, fmt.Sprintf("encode of a valid lockfile failed: %v", err)
	}
	dec, err := lockfile.Decode(b)
	if err != nil {
		return nil, nil, fmt.Sprintf("decode(encode(x)) failed: %v", err)
	}
	return dec, b, ""
}

func TestConfigRoundTrip(t *testing.T) {
	p := newProps(t, 2000)
	p.Property("decode(encode(config)) == config", prop.ForAll(func(c config.Config) string {
		b, _ := c.MarshalBinary()
		var back config.Config
		if err := back.UnmarshalBinary(b); err != nil {
			return err.Error()
		}
		return cmp.Diff(c, back)
	}, genConfig()))
	p.Property("encode(decode(b)) == b for 13 valid bytes", prop.ForAll(func(c config.Config) string {
		b := c.Bytes()
		d, err := config.Parse(&b)
		if err != nil {
			return err.Error()
		}
		return cmp.Diff(b, d.Bytes())
	}, genConfig()))
	p.TestingRun(t)
}

func TestLockfileRoundTrip(t *testing.T) {
	p := newProps(t, 1000)
	p.Property("decode(encode(x)) == x and encode(decode(b)) == b", prop.ForAll(func(lf *lockfile.Lockfile) string {
		dec, b, msg := canonical(t, lf)
		if msg != "" {
			return msg
		}
		// Same set of packages, same dependency edges by name@version.
		if len(dec.Packages) != len(lf.Packages) {
			return fmt.Sprintf("%d packages in, %d out", len(lf.Packages), len(dec.Packages))
		}
		edges := func(l *lockfile.Lockfile) []string {
			var out []string
			for _, p := range l.Packages {
				for _, d := range p.Dependencies {
					q := l.Packages[d]
					out = append(out, p.Name+"@"+p.Version+" -> "+q.Name+"@"+q.Version)
				}
				out = append(out, fmt.Sprintf("%s@%s %s %s %d", p.Name, p.Version, p.Resolved, p.Integrity, p.Flags))
			}
			slices.Sort(out)
			return out
		}
		if d := cmp.Diff(edges(lf), edges(dec)); d != "" {
			return "packages changed (-in +out):\n" + d
		}
		again, err := lockfile.Encode(dec)
		if err != nil || !bytes.Equal(again, b) {
			return fmt.Sprintf("encode(decode(b)) != b (%v)", err)
		}
		return ""
	}, genLockfile(12)))
	p.TestingRun(t)
}

// genCanonical generates canonical lockfile bytes.
func genCanonical() gopter.Gen {
	return genLockfile(6).Map(func(lf *lockfile.Lockfile) []byte {
		b, err := lockfile.Encode(lf)
		if err != nil {
			panic(fmt.Sprintf("%v: %+v", err, lf))
		}
		return b
	})
}

func TestEveryBitFlipRejected(t *testing.T) {
	p := newProps(t, 100)
	p.Property("every single-bit flip anywhere is rejected", prop.ForAll(func(b []byte) string {
		for i := range len(b) * 8 {
			m := slices.Clone(b)
			m[i/8] ^= 1 << (i % 8)
			if _, err := lockfile.Decode(m); err == nil {
				return fmt.Sprintf("flip of bit %d of byte 0x%x accepted", i%8, i/8)
			}
		}
		return ""
	}, genCanonical()))
	p.TestingRun(t)
}

func TestEveryTruncationRejected(t *testing.T) {
	p := newProps(t, 200)
	p.Property("every truncation is rejected", prop.ForAll(func(b []byte) string {
		for n := range len(b) {
			if _, err := lockfile.Decode(b[:n]); err == nil {
				return fmt.Sprintf("file cut to %d of %d bytes accepted", n, len(b))
			}
		}
		return ""
	}, genCanonical()))
	p.TestingRun(t)
}

func TestHeaderByteChangeRejected(t *testing.T) {
	p := newProps(t, 300)
	p.Property("any change to a header byte gives header-checksum (bad-magic in 0..3)", prop.ForAll(
		func(b []byte, pos int, delta uint8) string {
			m := slices.Clone(b)
			m[pos] += delta
			_, err := lockfile.Decode(m)
			want, wantOff := codes.HeaderChecksum, 0x11
			if pos < 4 {
				want, wantOff = codes.BadMagic, 0
			}
			if codes.Of(err) != want || codes.OffsetOf(err) != wantOff {
				return fmt.Sprintf("byte 0x%02x += %d: got %v, want %s", pos, delta, err, want)
			}
			return ""
		}, genCanonical(), gen.IntRange(0, 0x18), gen.UInt8Range(1, 255)))
	p.TestingRun(t)
}

// mutation is one corruption of a canonical file.
type mutation struct {
	Kind   int // 0 set byte, 1 truncate, 2 append, 3 set u32
	Pos    int
	Val    uint32
	Reseal bool // fix both checksums afterwards, to reach the later checks
}

func (m mutation) apply(b []byte) []byte {
	b = slices.Clone(b)
	switch m.Kind {
	case 0:
		b[m.Pos%len(b)] = byte(m.Val)
	case 1:
		b = b[:m.Pos%len(b)]
	case 2:
		b = append(b, bytes.Repeat([]byte{byte(m.Val)}, 1+m.Pos%5)...)
	case 3:
		// Aim u32 writes at 4-aligned fields: counts, refs, dep indices.
		if len(b) >= 4 {
			at := (m.Pos % (len(b) - 3)) &^ 3
			if at < 0x40 && at+4 <= 0x40 {
				at = 0x19 // the package count
			}
			vals := []uint32{m.Val, m.Val % 64, 0xFFFFFFFF, 0}
			binary.BigEndian.PutUint32(b[at:], vals[m.Val%4])
		}
	}
	if m.Reseal && len(b) >= 64 {
		var c [config.Size]byte
		copy(c[:], b[4:])
		binary.BigEndian.PutUint64(b[0x11:], config.HeaderChecksum(&c))
		crc := config.CRC64(b[0x19:0x1D])
		binary.BigEndian.PutUint64(b[0x38:], config.CRC64Update(crc, b[0x40:]))
	}
	return b
}

func genMutation() gopter.Gen {
	return gopter.CombineGens(gen.IntRange(0, 3), gen.IntRange(0, 1<<20), gen.UInt32(), gen.Bool()).Map(func(v []any) mutation {
		return mutation{v[0].(int), v[1].(int), v[2].(uint32), v[3].(bool)}
	})
}

// TestFirstFailingCheck cross-checks Decode against refValidate, a second
// validator written plainly from the SPEC for this test only.
func TestFirstFailingCheck(t *testing.T) {
	p := newProps(t, 10000)
	seen := map[codes.Code]int{}
	type verdict struct {
		Code   codes.Code
		Offset int
	}
	p.Property("Decode reports the SPEC's first failing check", prop.ForAll(func(b []byte, m mutation) string {
		mb := m.apply(b)
		_, err := lockfile.Decode(mb)
		got := verdict{codes.Of(err), codes.OffsetOf(err)}
		if err == nil {
			got.Offset = 0
		}
		code, off := refValidate(mb)
		seen[code]++
		return cmp.Diff(verdict{code, off}, got)
	}, genCanonical(), genMutation()))
	p.TestingRun(t)
	// The mutations must reach deep checks, or the cross-check proves little.
	t.Logf("first failing checks reached: %v", seen)
	for _, c := range []codes.Code{codes.Truncated, codes.BadMagic, codes.HeaderChecksum, codes.BodyChecksum, codes.Package, codes.TrailingData, codes.Reserved, ""} {
		if seen[c] == 0 {
			t.Errorf("no mutation reached %q", c)
		}
	}
}
