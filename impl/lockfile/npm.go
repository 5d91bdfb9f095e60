package lockfile

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
)

// npmEntry is one value of package-lock.json's "packages" map.
type npmEntry struct {
	Name                 string            `json:"name"`
	Version              string            `json:"version"`
	Resolved             string            `json:"resolved"`
	Integrity            string            `json:"integrity"`
	Link                 bool              `json:"link"`
	Dev                  bool              `json:"dev"`
	Optional             bool              `json:"optional"`
	DevOptional          bool              `json:"devOptional"`
	Peer                 bool              `json:"peer"`
	Dependencies         map[string]string `json:"dependencies"`
	OptionalDependencies map[string]string `json:"optionalDependencies"`
	PeerDependencies     map[string]string `json:"peerDependencies"`
}

// Skipped is a package-lock entry Import could not carry, and why.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// ImportReport lists what Import did not carry over.
type ImportReport struct {
	Packages int       `json:"packages"`
	Skipped  []Skipped `json:"skipped"`
}

// ImportNPM builds the package list of npm's package-lock.json
// (lockfileVersion 2 or 3, its "packages" map). Each installed path becomes
// a record; copies of one name@version at several paths become one record.
// Dependencies are resolved the way Node does, from the depending path up
// to the root node_modules. Entries a BUN1 record cannot hold (links, git,
// file and other non-http tarballs, missing integrity) are reported in the
// ImportReport, never dropped silently; so are dependencies that resolve
// to such an entry or to nothing (except missing optional and peer ones,
// which npm itself leaves out).
func ImportNPM(data []byte) ([]Package, ImportReport, error) {
	var doc struct {
		LockfileVersion int                 `json:"lockfileVersion"`
		Packages        map[string]npmEntry `json:"packages"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, ImportReport{}, fmt.Errorf("package-lock.json: %w", err)
	}
	if doc.LockfileVersion != 2 && doc.LockfileVersion != 3 {
		return nil, ImportReport{}, fmt.Errorf("package-lock.json: lockfileVersion %d, want 2 or 3", doc.LockfileVersion)
	}
	if doc.Packages == nil {
		return nil, ImportReport{}, fmt.Errorf("package-lock.json: no \"packages\" map")
	}
	var rep ImportReport
	paths := make([]string, 0, len(doc.Packages))
	for p := range doc.Packages {
		paths = append(paths, p)
	}
	slices.Sort(paths)

	type key struct{ name, version string }
	idx := map[key]int{}       // name@version -> index in pkgs
	atPath := map[string]int{} // install path -> index in pkgs
	var pkgs []Package
	for _, p := range paths {
		if p == "" {
			continue // the project itself
		}
		e := doc.Packages[p]
		name := e.Name
		if name == "" {
			name = nameFromPath(p)
		}
		reason := ""
		switch {
		case e.Link:
			reason = "link (workspace or file: symlink) has no tarball"
		case !strings.HasPrefix(p, "node_modules/") && !strings.Contains(p, "/node_modules/"):
			reason = "not under node_modules (workspace source folder)"
		case e.Resolved == "":
			reason = "no resolved URL (bundled or unresolved)"
		case !strings.HasPrefix(e.Resolved, "http://") && !strings.HasPrefix(e.Resolved, "https://"):
			reason = fmt.Sprintf("resolved %q is not an http(s) tarball (git, file or other)", e.Resolved)
		}
		integrity := pickIntegrity(e.Integrity)
		if reason == "" && integrity == "" {
			reason = fmt.Sprintf("no usable integrity (%q)", e.Integrity)
		}
		if reason == "" {
			cand := Package{Name: name, Version: e.Version, Resolved: e.Resolved, Integrity: integrity}
			if err := checkFields(&cand); err != nil {
				reason = err.Error()
			}
		}
		if reason != "" {
			rep.Skipped = append(rep.Skipped, Skipped{Path: p, Reason: reason})
			continue
		}
		var f PkgFlags
		if e.Dev || e.DevOptional {
			f |= Dev
		}
		if e.Optional || e.DevOptional {
			f |= Optional
		}
		if e.Peer {
			f |= Peer
		}
		k := key{name, e.Version}
		if i, ok := idx[k]; ok {
			// The same release installed at a second path: one record,
			// flags narrowed to what holds everywhere.
			q := &pkgs[i]
			if q.Resolved != e.Resolved || q.Integrity != integrity {
				rep.Skipped = append(rep.Skipped, Skipped{Path: p, Reason: fmt.Sprintf("%s@%s is also installed from %s with other bytes", name, e.Version, q.Resolved)})
				continue
			}
			q.Flags &= f
			atPath[p] = i
			continue
		}
		idx[k] = len(pkgs)
		atPath[p] = len(pkgs)
		pkgs = append(pkgs, Package{Name: name, Version: e.Version, Resolved: e.Resolved, Integrity: integrity, Flags: f})
	}

	// Resolve dependencies per install path; a record at several paths
	// takes the union (it is the same release, so normally the same set).
	for _, p := range paths {
		i, ok := atPath[p]
		if !ok {
			continue
		}
		e := doc.Packages[p]
		deps := map[uint32]bool{}
		add := func(m map[string]string, soft bool) {
			for dep := range m {
				target, found := resolveNode(doc.Packages, p, dep)
				j, carried := atPath[target]
				switch {
				case !found && soft:
				case !found:
					rep.Skipped = append(rep.Skipped, Skipped{Path: p, Reason: fmt.Sprintf("dependency %q is not installed", dep)})
				case !carried:
					rep.Skipped = append(rep.Skipped, Skipped{Path: p, Reason: fmt.Sprintf("dependency %q resolves to %s, which is not carried", dep, target)})
				case j != i:
					deps[uint32(j)] = true
				}
			}
		}
		add(e.Dependencies, false)
		add(e.OptionalDependencies, true)
		add(e.PeerDependencies, true)
		for d := range deps {
			if !slices.Contains(pkgs[i].Dependencies, d) {
				pkgs[i].Dependencies = append(pkgs[i].Dependencies, d)
			}
		}
		slices.Sort(pkgs[i].Dependencies)
	}
	rep.Packages = len(pkgs)
	return pkgs, rep, nil
}

// nameFromPath is the package name an install path ends in.
func nameFromPath(p string) string {
	i := strings.LastIndex(p, "node_modules/")
	if i < 0 {
		return path.Base(p)
	}
	return p[i+len("node_modules/"):]
}

// resolveNode finds dep as Node would from the package installed at from:
// from/node_modules/dep, then each ancestor's node_modules, then the root.
func resolveNode(pkgs map[string]npmEntry, from, dep string) (string, bool) {
	dir := from
	for {
		cand := dir + "/node_modules/" + dep
		if dir == "" {
			cand = "node_modules/" + dep
		}
		if _, ok := pkgs[cand]; ok {
			return cand, true
		}
		if dir == "" {
			return "", false
		}
		// Up one package: strip "/node_modules/<name>" (scoped names have
		// a slash of their own).
		i := strings.LastIndex(dir, "node_modules/")
		if i <= 0 {
			dir = ""
			continue
		}
		dir = strings.TrimSuffix(dir[:i], "/")
	}
}

// pickIntegrity chooses the strongest valid SRI of a space-separated list.
func pickIntegrity(s string) string {
	best, rank := "", len(integrityAlgs)
	for _, f := range strings.Fields(s) {
		for r, a := range integrityAlgs {
			if strings.HasPrefix(f, a.prefix) && r < rank && checkIntegrity([]byte(f)) == nil {
				best, rank = f, r
			}
		}
	}
	return best
}
