package registry

import (
	"net/http"
	"strings"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/ratelimit"
)

// The routing table. npm paths do not fit http.ServeMux patterns well (a
// scoped name is one or two segments, @scope%2fname or @scope/name, and a
// segment may be a version, a dist-tag, "-" or "-rev"), so a small hand
// router splits the decoded path. Both scoped forms decode to the same
// path, "/@scope/name".
var (
	rtRoot       = &route{tpl: "/", class: ratelimit.ClassRead, public: true, h: (*call).root}
	rtPing       = &route{tpl: "/-/ping", class: ratelimit.ClassRead, public: true, h: (*call).ping}
	rtHealthz    = &route{tpl: "/-/healthz", class: ratelimit.ClassRead, public: true, quiet: true, h: (*call).healthz}
	rtReadyz     = &route{tpl: "/-/readyz", class: ratelimit.ClassRead, public: true, quiet: true, h: (*call).readyz}
	rtWhoami     = &route{tpl: "/-/whoami", class: ratelimit.ClassRead, h: (*call).whoami}
	rtSearch     = &route{tpl: "/-/v1/search", class: ratelimit.ClassRead, h: (*call).search}
	rtWebLogin   = &route{tpl: "/-/v1/login", class: ratelimit.ClassLogin, public: true, login: true, h: (*call).webLogin}
	rtUser       = &route{tpl: "/-/user/:user", class: ratelimit.ClassLogin, public: true, login: true, h: (*call).userDoc}
	rtLogout     = &route{tpl: "/-/user/token/:token", class: ratelimit.ClassLogin, public: true, login: true, h: (*call).logout}
	rtProfile    = &route{tpl: "/-/npm/v1/user", class: ratelimit.ClassRead, h: (*call).profile}
	rtTokens     = &route{tpl: "/-/npm/v1/tokens", class: ratelimit.ClassLogin, h: (*call).tokens}
	rtToken      = &route{tpl: "/-/npm/v1/tokens/token/:key", class: ratelimit.ClassLogin, h: (*call).deleteToken}
	rtAudit      = &route{tpl: "/-/npm/v1/security/*", class: ratelimit.ClassRead, public: true, h: (*call).audit}
	rtDistTags   = &route{tpl: "/-/package/:name/dist-tags", class: ratelimit.ClassRead, h: (*call).distTags}
	rtDistTag    = &route{tpl: "/-/package/:name/dist-tags/:tag", class: ratelimit.ClassPublish, h: (*call).distTag}
	rtPackument  = &route{tpl: "/:name", class: ratelimit.ClassRead, h: (*call).packument}
	rtPublish    = &route{tpl: "/:name", class: ratelimit.ClassPublish, h: (*call).packument}
	rtDistTagGET = &route{tpl: "/-/package/:name/dist-tags/:tag", class: ratelimit.ClassRead, h: (*call).distTag}
	rtRev        = &route{tpl: "/:name/-rev/:rev", class: ratelimit.ClassPublish, h: (*call).packumentRev}
	rtVersion    = &route{tpl: "/:name/:version", class: ratelimit.ClassRead, h: (*call).versionGET}
	rtTarball    = &route{tpl: "/:name/-/:file", class: ratelimit.ClassRead, h: (*call).tarball}
	rtTarballRev = &route{tpl: "/:name/-/:file/-rev/:rev", class: ratelimit.ClassPublish, h: (*call).deleteTarball}
	rtOrgUsers   = &route{tpl: "/-/org/:scope/user", class: ratelimit.ClassPublish, h: (*call).orgUsers}
	rtScopes     = &route{tpl: "/-/bun13/scopes", class: ratelimit.ClassPublish, h: (*call).scopesAdmin}
	rtScope      = &route{tpl: "/-/bun13/scopes/:scope", class: ratelimit.ClassPublish, h: (*call).scopesAdmin}
	rtMetrics    = &route{tpl: "/metrics", class: ratelimit.ClassRead, h: (*call).metrics}
	rtMux        = &route{tpl: "/_*", class: ratelimit.ClassRead, h: (*call).mux}
	rtNotFound   = &route{tpl: "other", class: ratelimit.ClassRead, public: true, h: (*call).notFound}
	rtBadName    = &route{tpl: "other", class: ratelimit.ClassRead, public: true, h: (*call).badPath}
)

// match picks the route of c.r and fills c's path parameters.
func (s *Server) match(c *call) *route {
	p := c.r.URL.Path
	if p == "/" {
		return rtRoot
	}
	if strings.HasPrefix(p, "/_") {
		// Only what is mounted: "/__proto__" and friends fall through to
		// the name check below and get a JSON 400.
		if _, pattern := s.Mux.Handler(c.r); pattern != "" {
			return rtMux
		}
	}
	if p == "/metrics" {
		return rtMetrics
	}
	if rest, ok := strings.CutPrefix(p, "/-/"); ok {
		return s.matchSpecial(c, rest)
	}
	segs := strings.Split(p[1:], "/")
	for _, seg := range segs {
		if seg == "." || seg == ".." {
			return rtBadName
		}
	}
	name, rest, ok := splitName(segs)
	if !ok {
		return rtBadName
	}
	c.name = name
	// Writes to a package count against the publish budget.
	write := c.r.Method != http.MethodGet && c.r.Method != http.MethodHead
	switch {
	case len(rest) == 0:
		if write {
			return rtPublish
		}
		return rtPackument
	case len(rest) == 1 && rest[0] != "" && rest[0] != "-" && rest[0] != "-rev":
		c.version = rest[0]
		return rtVersion
	case len(rest) == 2 && rest[0] == "-rev" && rest[1] != "":
		c.rev = rest[1]
		return rtRev
	case len(rest) == 2 && rest[0] == "-" && rest[1] != "":
		c.file = rest[1]
		return rtTarball
	case len(rest) == 4 && rest[0] == "-" && rest[1] != "" && rest[2] == "-rev" && rest[3] != "":
		c.file, c.rev = rest[1], rest[3]
		return rtTarballRev
	}
	return rtNotFound
}

// splitName takes the package name (one segment, or two for @scope/name)
// off the front of segs.
func splitName(segs []string) (name string, rest []string, ok bool) {
	if len(segs) == 0 || segs[0] == "" {
		return "", nil, false
	}
	if strings.HasPrefix(segs[0], "@") {
		if len(segs) < 2 || segs[1] == "" {
			return "", nil, false
		}
		return segs[0] + "/" + segs[1], segs[2:], true
	}
	return segs[0], segs[1:], true
}

func (s *Server) matchSpecial(c *call, rest string) *route {
	switch rest {
	case "ping":
		return rtPing
	case "healthz":
		return rtHealthz
	case "readyz":
		return rtReadyz
	case "whoami":
		return rtWhoami
	case "v1/search":
		return rtSearch
	case "v1/login":
		return rtWebLogin
	case "npm/v1/user":
		return rtProfile
	case "npm/v1/tokens":
		return rtTokens
	case "bun13/scopes":
		return rtScopes
	}
	if sc, ok := strings.CutPrefix(rest, "bun13/scopes/"); ok && sc != "" && !strings.Contains(sc, "/") {
		c.user = sc
		return rtScope
	}
	if o, ok := strings.CutPrefix(rest, "org/"); ok {
		if sc, ok := strings.CutSuffix(o, "/user"); ok && sc != "" && !strings.Contains(sc, "/") {
			c.user = sc
			return rtOrgUsers
		}
	}
	if u, ok := strings.CutPrefix(rest, "user/org.couchdb.user:"); ok {
		// npm may append /-rev/REV when retrying a login after 409.
		u, _, _ = strings.Cut(u, "/")
		c.user = u
		return rtUser
	}
	if t, ok := strings.CutPrefix(rest, "user/token/"); ok {
		c.key = t
		return rtLogout
	}
	if k, ok := strings.CutPrefix(rest, "npm/v1/tokens/token/"); ok {
		c.key = k
		return rtToken
	}
	if strings.HasPrefix(rest, "npm/v1/security/") {
		return rtAudit
	}
	if p, ok := strings.CutPrefix(rest, "package/"); ok {
		segs := strings.Split(p, "/")
		name, tail, ok := splitName(segs)
		if !ok {
			return rtBadName
		}
		c.name = name
		switch {
		case len(tail) == 1 && tail[0] == "dist-tags":
			return rtDistTags
		case len(tail) == 2 && tail[0] == "dist-tags" && tail[1] != "":
			c.tag = tail[1]
			if c.r.Method == http.MethodGet || c.r.Method == http.MethodHead {
				return rtDistTagGET
			}
			return rtDistTag
		}
	}
	return rtNotFound
}

func (c *call) notFound() { c.fail(http.StatusNotFound, "not found") }

func (c *call) badPath() { c.fail(http.StatusBadRequest, "invalid package name in path") }

func (c *call) root() {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		c.methodNotAllowed("GET, HEAD")
		return
	}
	c.json(http.StatusOK, map[string]any{"db_name": "registry", "engine": "bun13"})
}

func (c *call) ping() { c.json(http.StatusOK, map[string]any{}) }

func (c *call) audit() {
	if c.r.Method != http.MethodPost {
		c.methodNotAllowed("POST")
		return
	}
	// Clients retry audit errors for a long time; an empty answer at
	// once ("no advisories known") keeps installs fast.
	c.raw(http.StatusOK, "application/json", []byte("{}"))
}

func (c *call) metrics() {
	if c.cfg.FeatureFlags&config.Metrics == 0 {
		c.notFound()
		return
	}
	c.s.metrics.Handler().ServeHTTP(&c.w, c.r)
}

func (s *Server) metricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.store.Enabled(config.Metrics) {
			http.NotFound(w, r)
			return
		}
		s.metrics.Handler().ServeHTTP(w, r)
	})
}

func (c *call) mux() { c.s.Mux.ServeHTTP(&c.w, c.withIdentity()) }
