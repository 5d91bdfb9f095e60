package metrics

import (
	"net/http"
	"strconv"
	"strings"
)

// Every label value comes from a closed set, so no client can create
// series: methods are the nine of RFC 9110 (and PATCH) or "OTHER",
// routes are templates (anything that does not look like one is
// "other"), statuses are the codes net/http knows or "other".

// Method returns m when it is a standard method, else "OTHER".
func Method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodPatch, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// maxRouteLen bounds a route template.
const maxRouteLen = 64

// Route returns r when it looks like a route template (begins with '/',
// short, no query, no percent escapes), else "other". Callers pass
// templates; this is the backstop.
func Route(r string) string {
	if r == "other" || (strings.HasPrefix(r, "/") && len(r) <= maxRouteLen && !strings.ContainsAny(r, "?%# \t\r\n")) {
		return r
	}
	return "other"
}

// Status returns the decimal code when net/http knows it, else "other".
func Status(code int) string {
	if http.StatusText(code) == "" {
		return "other"
	}
	return strconv.Itoa(code)
}
