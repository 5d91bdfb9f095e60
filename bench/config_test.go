package bench

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/lockfile"
)

// BenchmarkConfigRead: design notes "config read 0.5 ns (L1 cache hit)",
// their `config.version` read: one field of the live Store, one atomic
// 64-bit load and a shift.
func BenchmarkConfigRead(b *testing.B) {
	s, _ := config.NewStore(config.Default())
	b.ReportAllocs()
	var v uint8
	for b.Loop() {
		v += s.Version()
	}
	runtime.KeepAlive(v)
}

// BenchmarkConfigSnapshot reads the whole config (Store.Load). Inside
// b.Loop the compiler must materialize the returned struct on the stack,
// and the 16-byte copy of six narrower stores stalls on store forwarding;
// a caller that uses the fields directly pays for the load and the shifts.
func BenchmarkConfigSnapshot(b *testing.B) {
	s, _ := config.NewStore(config.Default())
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Load()
	}
}

// BenchmarkLoopOverhead is the harness's own floor: an empty b.Loop body.
// Every ns/op figure here includes it.
func BenchmarkLoopOverhead(b *testing.B) {
	for b.Loop() {
	}
}

// BenchmarkFeatureCheck: design notes "feature check 0.3 ns".
func BenchmarkFeatureCheck(b *testing.B) {
	s, _ := config.NewStore(config.Default())
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if s.Enabled(config.Compression) {
			n++
		}
	}
	runtime.KeepAlive(n)
}

// BenchmarkHeaderCRC64Validate: design notes "67 ns lockfile validation":
// decode and validate the 64-byte header, both CRC-free checks and the
// header CRC64 (the body CRC is in BenchmarkLockfileDecode).
func BenchmarkHeaderCRC64Validate(b *testing.B) {
	data := readVector(b, "seed-empty.lockb")
	b.ReportAllocs()
	b.SetBytes(lockfile.HeaderSize)
	for b.Loop() {
		if _, err := lockfile.DecodeHeader(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLockfileDecode(b *testing.B) {
	for _, c := range lockfileCases(b) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				if _, err := lockfile.Decode(c.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkLockfileEncode(b *testing.B) {
	for _, c := range lockfileCases(b) {
		lf, _ := lockfile.Decode(c.data)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				if _, err := lockfile.Encode(lf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConfigUpdate: design notes "45 ns writes, atomic and crash-safe".
// memory: validate and publish (no persistence). durable: the real path,
// a crash-safe rewrite of bun.lockb (temp, fsync, rename, fsync dir).
func BenchmarkConfigUpdate(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		s, _ := config.NewStore(config.Default())
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := s.Update(func(c config.Config) (config.Config, error) { c.Rows = uint8(i%255 + 1); return c, nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("durable", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "bun.lockb")
		s, err := lockfile.OpenStore(path, true, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		var lat []time.Duration
		i := 0
		for b.Loop() {
			i++
			start := time.Now()
			if _, err := s.Update(func(c config.Config) (config.Config, error) { c.Rows = uint8(i%255 + 1); return c, nil }); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		// Per-write latency, not only the mean: fsync times have a long tail.
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	})
}

// BenchmarkFsyncFloor is the floor under a durable config write: write
// 72 bytes to a file and fsync it, nothing else. A crash-safe replace
// needs two of these (the file, then its directory).
func BenchmarkFsyncFloor(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "floor"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 72)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.WriteAt(buf, 0); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

type lockfileCase struct {
	name string
	data []byte
}

func lockfileCases(b *testing.B) []lockfileCase {
	big, err := lockfile.Encode(lockfile.Synthetic(10000))
	if err != nil {
		b.Fatal(err)
	}
	return []lockfileCase{{"packages=40", readVector(b, "forty-packages.lockb")}, {"packages=10000", big}}
}

func readVector(b *testing.B, name string) []byte {
	data, err := os.ReadFile(filepath.Join("..", "fixtures", "vectors", name))
	if err != nil {
		b.Fatal(err)
	}
	return data
}
