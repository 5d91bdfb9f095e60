package ratelimit

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// SetHeaders sets RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset
// (draft-ietf-httpapi-ratelimit-headers), and Retry-After when d denied the
// request. Durations are whole seconds rounded up, so a client that waits
// as told is not refused again for rounding.
func SetHeaders(h http.Header, d Decision) {
	h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", strconv.FormatInt(ceilSeconds(d.Reset), 10))
	if !d.Allowed {
		s := ceilSeconds(d.RetryAfter)
		if s < 1 {
			s = 1 // Retry-After: 0 invites an immediate retry loop
		}
		h.Set("Retry-After", strconv.FormatInt(s, 10))
	}
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// Key returns the rate-limit key for a request: the user name when there is
// one, else "ip:" and the client address. npm user names cannot contain ':',
// so the two kinds of key never collide (a user named "10.0.0.1" does not
// share a budget with that address).
func Key(user string, ip netip.Addr) string {
	if user != "" {
		return user
	}
	return "ip:" + ip.String()
}

// ClientIP returns the address of the client that made r. X-Forwarded-For is
// believed only as far as it was written by trusted proxies: starting from
// the direct peer, each hop that is in trusted passes the question on to the
// address it reported, and the first address not in trusted is the client.
// Everything left of that was written by the client and may be forged.
// If every hop is trusted, the leftmost one is returned. An unparsable entry
// stops the walk at the last trusted hop. The result is the invalid Addr
// only when r.RemoteAddr itself cannot be parsed.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	ip := parseRemote(r.RemoteAddr)
	if !ip.IsValid() || !isTrusted(ip, trusted) {
		return ip
	}
	values := r.Header.Values("X-Forwarded-For")
	for v := len(values) - 1; v >= 0; v-- {
		list := values[v]
		for list != "" {
			var hop string
			if i := strings.LastIndexByte(list, ','); i >= 0 {
				list, hop = list[:i], list[i+1:]
			} else {
				list, hop = "", list
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue
			}
			next := parseHop(hop)
			if !next.IsValid() {
				return ip
			}
			ip = next
			if !isTrusted(ip, trusted) {
				return ip
			}
		}
	}
	return ip
}

// parseRemote parses RemoteAddr, which has a port; trying that form first
// spares the failed parse (and its error allocation) on every request.
func parseRemote(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	return parseHop(s)
}

// parseHop accepts a bare address or address:port (some proxies add a port
// to X-Forwarded-For entries).
func parseHop(s string) netip.Addr {
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.Unmap()
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
