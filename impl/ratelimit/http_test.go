package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
	}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct", "203.0.113.7:5555", nil, "203.0.113.7"},
		{"untrusted peer cannot forward", "203.0.113.7:5555", []string{"198.51.100.1"}, "203.0.113.7"},
		{"trusted proxy", "10.0.0.2:443", []string{"198.51.100.1"}, "198.51.100.1"},
		// The client prepends a fake entry; only the proxy's is believed.
		{"spoofed prefix", "10.0.0.2:443", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"spoofed trusted-looking prefix", "10.0.0.2:443", []string{"10.9.9.9, 198.51.100.1"}, "198.51.100.1"},
		{"proxy chain", "10.0.0.2:443", []string{"6.6.6.6, 198.51.100.1, 10.0.0.3"}, "198.51.100.1"},
		{"chain across header lines", "10.0.0.2:443", []string{"6.6.6.6, 198.51.100.1", "10.0.0.3"}, "198.51.100.1"},
		{"all trusted", "10.0.0.2:443", []string{"10.1.1.1, 10.0.0.3"}, "10.1.1.1"},
		{"empty header", "10.0.0.2:443", []string{""}, "10.0.0.2"},
		{"garbage stops at last trusted hop", "10.0.0.2:443", []string{"198.51.100.1, bogus, 10.0.0.3"}, "10.0.0.3"},
		{"entry with port", "10.0.0.2:443", []string{"198.51.100.1:1234"}, "198.51.100.1"},
		{"ipv6 peer and client", "[fd00::1]:443", []string{"2001:db8::5"}, "2001:db8::5"},
		{"ipv6 entry with port", "[fd00::1]:443", []string{"[2001:db8::5]:99"}, "2001:db8::5"},
		{"4in6 peer is unmapped", "[::ffff:10.0.0.2]:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"stray commas", "10.0.0.2:443", []string{"198.51.100.1,, ,"}, "198.51.100.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got := ClientIP(r, trusted)
			if got != netip.MustParseAddr(tt.want) {
				t.Errorf("ClientIP = %v, want %v", got, tt.want)
			}
		})
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "not an address"
	if got := ClientIP(r, trusted); got.IsValid() {
		t.Errorf("ClientIP of bad RemoteAddr = %v, want invalid", got)
	}
}

func TestSetHeaders(t *testing.T) {
	tests := []struct {
		d    Decision
		want http.Header
	}{
		{
			Decision{Allowed: true, Limit: 100, Remaining: 42, Reset: 90*time.Second + 1},
			http.Header{"Ratelimit-Limit": {"100"}, "Ratelimit-Remaining": {"42"}, "Ratelimit-Reset": {"91"}},
		},
		{
			Decision{Limit: 10, RetryAfter: 1500 * time.Millisecond, Reset: 2 * time.Minute},
			http.Header{"Ratelimit-Limit": {"10"}, "Ratelimit-Remaining": {"0"}, "Ratelimit-Reset": {"120"}, "Retry-After": {"2"}},
		},
		{
			Decision{Limit: 10, RetryAfter: time.Nanosecond},
			http.Header{"Ratelimit-Limit": {"10"}, "Ratelimit-Remaining": {"0"}, "Ratelimit-Reset": {"0"}, "Retry-After": {"1"}},
		},
	}
	for _, tt := range tests {
		h := http.Header{}
		SetHeaders(h, tt.d)
		if d := cmp.Diff(tt.want, h); d != "" {
			t.Errorf("headers for %+v mismatch (-want +got):\n%s", tt.d, d)
		}
	}
}

func TestKey(t *testing.T) {
	ip := netip.MustParseAddr("10.0.0.1")
	got := []string{Key("alice", ip), Key("", ip), Key("10.0.0.1", ip)}
	want := []string{"alice", "ip:10.0.0.1", "10.0.0.1"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Key mismatch (-want +got):\n%s", d)
	}
}

func BenchmarkClientIP(b *testing.B) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.2:443"
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.1, 10.0.0.3")
	b.ReportAllocs()
	for b.Loop() {
		ClientIP(r, trusted)
	}
}
