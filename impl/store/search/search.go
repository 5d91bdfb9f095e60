// Package search answers the registry's /-/v1/search: an [Index] of what
// a search shows of each live package, with two implementations passing
// one conformance suite (package searchtest):
//
//   - [Memory], the embedded default, the registry's current in-memory
//     index, filled from the documents at start;
//   - pgsearch.Index, a PostgreSQL table with a pg_trgm index, which
//     needs no filling at start and is shared by every replica.
//
// # Query language and scoring (the registry's, unchanged)
//
// The text is lower-cased and split on white space. keywords:a,b (or
// keyword:) requires every listed keyword (case-insensitive, exact);
// maintainer:, author: and publisher: require a maintainer or the latest
// version's publisher with that user name; scope:s (or scope:@s) requires
// names under @s/; is:, not: and boost-exact: are accepted and ignored.
// Every other word must be a substring of the package's name, description
// or one of its keywords (lower case). Hits score 1 when the name equals
// the words joined by single spaces, 0.9 when it starts with them, 0.8
// when it contains them, else 0.5 (and 0.5 with no words at all); they are
// ordered by score, then name in byte order.
//
// # Response shape
//
// [Render] builds the JSON body exactly as the registry does today:
//
//	{"objects": [{"package": {"name", "scope", "version", "description",
//	  "keywords", "date", "links": {"npm", "homepage"?, "repository"?},
//	  "publisher": {"username", "email"}, "maintainers": [{"username",
//	  "email"}]}, "score": {"final", "detail": {"quality", "popularity",
//	  "maintenance"}}, "searchScore", "flags": {}, "updated"}],
//	 "total": N, "time": "<HTTP date>"}
package search

import (
	"context"
	"encoding/json"
	"strings"
)

// Person is a maintainer or publisher.
type Person struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Entry is what a search shows of one package: its latest version.
type Entry struct {
	Name        string
	Version     string
	Description string
	Keywords    []string
	Date        string
	Publisher   Person
	Maintainers []Person
	// Links holds "homepage" and "repository" when known; Render adds
	// "npm".
	Links map[string]string
}

// Hit is one matching entry with its score.
type Hit struct {
	Entry
	Score float64
}

// Result is one page of hits and how many there are in all.
type Result struct {
	Hits  []Hit
	Total int
}

// Index keeps one Entry per live package.
type Index interface {
	// Update adds or replaces the entry of e.Name.
	Update(ctx context.Context, e Entry) error
	// Remove drops the entry of name (a package no longer live); a
	// missing entry is not an error.
	Remove(ctx context.Context, name string) error
	// Search returns hits from..from+size of text, ordered as described
	// in the package documentation, and the total number of hits.
	Search(ctx context.Context, text string, from, size int) (Result, error)
}

// Query is a parsed search text.
type Query struct {
	Terms       []string
	Keywords    []string
	Maintainers []string
	Scope       string
}

// Parse parses a search text: the query language of /-/v1/search.
func Parse(text string) Query {
	var q Query
	for _, f := range strings.Fields(strings.ToLower(text)) {
		k, v, ok := strings.Cut(f, ":")
		switch {
		case ok && (k == "keywords" || k == "keyword"):
			for _, kw := range strings.Split(v, ",") {
				if kw != "" {
					q.Keywords = append(q.Keywords, kw)
				}
			}
		case ok && (k == "maintainer" || k == "author" || k == "publisher"):
			q.Maintainers = append(q.Maintainers, v)
		case ok && k == "scope":
			q.Scope = strings.TrimPrefix(v, "@")
		case ok && (k == "is" || k == "not" || k == "boost-exact"):
			// popularity qualifiers mean nothing here
		default:
			q.Terms = append(q.Terms, f)
		}
	}
	return q
}

// Full is the terms joined by single spaces, which scoring compares the
// name with.
func (q *Query) Full() string { return strings.Join(q.Terms, " ") }

// NameScore is the score of a hit named name.
func (q *Query) NameScore(name string) float64 {
	if len(q.Terms) == 0 {
		return 0.5
	}
	name = strings.ToLower(name)
	full := q.Full()
	switch {
	case name == full:
		return 1
	case strings.HasPrefix(name, full):
		return 0.9
	case strings.Contains(name, full):
		return 0.8
	}
	return 0.5
}

// Text is the lower-case text words are matched against: name,
// description and keywords separated by newlines, which a word (split on
// white space) never contains.
func (e *Entry) Text() string {
	return strings.ToLower(e.Name + "\n" + e.Description + "\n" + strings.Join(e.Keywords, "\n"))
}

// FromDocument extracts the entry of a stored registry document (the
// JSON the registry keeps per package). live is false for a package with
// no live version, which has no entry.
func FromDocument(raw []byte) (e Entry, live bool, err error) {
	var d struct {
		Name        string                                `json:"name"`
		DistTags    map[string]string                     `json:"dist-tags"`
		Versions    map[string]map[string]json.RawMessage `json:"versions"`
		Time        map[string]string                     `json:"time"`
		Maintainers []Person                              `json:"maintainers"`
		Unpublished json.RawMessage                       `json:"unpublished"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return Entry{}, false, err
	}
	if (len(d.Unpublished) > 0 && string(d.Unpublished) != "null") || len(d.Versions) == 0 {
		return Entry{Name: d.Name}, false, nil
	}
	v := d.DistTags["latest"]
	m := d.Versions[v]
	e = Entry{
		Name:        d.Name,
		Version:     v,
		Description: rawString(m["description"]),
		Date:        d.Time[v],
		Maintainers: d.Maintainers,
		Links:       map[string]string{},
	}
	_ = json.Unmarshal(m["keywords"], &e.Keywords)
	_ = json.Unmarshal(m["_npmUser"], &e.Publisher)
	if h := rawString(m["homepage"]); h != "" {
		e.Links["homepage"] = h
	}
	var repo struct {
		URL string `json:"url"`
	}
	if json.Unmarshal(m["repository"], &repo) == nil && repo.URL != "" {
		e.Links["repository"] = repo.URL
	} else if r := rawString(m["repository"]); r != "" {
		e.Links["repository"] = r
	}
	return e, true, nil
}

func rawString(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}
