package config

import (
	"hash/crc32"
	"net/url"
	"strings"

	"github.com/bun13/bun13/impl/codes"
)

// NormalizeRegistryURL applies SPEC section 1: http or https only (lower
// case), host lower case, default port dropped, trailing slashes removed,
// no user info, query or fragment.
func NormalizeRegistryURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", codes.Named(codes.RegistryURL, "", "%v", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", codes.Named(codes.RegistryURL, "", "%q: scheme must be http or https", raw)
	}
	if u.User != nil {
		return "", codes.Named(codes.RegistryURL, "", "%q: user info is not allowed", raw)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(raw, "?#") {
		return "", codes.Named(codes.RegistryURL, "", "%q: query and fragment are not allowed", raw)
	}
	if u.Opaque != "" || u.Host == "" {
		return "", codes.Named(codes.RegistryURL, "", "%q: no host", raw)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", codes.Named(codes.RegistryURL, "", "%q: no host", raw)
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	return scheme + "://" + host + path, nil
}

// RegistryHash is the CRC-32/IEEE of the normalized registry URL.
func RegistryHash(raw string) (uint32, error) {
	n, err := NormalizeRegistryURL(raw)
	if err != nil {
		return 0, err
	}
	return crc32.ChecksumIEEE([]byte(n)), nil
}
