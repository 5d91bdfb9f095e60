package search

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// Memory is the in-process Index: every entry in a map, each search a
// scan. It is the registry's current index, for one process.
type Memory struct {
	mu sync.RWMutex
	m  map[string]*memEntry
}

type memEntry struct {
	Entry
	text string
}

var _ Index = (*Memory)(nil)

// Update implements Index.
func (x *Memory) Update(_ context.Context, e Entry) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.m == nil {
		x.m = make(map[string]*memEntry)
	}
	x.m[e.Name] = &memEntry{Entry: e, text: e.Text()}
	return nil
}

// Remove implements Index.
func (x *Memory) Remove(_ context.Context, name string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.m, name)
	return nil
}

// matches reports whether e passes every filter of q.
func (q *Query) matches(e *memEntry) bool {
	for _, t := range q.Terms {
		if !strings.Contains(e.text, t) {
			return false
		}
	}
	for _, k := range q.Keywords {
		if !slices.ContainsFunc(e.Keywords, func(x string) bool { return strings.EqualFold(x, k) }) {
			return false
		}
	}
	for _, m := range q.Maintainers {
		if !slices.ContainsFunc(e.Maintainers, func(p Person) bool { return p.Name == m }) && e.Publisher.Name != m {
			return false
		}
	}
	return q.Scope == "" || strings.HasPrefix(e.Name, "@"+q.Scope+"/")
}

// Search implements Index.
func (x *Memory) Search(_ context.Context, text string, from, size int) (Result, error) {
	q := Parse(text)
	type hit struct {
		e     *memEntry
		score float64
	}
	var hits []hit
	x.mu.RLock()
	for _, e := range x.m {
		if q.matches(e) {
			hits = append(hits, hit{e, q.NameScore(e.Name)})
		}
	}
	x.mu.RUnlock()
	slices.SortFunc(hits, func(a, b hit) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.e.Name, b.e.Name)
	})
	total := len(hits)
	from = max(0, min(from, len(hits)))
	hits = hits[from:]
	if size >= 0 && len(hits) > size {
		hits = hits[:size]
	}
	page := make([]Hit, len(hits))
	for i, h := range hits {
		page[i] = Hit{Entry: h.e.Entry, Score: h.score}
	}
	return Result{Hits: page, Total: total}, nil
}
