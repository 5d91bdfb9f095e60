package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSystemdNotify runs the built binary as systemd would (Type=notify):
// $NOTIFY_SOCKET names a datagram socket the test reads. READY=1 arrives
// only once the port accepts connections (dialled at once, no retry);
// on SIGTERM STOPPING=1 arrives, readiness answers 503 while requests are
// still served during the drain period, then the process exits 0.
func TestSystemdNotify(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	bin := buildBun13(t)
	dir := t.TempDir()
	sockPath := filepath.Join(dir, "notify.sock")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	// A free port, closed again for the server to take.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	cmd := exec.Command(bin, "registry", "serve", "--addr", addr, "--data", filepath.Join(dir, "data"), "--drain-period", "3s")
	cmd.Env = []string{"NOTIFY_SOCKET=" + sockPath, "BUN_LOCKFILE=" + filepath.Join(dir, "bun.lockb"), "PATH=" + os.Getenv("PATH")}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	waited := make(chan struct{})
	go func() { exited <- cmd.Wait(); close(waited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-waited
	})

	recv := func() string {
		t.Helper()
		sock.SetReadDeadline(time.Now().Add(30 * time.Second))
		buf := make([]byte, 4096)
		n, err := sock.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v\nserver log:\n%s", err, stderr.String())
		}
		return string(buf[:n])
	}
	msg := recv()
	if !strings.HasPrefix(msg, "READY=1\n") {
		t.Fatalf("first notification %q, want READY=1 first", msg)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("READY=1 sent before the port accepts: %v", err)
	}
	c.Close()
	client := &http.Client{Timeout: 10 * time.Second}
	status := func(path string) int {
		t.Helper()
		res, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if s := status("/-/readyz"); s != 200 {
		t.Fatalf("readyz after READY=1: %d", s)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if msg := recv(); !strings.HasPrefix(msg, "STOPPING=1\n") {
		t.Fatalf("after SIGTERM: %q, want STOPPING=1", msg)
	}
	// Draining: readiness false, everything else still served.
	deadline := time.Now().Add(2 * time.Second)
	for status("/-/readyz") != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("readyz still 200 after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := status("/-/ping"); s != 200 {
		t.Fatalf("ping while draining: %d", s)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after the drain period")
	}
	log := stderr.String()
	for _, want := range []string{`"msg":"draining"`, `"msg":"shutting down"`, `"msg":"registry stopped"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
}
