package main

// bun13 proxy test: checks the way to an upstream registry phase by phase.
//
//	bun13 proxy test [--timeout D] URL
//
// It sends GET URL/-/ping through the uplink client of impl/proxy (its
// timeouts, its private-address rule, no config headers) and prints one
// line per phase with its latency: resolve (skipped for an IP literal),
// connect (a line per address tried), tls (https only), request (time to
// the first response byte), then the total and "ok". Exit status: 0 when
// every phase succeeded; 1 when one failed, with "error: PHASE: ..." on
// stderr; 2 for a bad command line. --timeout (default 10s) bounds the
// whole test.

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/proxy"
)

func init() { commands["proxy"] = (*env).proxyCmd }

func (e *env) proxyCmd(args []string) error {
	if len(args) == 0 {
		return usagef("proxy: want a subcommand: test")
	}
	switch args[0] {
	case "test":
		return e.proxyTest(args[1:])
	}
	return usagef("proxy: unknown subcommand %q", args[0])
}

func (e *env) proxyTest(args []string) error {
	fs := newFlags("proxy test")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on the whole test")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *timeout <= 0 {
		return usagef("proxy test [--timeout D] URL")
	}
	norm, err := config.NormalizeRegistryURL(pos[0])
	if err != nil {
		return usagef("proxy test: %v", err)
	}
	base, err := url.Parse(norm)
	if err != nil {
		return usagef("proxy test: %v", err)
	}

	ctx, cancel := context.WithTimeout(e.ctx, *timeout)
	defer cancel()
	up := &proxy.Upstream{URL: base, Timeout: *timeout, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	defer up.Close()

	p := &phases{w: e.stdout, start: time.Now()}
	fmt.Fprintf(e.stdout, "proxy test %s\n", norm)
	if ip, err := netip.ParseAddr(base.Hostname()); err == nil {
		p.line("resolve", ip.String()+" (IP literal)", 0)
	}
	err = up.Ping(httptrace.WithClientTrace(ctx, p.trace()))
	p.line("total", "GET "+norm+"/-/ping", time.Since(p.start))
	if err != nil {
		fmt.Fprintf(e.stderr, "error: %s: %v\n", p.failed(), err)
		return errSilentFail
	}
	fmt.Fprintln(e.stdout, "ok")
	return nil
}

// phases prints the trace events of one request as they happen. Events
// come from the dialing goroutines too, hence the lock.
type phases struct {
	w     io.Writer
	start time.Time

	mu                        sync.Mutex
	dnsHost                   string
	dnsStart, tlsStart, wrote time.Time
	connStart                 map[string]time.Time
	dnsErr, connErr, tlsErr   bool
	connected, gotResponse    bool
}

func (p *phases) line(phase, detail string, d time.Duration) {
	fmt.Fprintf(p.w, "%-8s %-48s %10s\n", phase, detail, d.Round(time.Microsecond))
}

func (p *phases) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart: func(info httptrace.DNSStartInfo) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.dnsHost, p.dnsStart = info.Host, time.Now()
		},
		DNSDone: func(info httptrace.DNSDoneInfo) {
			p.mu.Lock()
			defer p.mu.Unlock()
			d := time.Since(p.dnsStart)
			if info.Err != nil {
				p.dnsErr = true
				p.line("resolve", p.dnsHost+" failed", d)
				return
			}
			addrs := make([]string, len(info.Addrs))
			for i, a := range info.Addrs {
				addrs[i] = a.String()
			}
			p.line("resolve", p.dnsHost+" -> "+strings.Join(addrs, ", "), d)
		},
		ConnectStart: func(_, addr string) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.connStart == nil {
				p.connStart = map[string]time.Time{}
			}
			p.connStart[addr] = time.Now()
		},
		ConnectDone: func(_, addr string, err error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			d := time.Since(p.connStart[addr])
			if err != nil {
				p.connErr = true
				p.line("connect", addr+" failed", d)
				return
			}
			p.connected = true
			p.line("connect", addr, d)
		},
		TLSHandshakeStart: func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.tlsStart = time.Now()
		},
		TLSHandshakeDone: func(st tls.ConnectionState, err error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			d := time.Since(p.tlsStart)
			if err != nil {
				p.tlsErr = true
				p.line("tls", "failed", d)
				return
			}
			detail := tls.VersionName(st.Version)
			if st.NegotiatedProtocol != "" {
				detail += ", " + st.NegotiatedProtocol
			}
			p.line("tls", detail, d)
		},
		WroteRequest: func(httptrace.WroteRequestInfo) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.wrote = time.Now()
		},
		GotFirstResponseByte: func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.gotResponse = true
			p.line("request", "GET /-/ping, first byte", time.Since(p.wrote))
		},
	}
}

// failed names the phase an error came from.
func (p *phases) failed() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.gotResponse:
		return "request"
	case p.tlsErr:
		return "tls"
	case p.connErr && !p.connected:
		return "connect"
	case p.dnsErr:
		return "resolve"
	}
	return "request"
}
