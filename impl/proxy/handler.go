package proxy

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/bun13/bun13/impl/registry/pkgname"
)

// Handler serves, from u, the reads a registry cannot answer from its own
// storage: it is the registry's Options.Fallback. Paths are the public
// registry's: /NAME (packument), /NAME/VERSION-OR-TAG, /NAME/-/FILE.tgz,
// scoped names as @scope/name or @scope%2fname.
//
// Packuments are served in full (application/json) also to clients that
// ask for the abbreviated form: npm, pnpm, yarn and bun all accept it, and
// one cached copy then serves both. Errors follow the package doc's table.
func (u *Upstream) Handler() http.Handler {
	return http.HandlerFunc(u.serveFallback)
}

func (u *Upstream) serveFallback(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		fallbackError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	name, rest, ok := splitPackagePath(r.URL.Path)
	if !ok {
		fallbackError(w, http.StatusNotFound, "not found")
		return
	}
	switch {
	case len(rest) == 2 && rest[0] == "-":
		body, err := u.Tarball(r.Context(), name, rest[1], "")
		if err != nil {
			u.fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		if r.Method == http.MethodGet {
			w.Write(body)
		}
	case len(rest) <= 1:
		pk, err := u.Packument(r.Context(), name)
		if err != nil {
			u.fail(w, err)
			return
		}
		if pk.Stale != nil {
			u.logger().Warn("serving a stale upstream packument", "package", name, "reason", pk.Stale)
			w.Header().Set("Warning", `110 - "Response is Stale"`)
		}
		body := pk.Body
		if len(rest) == 1 {
			if body, err = pickVersion(pk.Body, rest[0]); err != nil {
				fallbackError(w, http.StatusNotFound, err.Error())
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Header().Set("Cache-Control", "public, max-age=300")
		if r.Method == http.MethodGet {
			w.Write(body)
		}
	default:
		fallbackError(w, http.StatusNotFound, "not found")
	}
}

// splitPackagePath splits /@scope/name/rest... or /name/rest...
func splitPackagePath(p string) (name string, rest []string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(parts) == 0 || parts[0] == "" {
		return "", nil, false
	}
	if strings.HasPrefix(parts[0], "@") {
		if len(parts) < 2 {
			return "", nil, false
		}
		return parts[0] + "/" + parts[1], parts[2:], true
	}
	return parts[0], parts[1:], true
}

// pickVersion returns one version's document, by version or dist-tag.
func pickVersion(packument []byte, v string) ([]byte, error) {
	var doc struct {
		DistTags map[string]string          `json:"dist-tags"`
		Versions map[string]json.RawMessage `json:"versions"`
	}
	if err := json.Unmarshal(packument, &doc); err != nil {
		return nil, err
	}
	if t, ok := doc.DistTags[v]; ok {
		v = t
	}
	if body, ok := doc.Versions[v]; ok {
		return body, nil
	}
	return nil, errors.New("version not found")
}

// fail maps u's errors to statuses as the package doc says.
func (u *Upstream) fail(w http.ResponseWriter, err error) {
	status := http.StatusBadGateway
	switch {
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrOffline):
		status = http.StatusServiceUnavailable
	case errors.Is(err, pkgname.ErrInvalid):
		status = http.StatusBadRequest
	}
	if status == http.StatusBadGateway {
		u.logger().Warn("uplink request failed", "error", err)
	}
	fallbackError(w, status, err.Error())
}

func fallbackError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
