package sdnotify

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestNotifyPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	c := listen(t, path)
	n := FromEnv(func(k string) (string, bool) {
		if k == EnvSocket {
			return path, true
		}
		return "", false
	})
	if !n.Enabled() {
		t.Fatal("not enabled with a socket")
	}
	if err := n.Notify(Ready, "STATUS=serving"); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, c); got != "READY=1\nSTATUS=serving\n" {
		t.Fatalf("got %q", got)
	}
	if err := n.Notify(Stopping); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, c); got != "STOPPING=1\n" {
		t.Fatalf("got %q", got)
	}
}

func TestNotifyAbstract(t *testing.T) {
	name := "bun13-sdnotify-test-" + strings.ReplaceAll(t.Name(), "/", "-") + time.Now().Format("150405.000000000")
	c := listen(t, "\x00"+name)
	if err := (Notifier{Socket: "@" + name}).Notify(Ready); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, c); got != "READY=1\n" {
		t.Fatalf("got %q", got)
	}
}

func TestNotifyDisabledAndBad(t *testing.T) {
	n := FromEnv(func(string) (string, bool) { return "", false })
	if n.Enabled() || n.Notify(Ready) != nil {
		t.Fatal("without NOTIFY_SOCKET Notify must be a no-op")
	}
	path := filepath.Join(t.TempDir(), "s")
	listen(t, path)
	for _, bad := range [][]string{nil, {"READY"}, {"STATUS=a\nREADY=1"}} {
		if err := (Notifier{Socket: path}).Notify(bad...); err == nil {
			t.Errorf("Notify(%q): no error", bad)
		}
	}
	if err := (Notifier{Socket: filepath.Join(t.TempDir(), "none")}).Notify(Ready); err == nil {
		t.Error("a missing socket: no error")
	}
}
