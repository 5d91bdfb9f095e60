package lockfile

import (
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/bun13/bun13/impl/config"
)

// Synthetic builds a canonical lockfile of n packages with a few
// dependencies each, for benchmarks and size tests.
func Synthetic(n int) *Lockfile {
	lf := &Lockfile{Config: config.Default(), Packages: make([]Package, n)}
	for i := range lf.Packages {
		name := fmt.Sprintf("pkg-%06d", i)
		if i%3 == 0 {
			name = fmt.Sprintf("@scope%d/pkg-%06d", i%7, i)
		}
		sum := sha512.Sum512([]byte(name))
		p := Package{
			Name:      name,
			Version:   fmt.Sprintf("%d.%d.%d", i%5, i%11, i%13),
			Resolved:  fmt.Sprintf("https://registry.npmjs.org/%s/-/pkg-%06d.tgz", name, i),
			Integrity: "sha512-" + base64.StdEncoding.EncodeToString(sum[:]),
			Flags:     PkgFlags(i % 8),
		}
		for d := 1; d <= 3 && i+d*17 < n; d++ {
			p.Dependencies = append(p.Dependencies, uint32(i+d*17))
		}
		lf.Packages[i] = p
	}
	return lf
}

func BenchmarkDecode(b *testing.B) {
	forty := readFixture(b, "forty-packages.lockb")
	big, err := Encode(Synthetic(10000))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
	}{{"packages=40", forty}, {"packages=10000", big}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				if _, err := Decode(c.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeHeader(b *testing.B) {
	data := readFixture(b, "forty-packages.lockb")
	b.ReportAllocs()
	b.SetBytes(HeaderSize)
	for b.Loop() {
		if _, err := DecodeHeader(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	forty, _ := Decode(readFixture(b, "forty-packages.lockb"))
	for _, c := range []struct {
		name string
		lf   *Lockfile
	}{{"packages=40", forty}, {"packages=10000", Synthetic(10000)}} {
		b.Run(c.name, func(b *testing.B) {
			out, _ := Encode(c.lf)
			b.ReportAllocs()
			b.SetBytes(int64(len(out)))
			for b.Loop() {
				if _, err := Encode(c.lf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestSyntheticIsCanonical(t *testing.T) {
	b, err := Encode(Synthetic(500))
	if err != nil {
		t.Fatal(err)
	}
	lf, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Encode(lf)
	if string(again) != string(b) {
		t.Fatal("not canonical")
	}
}
