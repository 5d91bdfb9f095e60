package registry

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/registry/packument"
	"github.com/bun13/bun13/impl/registry/pkgname"
)

// newPackage applies the rules for creating package name: in a scope,
// only the scope's owner and members (or an admin) may; the first
// publish in a scope nobody owns makes the publisher its owner; then the
// look-alike rule. An unscoped name is first-come.
func (s *Server) newPackage(name string, a packument.Actor, override bool, now time.Time) error {
	scope, _ := pkgname.Split(name)
	var owned bool
	if scope != "" {
		sc, ok := s.scopes.Get(scope, now)
		if ok && !sc.Allows(a.Name) && !a.Admin {
			return scopeRefusal(sc, a.Name)
		}
		owned = ok
	}
	if err := s.similarFromStore(name); err != nil {
		return err
	}
	if err := s.similar.claim(name, a.Name, override); err != nil {
		return err
	}
	if scope != "" && !owned {
		sc, err := s.scopes.Claim(scope, a.Name, now)
		if err != nil {
			return err
		}
		if !sc.Allows(a.Name) && !a.Admin {
			return scopeRefusal(sc, a.Name) // someone claimed it first
		}
		if sc.Owner == a.Name && sc.Origin == auth.ScopeFirstPublish {
			s.log.Info("scope claimed by its first publisher", "scope", "@"+scope, "user", a.Name)
		}
	}
	return nil
}

func scopeRefusal(sc auth.Scope, user string) error {
	return packument.Errorf(http.StatusForbidden, "scope @%s belongs to %s; user %q is not a member (the owner or an admin adds members: bun13 scope member add @%s %s, or npm org set %s %s)", sc.Name, sc.Owner, user, sc.Name, user, sc.Name, user)
}

// ---- HTTP: npm's org API (npm org set|rm|ls) and an admin list/create.

// orgScope returns the scope of the request (c.user holds the raw
// segment), answering 400/404 itself when it fails.
func (c *call) orgScope() (auth.Scope, bool) {
	name, err := auth.ScopeName(c.user)
	if err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return auth.Scope{}, false
	}
	sc, ok := c.s.scopes.Get(name, c.s.now())
	if !ok {
		c.fail(http.StatusNotFound, "no such scope @"+name)
		return auth.Scope{}, false
	}
	return sc, true
}

// orgUsers handles /-/org/:scope/user: GET lists {user: role} (members,
// owner, admins), PUT {"user", "role"} adds a member, DELETE {"user"}
// removes one (the owner or an admin).
func (c *call) orgUsers() {
	if !c.requireUser() {
		return
	}
	sc, ok := c.orgScope()
	if !ok {
		return
	}
	admin := c.id.Role == RoleAdmin
	switch c.r.Method {
	case http.MethodGet, http.MethodHead:
		if !admin && !sc.Allows(c.id.User) {
			c.fail(http.StatusNotFound, "no such scope @"+sc.Name)
			return
		}
		out := map[string]string{sc.Owner: "owner"}
		for _, m := range sc.Members {
			out[m] = "developer"
		}
		c.json(http.StatusOK, out)
	case http.MethodPut, http.MethodDelete:
		if !admin && sc.Owner != c.id.User {
			c.fail(http.StatusForbidden, "only the owner of @"+sc.Name+" or an admin may change its members")
			return
		}
		var body struct {
			User string `json:"user"`
			Role string `json:"role"`
		}
		if err := c.readJSON(maxSmallBody, &body); err != nil {
			c.failErr(err)
			return
		}
		if err := pkgname.ValidateUser(body.User); err != nil {
			c.fail(http.StatusBadRequest, err.Error())
			return
		}
		if c.r.Method == http.MethodPut {
			if body.Role != "" && body.Role != "developer" && body.Role != "admin" {
				c.fail(http.StatusBadRequest, "role must be developer (owners change with bun13 scope add)")
				return
			}
			if c.s.auth != nil {
				if _, exists := c.s.auth.UserEmail(body.User); !exists {
					c.fail(http.StatusNotFound, "no such user "+body.User)
					return
				}
			}
			if err := c.s.scopes.AddMember(sc.Name, body.User); err != nil {
				c.scopeErr(err)
				return
			}
		} else if err := c.s.scopes.RemoveMember(sc.Name, body.User); err != nil {
			c.scopeErr(err)
			return
		}
		c.s.log.Info("scope members", "scope", "@"+sc.Name, "user", body.User, "remove", c.r.Method == http.MethodDelete, "by", c.id.User)
		c.json(http.StatusOK, map[string]any{"org": map[string]any{"name": sc.Name}, "user": body.User, "role": "developer"})
	default:
		c.methodNotAllowed("GET, HEAD, PUT, DELETE")
	}
}

// scopesAdmin handles /-/bun13/scopes (GET: every scope) and
// /-/bun13/scopes/:scope (PUT {"owner"}: an organization), admins only.
func (c *call) scopesAdmin() {
	if !c.requireRole(RoleAdmin) {
		return
	}
	switch {
	case c.user == "" && (c.r.Method == http.MethodGet || c.r.Method == http.MethodHead):
		list := c.s.scopes.List(c.s.now())
		if list == nil {
			list = []auth.Scope{}
		}
		c.json(http.StatusOK, map[string]any{"scopes": list})
	case c.user != "" && c.r.Method == http.MethodPut:
		var body struct {
			Owner string `json:"owner"`
		}
		if err := c.readJSON(maxSmallBody, &body); err != nil {
			c.failErr(err)
			return
		}
		if c.s.auth != nil {
			if _, exists := c.s.auth.UserEmail(body.Owner); !exists {
				c.fail(http.StatusBadRequest, "owner: no such user "+body.Owner)
				return
			}
		}
		if err := c.s.scopes.Add(c.user, body.Owner, c.s.now()); err != nil {
			c.scopeErr(err)
			return
		}
		name := strings.TrimPrefix(c.user, "@")
		sc, _ := c.s.scopes.Get(name, c.s.now())
		c.s.log.Info("scope created", "scope", "@"+name, "owner", body.Owner, "by", c.id.User)
		b, _ := json.Marshal(sc)
		c.raw(http.StatusCreated, "application/json", b)
	default:
		c.methodNotAllowed("GET, HEAD, PUT")
	}
}

func (c *call) scopeErr(err error) {
	switch {
	case errors.Is(err, auth.ErrNoSuchScope):
		c.fail(http.StatusNotFound, err.Error())
	case errors.Is(err, auth.ErrScopeExists):
		c.fail(http.StatusConflict, err.Error())
	case errors.Is(err, auth.ErrBadUserName):
		c.fail(http.StatusBadRequest, err.Error())
	default:
		c.failErr(err)
	}
}
