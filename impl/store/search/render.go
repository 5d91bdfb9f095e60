package search

import (
	"net/http"
	"strings"
	"time"
)

// Render returns the /-/v1/search response body for r: base is the
// registry's base URL (for links.npm), now the response time.
func Render(base string, now time.Time, r Result) map[string]any {
	objects := make([]map[string]any, 0, len(r.Hits))
	for _, h := range r.Hits {
		links := map[string]string{"npm": base + "/" + h.Name}
		for k, v := range h.Links {
			links[k] = v
		}
		maint := make([]map[string]string, 0, len(h.Maintainers))
		for _, m := range h.Maintainers {
			maint = append(maint, map[string]string{"username": m.Name, "email": m.Email})
		}
		kw := h.Keywords
		if kw == nil {
			kw = []string{}
		}
		pkg := map[string]any{
			"name":        h.Name,
			"version":     h.Version,
			"description": h.Description,
			"keywords":    kw,
			"date":        h.Date,
			"links":       links,
			"publisher":   map[string]string{"username": h.Publisher.Name, "email": h.Publisher.Email},
			"maintainers": maint,
		}
		if scope, _, ok := strings.Cut(strings.TrimPrefix(h.Name, "@"), "/"); ok && strings.HasPrefix(h.Name, "@") {
			pkg["scope"] = scope
		} else {
			pkg["scope"] = "unscoped"
		}
		objects = append(objects, map[string]any{
			"package": pkg,
			"score": map[string]any{
				"final":  h.Score,
				"detail": map[string]float64{"quality": 1, "popularity": 1, "maintenance": 1},
			},
			"searchScore": h.Score,
			"flags":       map[string]any{},
			"updated":     h.Date,
		})
	}
	return map[string]any{
		"objects": objects,
		"total":   r.Total,
		"time":    now.UTC().Format(http.TimeFormat),
	}
}
