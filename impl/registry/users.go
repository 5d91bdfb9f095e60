package registry

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/ratelimit"
	"github.com/bun13/bun13/impl/registry/pkgname"
)

func (c *call) whoami() {
	if !c.requireUser() {
		return
	}
	c.json(http.StatusOK, map[string]string{"username": c.id.User})
}

// webLogin answers npm's POST /-/v1/login with a 404: any 4xx makes npm
// fall back to the legacy PUT /-/user login.
func (c *call) webLogin() {
	c.fail(http.StatusNotFound, "web login is not supported; use legacy login (npm login --auth-type=legacy)")
}

func (c *call) userDoc() {
	name, err := url.PathUnescape(c.user)
	if err != nil {
		c.fail(http.StatusBadRequest, "bad user name")
		return
	}
	c.user = name
	switch c.r.Method {
	case http.MethodGet, http.MethodHead:
		c.getUser()
	case http.MethodPut:
		c.login()
	default:
		c.methodNotAllowed("GET, HEAD, PUT")
	}
}

// getUser answers GET /-/user/org.couchdb.user:NAME (npm owner add checks
// that the user exists).
func (c *call) getUser() {
	if c.cfg.FeatureFlags&config.AuthRequired != 0 && !c.requireUser() {
		return
	}
	if c.s.auth == nil {
		c.fail(http.StatusNotFound, "no such user")
		return
	}
	email, ok := c.s.auth.UserEmail(c.user)
	if !ok {
		c.fail(http.StatusNotFound, "no such user")
		return
	}
	c.json(http.StatusOK, map[string]any{
		"_id": "org.couchdb.user:" + c.user, "name": c.user, "email": email, "type": "user", "roles": []string{},
	})
}

type loginBody struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	Email    string `json:"email"`
}

// login handles PUT /-/user/org.couchdb.user:NAME, which is both `npm
// login` and `npm adduser`: a known user with the right password gets a
// token; an unknown one is created when open registration is on. The
// password is checked here once (bcrypt), never per request.
func (c *call) login() {
	var body loginBody
	if err := c.readJSON(maxSmallBody, &body); err != nil {
		c.failErr(err)
		return
	}
	if body.Name == "" {
		body.Name = c.user
	}
	if body.Name != c.user {
		c.fail(http.StatusBadRequest, "user name in the body does not match the URL")
		return
	}
	if err := pkgname.ValidateUser(c.user); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	if body.Password == "" {
		c.fail(http.StatusBadRequest, "password required")
		return
	}
	now := c.s.now()
	if !c.passwordAllowed(c.user, now) {
		return
	}
	if c.s.auth == nil {
		c.fail(http.StatusUnauthorized, "logins are disabled")
		return
	}
	token, id, err := c.s.auth.Login(c.user, body.Password, now)
	if err != nil {
		_, exists := c.s.auth.UserEmail(c.user)
		if exists || !c.s.opts.OpenRegistration {
			// One answer for unknown users and wrong passwords: the
			// response must not tell which names exist.
			c.passwordFailed(c.user, now)
			c.s.metrics.AuthFailure(c.s.auth.Reason(err))
			c.unauthorized("bad user name or password (new users are added by an admin: bun13 user add)")
			return
		}
		token, id, err = c.s.auth.Register(c.user, body.Password, body.Email, now)
		if errors.Is(err, ErrUserExists) {
			c.fail(http.StatusConflict, "user already exists")
			return
		}
		if err != nil {
			c.fail(http.StatusBadRequest, err.Error())
			return
		}
		c.s.log.Info("user registered", "user", c.user)
	}
	c.s.lockout.Succeed(c.r.Context(), c.user, c.clientAddr())
	c.id = id
	c.json(http.StatusCreated, map[string]any{
		"ok":    true,
		"id":    "org.couchdb.user:" + c.user,
		"rev":   "_we_dont_use_revs_any_more",
		"token": token,
	})
}

// logout handles DELETE /-/user/token/TOKEN (npm logout): the token in the
// path is revoked.
func (c *call) logout() {
	if c.r.Method != http.MethodDelete {
		c.methodNotAllowed("DELETE")
		return
	}
	if c.s.auth == nil {
		c.fail(http.StatusNotFound, "no such token")
		return
	}
	tok, err := url.PathUnescape(c.key)
	if err != nil || len(tok) > c.s.opts.MaxAuthHeader {
		c.fail(http.StatusBadRequest, "bad token")
		return
	}
	if err := c.s.auth.Logout(tok, c.s.now()); err != nil {
		c.failErr(err)
		return
	}
	c.json(http.StatusOK, map[string]any{"ok": true})
}

func (c *call) profile() {
	switch c.r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		c.changePassword()
		return
	default:
		c.methodNotAllowed("GET, HEAD, POST")
		return
	}
	if !c.requireUser() {
		return
	}
	c.writeProfile()
}

func (c *call) writeProfile() {
	email := c.id.Email
	if c.s.auth != nil {
		if e, ok := c.s.auth.UserEmail(c.id.User); ok {
			email = e
		}
	}
	c.json(http.StatusOK, map[string]any{
		"name": c.id.User, "email": email, "email_verified": false, "tfa": false,
		"fullname": "", "homepage": "", "freenode": "", "twitter": "", "github": "",
	})
}

type profileBody struct {
	Password *struct {
		Old string `json:"old"`
		New string `json:"new"`
	} `json:"password"`
}

// changePassword handles POST /-/npm/v1/user with {"password": {"old",
// "new"}} (npm profile set password): the old password is checked (and
// charged to the lockout), then every token issued before stops working,
// the one of this request included.
func (c *call) changePassword() {
	if !c.requireUser() {
		return
	}
	pc, ok := c.s.auth.(PasswordChanger)
	if !ok {
		c.fail(http.StatusNotFound, "password changes are not supported here")
		return
	}
	var body profileBody
	if err := c.readJSON(maxSmallBody, &body); err != nil {
		c.failErr(err)
		return
	}
	if body.Password == nil {
		c.fail(http.StatusBadRequest, "only the password can be changed here (body: {\"password\": {\"old\": ..., \"new\": ...}})")
		return
	}
	if body.Password.Old == "" || body.Password.New == "" {
		c.fail(http.StatusBadRequest, "password.old and password.new are required")
		return
	}
	now := c.s.now()
	if !c.passwordAllowed(c.id.User, now) {
		return
	}
	if err := pc.ChangePassword(c.id.User, body.Password.Old, body.Password.New, now); err != nil {
		if errors.Is(err, ErrBadCredentials) {
			c.passwordFailed(c.id.User, now)
			c.s.metrics.AuthFailure(c.s.auth.Reason(err))
			c.unauthorized("bad password")
			return
		}
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	c.s.log.Info("password changed", "user", c.id.User)
	c.writeProfile()
}

type tokenBody struct {
	Password string   `json:"password"`
	ReadOnly bool     `json:"readonly"`
	CIDR     []string `json:"cidr_whitelist"`
	Name     string   `json:"name"`
}

// tokens handles GET (list) and POST (create, password re-checked) of
// /-/npm/v1/tokens.
func (c *call) tokens() {
	if !c.requireUser() {
		return
	}
	if c.s.auth == nil {
		c.fail(http.StatusNotFound, "tokens are disabled")
		return
	}
	switch c.r.Method {
	case http.MethodGet, http.MethodHead:
		recs, err := c.s.auth.Tokens(c.id.User)
		if err != nil {
			c.failErr(err)
			return
		}
		if recs == nil {
			recs = []TokenRecord{}
		}
		for i := range recs {
			if recs[i].CIDR == nil {
				recs[i].CIDR = []string{}
			}
		}
		c.json(http.StatusOK, map[string]any{"objects": recs, "total": len(recs), "urls": map[string]string{}})
	case http.MethodPost:
		var body tokenBody
		if err := c.readJSON(maxSmallBody, &body); err != nil {
			c.failErr(err)
			return
		}
		if body.Password == "" {
			c.fail(http.StatusBadRequest, "password required")
			return
		}
		now := c.s.now()
		if !c.passwordAllowed(c.id.User, now) {
			return
		}
		tok, rec, err := c.s.auth.CreateToken(c.id.User, body.Password, body.ReadOnly, body.CIDR, now)
		if err != nil {
			if errors.Is(err, ErrBadCredentials) {
				c.passwordFailed(c.id.User, now)
				c.s.metrics.AuthFailure(c.s.auth.Reason(err))
				c.unauthorized("bad password")
				return
			}
			c.fail(http.StatusBadRequest, err.Error())
			return
		}
		if rec.CIDR == nil {
			rec.CIDR = []string{}
		}
		c.json(http.StatusCreated, map[string]any{
			"token": tok, "key": rec.Key, "name": rec.Name, "readonly": rec.ReadOnly,
			"cidr_whitelist": rec.CIDR, "created": rec.Created.UTC().Format(time.RFC3339),
			"updated": rec.Updated.UTC().Format(time.RFC3339),
		})
	default:
		c.methodNotAllowed("GET, HEAD, POST")
	}
}

func (c *call) deleteToken() {
	if c.r.Method != http.MethodDelete {
		c.methodNotAllowed("DELETE")
		return
	}
	if !c.requireUser() {
		return
	}
	if c.s.auth == nil {
		c.fail(http.StatusNotFound, "no such token")
		return
	}
	err := c.s.auth.RevokeToken(c.id, c.key)
	if errors.Is(err, ErrNoToken) {
		c.fail(http.StatusNotFound, "no such token")
		return
	}
	if err != nil {
		c.failErr(err)
		return
	}
	c.w.WriteHeader(http.StatusNoContent)
}

// clientAddr is the client's address for the login lockout: the peer, or
// X-Forwarded-For from a trusted proxy.
func (c *call) clientAddr() string {
	if c.ip.IsValid() {
		return c.ip.String()
	}
	return ratelimit.ClientIP(c.r, c.s.opts.TrustedProxies).String()
}

// passwordAllowed applies the login lockout (impl/ratelimit/lockout) before a
// password of account is checked; it answers 429 when not allowed.
func (c *call) passwordAllowed(account string, now time.Time) bool {
	retry, ok := c.s.lockout.Allow(c.r.Context(), account, c.clientAddr(), now)
	if ok {
		return true
	}
	c.w.Header().Set("Retry-After", strconv.FormatInt(int64(max(time.Second, retry.Round(time.Second))/time.Second), 10))
	c.s.metrics.RateLimited(ratelimit.ClassLogin)
	c.fail(http.StatusTooManyRequests, "too many failed password attempts for this account from this address; retry later")
	return false
}

func (c *call) passwordFailed(account string, now time.Time) {
	c.s.lockout.Fail(c.r.Context(), account, c.clientAddr(), now)
}
