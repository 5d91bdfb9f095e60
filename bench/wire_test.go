package bench

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/dnscache"
	"github.com/bun13/bun13/impl/frame"
	"github.com/bun13/bun13/impl/headers"
)

// BenchmarkFrameDecode: design notes "real-time config updates with 8 ns
// validation": decode and validate one 14-byte frame.
func BenchmarkFrameDecode(b *testing.B) {
	f := frame.Encode(frame.Frame{Type: frame.TypeSet, Offset: config.OffsetTerminalMode, Value: uint64(config.Raw)})
	b.ReportAllocs()
	b.SetBytes(frame.Size)
	for b.Loop() {
		if _, err := frame.Decode(f[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHeadersValidate: design notes "header validation 267 ns
// (format + bounds + checksum)", on a request carrying the five headers
// among the usual npm ones.
func BenchmarkHeadersValidate(b *testing.B) {
	h := headers.FromConfig(config.Default())
	h.Set("Accept", "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*")
	h.Set("User-Agent", "npm/11.0.0 node/v20.20.2 linux x64 workspaces/false")
	h.Set("Authorization", "Bearer eyJhbGciOiJFZERTQSJ9.e30.x")
	h.Set("Npm-Command", "install")
	h.Set("Accept-Encoding", "gzip, deflate")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := headers.Validate(h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDNSCacheHit: design notes "DNS cache hit 50 ns (TTL-based)".
func BenchmarkDNSCacheHit(b *testing.B) {
	addrs := []netip.Addr{netip.MustParseAddr("104.16.0.34"), netip.MustParseAddr("104.16.1.34")}
	r := &dnscache.Resolver{Lookup: func(context.Context, string) ([]netip.Addr, time.Duration, error) {
		return addrs, time.Minute, nil
	}}
	defer r.Close()
	ctx := context.Background()
	if _, err := r.LookupNetIP(ctx, "registry.npmjs.org"); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.LookupNetIP(ctx, "registry.npmjs.org"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r.LookupNetIP(ctx, "registry.npmjs.org")
			}
		})
	})
}
