package main

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func pingServer(t *testing.T, status int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/-/ping" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		w.Write([]byte("{}"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// phaseLine matches one phase line: name, detail, a latency.
func phaseLine(phase, detail string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + phase + ` +` + regexp.QuoteMeta(detail) + ` +[0-9.]+(ns|µs|ms|s)$`)
}

func TestProxyTestOK(t *testing.T) {
	srv := pingServer(t, http.StatusOK)
	addr := strings.TrimPrefix(srv.URL, "http://")
	out, errs, code := runInProcess("proxy", "test", "--timeout", "5s", srv.URL)
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errs, out)
	}
	for _, re := range []*regexp.Regexp{
		phaseLine("resolve", "127.0.0.1 (IP literal)"),
		phaseLine("connect", addr),
		phaseLine("request", "GET /-/ping, first byte"),
		phaseLine("total", "GET "+srv.URL+"/-/ping"),
	} {
		if !re.MatchString(out) {
			t.Errorf("stdout has no line matching %s:\n%s", re, out)
		}
	}
	if strings.Contains(out, "\ntls ") {
		t.Errorf("tls phase for plain http:\n%s", out)
	}
	if !strings.HasSuffix(out, "ok\n") {
		t.Errorf("stdout does not end with ok:\n%s", out)
	}
}

func TestProxyTestLocalhostResolves(t *testing.T) {
	srv := pingServer(t, http.StatusOK)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	out, errs, code := runInProcess("proxy", "test", "http://localhost:"+port)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errs, out)
	}
	if !regexp.MustCompile(`(?m)^resolve +localhost -> .*127\.0\.0\.1`).MatchString(out) {
		t.Errorf("no resolve phase for localhost:\n%s", out)
	}
}

func TestProxyTestFailures(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	tlsSrv.StartTLS()                                   // a certificate nobody trusts
	defer tlsSrv.Close()
	for _, tc := range []struct {
		name, url, phase string
	}{
		{"server error", pingServer(t, http.StatusInternalServerError).URL, "request"},
		{"no ping", pingServer(t, http.StatusNotFound).URL + "/nested", "request"},
		{"refused", down.URL, "connect"},
		{"untrusted certificate", tlsSrv.URL, "tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := runInProcess("proxy", "test", "--timeout", "5s", tc.url)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stdout:\n%s\nstderr: %s", code, out, errs)
			}
			if !strings.HasPrefix(errs, "error: "+tc.phase+": ") {
				t.Errorf("stderr = %q, want error: %s: ...", errs, tc.phase)
			}
			if strings.HasSuffix(out, "ok\n") {
				t.Errorf("failed test printed ok:\n%s", out)
			}
		})
	}
}

func TestProxyTestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"proxy"},
		{"proxy", "frobnicate"},
		{"proxy", "test"},
		{"proxy", "test", "ftp://registry.example"},
		{"proxy", "test", "http://a", "http://b"},
		{"proxy", "test", "--timeout", "0s", "http://127.0.0.1:1"},
	} {
		if _, _, code := runInProcess(args...); code != 2 {
			t.Errorf("bun13 %q: exit %d, want 2", args, code)
		}
	}
}
