package bulkload

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/registry"
	"github.com/bun13/bun13/impl/registry/pkgname"
	"github.com/bun13/bun13/impl/registry/registrytest"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
	"github.com/google/go-cmp/cmp"
)

// TestTemplateRoundTrip: generating the template's own spec gives the
// bytes the registry stored for it, so generated documents have the
// registry's shape and field order.
func TestTemplateRoundTrip(t *testing.T) {
	g, err := NewGenerator(t.Context(), Versions)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := g.publishTemplate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// A second publish has other timestamps: compare with those taken
	// from the second template.
	var again storedDoc
	if err := json.Unmarshal(raw, &again); err != nil {
		t.Fatal(err)
	}
	g.tmpl.Time = again.Time
	p, err := g.Package(0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Doc, raw) {
		t.Fatalf("Package(0) differs from the registry's document\n got %s\nwant %s", p.Doc, raw)
	}
}

func TestSpecNamesValidAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	for i := range 20000 {
		n := SpecOf(i).Name
		if err := pkgname.Validate(n); err != nil {
			t.Fatalf("SpecOf(%d): %v", i, err)
		}
		if seen[n] {
			t.Fatalf("SpecOf(%d): %s twice", i, n)
		}
		seen[n] = true
	}
}

// TestLoadDirServes: a loaded data directory is served by the registry:
// packuments name the package and its versions, every tarball matches
// the integrity its packument gives, and search finds what entryOf says.
func TestLoadDirServes(t *testing.T) {
	ctx := context.Background()
	g, err := NewGenerator(ctx, Versions)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const n = 50
	st, err := g.Load(ctx, Targets{Dir: dir}, 0, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Packages != n || st.Tarballs != n*Versions {
		t.Fatalf("stats %+v", st)
	}
	a, err := registry.OpenAuth(registry.AuthPaths{Dir: dir}, 0)
	if err != nil {
		t.Fatal(err)
	}
	store, _ := config.NewStore(config.Default())
	pkgs := filepath.Join(dir, "packages")
	srv, err := registry.New(ctx, registry.Options{Store: store, Auth: a, Docs: docs.NewFS(pkgs), Blobs: blobs.NewFS(pkgs),
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec
	}
	for _, i := range []int{0, 9, 31, n - 1} {
		sp := SpecOf(i)
		rec := get("/" + registrytest.EscapeName(sp.Name))
		if rec.Code != 200 {
			t.Fatalf("GET %s: %d %s", sp.Name, rec.Code, rec.Body)
		}
		var pk struct {
			Name     string `json:"name"`
			Versions map[string]struct {
				Dist struct{ Tarball, Integrity string }
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &pk); err != nil {
			t.Fatal(err)
		}
		if pk.Name != sp.Name || len(pk.Versions) != Versions {
			t.Fatalf("packument of %s: name %q, %d versions", sp.Name, pk.Name, len(pk.Versions))
		}
		for v, m := range pk.Versions {
			u := m.Dist.Tarball[len("http://example.com"):]
			tr := get(u)
			if tr.Code != 200 {
				t.Fatalf("GET %s: %d", u, tr.Code)
			}
			if integ, _ := registrytest.Integrity(tr.Body.Bytes()); integ != m.Dist.Integrity {
				t.Fatalf("%s@%s: tarball integrity %s, packument says %s", sp.Name, v, integ, m.Dist.Integrity)
			}
		}
		// The registry's own search entry is the one the loader writes
		// into pgsearch.
		p, _ := g.Package(i)
		rec = get("/-/v1/search?text=" + pkgnameQuery(sp.Name) + "&size=1")
		var res struct {
			Objects []struct {
				Package struct {
					Name, Version, Description, Date string
					Keywords                         []string
					Links                            map[string]string
					Publisher                        struct{ Username string }
				}
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || len(res.Objects) == 0 {
			t.Fatalf("search %s: %v %s", sp.Name, err, rec.Body)
		}
		got := res.Objects[0].Package
		e := p.Entry
		want := struct {
			Name, Version, Description, Date string
			Keywords                         []string
			Publisher                        struct{ Username string }
		}{e.Name, e.Version, e.Description, e.Date, e.Keywords, struct{ Username string }{e.Publisher.Name}}
		gotv := struct {
			Name, Version, Description, Date string
			Keywords                         []string
			Publisher                        struct{ Username string }
		}{got.Name, got.Version, got.Description, got.Date, got.Keywords, got.Publisher}
		if d := cmp.Diff(want, gotv); d != "" {
			t.Fatalf("search entry of %s (-loader +registry):\n%s", sp.Name, d)
		}
		if got.Links["homepage"] != e.Links["homepage"] || got.Links["repository"] != e.Links["repository"] {
			t.Fatalf("links of %s: %v, loader %v", sp.Name, got.Links, e.Links)
		}
	}
}

// pkgnameQuery is a search text that ranks name first (the whole name).
func pkgnameQuery(name string) string {
	return registrytest.EscapeName(name)
}
