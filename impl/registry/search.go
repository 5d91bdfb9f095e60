package registry

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// searchIndex holds what /-/v1/search shows of each live package, updated
// on every write.
type searchIndex struct {
	mu sync.RWMutex
	m  map[string]*searchDoc
}

type searchDoc struct {
	Name        string
	Version     string
	Description string
	Keywords    []string
	Date        string
	Publisher   person
	Maintainers []person
	Links       map[string]string
	text        string // lower-case name, description and keywords
}

func (ix *searchIndex) update(d *doc) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.m == nil {
		ix.m = make(map[string]*searchDoc)
	}
	if !d.live() {
		delete(ix.m, d.Name)
		return
	}
	v := d.DistTags["latest"]
	m := d.Versions[v]
	sd := &searchDoc{
		Name:        d.Name,
		Version:     v,
		Description: rawString(m["description"]),
		Date:        d.Time[v],
		Maintainers: d.Maintainers,
		Links:       map[string]string{},
	}
	_ = json.Unmarshal(m["keywords"], &sd.Keywords)
	_ = json.Unmarshal(m["_npmUser"], &sd.Publisher)
	if h := rawString(m["homepage"]); h != "" {
		sd.Links["homepage"] = h
	}
	var repo struct {
		URL string `json:"url"`
	}
	if json.Unmarshal(m["repository"], &repo) == nil && repo.URL != "" {
		sd.Links["repository"] = repo.URL
	} else if r := rawString(m["repository"]); r != "" {
		sd.Links["repository"] = r
	}
	sd.text = strings.ToLower(sd.Name + "\x00" + sd.Description + "\x00" + strings.Join(sd.Keywords, "\x00"))
	ix.m[d.Name] = sd
}

type searchQuery struct {
	terms       []string
	keywords    []string
	maintainers []string
	scope       string
}

func parseSearch(text string) searchQuery {
	var q searchQuery
	for _, f := range strings.Fields(strings.ToLower(text)) {
		k, v, ok := strings.Cut(f, ":")
		switch {
		case ok && (k == "keywords" || k == "keyword"):
			q.keywords = append(q.keywords, strings.Split(v, ",")...)
		case ok && (k == "maintainer" || k == "author" || k == "publisher"):
			q.maintainers = append(q.maintainers, v)
		case ok && k == "scope":
			q.scope = strings.TrimPrefix(v, "@")
		case ok && (k == "is" || k == "not" || k == "boost-exact"):
			// popularity qualifiers mean nothing here
		default:
			q.terms = append(q.terms, f)
		}
	}
	return q
}

// score returns how well sd matches q, 0 for no match.
func (q *searchQuery) score(sd *searchDoc) float64 {
	for _, t := range q.terms {
		if !strings.Contains(sd.text, t) {
			return 0
		}
	}
	for _, k := range q.keywords {
		if k != "" && !slices.ContainsFunc(sd.Keywords, func(x string) bool { return strings.EqualFold(x, k) }) {
			return 0
		}
	}
	for _, m := range q.maintainers {
		if !slices.ContainsFunc(sd.Maintainers, func(p person) bool { return p.Name == m }) && sd.Publisher.Name != m {
			return 0
		}
	}
	if q.scope != "" && !strings.HasPrefix(sd.Name, "@"+q.scope+"/") {
		return 0
	}
	if len(q.terms) == 0 {
		return 0.5
	}
	name := strings.ToLower(sd.Name)
	full := strings.Join(q.terms, " ")
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

func (c *call) search() {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		c.methodNotAllowed("GET, HEAD")
		return
	}
	qv := c.r.URL.Query()
	size := boundedInt(qv.Get("size"), 20, 1, 250)
	from := boundedInt(qv.Get("from"), 0, 0, 1<<20)
	q := parseSearch(qv.Get("text"))

	type hit struct {
		sd    *searchDoc
		score float64
	}
	var hits []hit
	ix := &c.s.index
	ix.mu.RLock()
	for _, sd := range ix.m {
		if sc := q.score(sd); sc > 0 {
			hits = append(hits, hit{sd, sc})
		}
	}
	ix.mu.RUnlock()
	slices.SortFunc(hits, func(a, b hit) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.sd.Name, b.sd.Name)
	})
	total := len(hits)
	if from > len(hits) {
		from = len(hits)
	}
	hits = hits[from:]
	if len(hits) > size {
		hits = hits[:size]
	}
	base := c.s.baseURL(c.r)
	objects := make([]map[string]any, 0, len(hits))
	for _, h := range hits {
		sd := h.sd
		links := map[string]string{"npm": base + "/" + sd.Name}
		for k, v := range sd.Links {
			links[k] = v
		}
		maint := make([]map[string]string, 0, len(sd.Maintainers))
		for _, m := range sd.Maintainers {
			maint = append(maint, map[string]string{"username": m.Name, "email": m.Email})
		}
		kw := sd.Keywords
		if kw == nil {
			kw = []string{}
		}
		pkg := map[string]any{
			"name":        sd.Name,
			"version":     sd.Version,
			"description": sd.Description,
			"keywords":    kw,
			"date":        sd.Date,
			"links":       links,
			"publisher":   map[string]string{"username": sd.Publisher.Name, "email": sd.Publisher.Email},
			"maintainers": maint,
		}
		if scope, _, ok := strings.Cut(strings.TrimPrefix(sd.Name, "@"), "/"); ok && strings.HasPrefix(sd.Name, "@") {
			pkg["scope"] = scope
		} else {
			pkg["scope"] = "unscoped"
		}
		objects = append(objects, map[string]any{
			"package": pkg,
			"score": map[string]any{
				"final":  h.score,
				"detail": map[string]float64{"quality": 1, "popularity": 1, "maintenance": 1},
			},
			"searchScore": h.score,
			"flags":       map[string]any{},
			"updated":     sd.Date,
		})
	}
	c.json(http.StatusOK, map[string]any{
		"objects": objects,
		"total":   total,
		"time":    c.s.now().UTC().Format(http.TimeFormat),
	})
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
