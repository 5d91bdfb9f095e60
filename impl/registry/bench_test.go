package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/registry/registrytest"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
)

// benchServer is a server on a temp dir with real auth (cost-4 bcrypt),
// the default config's flags minus RATE_LIMIT (a benchmark is one client),
// and a token for alice.
func benchServer(b *testing.B, flags config.Flags) (*Server, string) {
	b.Helper()
	data := b.TempDir()
	a, err := OpenAuth(AuthPaths{Dir: data}, 0)
	if err != nil {
		b.Fatal(err)
	}
	a.Users.(*auth.Users).Cost = 4
	if err := a.Users.Add("alice", "pw-alice-secret", auth.RolePublish, time.Now()); err != nil {
		b.Fatal(err)
	}
	tok, _, err := a.Login("alice", "pw-alice-secret", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	c := config.Default()
	c.FeatureFlags = flags
	store, _ := config.NewStore(c)
	s, err := New(b.Context(), Options{
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

func benchPublish(b *testing.B, s *Server, tok, name string, versions int) {
	b.Helper()
	for i := range versions {
		v := fmt.Sprintf("1.0.%d", i)
		body, _ := json.Marshal(publishDoc(name, v, tarball(name, v)))
		req := httptest.NewRequest("PUT", "/"+escapeName(name), bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 201 {
			b.Fatalf("publish: %d %s", rec.Code, rec.Body)
		}
	}
}

var benchFlags = config.Compression | config.Metrics

func BenchmarkPackumentGET(b *testing.B) {
	for _, kind := range []string{"abbreviated", "full"} {
		b.Run(kind, func(b *testing.B) {
			for _, versions := range []int{10, 200} {
				b.Run(fmt.Sprintf("versions=%d", versions), func(b *testing.B) {
					s, tok := benchServer(b, benchFlags)
					benchPublish(b, s, tok, "@bench/pkg", versions)
					for _, authn := range []string{"none", "jwt"} {
						b.Run("auth="+authn, func(b *testing.B) {
							req := httptest.NewRequest("GET", "/@bench%2fpkg", nil)
							req.Host = "127.0.0.1:4873"
							if kind == "abbreviated" {
								req.Header.Set("Accept", "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*")
							}
							if authn == "jwt" {
								req.Header.Set("Authorization", "Bearer "+tok)
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
				})
			}
		})
	}
}

func BenchmarkTarballGET(b *testing.B) {
	s, tok := benchServer(b, benchFlags)
	name := "tar-bench"
	tgz := tarball(name, "1.0.0", "data.txt", noise(10<<10))
	body, _ := json.Marshal(publishDoc(name, "1.0.0", tgz))
	req := httptest.NewRequest("PUT", "/"+name, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 201 {
		b.Fatalf("publish: %d", rec.Code)
	}
	for _, authn := range []string{"none", "jwt"} {
		b.Run("auth="+authn, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/tar-bench/-/tar-bench-1.0.0.tgz", nil)
			if authn == "jwt" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			w := registrytest.NewDiscardWriter()
			s.ServeHTTP(w, req)
			if w.Code != 200 || w.Bytes != len(tgz) {
				b.Fatalf("status %d, %d bytes", w.Code, w.Bytes)
			}
			b.SetBytes(int64(len(tgz)))
			b.ReportAllocs()
			for b.Loop() {
				w.Reset()
				s.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkPublish publishes one new version per iteration: JSON decode,
// base64, sha512+sha1, tarball and document written with fsync. A new
// package every 50 versions keeps the document size steady.
func BenchmarkPublish(b *testing.B) {
	s, tok := benchServer(b, benchFlags)
	data := noise(10 << 10)
	b.SetBytes(int64(len(tarball("pub-0", "1.0.0", "data.txt", data))))
	b.ReportAllocs()
	i := 0
	w := registrytest.NewDiscardWriter()
	for b.Loop() {
		name := fmt.Sprintf("pub-%d", i/50)
		v := fmt.Sprintf("1.0.%d", i%50)
		i++
		// The tarball's package.json must name what is published.
		// (built off the clock: gzip's writer state would dominate B/op).
		b.StopTimer()
		tgz := tarball(name, v, "data.txt", data)
		b.StartTimer()
		body, _ := json.Marshal(publishDoc(name, v, tgz))
		req := httptest.NewRequest("PUT", "/"+name, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		w.Reset()
		s.ServeHTTP(w, req)
		if w.Code != 201 {
			b.Fatalf("publish: %d", w.Code)
		}
	}
}

func noise(n int) string { return registrytest.Noise(n) }
