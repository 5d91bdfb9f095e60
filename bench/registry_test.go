package bench

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/ratelimit"
	"github.com/bun13/bun13/impl/registry"
	"github.com/bun13/bun13/impl/registry/registrytest"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
)

// newRegistry is a registry on a temp dir with real auth and the flags
// a benchmark wants (RATE_LIMIT off: a benchmark is one client), and a
// publish token.
func newRegistry(b *testing.B) (*registry.Server, string) {
	b.Helper()
	data := b.TempDir()
	a, err := registry.OpenAuth(registry.AuthPaths{Dir: data}, 0)
	if err != nil {
		b.Fatal(err)
	}
	a.Users.(*auth.Users).Cost = 4 // bcrypt runs only at login, not in any measured loop
	if err := a.Users.Add("alice", "pw-alice-secret", auth.RolePublish, time.Now()); err != nil {
		b.Fatal(err)
	}
	tok, _, err := a.Login("alice", "pw-alice-secret", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	c := config.Default()
	c.FeatureFlags = config.Compression | config.Metrics
	store, _ := config.NewStore(c)
	s, err := registry.New(b.Context(), registry.Options{
		Store: store,
		Docs:  docs.NewFS(filepath.Join(data, "packages")), Blobs: blobs.NewFS(filepath.Join(data, "packages")),
		Auth:   a,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	return s, tok
}

func publish(b *testing.B, s *registry.Server, tok, name, version string, tgz []byte) int {
	body, _ := json.Marshal(registrytest.PublishDoc(name, version, tgz))
	req := httptest.NewRequest("PUT", "/"+registrytest.EscapeName(name), bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	w := registrytest.NewDiscardWriter()
	s.ServeHTTP(w, req)
	return w.Code
}

// BenchmarkRegistryPackumentGET: design notes "total request latency
// < 1 ms": the handler's share of a packument GET (50 versions) with a
// bearer token, as npm sends once logged in.
func BenchmarkRegistryPackumentGET(b *testing.B) {
	s, tok := newRegistry(b)
	for i := range 50 {
		v := fmt.Sprintf("1.0.%d", i)
		if code := publish(b, s, tok, "@bench/pkg", v, registrytest.Tarball("@bench/pkg", v)); code != 201 {
			b.Fatalf("publish: %d", code)
		}
	}
	for _, kind := range []string{"abbreviated", "full"} {
		b.Run(kind, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/@bench%2fpkg", nil)
			req.Host = "127.0.0.1:4873"
			req.Header.Set("Authorization", "Bearer "+tok)
			if kind == "abbreviated" {
				req.Header.Set("Accept", "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*")
			}
			w := registrytest.NewDiscardWriter()
			s.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatalf("status %d", w.Code)
			}
			b.SetBytes(int64(w.Bytes))
			b.ReportAllocs()
			for b.Loop() {
				w.Reset()
				s.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkRegistryTarballGET: a 10 KiB tarball with a bearer token.
func BenchmarkRegistryTarballGET(b *testing.B) {
	s, tok := newRegistry(b)
	tgz := registrytest.Tarball("tar-bench", "1.0.0", "data.txt", registrytest.Noise(10<<10))
	if code := publish(b, s, tok, "tar-bench", "1.0.0", tgz); code != 201 {
		b.Fatalf("publish: %d", code)
	}
	req := httptest.NewRequest("GET", "/tar-bench/-/tar-bench-1.0.0.tgz", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := registrytest.NewDiscardWriter()
	b.SetBytes(int64(len(tgz)))
	b.ReportAllocs()
	for b.Loop() {
		w.Reset()
		s.ServeHTTP(w, req)
	}
	if w.Code != 200 || w.Bytes != len(tgz) {
		b.Fatalf("status %d, %d bytes", w.Code, w.Bytes)
	}
}

// BenchmarkRegistryPublish: one new version per iteration, durable
// (tarball and document fsynced and renamed into place).
func BenchmarkRegistryPublish(b *testing.B) {
	s, tok := newRegistry(b)
	data := registrytest.Noise(10 << 10)
	b.SetBytes(int64(len(registrytest.Tarball("pub-0", "1.0.0", "data.txt", data))))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// The tarball's package.json must name what is published.
		// (built off the clock: gzip's writer state would dominate B/op).
		name, v := fmt.Sprintf("pub-%d", i/50), fmt.Sprintf("1.0.%d", i%50)
		b.StopTimer()
		tgz := registrytest.Tarball(name, v, "data.txt", data)
		b.StartTimer()
		if code := publish(b, s, tok, name, v, tgz); code != 201 {
			b.Fatalf("publish: %d", code)
		}
		i++
	}
}

// BenchmarkJWTVerify: design notes "JWT verification 150 ns (EdDSA
// signature)". cached: a token verified before (the cache still checks
// exp and revocation); uncached: every token new, one Ed25519 verify each.
func BenchmarkJWTVerify(b *testing.B) {
	keys := &auth.KeySet{}
	keys.SetSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	is := &auth.Issuer{Keys: keys}
	now := time.Now()
	toks := make([]string, 256)
	for i := range toks {
		tok, _, err := is.Issue(fmt.Sprint("user", i), auth.RolePublish, now)
		if err != nil {
			b.Fatal(err)
		}
		toks[i] = tok
	}
	for _, c := range []struct {
		name string
		size int
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(c.name, func(b *testing.B) {
			v := &auth.Verifier{Keys: keys, Revocations: &auth.Revocations{}, CacheSize: c.size}
			for _, t := range toks {
				if _, err := v.Verify(t, now); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := v.Verify(toks[i%len(toks)], now); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkEd25519Verify is the floor of an uncached JWT verify: the
// signature check alone, over a JWT-sized message.
func BenchmarkEd25519Verify(b *testing.B) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	pub := priv.Public().(ed25519.PublicKey)
	msg := []byte(strings.Repeat("x", 200))
	sig := ed25519.Sign(priv, msg)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("bad signature")
		}
	}
}

// BenchmarkRateLimit: design notes "rate limit check 50 ns (sliding
// window)", over 10,000 established client keys; parallel shows how the
// sharded state scales over both cores.
func BenchmarkRateLimit(b *testing.B) {
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprintf("ip:10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	}
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	l := &ratelimit.Limiter{Limit: 1 << 40, Window: time.Minute}
	for range 64 {
		for _, k := range keys {
			l.Allow(k, now)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if !l.Allow(keys[i%len(keys)], now).Allowed {
				b.Fatal("denied")
			}
			i += 7919 // a prime stride: no two calls in a row share a shard
		}
	})
	b.Run("parallel", func(b *testing.B) {
		// Each goroutine serves its own clients, as each connection does:
		// goroutine g of P checks the g-th of P contiguous key ranges
		// (keys made one after another share cache lines). (When
		// both cores hammer the same keys every check moves a cache line
		// between them, ~50 ns here; impl/ratelimit's own benchmarks show
		// that case too.)
		var next atomic.Int64
		p := runtime.GOMAXPROCS(0)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			g := int(next.Add(1)-1) % p
			part := len(keys) / p
			j := 0
			for pb.Next() {
				l.Allow(keys[g*part+j%part], now)
				j += 7919
			}
		})
	})
}
