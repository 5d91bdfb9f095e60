package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ScopesFile is the conventional scopes file in the data directory.
const ScopesFile = "scopes.json"

// Errors from Scopes.
var (
	ErrScopeExists = errors.New("auth: scope exists")
	ErrNoSuchScope = errors.New("auth: no such scope")
)

// How a scope got its owner.
const (
	ScopeFirstPublish = "first-publish" // the user who first published in it
	ScopeOrganization = "organization"  // created by an admin (bun13 scope add)
	ScopeExisting     = "existing"      // found in packages stored before scopes had owners
)

// Scope is an npm scope ("@team") and who may create packages in it: the
// owner and the members. Writing to an existing package still needs its
// maintainers' list.
type Scope struct {
	Name    string    `json:"name"` // without '@'
	Owner   string    `json:"owner"`
	Members []string  `json:"members"`
	Origin  string    `json:"origin"`
	Created time.Time `json:"created"`
}

func (s Scope) key() string { return s.Name }

// Allows reports whether user may create packages in the scope.
func (s Scope) Allows(user string) bool {
	return user != "" && (s.Owner == user || slices.Contains(s.Members, user))
}

// Scopes is the scopes file: a JSON list the bun13 CLI edits (under a
// file lock) while the server runs, like the users file.
//
// It is safe for concurrent use. Fields must be set before first use.
type Scopes struct {
	// CheckInterval bounds how often lookups stat the file. Zero means
	// DefaultCheckInterval.
	CheckInterval time.Duration

	t table[Scope]
}

// OpenScopes loads the scopes file at path. A missing file is an empty
// list, created on the first change; an empty path keeps scopes in
// memory.
func OpenScopes(path string) (*Scopes, error) {
	s := &Scopes{t: table[Scope]{path: path}}
	return s, s.t.reload()
}

// ScopeName returns the scope without '@' and checks it is a valid name.
func ScopeName(s string) (string, error) {
	s = strings.TrimPrefix(s, "@")
	if err := ValidUserName(s); err != nil {
		return "", fmt.Errorf("auth: scope %q: %w", s, err)
	}
	return s, nil
}

// Get returns the scope called name (without '@').
func (s *Scopes) Get(name string, now time.Time) (Scope, bool) {
	_ = s.t.refresh(now, interval(s.CheckInterval))
	x, ok := s.t.snap().rows[name]
	return x, ok
}

// List returns every scope sorted by name.
func (s *Scopes) List(now time.Time) []Scope {
	_ = s.t.refresh(now, interval(s.CheckInterval))
	out := values(s.t.snap().rows)
	slices.SortFunc(out, func(a, b Scope) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Add creates an organization scope owned by owner.
func (s *Scopes) Add(name, owner string, now time.Time) error {
	name, err := ScopeName(name)
	if err != nil {
		return err
	}
	if err := ValidUserName(owner); err != nil {
		return err
	}
	return s.t.update(func(rows map[string]Scope) error {
		if _, ok := rows[name]; ok {
			return fmt.Errorf("%w: @%s", ErrScopeExists, name)
		}
		rows[name] = Scope{Name: name, Owner: owner, Members: []string{}, Origin: ScopeOrganization, Created: now.UTC()}
		return nil
	})
}

// AddMember lets user create packages in the scope.
func (s *Scopes) AddMember(name, user string) error {
	return s.modify(name, user, func(x *Scope) {
		if x.Owner != user && !slices.Contains(x.Members, user) {
			x.Members = append(x.Members, user)
			slices.Sort(x.Members)
		}
	})
}

// RemoveMember takes user out of the scope's members.
func (s *Scopes) RemoveMember(name, user string) error {
	return s.modify(name, user, func(x *Scope) {
		x.Members = slices.DeleteFunc(x.Members, func(m string) bool { return m == user })
	})
}

func (s *Scopes) modify(name, user string, fn func(*Scope)) error {
	name, err := ScopeName(name)
	if err != nil {
		return err
	}
	if err := ValidUserName(user); err != nil {
		return err
	}
	return s.t.update(func(rows map[string]Scope) error {
		x, ok := rows[name]
		if !ok {
			return fmt.Errorf("%w: @%s", ErrNoSuchScope, name)
		}
		x.Members = slices.Clone(x.Members)
		fn(&x)
		if x.Members == nil {
			x.Members = []string{}
		}
		rows[name] = x
		return nil
	})
}

// Claim returns the scope called name, creating it owned by user when no
// one owns it (the first publish in a scope). The check and the creation
// happen under the file lock, so two first publishes cannot both own it.
func (s *Scopes) Claim(name, user string, now time.Time) (Scope, error) {
	if x, ok := s.Get(name, now); ok {
		return x, nil
	}
	var out Scope
	err := s.t.update(func(rows map[string]Scope) error {
		if x, ok := rows[name]; ok {
			out = x
			return nil
		}
		out = Scope{Name: name, Owner: user, Members: []string{}, Origin: ScopeFirstPublish, Created: now.UTC()}
		rows[name] = out
		return nil
	})
	return out, err
}

// Seed gives every scope in found that has no entry yet an owner: found
// maps a scope to the maintainers of its stored packages, first
// maintainer of the first package (by name) first. The first becomes the
// owner, the others members. It writes only when something is missing
// and returns the scopes it added.
func (s *Scopes) Seed(found map[string][]string, now time.Time) ([]string, error) {
	var added []string
	snap := s.t.snap().rows
	missing := false
	for name := range found {
		if _, ok := snap[name]; !ok {
			missing = true
		}
	}
	if !missing {
		return nil, nil
	}
	err := s.t.update(func(rows map[string]Scope) error {
		added = added[:0]
		for name, people := range found {
			if _, ok := rows[name]; ok || len(people) == 0 {
				continue
			}
			members := []string{}
			for _, p := range people[1:] {
				if p != people[0] && !slices.Contains(members, p) {
					members = append(members, p)
				}
			}
			slices.Sort(members)
			rows[name] = Scope{Name: name, Owner: people[0], Members: members, Origin: ScopeExisting, Created: now.UTC()}
			added = append(added, name)
		}
		return nil
	})
	slices.Sort(added)
	return added, err
}
