package auth

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkVerify measures Verify for a token seen before (cached) and
// with the cache disabled (uncached: full JWT parse plus one Ed25519
// verification). With Revocations set, as the registry runs it.
func BenchmarkVerify(b *testing.B) {
	for _, cached := range []bool{true, false} {
		name := "cached"
		size := 0
		if !cached {
			name, size = "uncached", -1
		}
		is, _, keys := setup(b)
		toks := make([]string, 64)
		for i := range toks {
			toks[i], _ = issue(b, is, fmt.Sprint("user", i), RolePublish, t0)
		}
		v := &Verifier{Keys: keys, Revocations: &Revocations{}, CacheSize: size}
		for _, tok := range toks {
			if _, err := v.Verify(tok, t0); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := v.Verify(toks[i%len(toks)], t0); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			var seq atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := int(seq.Add(1)) * 17
				for pb.Next() {
					if _, err := v.Verify(toks[i%len(toks)], t0); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
		if cached {
			// Every goroutine on one token: the hit path writes nothing
			// shared, so this should scale like distinct tokens.
			b.Run("cached/parallel/tokens=1", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						v.Verify(toks[0], t0)
					}
				})
			})
		}
	}
}

// BenchmarkVerifyMiss measures rejecting a well-formed token whose
// signature is wrong, which must cost no more than one signature check.
func BenchmarkVerifyMiss(b *testing.B) {
	is, v, _ := setup(b)
	tok, _ := issue(b, is, "alice", RoleRead, t0)
	bad := tok[:len(tok)-4] + strings.Repeat("A", 4)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(bad, t0); err == nil {
			b.Fatal("verified a bad signature")
		}
	}
}

// BenchmarkEd25519Verify is the floor for an uncached Verify.
func BenchmarkEd25519Verify(b *testing.B) {
	priv := testKey(1)
	pub := priv.Public().(ed25519.PublicKey)
	msg := []byte(strings.Repeat("x", 200)) // about a JWT's signing input
	sig := ed25519.Sign(priv, msg)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("bad signature")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ed25519.Verify(pub, msg, sig)
			}
		})
	})
}

func BenchmarkIssue(b *testing.B) {
	is, _, _ := setup(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := is.Issue("alice", RolePublish, t0); err != nil {
			b.Fatal(err)
		}
	}
}
