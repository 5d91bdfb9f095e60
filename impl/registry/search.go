package registry

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/bun13/bun13/impl/registry/packument"
	"github.com/bun13/bun13/impl/store/search"
)

// indexSearch brings the search index (a search.Memory: the query
// language, matching, scoring and the /-/v1/search body live in
// impl/store/search) up to date with d, on every write and at boot.
func (s *Server) indexSearch(d *packument.Doc) {
	if !d.Live() {
		_ = s.index.Remove(context.Background(), d.Name)
		return
	}
	_ = s.index.Update(context.Background(), searchEntry(d))
}

// searchEntry is what /-/v1/search shows of d: its latest version.
func searchEntry(d *packument.Doc) search.Entry {
	v := d.DistTags["latest"]
	m := d.Versions[v]
	e := search.Entry{
		Name:        d.Name,
		Version:     v,
		Description: packument.RawString(m["description"]),
		Date:        d.Time[v],
		Maintainers: make([]search.Person, len(d.Maintainers)),
		Links:       map[string]string{},
	}
	for i, p := range d.Maintainers {
		e.Maintainers[i] = search.Person(p)
	}
	_ = json.Unmarshal(m["keywords"], &e.Keywords)
	_ = json.Unmarshal(m["_npmUser"], &e.Publisher)
	if h := packument.RawString(m["homepage"]); h != "" {
		e.Links["homepage"] = h
	}
	var repo struct {
		URL string `json:"url"`
	}
	if json.Unmarshal(m["repository"], &repo) == nil && repo.URL != "" {
		e.Links["repository"] = repo.URL
	} else if r := packument.RawString(m["repository"]); r != "" {
		e.Links["repository"] = r
	}
	return e
}

func (c *call) search() {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		c.methodNotAllowed("GET, HEAD")
		return
	}
	qv := c.r.URL.Query()
	size := boundedInt(qv.Get("size"), 20, 1, 250)
	from := boundedInt(qv.Get("from"), 0, 0, 1<<20)
	res, err := c.s.index.Search(c.r.Context(), qv.Get("text"), from, size)
	if err != nil {
		c.failErr(err)
		return
	}
	c.json(http.StatusOK, search.Render(c.s.baseURL(c.r), c.s.now(), res))
}

func boundedInt(s string, def, lo, hi int) int {
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return max(lo, min(hi, n))
}
