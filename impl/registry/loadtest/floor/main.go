// Command floor is the load test's yardstick: a Go HTTP server that does
// nothing but answer every request with the same 1.5 KiB of JSON. What wrk
// measures against it, at the same moment as against the registry, is what
// the machine, net/http and wrk themselves cost: the floor under any Go
// server's latency here.
//
//	go run ./impl/registry/loadtest/floor 127.0.0.1:4903
package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	addr := "127.0.0.1:4903"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	body := []byte(`{"name":"floor","pad":"` + strings.Repeat("x", 1500) + `"}`)
	srv := &http.Server{
		Addr:              addr,
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		}),
	}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
