// Package searchtest is the conformance suite every search.Index passes.
package searchtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/bun13/bun13/impl/store/search"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// New returns a fresh, empty index for one test.
type New func(t *testing.T) search.Index

// Corpus is the fixture the suite indexes.
func Corpus() []search.Entry {
	alice := search.Person{Name: "alice", Email: "alice@example.test"}
	bob := search.Person{Name: "bob", Email: "bob@example.test"}
	return []search.Entry{
		{Name: "react", Version: "18.0.0", Description: "A JavaScript library for building user interfaces", Keywords: []string{"react", "UI"}, Date: "2026-01-01T00:00:00.000Z", Publisher: alice, Maintainers: []search.Person{alice}, Links: map[string]string{"homepage": "https://react.example.test"}},
		{Name: "react-dom", Version: "18.0.0", Description: "React package for working with the DOM", Keywords: []string{"react", "dom"}, Date: "2026-01-02T00:00:00.000Z", Publisher: alice, Maintainers: []search.Person{alice, bob}, Links: map[string]string{"repository": "git+https://example.test/react.git"}},
		{Name: "preact", Version: "10.0.0", Description: "Fast 3kB alternative to React", Keywords: []string{"preact", "vdom"}, Date: "2026-01-03T00:00:00.000Z", Publisher: bob, Maintainers: []search.Person{bob}, Links: map[string]string{}},
		{Name: "@acme/react-widgets", Version: "1.0.0", Description: "Widgets", Keywords: nil, Date: "2026-01-04T00:00:00.000Z", Publisher: bob, Maintainers: []search.Person{alice}, Links: map[string]string{}},
		{Name: "@acme/utils", Version: "2.1.0", Description: "100% pure_utilities \\ with odd characters", Keywords: []string{"Utils"}, Date: "2026-01-05T00:00:00.000Z", Publisher: alice, Maintainers: []search.Person{alice}, Links: map[string]string{}},
		{Name: "left-pad", Version: "1.3.0", Description: "String left pad", Keywords: []string{"pad", "string"}, Date: "2026-01-06T00:00:00.000Z", Publisher: search.Person{Name: "carol"}, Maintainers: []search.Person{bob}, Links: map[string]string{}},
		{Name: "Legacy-Caps", Version: "0.1.0", Description: "an old name with capitals", Date: "2026-01-07T00:00:00.000Z", Links: map[string]string{}},
	}
}

// Run runs the suite.
func Run(t *testing.T, newIndex New) {
	ctx := context.Background()
	t.Run("Queries", func(t *testing.T) {
		x := newIndex(t)
		for _, e := range Corpus() {
			if err := x.Update(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		type hit struct {
			name  string
			score float64
		}
		for _, tc := range []struct {
			text  string
			want  []hit
			total int
		}{
			{"react", []hit{{"react", 1}, {"react-dom", 0.9}, {"@acme/react-widgets", 0.8}, {"preact", 0.8}}, 4},
			{"REACT dom", []hit{{"preact", 0.5}, {"react-dom", 0.5}}, 2},
			{"keywords:react", []hit{{"react", 0.5}, {"react-dom", 0.5}}, 2},
			{"keywords:ui", []hit{{"react", 0.5}}, 1},
			{"keywords:react,dom", []hit{{"react-dom", 0.5}}, 1},
			{"keyword:utils", []hit{{"@acme/utils", 0.5}}, 1},
			{"maintainer:bob", []hit{{"@acme/react-widgets", 0.5}, {"left-pad", 0.5}, {"preact", 0.5}, {"react-dom", 0.5}}, 4},
			{"author:carol", []hit{{"left-pad", 0.5}}, 1},
			{"publisher:bob react", []hit{{"react-dom", 0.9}, {"@acme/react-widgets", 0.8}, {"preact", 0.8}}, 3},
			{"scope:acme", []hit{{"@acme/react-widgets", 0.5}, {"@acme/utils", 0.5}}, 2},
			{"scope:@acme widgets", []hit{{"@acme/react-widgets", 0.8}}, 1},
			{"100%", []hit{{"@acme/utils", 0.5}}, 1},
			{"pure_", []hit{{"@acme/utils", 0.5}}, 1},
			{"%", []hit{{"@acme/utils", 0.5}}, 1},
			{"_", []hit{{"@acme/utils", 0.5}}, 1},
			{`\`, []hit{{"@acme/utils", 0.5}}, 1},
			{"legacy-caps", []hit{{"Legacy-Caps", 1}}, 1},
			{"is:unstable not:insecure boost-exact:false pad", []hit{{"left-pad", 0.8}}, 1},
			{"nothing-matches-this", nil, 0},
			{"react\nmissing", nil, 0},
		} {
			res, err := x.Search(ctx, tc.text, 0, 20)
			if err != nil {
				t.Fatalf("%q: %v", tc.text, err)
			}
			var got []hit
			for _, h := range res.Hits {
				got = append(got, hit{h.Name, h.Score})
			}
			if !slices.Equal(got, tc.want) || res.Total != tc.total {
				t.Errorf("%q: %v (total %d), want %v (total %d)", tc.text, got, res.Total, tc.want, tc.total)
			}
		}
		all, err := x.Search(ctx, "", 0, 100)
		if err != nil || all.Total != len(Corpus()) {
			t.Fatalf("empty query: total %d, %v; want every entry", all.Total, err)
		}
		byName := map[string]search.Entry{}
		for _, e := range Corpus() {
			byName[e.Name] = e
		}
		for _, h := range all.Hits {
			if d := cmp.Diff(byName[h.Name], h.Entry, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("entry %s did not round-trip (-stored +got):\n%s", h.Name, d)
			}
		}
	})
	t.Run("Pages", func(t *testing.T) {
		x := newIndex(t)
		for i := range 25 {
			if err := x.Update(ctx, search.Entry{Name: fmt.Sprintf("page-%02d", i), Version: "1.0.0", Links: map[string]string{}}); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct{ from, size, first, n int }{{0, 10, 0, 10}, {20, 10, 20, 5}, {25, 10, 0, 0}, {100, 10, 0, 0}} {
			res, err := x.Search(ctx, "page", tc.from, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if res.Total != 25 || len(res.Hits) != tc.n || (tc.n > 0 && res.Hits[0].Name != fmt.Sprintf("page-%02d", tc.first)) {
				t.Errorf("from %d size %d: %d hits (total %d)", tc.from, tc.size, len(res.Hits), res.Total)
			}
		}
	})
	t.Run("UpdateRemove", func(t *testing.T) {
		x := newIndex(t)
		e := search.Entry{Name: "changing", Version: "1.0.0", Description: "first", Links: map[string]string{}}
		if err := x.Update(ctx, e); err != nil {
			t.Fatal(err)
		}
		e.Version, e.Description = "2.0.0", "second"
		if err := x.Update(ctx, e); err != nil {
			t.Fatal(err)
		}
		if res, _ := x.Search(ctx, "first", 0, 10); res.Total != 0 {
			t.Fatal("the replaced entry still matches")
		}
		if res, _ := x.Search(ctx, "second", 0, 10); res.Total != 1 || res.Hits[0].Version != "2.0.0" {
			t.Fatalf("updated entry: %+v", res)
		}
		if err := x.Remove(ctx, "changing"); err != nil {
			t.Fatal(err)
		}
		if err := x.Remove(ctx, "never-there"); err != nil {
			t.Fatal(err)
		}
		if res, _ := x.Search(ctx, "", 0, 10); res.Total != 0 {
			t.Fatalf("after Remove: %+v", res)
		}
	})
}

// Differential checks that x answers random queries over a random corpus
// exactly as the in-memory index does.
func Differential(t *testing.T, x search.Index, entries, queries int) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(42, 7))
	words := []string{"react", "dom", "util", "pad", "string", "fast", "tiny", "vue", "core", "cli", "test", "x"}
	people := []string{"alice", "bob", "carol", "dave"}
	pick := func(src []string, n int) []string {
		out := make([]string, 0, n)
		for range n {
			out = append(out, src[r.IntN(len(src))])
		}
		return out
	}
	ref := &search.Memory{}
	for i := range entries {
		name := strings.Join(pick(words, 1+r.IntN(2)), "-") + fmt.Sprint("-", i)
		if r.IntN(4) == 0 {
			name = "@" + pick(people, 1)[0] + "/" + name
		}
		e := search.Entry{
			Name: name, Version: "1.0.0",
			Description: strings.Join(pick(words, r.IntN(5)), " "),
			Keywords:    pick(words, r.IntN(3)),
			Publisher:   search.Person{Name: pick(people, 1)[0]},
			Maintainers: []search.Person{{Name: pick(people, 1)[0]}},
			Links:       map[string]string{},
		}
		for _, ix := range []search.Index{ref, x} {
			if err := ix.Update(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range queries {
		var parts []string
		parts = append(parts, pick(words, r.IntN(3))...)
		if r.IntN(3) == 0 {
			parts = append(parts, "keywords:"+strings.Join(pick(words, 1+r.IntN(2)), ","))
		}
		if r.IntN(4) == 0 {
			parts = append(parts, "maintainer:"+pick(people, 1)[0])
		}
		if r.IntN(5) == 0 {
			parts = append(parts, "scope:"+pick(people, 1)[0])
		}
		text := strings.Join(parts, " ")
		from, size := r.IntN(5), 1+r.IntN(30)
		want, err := ref.Search(ctx, text, from, size)
		if err != nil {
			t.Fatal(err)
		}
		got, err := x.Search(ctx, text, from, size)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("query %q from %d size %d differs from the in-memory index (-memory +got):\n%s", text, from, size, d)
		}
	}
}
