// Package pkgname validates npm package names, versions and tarball file names before they reach storage or a file path.
//
// Two strengths exist. [ValidateNew] is npm's rule for publishing a new
// package (lower case, URL-safe, at most 214 bytes, no leading '.' or '_'
// in any segment, not a reserved or Node core module name). [Validate] is
// what may be looked up: legacy names with upper case letters and npm's old
// special characters pass, but nothing that could name a path outside the
// package's own directory, and no wildcard. Every name a storage backend
// turns into a path has passed one of them.
package pkgname

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// MaxLen is npm's limit on a package name, in bytes.
const MaxLen = 214

// MaxVersionLen bounds a version string (the lockfile's limit, SPEC section 3).
const MaxVersionLen = 256

// ErrInvalid is wrapped by every error of this package.
var ErrInvalid = errors.New("invalid")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// reserved are names npm refuses for new packages, beside core modules.
var reserved = map[string]bool{
	"node_modules": true, "favicon.ico": true,
}

// coreModules are Node's built-in module names; npm refuses them for new
// packages because require() would never reach the package.
var coreModules = map[string]bool{}

func init() {
	for _, m := range strings.Fields(`assert async_hooks buffer child_process cluster
		console constants crypto dgram diagnostics_channel dns domain events fs http
		http2 https inspector module net os path perf_hooks process punycode querystring
		readline repl stream string_decoder sys timers tls trace_events tty url util
		v8 vm wasi worker_threads zlib`) {
		coreModules[m] = true
	}
}

// Split returns the scope (without '@', "" when unscoped) and the bare name.
// It does not validate.
func Split(name string) (scope, bare string) {
	if strings.HasPrefix(name, "@") {
		if s, b, ok := strings.Cut(name[1:], "/"); ok {
			return s, b
		}
	}
	return "", name
}

// segments splits a name into its one or two path segments, refusing
// anything else.
func segments(name string) ([]string, error) {
	if name == "" {
		return nil, invalid("empty name")
	}
	if len(name) > MaxLen {
		return nil, invalid("name is %d bytes, more than %d", len(name), MaxLen)
	}
	if name[0] == '@' {
		scope, bare, ok := strings.Cut(name[1:], "/")
		if !ok || scope == "" || bare == "" {
			return nil, invalid("scoped name %q is not @scope/name", name)
		}
		if strings.Contains(bare, "/") {
			return nil, invalid("name %q has more than one '/'", name)
		}
		return []string{scope, bare}, nil
	}
	if strings.Contains(name, "/") {
		return nil, invalid("name %q has a '/' but no @scope", name)
	}
	return []string{name}, nil
}

// ValidateNew reports whether name may be published as a new package:
// npm's rules for new packages.
func ValidateNew(name string) error {
	segs, err := segments(name)
	if err != nil {
		return err
	}
	for _, s := range segs {
		if err := segment(s, false); err != nil {
			return fmt.Errorf("name %q: %w", name, err)
		}
	}
	if len(segs) == 1 {
		if reserved[name] {
			return invalid("name %q is reserved", name)
		}
		if coreModules[name] {
			return invalid("name %q is a Node core module", name)
		}
	}
	return nil
}

// Validate reports whether name is safe to look up: a legacy npm name
// (upper case and npm's old special characters allowed) that cannot
// escape its directory and holds no wildcard.
func Validate(name string) error {
	segs, err := segments(name)
	if err != nil {
		return err
	}
	for _, s := range segs {
		if err := segment(s, true); err != nil {
			return fmt.Errorf("name %q: %w", name, err)
		}
	}
	return nil
}

func segment(s string, legacy bool) error {
	if s[0] == '.' || s[0] == '_' {
		return invalid("segment %q starts with %q", s, s[0])
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_':
		case legacy && ('A' <= c && c <= 'Z' || c == '~' || c == '!' || c == '\'' || c == '(' || c == ')'):
		case 'A' <= c && c <= 'Z':
			return invalid("upper case letter %q", c)
		default:
			return invalid("character %q not allowed", c)
		}
	}
	return nil
}

// semver is the official regular expression of semver.org.
var semver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// ValidateVersion reports whether v is a semantic version 2.0.0 string of
// at most MaxVersionLen bytes.
func ValidateVersion(v string) error {
	if v == "" || len(v) > MaxVersionLen || !semver.MatchString(v) {
		if len(v) > 64 {
			v = v[:64] + "..."
		}
		return invalid("version %q is not a semantic version", v)
	}
	return nil
}

// LooksLikeVersion is a cheap test telling a version path segment from a
// dist-tag: versions start with a digit, tags must not (npm refuses tags
// that are valid semver ranges).
func LooksLikeVersion(s string) bool { return s != "" && '0' <= s[0] && s[0] <= '9' }

// ValidateTag reports whether tag may name a dist-tag: non-empty, at most
// 128 bytes, URL-safe, not starting with a digit or 'v'+digit (which npm
// would read as a version).
func ValidateTag(tag string) error {
	if tag == "" || len(tag) > 128 {
		return invalid("dist-tag must be 1..128 bytes")
	}
	if LooksLikeVersion(tag) || (tag[0] == 'v' && LooksLikeVersion(tag[1:])) {
		return invalid("dist-tag %q looks like a version", tag)
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return invalid("dist-tag %q: character %q not allowed", tag, c)
		}
	}
	if tag[0] == '.' || tag[0] == '_' || tag == "__proto__" {
		return invalid("dist-tag %q not allowed", tag)
	}
	return nil
}

// TarballFile is the file name of name@version's tarball: the bare name (no
// scope), '-', the version, ".tgz", as the public registry names it.
func TarballFile(name, version string) string {
	_, bare := Split(name)
	return bare + "-" + version + ".tgz"
}

// ParseTarballFile returns the version a tarball file name of package name
// stands for. The file must be exactly TarballFile(name, version) for a
// valid version; anything else (another package's prefix, a path, a
// wildcard) is refused.
func ParseTarballFile(name, file string) (string, error) {
	_, bare := Split(name)
	v, ok := strings.CutPrefix(file, bare+"-")
	if !ok {
		return "", invalid("tarball %q does not belong to %q", file, name)
	}
	v, ok = strings.CutSuffix(v, ".tgz")
	if !ok {
		return "", invalid("tarball %q does not end in .tgz", file)
	}
	if err := ValidateVersion(v); err != nil {
		return "", err
	}
	return v, nil
}

// ValidateUser reports whether u may be a user name: 1..64 bytes of
// lower-case letters, digits, '-', '.', '_', not starting with '.', '_' or
// '-'. npm user names are URL-safe and never hold ':' (rate-limit keys rely
// on that).
func ValidateUser(u string) error {
	if u == "" || len(u) > 64 {
		return invalid("user name must be 1..64 bytes")
	}
	if u[0] == '.' || u[0] == '_' || u[0] == '-' {
		return invalid("user name %q starts with %q", u, u[0])
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return invalid("user name %q: character %q not allowed", u, c)
		}
	}
	return nil
}

// CompareVersions orders two valid semantic versions by semver 2.0.0
// precedence, breaking ties (build metadata) by byte order so the result
// is a total order.
func CompareVersions(a, b string) int {
	ca, pa := splitVersion(a)
	cb, pb := splitVersion(b)
	for i := range 3 {
		if c := compareNumeric(ca[i], cb[i]); c != 0 {
			return c
		}
	}
	switch {
	case pa == "" && pb != "":
		return 1
	case pa != "" && pb == "":
		return -1
	}
	as, bs := strings.Split(pa, "."), strings.Split(pb, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if c := compareIdent(as[i], bs[i]); c != 0 {
			return c
		}
	}
	if c := len(as) - len(bs); c != 0 && pa != "" {
		if c < 0 {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// splitVersion returns the three core numbers (as strings) and the
// prerelease part of v, dropping build metadata.
func splitVersion(v string) ([3]string, string) {
	v, _, _ = strings.Cut(v, "+")
	core, pre, _ := strings.Cut(v, "-")
	var out [3]string
	parts := strings.SplitN(core, ".", 3)
	copy(out[:], parts)
	return out, pre
}

func compareNumeric(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func isNumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func compareIdent(a, b string) int {
	an, bn := isNumeric(a), isNumeric(b)
	switch {
	case an && bn:
		return compareNumeric(a, b)
	case an:
		return -1
	case bn:
		return 1
	}
	return strings.Compare(a, b)
}

// Similar is the form two names are compared in by the look-alike rule
// (the public registry's): the bare name lower-cased with every '.', '-'
// and '_' removed; a scope is kept as it is ("@s/Left_Pad" gives
// "@s/leftpad", "left.pad" gives "leftpad"). A new name whose Similar
// form equals an existing package's is refused unless the publisher
// maintains that package.
func Similar(name string) string {
	scope, bare := Split(name)
	b := make([]byte, 0, len(bare))
	for i := 0; i < len(bare); i++ {
		c := bare[i]
		switch {
		case c == '.' || c == '-' || c == '_':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	if scope != "" || strings.HasPrefix(name, "@") {
		return "@" + scope + "/" + string(b)
	}
	return string(b)
}
