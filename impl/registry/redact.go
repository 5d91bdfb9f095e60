package registry

import (
	"net/url"
	"regexp"
	"strings"
)

// Tokens never reach the logs: not in a path (npm logout sends the token
// itself: DELETE /-/user/token/TOKEN), not in a query (the dashboard's
// WebSocket ?ticket=), not in a logged header (User-Agent).

const redacted = "[REDACTED]"

// jwtLike matches a compact JWS (base64url header starting with '{"').
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)

// secretParams are query parameters whose values are secrets.
var secretParams = map[string]bool{
	"token": true, "ticket": true, "access_token": true, "password": true,
	"secret": true, "key": true, "auth": true, "authorization": true, "otp": true,
}

// redactPath is the path to log for route rt.
func redactPath(rt *route, p string) string {
	switch rt {
	case rtLogout:
		return "/-/user/token/" + redacted
	case rtToken:
		return "/-/npm/v1/tokens/token/" + redacted
	}
	return redactText(p)
}

// redactQuery drops the values of secret parameters and anything that
// looks like a token.
func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return redacted // unparseable: log nothing of it
	}
	for k, vs := range q {
		if secretParams[strings.ToLower(k)] {
			for i := range vs {
				vs[i] = redacted
			}
			continue
		}
		for i := range vs {
			vs[i] = redactText(vs[i])
		}
	}
	return q.Encode()
}

// redactText replaces JWT-looking substrings and npm token forms.
func redactText(s string) string {
	if strings.Contains(s, "eyJ") {
		s = jwtLike.ReplaceAllString(s, redacted)
	}
	if strings.Contains(s, "npm_") {
		s = npmToken.ReplaceAllString(s, redacted)
	}
	return s
}

// npmToken is the public registry's token format (npm_ + 36 base62).
var npmToken = regexp.MustCompile(`npm_[A-Za-z0-9]{36}`)

// logMethod bounds a logged method (any token is a method to net/http).
func logMethod(m string) string {
	if len(m) > 16 {
		return m[:16] + "..."
	}
	return m
}
