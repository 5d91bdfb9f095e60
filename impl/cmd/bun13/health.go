package main

// bun13 health [--addr HOST:PORT] [--timeout D]: probe a running
// registry's readiness (GET /-/readyz) and exit 0 when it is ready, 1
// when it is not or does not answer. For container HEALTHCHECKs in an
// image without a shell or curl.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

func init() {
	commands["health"] = (*env).healthCmd
	synopsis["health"] = "[--addr HOST:PORT] [--timeout D] [--live]   (exit 0 ready, 1 not ready or no answer)"
}

func (e *env) healthCmd(args []string) error {
	fs := newFlags("health")
	addr := fs.String("addr", e.envDefault("BUN13_REGISTRY_ADDR", defaultRegistryAddr), "the registry's listen address (a wildcard host means this machine)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	live := fs.Bool("live", false, "probe liveness (/-/healthz) instead of readiness")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("health [--addr HOST:PORT] [--timeout D] [--live]")
	}
	target, err := probeAddr(*addr)
	if err != nil {
		return usagef("health: --addr: %v", err)
	}
	path := "/-/readyz"
	if *live {
		path = "/-/healthz"
	}
	ctx, cancel := context.WithTimeout(e.ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+target+path, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		fmt.Fprintf(e.stderr, "unhealthy: %v\n", err)
		return errSilentFail
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		fmt.Fprintf(e.stderr, "unhealthy: %s %s: %s\n", path, res.Status, strings.TrimSpace(string(body)))
		return errSilentFail
	}
	fmt.Fprintf(e.stdout, "%s\n", strings.TrimSpace(string(body)))
	return nil
}

// probeAddr turns a listen address into one to connect to: an empty or
// wildcard host (":4873", "0.0.0.0:4873", "[::]:4873") is the loopback.
func probeAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}
