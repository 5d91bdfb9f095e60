// Package bulkload fills a registry's stores with many generated packages
// at once, for the scale measurements of the distributed mode (issue 12):
// the documents into pgdocs (Load, 500 per statement), their search
// entries into pgsearch (UpdateAll, pipelined) and their tarballs into the
// blob store (an S3 bucket), and the same packages into a single-node data
// directory, the peer they are measured against.
//
// The documents are the registry's own: a template package is published
// through registry.New (the real publish path, on a temporary data
// directory) and every generated package is that stored document with its
// name, descriptions, keywords and per-tarball fields (integrity, shasum,
// size) replaced; each version has a real tarball (package/package.json
// and index.js under the package's name). Generating the template's own
// spec gives back the template's bytes exactly (a test checks it), so the
// documents have the shape and field order the registry writes.
//
// The command is impl/cmd/bun13-bulkload; the measurements are
// TestScale in this package (see impl/registry/README.md, "Distributed
// mode: scale").
package bulkload

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/registry"
	"github.com/bun13/bun13/impl/registry/pkgname"
	"github.com/bun13/bun13/impl/registry/registrytest"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
	"github.com/bun13/bun13/impl/store/docs/pgdocs"
	"github.com/bun13/bun13/impl/store/search"
	"github.com/bun13/bun13/impl/store/search/pgsearch"
	"golang.org/x/sync/errgroup"
)

// words are what names, descriptions and keywords are drawn from.
var words = []string{
	"react", "parser", "stream", "http", "router", "core", "cli", "json",
	"config", "logger", "test", "async", "cache", "crypto", "date", "color",
	"fs", "path", "build", "server", "client", "plugin", "util", "schema",
	"query", "graph", "image", "auth", "token", "queue", "worker", "store",
}

// Spec is what varies between generated packages.
type Spec struct {
	Name        string
	Description string
	Keywords    []string
}

// SpecOf returns the spec of package i: names made of two words and the
// index (every tenth one scoped), a description of four words and three
// keywords, so searches match a realistic share of the packages.
func SpecOf(i int) Spec {
	w := func(k int) string { return words[k%len(words)] }
	name := fmt.Sprintf("%s-%s-%d", w(i), w(i/len(words)+3), i)
	if i%10 == 9 {
		name = fmt.Sprintf("@team%d/%s", i%97, name)
	}
	return Spec{
		Name:        name,
		Description: fmt.Sprintf("%s %s for %s and %s (generated package %d)", w(i*7+1), w(i*3+2), w(i*5+3), w(i/7+4), i),
		Keywords:    []string{w(i), w(i*11 + 5), w(i/3 + 6)},
	}
}

// storedDoc mirrors the registry's stored document (registry.doc): the
// same fields in the same order, manifests kept field by field.
type storedDoc struct {
	Name           string                                `json:"name"`
	Rev            int64                                 `json:"rev"`
	DistTags       map[string]string                     `json:"dist-tags"`
	Versions       map[string]map[string]json.RawMessage `json:"versions"`
	Time           map[string]string                     `json:"time"`
	Maintainers    []search.Person                       `json:"maintainers"`
	Readme         string                                `json:"readme,omitempty"`
	ReadmeFilename string                                `json:"readmeFilename,omitempty"`
	Sizes          map[string]int64                      `json:"sizes,omitempty"`
}

// Tarball is one stored tarball.
type Tarball struct {
	File string // pkgname.TarballFile(name, version)
	Data []byte
}

// Package is one generated package: its stored document, tarballs and
// search entry.
type Package struct {
	Name     string
	Doc      []byte
	Tarballs []Tarball
	Entry    search.Entry
}

// Generator makes packages from a template published through the
// registry. It is safe for concurrent use.
type Generator struct {
	versions []string
	tmpl     storedDoc
	gz       sync.Pool
}

// Versions is how many versions each generated package has by default.
const Versions = 3

// NewGenerator publishes the template (SpecOf(0) with n versions) through
// registry.New on a temporary data directory and returns a generator of
// documents of its shape.
func NewGenerator(ctx context.Context, versions int) (*Generator, error) {
	if versions < 1 {
		return nil, errors.New("bulkload: at least one version per package")
	}
	g := &Generator{}
	g.gz.New = func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }
	for v := range versions {
		g.versions = append(g.versions, fmt.Sprintf("1.%d.0", v))
	}
	raw, err := g.publishTemplate(ctx)
	if err != nil {
		return nil, fmt.Errorf("bulkload: template: %w", err)
	}
	if err := json.Unmarshal(raw, &g.tmpl); err != nil {
		return nil, fmt.Errorf("bulkload: template: %w", err)
	}
	if len(g.tmpl.Versions) != versions {
		return nil, fmt.Errorf("bulkload: template has %d versions, want %d", len(g.tmpl.Versions), versions)
	}
	return g, nil
}

// publishTemplate publishes SpecOf(0) with g's versions through the
// registry and returns its stored document as the registry wrote it.
func (g *Generator) publishTemplate(ctx context.Context) ([]byte, error) {
	data, err := os.MkdirTemp("", "bun13-bulkload-template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(data)
	a, err := registry.OpenAuth(registry.AuthPaths{Dir: data}, 0)
	if err != nil {
		return nil, err
	}
	a.Users.(*auth.Users).Cost = 4
	now := time.Now()
	if err := a.Users.Add("bulkload", "bulkload-password", auth.RolePublish, now); err != nil {
		return nil, err
	}
	tok, _, err := a.Login("bulkload", "bulkload-password", now)
	if err != nil {
		return nil, err
	}
	store, err := config.NewStore(config.Default())
	if err != nil {
		return nil, err
	}
	pkgs := filepath.Join(data, "packages")
	ds := docs.NewFS(pkgs)
	srv, err := registry.New(ctx, registry.Options{
		Store: store, Auth: a, Docs: ds, Blobs: blobs.NewFS(pkgs),
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, err
	}
	sp := SpecOf(0)
	for _, v := range g.versions {
		tgz := g.tarball(sp, v)
		m := manifestOf(sp, v)
		m["readme"] = readmeOf(sp)
		body := registrytest.PublishDocFor(sp.Name, v, tgz, m)
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		req := httptest.NewRequest("PUT", "/"+registrytest.EscapeName(sp.Name), bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != 201 {
			return nil, fmt.Errorf("publish %s@%s: %d %s", sp.Name, v, rec.Code, rec.Body)
		}
	}
	raw, _, err := ds.Get(ctx, sp.Name)
	return raw, err
}

// manifestOf is the package.json of sp at version, beside what
// registrytest.PublishDoc puts in.
func manifestOf(sp Spec, version string) map[string]any {
	return map[string]any{
		"description":  sp.Description,
		"keywords":     sp.Keywords,
		"license":      "MIT",
		"homepage":     "https://example.test/" + sp.Name,
		"repository":   map[string]string{"type": "git", "url": "git+https://example.test/" + sp.Name + ".git"},
		"author":       map[string]string{"name": "Bulk Loader", "email": "bulkload@example.test"},
		"dependencies": map[string]string{"left-pad": "^1.3.0", "lodash": "^4.17.21", "semver": "^7.6.0"},
		"scripts":      map[string]string{"test": "node test.js"},
		"engines":      map[string]string{"node": ">=18"},
	}
}

func readmeOf(sp Spec) string {
	return "# " + sp.Name + "\n\n" + sp.Description + ".\n\nGenerated by bun13's bulk loader.\n"
}

// tarball builds the tarball of sp at version: package/package.json (the
// manifest the document records) and package/index.js, gzip'd at the
// fastest level.
func (g *Generator) tarball(sp Spec, version string) []byte {
	name := sp.Name
	pj := manifestOf(sp, version)
	pj["name"], pj["version"], pj["main"] = name, version, "index.js"
	var buf bytes.Buffer
	zw := g.gz.Get().(*gzip.Writer)
	defer g.gz.Put(zw)
	zw.Reset(&buf)
	tw := tar.NewWriter(zw)
	files := [][2]string{
		{"package/package.json", string(rawJSON(pj))},
		{"package/index.js", fmt.Sprintf("module.exports = %q;\n", name+"@"+version)},
	}
	for _, f := range files {
		// Writes to a bytes.Buffer do not fail.
		_ = tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), ModTime: time.Unix(499162500, 0), Format: tar.FormatUSTAR})
		_, _ = tw.Write([]byte(f[1]))
	}
	_ = tw.Close()
	_ = zw.Close()
	return buf.Bytes()
}

func rawJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings, maps of strings: cannot fail
	}
	return b
}

// Package returns package i.
func (g *Generator) Package(i int) (Package, error) {
	sp := SpecOf(i)
	if err := pkgname.Validate(sp.Name); err != nil {
		return Package{}, err
	}
	t := g.tmpl
	old := t.Name
	t.Name = sp.Name
	t.Versions = make(map[string]map[string]json.RawMessage, len(g.tmpl.Versions))
	t.Sizes = make(map[string]int64, len(g.versions))
	if t.Readme != "" {
		t.Readme = readmeOf(sp)
	}
	p := Package{Name: sp.Name}
	for _, v := range g.versions {
		m := make(map[string]json.RawMessage, len(g.tmpl.Versions[v]))
		for k, raw := range g.tmpl.Versions[v] {
			m[k] = raw
		}
		tgz := g.tarball(sp, v)
		integ, shasum := registrytest.Integrity(tgz)
		var dist map[string]json.RawMessage
		if err := json.Unmarshal(m["dist"], &dist); err != nil {
			return Package{}, fmt.Errorf("bulkload: template dist: %w", err)
		}
		dist["integrity"], dist["shasum"] = rawJSON(integ), rawJSON(shasum)
		m["dist"] = rawJSON(dist)
		m["name"], m["_id"] = rawJSON(sp.Name), rawJSON(sp.Name+"@"+v)
		m["description"], m["keywords"] = rawJSON(sp.Description), rawJSON(sp.Keywords)
		for _, k := range []string{"homepage", "repository"} {
			if raw, ok := m[k]; ok {
				m[k] = json.RawMessage(strings.ReplaceAll(string(raw), old, sp.Name))
			}
		}
		t.Versions[v] = m
		t.Sizes[v] = int64(len(tgz))
		p.Tarballs = append(p.Tarballs, Tarball{File: pkgname.TarballFile(sp.Name, v), Data: tgz})
	}
	doc, err := json.Marshal(t)
	if err != nil {
		return Package{}, err
	}
	p.Doc = doc
	p.Entry = entryOf(&t)
	return p, nil
}

// entryOf is what the registry's search shows of d (registry.searchEntry:
// the latest version's fields).
func entryOf(d *storedDoc) search.Entry {
	v := d.DistTags["latest"]
	m := d.Versions[v]
	str := func(raw json.RawMessage) string {
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	}
	e := search.Entry{
		Name: d.Name, Version: v, Description: str(m["description"]), Date: d.Time[v],
		Maintainers: append([]search.Person{}, d.Maintainers...), Links: map[string]string{},
	}
	_ = json.Unmarshal(m["keywords"], &e.Keywords)
	_ = json.Unmarshal(m["_npmUser"], &e.Publisher)
	if h := str(m["homepage"]); h != "" {
		e.Links["homepage"] = h
	}
	var repo struct {
		URL string `json:"url"`
	}
	if json.Unmarshal(m["repository"], &repo) == nil && repo.URL != "" {
		e.Links["repository"] = repo.URL
	} else if r := str(m["repository"]); r != "" {
		e.Links["repository"] = r
	}
	return e
}

// Shared are the distributed stores a bulk load writes.
type Shared struct {
	Docs   *pgdocs.Store
	Search *pgsearch.Index
	Blobs  blobs.Store
}

// Stats says what a load wrote and how long each part took.
type Stats struct {
	Packages, Tarballs int
	Bytes              int64 // documents and tarballs
	Generate, Docs     time.Duration
	Search, Blobs      time.Duration
	Files              time.Duration // writing the data directory
}

// chunk is how many packages are generated and written at a time.
const chunk = 2000

// blobWorkers is how many tarball puts run at once.
const blobWorkers = 64

// generate returns packages from..to-1, generated on a few goroutines.
func (g *Generator) generate(from, to int) ([]Package, error) {
	out := make([]Package, to-from)
	var eg errgroup.Group
	eg.SetLimit(4)
	for i := from; i < to; i++ {
		eg.Go(func() error {
			p, err := g.Package(i)
			out[i-from] = p
			return err
		})
	}
	return out, eg.Wait()
}

// Targets are where a load writes.
type Targets struct {
	// Shared, when not nil, receives the tarballs (unless SkipTarballs),
	// then the documents (pgdocs.Load: a name already stored is left as
	// it is, so a load can be resumed), then the search entries.
	Shared       *Shared
	SkipTarballs bool
	// Dir, when not empty, is a single-node data directory that receives
	// the same packages: DIR/packages/NAME/package.json and the tarballs
	// beside it (the layout of docs.FS and blobs.FS), as plain writes
	// with one sync(2) at the end rather than the registry's fsync per
	// file: a bulk load, not a publish.
	Dir string
}

// Load writes packages from..from+n-1 into t, each generated once.
// progress, when not nil, is called after each chunk.
func (g *Generator) Load(ctx context.Context, t Targets, from, n int, progress func(done int)) (Stats, error) {
	var s Stats
	for i := from; i < from+n; i += chunk {
		if err := ctx.Err(); err != nil {
			return s, err
		}
		t0 := time.Now()
		pkgs, err := g.generate(i, min(from+n, i+chunk))
		if err != nil {
			return s, err
		}
		s.Generate += time.Since(t0)
		for _, p := range pkgs {
			s.Bytes += int64(len(p.Doc))
			for _, tb := range p.Tarballs {
				s.Tarballs++
				s.Bytes += int64(len(tb.Data))
			}
		}
		if t.Shared != nil {
			if err := loadShared(ctx, *t.Shared, !t.SkipTarballs, pkgs, &s); err != nil {
				return s, err
			}
		}
		if t.Dir != "" {
			t1 := time.Now()
			if err := writeDir(filepath.Join(t.Dir, "packages"), pkgs); err != nil {
				return s, err
			}
			s.Files += time.Since(t1)
		}
		s.Packages += len(pkgs)
		if progress != nil {
			progress(s.Packages)
		}
	}
	if t.Dir != "" {
		t1 := time.Now()
		syscall.Sync()
		s.Files += time.Since(t1)
	}
	return s, nil
}

func loadShared(ctx context.Context, st Shared, tarballs bool, pkgs []Package, s *Stats) error {
	t1 := time.Now()
	if tarballs {
		eg, ectx := errgroup.WithContext(ctx)
		eg.SetLimit(blobWorkers)
		for _, p := range pkgs {
			for _, tb := range p.Tarballs {
				eg.Go(func() error {
					if err := st.Blobs.Put(ectx, p.Name, tb.File, tb.Data); err != nil {
						return fmt.Errorf("bulkload: put %s/%s: %w", p.Name, tb.File, err)
					}
					return nil
				})
			}
		}
		if err := eg.Wait(); err != nil {
			return err
		}
	}
	t2 := time.Now()
	s.Blobs += t2.Sub(t1)
	batch := make([]pgdocs.Doc, len(pkgs))
	entries := make([]search.Entry, len(pkgs))
	for k, p := range pkgs {
		batch[k] = pgdocs.Doc{Name: p.Name, Doc: p.Doc}
		entries[k] = p.Entry
	}
	if _, err := st.Docs.Load(ctx, batch); err != nil {
		return err
	}
	t3 := time.Now()
	s.Docs += t3.Sub(t2)
	if err := st.Search.UpdateAll(ctx, entries); err != nil {
		return err
	}
	s.Search += time.Since(t3)
	return nil
}

func writeDir(pkgs string, batch []Package) error {
	var eg errgroup.Group
	eg.SetLimit(4)
	for _, p := range batch {
		eg.Go(func() error {
			d := filepath.Join(pkgs, filepath.FromSlash(p.Name))
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
			for _, tb := range p.Tarballs {
				if err := os.WriteFile(filepath.Join(d, tb.File), tb.Data, 0o644); err != nil {
					return err
				}
			}
			return os.WriteFile(filepath.Join(d, "package.json"), p.Doc, 0o644)
		})
	}
	if err := eg.Wait(); err != nil {
		return fmt.Errorf("bulkload: %w", err)
	}
	return nil
}
