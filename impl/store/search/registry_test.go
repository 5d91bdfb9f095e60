package search_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/registry"
	"github.com/bun13/bun13/impl/registry/storage"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
	"github.com/bun13/bun13/impl/store/search"
	"github.com/google/go-cmp/cmp"
)

// storedDoc is a document in the registry's stored form.
func storedDoc(name, latest, desc string, keywords []string, publisher, maintainer string, extra map[string]any) map[string]any {
	m := map[string]any{
		"name": name, "version": latest, "description": desc, "keywords": keywords,
		"_npmUser": map[string]string{"name": publisher, "email": publisher + "@example.test"},
	}
	for k, v := range extra {
		m[k] = v
	}
	return map[string]any{
		"name":        name,
		"rev":         1,
		"dist-tags":   map[string]string{"latest": latest},
		"versions":    map[string]any{latest: m, "0.0.1": map[string]any{"name": name, "version": "0.0.1"}},
		"time":        map[string]string{"created": "2026-01-01T00:00:00.000Z", latest: "2026-02-03T04:05:06.000Z", "0.0.1": "2026-01-01T00:00:00.000Z"},
		"maintainers": []map[string]string{{"name": maintainer, "email": maintainer + "@example.test"}},
	}
}

// TestSameAsRegistry serves documents from a registry data directory
// through the registry's own /-/v1/search and through FromDocument,
// Memory and Render: the bodies must be identical, so an Index can take
// the registry's place without changing a byte of its answers.
func TestSameAsRegistry(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	fs := storage.NewFS(dir)
	stored := []map[string]any{
		storedDoc("react", "18.0.0", "A library for UIs", []string{"react", "UI"}, "alice", "alice", map[string]any{"homepage": "https://react.example.test", "repository": map[string]string{"type": "git", "url": "git+https://example.test/r.git"}}),
		storedDoc("react-dom", "18.0.0", "React for the DOM", []string{"react", "dom"}, "alice", "bob", map[string]any{"repository": "example/react-dom"}),
		storedDoc("@acme/react-widgets", "1.2.3", "Widgets", nil, "bob", "alice", nil),
		storedDoc("left-pad", "1.3.0", "String left pad", []string{"pad"}, "carol", "bob", nil),
	}
	gone := storedDoc("gone", "1.0.0", "unpublished react thing", nil, "alice", "alice", nil)
	gone["unpublished"] = map[string]any{"time": "2026-03-01T00:00:00.000Z", "versions": []string{"1.0.0"}}
	stored = append(stored, gone)
	idx := &search.Memory{}
	for _, d := range stored {
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := fs.PutDocument(ctx, d["name"].(string), raw); err != nil {
			t.Fatal(err)
		}
		e, live, err := search.FromDocument(raw)
		if err != nil {
			t.Fatal(err)
		}
		if live {
			idx.Update(ctx, e)
		}
	}

	c := config.Default()
	c.Version = 2
	store, err := config.NewStore(c)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 4, 5, 6, 7, 8, 0, time.UTC)
	srv, err := registry.New(t.Context(), registry.Options{
		Store: store,
		Docs:  docs.NewFS(dir), Blobs: blobs.NewFS(dir),
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Now:    func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()

	for _, q := range []struct {
		text       string
		from, size int
	}{
		{"react", 0, 20}, {"react", 1, 2}, {"keywords:react,dom", 0, 20}, {"maintainer:bob", 0, 20},
		{"scope:acme", 0, 20}, {"", 0, 20}, {"pad is:unstable", 0, 20}, {"nothing", 0, 20}, {"react", 10, 5},
	} {
		resp, err := http.Get(hs.URL + "/-/v1/search?" + url.Values{"text": {q.text}, "from": {fmt.Sprint(q.from)}, "size": {fmt.Sprint(q.size)}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%q: %d %s", q.text, resp.StatusCode, body)
		}
		var fromRegistry, fromIndex any
		if err := json.Unmarshal(body, &fromRegistry); err != nil {
			t.Fatal(err)
		}
		res, err := idx.Search(ctx, q.text, q.from, q.size)
		if err != nil {
			t.Fatal(err)
		}
		if q.text == "react" && res.Total != 3 {
			t.Fatalf("react: %d hits, want 3 (the unpublished package is not one)", res.Total)
		}
		ours, _ := json.Marshal(search.Render(hs.URL, now, res))
		if err := json.Unmarshal(ours, &fromIndex); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(fromRegistry, fromIndex); d != "" {
			t.Errorf("%q from %d size %d: registry and index differ (-registry +index):\n%s", q.text, q.from, q.size, d)
		}
	}
}
