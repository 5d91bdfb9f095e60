package registry

import (
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/bun13/bun13/impl/registry/packument"
	"github.com/bun13/bun13/impl/registry/pkgname"
)

// similarIndex maps pkgname.Similar forms to the packages stored under
// them (tombstones included: an unpublished name still has owners) with
// their maintainers, for the look-alike rule. It never takes a package
// lock, so a check under one package's lock cannot deadlock with another.
type similarIndex struct {
	mu sync.Mutex
	m  map[string][]similarEntry
}

type similarEntry struct {
	name        string
	maintainers []string
}

// update records d's maintainers.
func (ix *similarIndex) update(d *packument.Doc) {
	ms := make([]string, 0, len(d.Maintainers))
	for _, p := range d.Maintainers {
		ms = append(ms, p.Name)
	}
	k := pkgname.Similar(d.Name)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.m == nil {
		ix.m = map[string][]similarEntry{}
	}
	es := ix.m[k]
	for i := range es {
		if es[i].name == d.Name {
			es[i].maintainers = ms
			return
		}
	}
	ix.m[k] = append(es, similarEntry{name: d.Name, maintainers: ms})
}

// claim checks that a new package name may be created by user (admins
// may pass override) and, when it may, records it at once with user as
// its maintainer, so two concurrent look-alike creations cannot both
// pass.
func (ix *similarIndex) claim(name, user string, override bool) error {
	k := pkgname.Similar(name)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.m == nil {
		ix.m = map[string][]similarEntry{}
	}
	var others []string
	for _, e := range ix.m[k] {
		if e.name != name && !slices.Contains(e.maintainers, user) {
			others = append(others, e.name)
		}
	}
	if len(others) > 0 && !override {
		return packument.Errorf(http.StatusForbidden, "package name %q is too similar to the existing package %s (names are compared lower-cased without '.', '-' and '_'); only its maintainers may publish it (an admin may override with ?allow-similar=true)", name, strings.Join(others, ", "))
	}
	for _, e := range ix.m[k] {
		if e.name == name {
			return nil
		}
	}
	ix.m[k] = append(ix.m[k], similarEntry{name: name, maintainers: []string{user}})
	return nil
}
