package lockfile

import (
	"testing"
)

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
